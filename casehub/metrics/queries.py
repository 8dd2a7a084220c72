"""The dashboard's numbers: every table the auditor sees, computed in the database.

Definitions (docs/audit.md has the long form):

* A *transfer* is a :class:`~workflows.models.Transfer` sent in the period (for a paper
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
  interpolation) over each stay's duration rounded to the nearest whole hour, in days.
* **Acceptance time**: online packages needing acceptance, answered (accepted or rejected) in
  the period: answer time − send time rounded to the nearest whole minute, per receiving agency
  and kind, in hours.
* **Clocks**: statutory clocks stopped in the period — met when stopped on or before the due
  date (local calendar day), overdue otherwise; plus clocks running past their due date today.

The numbers are read from the rollup tables (:mod:`casehub.metrics.rollup`, docs/audit.md §2
"Rollups"), not aggregated from the base rows at request time; drill-downs page through base rows.

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

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
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
    from workflows.models import Transfer

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
    """The period's transfers grouped for every table, read from the daily rollup
    (:class:`~casehub.metrics.models.TransferDay`), summed per month."""
    from casehub.metrics.models import TransferDay

    grouped = [
        g for g in scope.transfers(TransferDay.objects.filter(day__gte=period.start, day__lte=period.end))
        .annotate(month=TruncMonth("day"))
        .values("from_agency_id", "to_agency_id", "kind", "mode", "e_complete", "month")
        .annotate(n=Sum("n")).order_by()
        if g["n"]
    ]
    kinds = dict(Agency.objects.filter(pk__in={g["from_agency_id"] for g in grouped} |
                                       {g["to_agency_id"] for g in grouped}).values_list("pk", "kind"))
    return [
        TransferFact(g["from_agency_id"], g["to_agency_id"],
                     direction_key(kinds[g["from_agency_id"]], kinds[g["to_agency_id"]]), g["kind"],
                     g["mode"] == "online", bool(g["e_complete"]), _as_date(g["month"]), g["n"])
        for g in grouped
    ]


def covers_every_agency(scope: Scope) -> bool:
    """Distinct counts (cases, persons, hand-overs) come from the FirstSeenDay chains, which count a
    thing once over all agencies: exact when the scope is every agency. A narrower scope (a region,
    one agency) counts from the base rows, which are then fewer."""
    return len(set(scope.agency_ids)) >= Agency.objects.count()


def _first_seen(metric: str, period: Period, scope: Scope) -> QuerySet:
    from casehub.metrics.models import FirstSeenDay

    qs = FirstSeenDay.objects.filter(metric=metric, day__gte=period.start, day__lte=period.end,
                                     prev_day__lt=period.start)
    if scope.direction:
        qs = qs.filter(direction=scope.direction)
    return qs


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


def _certificate_days(period: Period, scope: Scope) -> QuerySet:
    from casehub.metrics.models import CertificateDay

    return scope.transfers(CertificateDay.objects.filter(day__gte=period.start, day__lte=period.end))


def custody_rates(period: Period, scope: Scope) -> list[CustodyRow]:
    rows: dict[tuple[int, str], CustodyRow] = {}
    for g in (_certificate_days(period, scope)
              .values("from_agency_id", "from_agency__kind", "to_agency__kind")
              .annotate(total=Sum("n"), online=Sum("n", filter=Q(channel="online")),
                        paper_handovers=Sum("n", filter=Q(without_transfer=True))).order_by()):
        if not g["total"]:
            continue
        key = (g["from_agency_id"], direction_key(g["from_agency__kind"], g["to_agency__kind"]))
        rows[key] = CustodyRow(key[0], key[1], Ratio(g["online"] or 0, g["total"]), 0, 0, g["paper_handovers"] or 0)
    if covers_every_agency(scope):
        for metric, attr in (("person_row", "persons"), ("person_row_online", "persons_online"),
                             ("handover", "handovers")):
            for g in (_first_seen(metric, period, scope).values("agency_id", "direction")
                      .annotate(n=Sum("n")).order_by()):
                row = rows.get((g["agency_id"], g["direction"]))
                if row is not None:
                    setattr(row, attr, getattr(row, attr) + g["n"])
    else:
        for g in (_certificates(period, scope)
                  .values("from_agency_id", "from_agency__kind", "to_agency__kind")
                  .annotate(persons=Count("person_id", distinct=True),
                            persons_online=Count("person_id", filter=Q(channel="online"), distinct=True),
                            handovers=Count("transfer_id", distinct=True))):
            row = rows.get((g["from_agency_id"], direction_key(g["from_agency__kind"], g["to_agency__kind"])))
            if row is not None:
                row.persons, row.persons_online = g["persons"], g["persons_online"]
                row.handovers += g["handovers"]
    return _sorted_rows(list(rows.values()))


def persons_covered(period: Period, scope: Scope, *, online_only: bool) -> int:
    """Distinct persons over all directions (a person moved twice is one person)."""
    if covers_every_agency(scope):
        metric = ("person_dir" if scope.direction else "person") + ("_online" if online_only else "")
        return _first_seen(metric, period, scope).aggregate(n=Sum("n"))["n"] or 0
    qs = _certificates(period, scope)
    if online_only:
        qs = qs.filter(channel="online")
    return qs.values("person_id").distinct().count()


def custody_total(period: Period, scope: Scope) -> Ratio:
    agg = _certificate_days(period, scope).aggregate(total=Sum("n"), online=Sum("n", filter=Q(channel="online")))
    return Ratio(agg["online"] or 0, agg["total"] or 0)


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
    from workflows.models import TransferKind

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
    if covers_every_agency(scope):
        for g in _first_seen("case", period, scope).values("direction").annotate(n=Sum("n")).order_by():
            if g["n"]:
                out[g["direction"]] = g["n"]
        return out
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


def period_spans(period: Period) -> tuple[list[date], list[date], list[date]]:
    """The period as whole years + whole months + single days (their first days)."""
    years: list[date] = []
    months: list[date] = []
    days: list[date] = []
    d = period.start
    while d <= period.end:
        next_month = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
        if d.month == 1 and d.day == 1 and date(d.year, 12, 31) <= period.end:
            years.append(d)
            d = date(d.year + 1, 1, 1)
        elif d.day == 1 and next_month - timedelta(days=1) <= period.end:
            months.append(d)
            d = next_month
        else:
            days.append(d)
            d += timedelta(days=1)
    return years, months, days


def period_levels(period: Period) -> Q:
    """Which :class:`~casehub.metrics.models.DurationBucket` rows make up the period."""
    years, months, days = period_spans(period)
    q = Q(pk__in=[])
    for level, starts in (("y", years), ("m", months), ("d", days)):
        if starts:
            q |= Q(level=level, start__in=starts)
    return q


def histogram_percentile(buckets: Sequence[tuple[int, int]], total: int, q: float) -> float | None:
    """``percentile_cont`` (linear interpolation between the closest ranks) of the multiset that
    ``buckets`` — sorted (value, count) pairs — describes."""
    if total == 0:
        return None
    position = q * (total - 1)
    lower = math.floor(position)
    upper = min(lower + 1, total - 1)

    def value_at(rank: int) -> int:
        seen = 0
        for value, count in buckets:
            seen += count
            if rank < seen:
                return value
        return buckets[-1][0]

    low = value_at(lower)
    return low + (value_at(upper) - low) * (position - lower)


def _histograms(metric: str, period: Period, agency_ids: Sequence[int]) -> dict[tuple[str, int], dict[int, int]]:
    from casehub.metrics.models import DurationBucket

    out: dict[tuple[str, int], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    rows = (DurationBucket.objects.filter(period_levels(period), metric=metric, agency_id__in=list(agency_ids))
            .values_list("category", "agency_id", "bucket").annotate(n=Sum("n")).order_by())
    for category, agency_id, bucket, n in rows:
        if n:
            out[(category, agency_id)][bucket] += n
    return out


def _duration_row(group: tuple[Any, ...], hist: dict[int, int], scale: float) -> DurationRow:
    buckets = sorted(hist.items())
    total = sum(hist.values())
    median, p90 = histogram_percentile(buckets, total, 0.5), histogram_percentile(buckets, total, 0.9)
    return DurationRow(group, total, None if median is None else median / scale, None if p90 is None else p90 / scale)


def stage_duration_tables(period: Period, scope: Scope) -> tuple[list[DurationRow], list[DurationRow]]:
    """(per stage and agency, per stage): days spent in each stage, for stays that ended in the
    period, from the hourly histograms (each stay's duration rounded to the nearest whole hour)."""
    hists = _histograms("stay", period, scope.agency_ids)
    by_stage: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for (stage, _agency), hist in hists.items():
        for bucket, n in hist.items():
            by_stage[stage][bucket] += n
    per_agency = [_duration_row(key, hists[key], 24.0) for key in sorted(hists)]
    per_stage = [_duration_row((stage,), by_stage[stage], 24.0) for stage in sorted(by_stage)]
    return per_agency, per_stage


def stage_durations(period: Period, scope: Scope, *, by_agency: bool = True) -> list[DurationRow]:
    per_agency, per_stage = stage_duration_tables(period, scope)
    return per_agency if by_agency else per_stage


def acceptance_times(period: Period, scope: Scope) -> list[DurationRow]:
    """Hours from sending an online package to the receiver's answer, per receiver and kind, from
    the per-minute histograms (each answer time rounded to the nearest whole minute)."""
    hists = _histograms("accept", period, scope.agency_ids)
    return [_duration_row((agency_id, kind), hists[(kind, agency_id)], 60.0)
            for kind, agency_id in sorted(hists, key=lambda k: (k[1], k[0]))]


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

    today = today or timezone.localdate()
    from casehub.metrics.models import ClockDay

    stopped = (
        ClockDay.objects.filter(agency_id__in=scope.agency_ids, day__gte=period.start, day__lte=period.end)
        .values("kind", "agency_id").annotate(met=Sum("met"), late=Sum("late")).order_by()
    )
    rows: dict[tuple[str, int], ClockRow] = {}
    for g in stopped:
        if not (g["met"] or g["late"]):
            continue
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
    for g in (_certificate_days(period, scope).annotate(month=TruncMonth("day")).values("month")
              .annotate(total=Sum("n"), online=Sum("n", filter=Q(channel="online"))).order_by()):
        month = _as_date(g["month"])
        if month in points and g["total"]:
            points[month].custody = Ratio(g["online"] or 0, g["total"])
    return [points[m] for m in sorted(points)]


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value
