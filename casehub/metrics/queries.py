"""The dashboard's numbers: every table the auditor sees, computed in the database.

Definitions (docs/audit.md has the long form):

* A *transfer* is a :class:`~casehub.transfers.models.Transfer` sent in the period (for a paper
  hand-over registered by the receiving clerk: the day it was received), of any status except
  *withdrawn* — a package the sender took back handed nothing over. Online packages and registered
  paper hand-overs both count; that is what makes the denominators true.
* Rates belong to the *sending* agency and a *direction* (kind of sender → kind of receiver).
* **Online circulation rate** 网上案件流转率 = online transfers ÷ all transfers.
* **E-dossier rate** 卷宗电子化率 = transfers whose dossier was complete and electronic ÷ all
  transfers *that carry a dossier* (arrest requests, transfers for review, returns for
  supplementary investigation, indictments and their returns; decisions and judgments carry
  decision documents, not a dossier).
* **E-custody-transfer rate** 电子换押率 = custody-transfer certificates issued online ÷ all
  certificates (online and registered paper) issued in the period, cancelled ones excluded; one
  certificate per person per hand-over. Persons covered = distinct persons on those certificates.
* **Time in stage**: stays (:class:`~casehub.metrics.models.StageStay`) that *ended* in the period,
  per stage and holder agency; median and 90th percentile are ``percentile_cont`` (linear
  interpolation), in days.
* **Acceptance time**: online packages needing acceptance, answered (accepted or rejected) in
  the period: answer time − send time, per receiving agency and kind, in hours.
* **Clocks**: statutory clocks stopped in the period — met when stopped on or before the due
  date (local calendar day), overdue otherwise; plus clocks running past their due date today.

Auditors see metadata only: case numbers, agencies, kinds, times and counts — no titles, persons
or documents. Scope: the agencies the auditor may audit (:func:`casehub.audit.selectors.auditable_agencies`),
narrowed by the agency selector.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from casehub.agencies.models import Agency, AgencyKind

DOSSIER_KINDS = ("arrest_request", "review_transfer", "supplementary_return", "indictment", "indictment_return")
EXCLUDED_TRANSFER_STATUSES = ("withdrawn",)

# The directions the auditors report on, in the order the district report lists them.
DIRECTIONS: tuple[tuple[str, str], ...] = (
    (AgencyKind.POLICE, AgencyKind.PROCURATORATE),
    (AgencyKind.PROCURATORATE, AgencyKind.COURT),
    (AgencyKind.PROCURATORATE, AgencyKind.POLICE),
    (AgencyKind.COURT, AgencyKind.PROCURATORATE),
    (AgencyKind.COURT, AgencyKind.POLICE),
)
_KIND_SHORT = {
    AgencyKind.POLICE: _("公安"), AgencyKind.PROCURATORATE: _("检察院"), AgencyKind.COURT: _("法院"),
    AgencyKind.DETENTION_CENTRE: _("看守所"), AgencyKind.COMMITTEE: _("政法委"),
}


def direction_key(from_kind: str, to_kind: str) -> str:
    return f"{from_kind}>{to_kind}"


def direction_label(key: str) -> str:
    a, _sep, b = key.partition(">")
    return f"{_KIND_SHORT.get(a, a)}→{_KIND_SHORT.get(b, b)}"


def direction_choices() -> list[tuple[str, str]]:
    return [(direction_key(a, b), direction_label(direction_key(a, b))) for a, b in DIRECTIONS]


# --- parameters --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """Calendar days in the platform's time zone, both ends included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise ValueError("period starts after it ends")

    @property
    def start_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def end_before(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    def months(self) -> list[date]:
        out, d = [], self.start.replace(day=1)
        while d <= self.end:
            out.append(d)
            d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
        return out


@dataclass
class Scope:
    """Which agencies' figures are included (the auditor's region, narrowed by the selector)."""

    agency_ids: list[int]
    direction: str = ""  # "" for all directions, or a direction_key

    def transfers(self, qs: QuerySet) -> QuerySet:
        qs = qs.filter(Q(from_agency_id__in=self.agency_ids) | Q(to_agency_id__in=self.agency_ids))
        if self.direction:
            a, _sep, b = self.direction.partition(">")
            qs = qs.filter(from_agency__kind=a, to_agency__kind=b)
        return qs


# --- result shapes -----------------------------------------------------------------------------------

@dataclass
class Ratio:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def percent(self) -> str:
        return "—" if self.value is None else f"{self.value * 100:.1f}%"


@dataclass
class Table:
    """One exportable table: a key (for URLs), a title, column headers and rows of plain values."""

    key: str
    title: str | Promise
    header: list[str | Promise]
    rows: list[list[Any]] = field(default_factory=list)
    # Per row, optional drill-down query parameters for numerator/denominator cells.
    links: list[dict[int, dict[str, str]]] = field(default_factory=list)


def percentile_cont(sorted_values: Sequence[float], q: float) -> float | None:
    """PostgreSQL's ``percentile_cont``: linear interpolation between the closest ranks."""
    n = len(sorted_values)
    if n == 0:
        return None
    position = q * (n - 1)
    lower = math.floor(position)
    upper = min(lower + 1, n - 1)
    fraction = position - lower
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * fraction


def _agency_names(ids: Iterable[int]) -> dict[int, str]:
    return dict(Agency.objects.filter(pk__in=set(ids)).values_list("pk", "name"))


def _transfers(period: Period, scope: Scope) -> QuerySet:
    from casehub.transfers.models import Transfer

    qs = Transfer.objects.filter(sent_at__gte=period.start_at, sent_at__lt=period.end_before).exclude(
        status__in=EXCLUDED_TRANSFER_STATUSES)
    return scope.transfers(qs)


def _certificates(period: Period, scope: Scope) -> QuerySet:
    from casehub.custody.models import CustodyCertificate

    qs = CustodyCertificate.objects.filter(issued_at__gte=period.start_at, issued_at__lt=period.end_before).exclude(
        status="cancelled")
    return scope.transfers(qs)


# --- circulation rates -------------------------------------------------------------------------------

@dataclass
class RateRow:
    agency_id: int | None
    direction: str
    online: Ratio
    dossier: Ratio


@dataclass(frozen=True)
class TransferFact:
    """One group of transfers that look alike for every table: the dashboard scans the period's
    transfers once (one grouped query) and derives rates, counts and monthly series from these."""

    from_agency_id: int
    to_agency_id: int
    direction: str
    kind: str
    online: bool
    electronic_complete: bool
    month: date
    n: int


def transfer_facts(period: Period, scope: Scope) -> list[TransferFact]:
    tz = timezone.get_current_timezone()
    grouped = list(
        _transfers(period, scope).annotate(month=TruncMonth("sent_at", tzinfo=tz))
        .values("from_agency_id", "to_agency_id", "kind", "mode", "electronic", "dossier_complete", "month")
        .annotate(n=Count("id")).order_by()
    )
    kinds = dict(Agency.objects.filter(pk__in={g["from_agency_id"] for g in grouped} |
                                       {g["to_agency_id"] for g in grouped}).values_list("pk", "kind"))
    return [
        TransferFact(g["from_agency_id"], g["to_agency_id"],
                     direction_key(kinds[g["from_agency_id"]], kinds[g["to_agency_id"]]), g["kind"],
                     g["mode"] == "online", bool(g["electronic"] and g["dossier_complete"]), _as_date(g["month"]),
                     g["n"])
        for g in grouped
    ]


def circulation_rates(period: Period, scope: Scope, facts: list[TransferFact] | None = None) -> list[RateRow]:
    """Online and e-dossier rates per sending agency and direction."""
    facts = transfer_facts(period, scope) if facts is None else facts
    cells: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for f in facts:
        c = cells[(f.from_agency_id, f.direction)]
        c[1] += f.n
        c[0] += f.n if f.online else 0
        if f.kind in DOSSIER_KINDS:
            c[3] += f.n
            c[2] += f.n if f.electronic_complete else 0
    rows = [RateRow(agency, direction, Ratio(c[0], c[1]), Ratio(c[2], c[3]))
            for (agency, direction), c in cells.items()]
    return _sorted_rows(rows)


def _direction_order(key: str) -> int:
    keys = [direction_key(a, b) for a, b in DIRECTIONS]
    return keys.index(key) if key in keys else len(keys)


def _sorted_rows(rows: list[Any]) -> list[Any]:
    return sorted(rows, key=lambda r: (_direction_order(r.direction), r.agency_id or 0))


def total_rates(rows: Sequence[RateRow]) -> dict[str, Ratio]:
    return {
        "online": Ratio(sum(r.online.numerator for r in rows), sum(r.online.denominator for r in rows)),
        "dossier": Ratio(sum(r.dossier.numerator for r in rows), sum(r.dossier.denominator for r in rows)),
    }


@dataclass
class CustodyRow:
    agency_id: int | None
    direction: str
    certificates: Ratio  # online / all
    persons: int
    persons_online: int
    handovers: int  # distinct (case, transfer) hand-overs the certificates belong to


def custody_rates(period: Period, scope: Scope) -> list[CustodyRow]:
    grouped = (
        _certificates(period, scope)
        .values("from_agency_id", "from_agency__kind", "to_agency__kind")
        .annotate(
            total=Count("id"),
            online=Count("id", filter=Q(channel="online")),
            persons=Count("person_id", distinct=True),
            persons_online=Count("person_id", filter=Q(channel="online"), distinct=True),
            handovers=Count("transfer_id", distinct=True),
            paper_handovers=Count("id", filter=Q(transfer__isnull=True)),
        )
    )
    rows = [
        CustodyRow(g["from_agency_id"], direction_key(g["from_agency__kind"], g["to_agency__kind"]),
                   Ratio(g["online"], g["total"]), g["persons"], g["persons_online"],
                   g["handovers"] + g["paper_handovers"])
        for g in grouped
    ]
    return _sorted_rows(rows)


def persons_covered(period: Period, scope: Scope, *, online_only: bool) -> int:
    """Distinct persons over all directions (a person moved twice is one person)."""
    qs = _certificates(period, scope)
    if online_only:
        qs = qs.filter(channel="online")
    return qs.values("person_id").distinct().count()


def custody_total(period: Period, scope: Scope) -> Ratio:
    qs = _certificates(period, scope)
    agg = qs.aggregate(total=Count("id"), online=Count("id", filter=Q(channel="online")))
    return Ratio(agg["online"], agg["total"])


# --- counts by kind ------------------------------------------------------------------------------------

@dataclass
class KindCount:
    kind: str
    direction: str
    online: int
    paper: int

    @property
    def total(self) -> int:
        return self.online + self.paper


def transfer_counts(period: Period, scope: Scope, facts: list[TransferFact] | None = None) -> list[KindCount]:
    from casehub.transfers.models import TransferKind

    facts = transfer_facts(period, scope) if facts is None else facts
    order = list(TransferKind.values)
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for f in facts:
        cells[(f.kind, f.direction)][0 if f.online else 1] += f.n
    rows = [KindCount(kind, direction, c[0], c[1]) for (kind, direction), c in cells.items()]
    return sorted(rows, key=lambda r: (_direction_order(r.direction), order.index(r.kind) if r.kind in order else 99))


def cases_by_direction(period: Period, scope: Scope) -> dict[str, int]:
    """Distinct cases that travelled in each direction (the district report counts cases)."""
    out: dict[str, int] = {}
    for g in (_transfers(period, scope).exclude(case__isnull=True)
              .values("from_agency__kind", "to_agency__kind").annotate(n=Count("case_id", distinct=True))):
        out[direction_key(g["from_agency__kind"], g["to_agency__kind"])] = g["n"]
    return out


# --- durations -----------------------------------------------------------------------------------------

@dataclass
class DurationRow:
    group: tuple[Any, ...]
    count: int
    median: float | None
    p90: float | None


def _grouped_percentiles(table: str, group_cols: Sequence[str], value_sql: str, where_sql: str,
                         params: list[Any], scale: float) -> list[DurationRow]:
    """Count, median and p90 of ``value_sql`` per group: in SQL on PostgreSQL, in Python elsewhere.

    ``table``, ``group_cols``, ``value_sql`` and ``where_sql`` are constant SQL written in this
    module (never user input); every value travels in ``params``.
    """
    cols = ", ".join(group_cols)
    if connection.vendor == "postgresql":
        sql = (f"SELECT {cols}, count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY {value_sql}), "  # noqa: S608
               f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {value_sql}) FROM {table} WHERE {where_sql} "
               f"GROUP BY {cols} ORDER BY {cols}")  # noqa: S608 - constant fragments, see above
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [DurationRow(tuple(r[:len(group_cols)]), r[-3],
                                None if r[-2] is None else float(r[-2]) / scale,
                                None if r[-1] is None else float(r[-1]) / scale) for r in cursor.fetchall()]
    sql = f"SELECT {cols}, {value_sql} FROM {table} WHERE {where_sql} ORDER BY {cols}, {value_sql}"  # noqa: S608
    groups: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for r in cursor.fetchall():
            groups[tuple(r[:len(group_cols)])].append(float(r[-1]))
    out = []
    for key in sorted(groups):
        values = groups[key]
        median, p90 = percentile_cont(values, 0.5), percentile_cont(values, 0.9)
        out.append(DurationRow(key, len(values), None if median is None else median / scale,
                               None if p90 is None else p90 / scale))
    return out


def _in_list(ids: Sequence[int]) -> tuple[str, list[int]]:
    if not ids:
        return "(NULL)", []
    return "(" + ", ".join(["%s"] * len(ids)) + ")", list(ids)


def stage_durations(period: Period, scope: Scope, *, by_agency: bool = True) -> list[DurationRow]:
    """Days spent in each stage (per holder agency), for stays that ended in the period."""
    ids_sql, ids = _in_list(scope.agency_ids)
    group = ["stage", "agency_id"] if by_agency else ["stage"]
    return _grouped_percentiles(
        "metrics_stagestay", group, "seconds",
        f"left_at >= %s AND left_at < %s AND agency_id IN {ids_sql}",
        [period.start_at, period.end_before, *ids], 86400.0,
    )


def stage_duration_tables(period: Period, scope: Scope) -> tuple[list[DurationRow], list[DurationRow]]:
    """(per stage and agency, per stage) in one pass: GROUPING SETS on PostgreSQL."""
    if connection.vendor != "postgresql":
        return stage_durations(period, scope, by_agency=True), stage_durations(period, scope, by_agency=False)
    ids_sql, ids = _in_list(scope.agency_ids)
    # ids_sql is a list of placeholders; the ids are parameters.
    sql = (
        "SELECT stage, agency_id, GROUPING(agency_id), count(*), "  # noqa: S608
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds), percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) "
        f"FROM metrics_stagestay WHERE left_at >= %s AND left_at < %s AND agency_id IN {ids_sql} "
        "GROUP BY GROUPING SETS ((stage, agency_id), (stage)) ORDER BY stage, agency_id"
    )
    by_agency, by_stage = [], []
    with connection.cursor() as cursor:
        cursor.execute(sql, [period.start_at, period.end_before, *ids])
        for stage, agency_id, rolled_up, n, median, p90 in cursor.fetchall():
            row = DurationRow((stage,) if rolled_up else (stage, agency_id), n,
                              None if median is None else float(median) / 86400.0,
                              None if p90 is None else float(p90) / 86400.0)
            (by_stage if rolled_up else by_agency).append(row)
    return by_agency, by_stage


def acceptance_times(period: Period, scope: Scope) -> list[DurationRow]:
    """Hours from sending an online package to the receiver's answer, per receiver and kind."""
    ids_sql, ids = _in_list(scope.agency_ids)
    if connection.vendor == "postgresql":
        value = "EXTRACT(EPOCH FROM (decided_at - sent_at))"
    else:
        value = "((julianday(decided_at) - julianday(sent_at)) * 86400.0)"
    return _grouped_percentiles(
        "transfers_transfer", ["to_agency_id", "kind"], value,
        "mode = 'online' AND requires_acceptance AND status IN ('accepted', 'rejected') "
        f"AND decided_at >= %s AND decided_at < %s AND to_agency_id IN {ids_sql}",
        [period.start_at, period.end_before, *ids], 3600.0,
    )


# --- clocks ----------------------------------------------------------------------------------------------

@dataclass
class ClockRow:
    kind: str
    agency_id: int
    met: int
    late: int
    overdue_running: int

    @property
    def stopped(self) -> int:
        return self.met + self.late

    @property
    def met_ratio(self) -> Ratio:
        return Ratio(self.met, self.stopped)


def clock_outcomes(period: Period, scope: Scope, today: date | None = None) -> list[ClockRow]:
    """Clocks stopped in the period (met / late) and clocks running past their due date today."""
    from casehub.clocks.models import Clock

    today = today or timezone.localdate()
    stopped = (
        Clock.objects.filter(agency_id__in=scope.agency_ids, status="stopped", stopped_at__gte=period.start_at,
                             stopped_at__lt=period.end_before)
        .annotate(stopped_on=TruncDate("stopped_at", tzinfo=timezone.get_current_timezone()))
        .values("kind", "agency_id")
        .annotate(met=Count("id", filter=Q(stopped_on__lte=F("due_date"))),
                  late=Count("id", filter=Q(stopped_on__gt=F("due_date"))))
    )
    rows: dict[tuple[str, int], ClockRow] = {}
    for g in stopped:
        rows[(g["kind"], g["agency_id"])] = ClockRow(g["kind"], g["agency_id"], g["met"], g["late"], 0)
    for g in (overdue_clocks(scope, today).values("kind", "agency_id").annotate(n=Count("id"))):
        row = rows.setdefault((g["kind"], g["agency_id"]), ClockRow(g["kind"], g["agency_id"], 0, 0, 0))
        row.overdue_running = g["n"]
    return sorted(rows.values(), key=lambda r: (r.kind, r.agency_id))


def overdue_clocks(scope: Scope, today: date | None = None) -> QuerySet:
    """Clocks running (not paused) past their due date now — what "overdue cases" lists."""
    from casehub.clocks.models import Clock

    today = today or timezone.localdate()
    return Clock.objects.filter(agency_id__in=scope.agency_ids, status__in=("running", "overdue"),
                                due_date__lt=today)


# --- series for the charts -------------------------------------------------------------------------------

@dataclass
class MonthPoint:
    month: date
    online: Ratio
    dossier: Ratio
    custody: Ratio


def monthly_rates(period: Period, scope: Scope, facts: list[TransferFact] | None = None) -> list[MonthPoint]:
    tz = timezone.get_current_timezone()
    facts = transfer_facts(period, scope) if facts is None else facts
    points = {m: MonthPoint(m, Ratio(0, 0), Ratio(0, 0), Ratio(0, 0)) for m in period.months()}
    for f in facts:
        point = points.get(f.month)
        if point is None:
            continue
        point.online = Ratio(point.online.numerator + (f.n if f.online else 0), point.online.denominator + f.n)
        if f.kind in DOSSIER_KINDS:
            point.dossier = Ratio(point.dossier.numerator + (f.n if f.electronic_complete else 0),
                                  point.dossier.denominator + f.n)
    for g in (_certificates(period, scope).annotate(month=TruncMonth("issued_at", tzinfo=tz)).values("month")
              .annotate(total=Count("id"), online=Count("id", filter=Q(channel="online"))).order_by()):
        month = _as_date(g["month"])
        if month in points:
            points[month].custody = Ratio(g["online"], g["total"])
    return [points[m] for m in sorted(points)]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value
