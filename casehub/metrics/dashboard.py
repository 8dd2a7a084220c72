"""Assembling the dashboard: the selectors, every table (with drill-down links) and the charts' data.

The page, the CSV/XLSX exports and the tests all read the same :class:`Dashboard`, so an exported
table is exactly the table on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casehub.agencies.models import Agency
from casehub.audit.selectors import auditable_agencies, first_case_numbers
from casehub.metrics import queries as q

MAX_PERIOD_DAYS = 3 * 366


def default_period(today: date | None = None) -> q.Period:
    """The last twelve months, this one included."""
    today = today or timezone.localdate()
    start = today.replace(day=1)
    for _i in range(11):
        start = (start - timedelta(days=1)).replace(day=1)
    return q.Period(start, today)


class DashboardForm(forms.Form):
    date_from = forms.DateField(label=_("起始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    agency = forms.ModelChoiceField(label=_("机构"), queryset=Agency.objects.none(), required=False,
                                    empty_label=_("全部机构"))
    direction = forms.ChoiceField(label=_("流转方向"), required=False)

    def __init__(self, *args: Any, viewer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = auditable_agencies(viewer)
        self.fields["direction"].choices = [("", _("全部方向")), *q.direction_choices()]
        for name, f in self.fields.items():
            f.widget.attrs.setdefault("class", "form-select" if name in ("agency", "direction") else "form-control")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        default = default_period()
        start, end = data.get("date_from") or default.start, data.get("date_to") or default.end
        if start > end:
            raise forms.ValidationError(_("起始日期不能晚于截止日期。"))
        if (end - start).days > MAX_PERIOD_DAYS:
            raise forms.ValidationError(_("统计期间最长三年。"))
        data["period"] = q.Period(start, end)
        return data


def scope_for(viewer: Any, agency: Agency | None, direction: str = "") -> q.Scope:
    ids = list(auditable_agencies(viewer).values_list("pk", flat=True))
    if agency is not None:
        ids = [agency.pk] if agency.pk in ids else []
    return q.Scope(ids, direction)


def stage_labels() -> dict[str, str]:
    from workflows.definition import STAGES

    return {k: str(v.label) for k, v in STAGES.items()}


def kind_labels() -> dict[str, str]:
    from workflows.models import TransferKind

    return {k: str(v) for k, v in TransferKind.choices}


def clock_labels() -> dict[str, str]:
    from casehub.clocks.kinds import ClockKind

    return {k: str(v) for k, v in ClockKind.choices}


def _days(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass
class Dashboard:
    period: q.Period
    scope: q.Scope
    rates: list[q.RateRow] = field(default_factory=list)
    totals: dict[str, q.Ratio] = field(default_factory=dict)
    custody: list[q.CustodyRow] = field(default_factory=list)
    custody_all: q.Ratio = field(default_factory=lambda: q.Ratio(0, 0))
    persons_online: int = 0
    persons_all: int = 0
    kinds: list[q.KindCount] = field(default_factory=list)
    cases_by_direction: dict[str, int] = field(default_factory=dict)
    stages: list[q.DurationRow] = field(default_factory=list)
    stages_all: list[q.DurationRow] = field(default_factory=list)
    acceptance: list[q.DurationRow] = field(default_factory=list)
    clocks: list[q.ClockRow] = field(default_factory=list)
    overdue: list[dict[str, Any]] = field(default_factory=list)
    overdue_total: int = 0
    months: list[q.MonthPoint] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    tables: list[q.Table] = field(default_factory=list)

    def table(self, key: str) -> q.Table:
        return next(t for t in self.tables if t.key == key)


OVERDUE_ON_PAGE = 200
OVERDUE_SORT_IN_PYTHON = 20_000


def build(period: q.Period, scope: q.Scope, *, today: date | None = None,
          overdue_limit: int | None = OVERDUE_ON_PAGE) -> Dashboard:
    d = Dashboard(period, scope)
    facts = q.transfer_facts(period, scope)  # one scan of the period's transfers feeds three tables
    d.rates = q.circulation_rates(period, scope, facts)
    d.totals = q.total_rates(d.rates)
    d.custody = q.custody_rates(period, scope)
    d.custody_all = q.custody_total(period, scope)
    d.persons_online = q.persons_covered(period, scope, online_only=True)
    d.persons_all = q.persons_covered(period, scope, online_only=False)
    d.kinds = q.transfer_counts(period, scope, facts)
    d.cases_by_direction = q.cases_by_direction(period, scope)
    d.stages, d.stages_all = q.stage_duration_tables(period, scope)
    d.acceptance = q.acceptance_times(period, scope)
    d.clocks = q.clock_outcomes(period, scope, today)
    overdue_qs = q.overdue_clocks(scope, today)
    d.overdue_total = overdue_qs.count()
    fields = ("id", "case_id", "agency_id", "kind", "due_date", "person_id")
    if overdue_limit is None or d.overdue_total <= OVERDUE_SORT_IN_PYTHON:
        # Few running clocks are overdue: fetch them through the status index and sort here. An
        # ORDER BY due_date LIMIT n lets PostgreSQL walk the due-date index through every stopped
        # clock instead (1.9 s at a million cases, bench/metrics.py).
        rows = sorted(overdue_qs.values(*fields), key=lambda o: (o["due_date"], o["id"]))
        d.overdue = rows if overdue_limit is None else rows[:overdue_limit]
    else:
        d.overdue = list(overdue_qs.order_by("due_date", "id").values(*fields)[:overdue_limit])
    d.months = q.monthly_rates(period, scope, facts)
    agency_ids = {r.agency_id for r in d.rates} | {r.agency_id for r in d.custody} | \
        {r.group[1] for r in d.stages} | {r.group[0] for r in d.acceptance} | {r.agency_id for r in d.clocks} | \
        {o["agency_id"] for o in d.overdue}
    d.names = q._agency_names(a for a in agency_ids if a is not None)
    d.tables = _tables(d, today or timezone.localdate())
    return d


def _tables(d: Dashboard, today: date) -> list[q.Table]:
    names, stages, kinds, clocks = d.names, stage_labels(), kind_labels(), clock_labels()
    tables = []

    t = q.Table("rates", _("网上流转率与卷宗电子化率"), [
        _("移送机关"), _("流转方向"), _("移送总数"), _("网上流转数"), _("网上案件流转率"),
        _("应随案移送卷宗数"), _("电子卷宗齐全数"), _("卷宗电子化率")])
    for r in d.rates:
        t.rows.append([names.get(r.agency_id, ""), q.direction_label(r.direction), r.online.denominator,
                       r.online.numerator, r.online.percent, r.dossier.denominator, r.dossier.numerator,
                       r.dossier.percent])
        base = {"agency": str(r.agency_id), "direction": r.direction, "side": "from"}
        t.links.append({2: {**base, "metric": "online", "part": "den"}, 3: {**base, "metric": "online", "part": "num"},
                        5: {**base, "metric": "dossier", "part": "den"}, 6: {**base, "metric": "dossier", "part": "num"}})
    tot = d.totals
    t.rows.append([str(_("合计")), "", tot["online"].denominator, tot["online"].numerator, tot["online"].percent,
                   tot["dossier"].denominator, tot["dossier"].numerator, tot["dossier"].percent])
    t.links.append({2: {"metric": "online", "part": "den"}, 3: {"metric": "online", "part": "num"},
                    5: {"metric": "dossier", "part": "den"}, 6: {"metric": "dossier", "part": "num"}})
    tables.append(t)

    t = q.Table("custody", _("电子换押率"), [
        _("移送机关"), _("流转方向"), _("换押证总数"), _("电子换押数"), _("电子换押率"), _("涉及人数"),
        _("电子换押涉及人数"), _("换押批次")])
    for r in d.custody:
        t.rows.append([names.get(r.agency_id, ""), q.direction_label(r.direction), r.certificates.denominator,
                       r.certificates.numerator, r.certificates.percent, r.persons, r.persons_online, r.handovers])
        base = {"agency": str(r.agency_id), "direction": r.direction, "side": "from", "metric": "custody"}
        t.links.append({2: {**base, "part": "den"}, 3: {**base, "part": "num"}})
    t.rows.append([str(_("合计")), "", d.custody_all.denominator, d.custody_all.numerator, d.custody_all.percent,
                   d.persons_all, d.persons_online, sum(r.handovers for r in d.custody)])
    t.links.append({2: {"metric": "custody", "part": "den"}, 3: {"metric": "custody", "part": "num"}})
    tables.append(t)

    t = q.Table("kinds", _("按类别统计移送"), [_("流转方向"), _("移送类别"), _("网上"), _("纸质登记"), _("合计")])
    for r in d.kinds:
        t.rows.append([q.direction_label(r.direction), kinds.get(r.kind, r.kind), r.online, r.paper, r.total])
        t.links.append({4: {"metric": "kind", "kind": r.kind, "direction": r.direction, "part": "den"}})
    tables.append(t)

    t = q.Table("directions", _("各方向移送案件数"), [_("流转方向"), _("案件数")])
    for key, n in sorted(d.cases_by_direction.items(), key=lambda kv: q._direction_order(kv[0])):
        t.rows.append([q.direction_label(key), n])
        t.links.append({})
    tables.append(t)

    t = q.Table("stages", _("各阶段办理用时（天）"), [_("诉讼阶段"), _("承办机关"), _("已结束次数"), _("中位数"),
                                                    _("第90百分位")])
    for r in d.stages_all:
        t.rows.append([stages.get(r.group[0], r.group[0]), str(_("全部机关")), r.count, _days(r.median), _days(r.p90)])
        t.links.append({})
    for r in d.stages:
        t.rows.append([stages.get(r.group[0], r.group[0]), names.get(r.group[1], ""), r.count, _days(r.median),
                       _days(r.p90)])
        t.links.append({})
    tables.append(t)

    t = q.Table("acceptance", _("接收审查用时（小时）"), [_("接收机关"), _("移送类别"), _("已答复数"), _("中位数"),
                                                       _("第90百分位")])
    for r in d.acceptance:
        t.rows.append([names.get(r.group[0], ""), kinds.get(r.group[1], r.group[1]), r.count, _days(r.median),
                       _days(r.p90)])
        t.links.append({})
    tables.append(t)

    t = q.Table("clocks", _("办案期限执行情况"), [_("期限类别"), _("承办机关"), _("期内结束"), _("超期结束"),
                                                  _("按期率"), _("当前超期")])
    for r in d.clocks:
        t.rows.append([clocks.get(r.kind, r.kind), names.get(r.agency_id, ""), r.met, r.late, r.met_ratio.percent,
                       r.overdue_running])
        t.links.append({})
    tables.append(t)

    numbers = first_case_numbers({o["case_id"] for o in d.overdue})
    t = q.Table("overdue", _("当前超期案件"), [_("案件编号"), _("承办机关"), _("期限类别"), _("届满日期"),
                                              _("超期天数")])
    for o in d.overdue:
        t.rows.append([numbers.get(o["case_id"], str(o["case_id"])), names.get(o["agency_id"], ""),
                       clocks.get(o["kind"], o["kind"]), o["due_date"], (today - o["due_date"]).days])
        t.links.append({})
    tables.append(t)

    t = q.Table("months", _("三率月度趋势"), [_("月份"), _("网上流转数"), _("移送总数"), _("网上案件流转率"),
                                             _("电子卷宗齐全数"), _("应随案移送卷宗数"), _("卷宗电子化率"),
                                             _("电子换押数"), _("换押证总数"), _("电子换押率")])
    for m in d.months:
        t.rows.append([m.month.strftime("%Y-%m"), m.online.numerator, m.online.denominator, m.online.percent,
                       m.dossier.numerator, m.dossier.denominator, m.dossier.percent, m.custody.numerator,
                       m.custody.denominator, m.custody.percent])
        t.links.append({})
    tables.append(t)
    return tables
