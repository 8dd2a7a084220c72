"""Each person's timeline as a picture (issue #15): measures over time, who held them, every clock
with its due date, and the hand-overs — drawn server-side as SVG from the records themselves.

The same rows feed the picture and the text table next to it (the table is what a screen reader
reads; the picture is ``aria-describedby`` it). Nothing here is trusted text: the template
(``templates/custody/_timeline.html``) renders every name and label with Django's autoescaping, and
this module only computes geometry and plain strings.

Sources, per person:

- **holder** (who held them): for a person with a custody record, the responsible agency
  羁押权属机关 from the record's events (:class:`~casehub.custody.models.CustodyEvent`); for the
  others, the agency holding the case from the engine's transition log;
- **measure**: the custody record's events (detention → arrest, bail or release by a notice); for a
  person without a record, their current measure since ``custody_since`` (or the case's registration);
- **clocks**: the person's own clocks and the case's stage clocks (person empty), bar from start to
  stop (or today) and a tick on the due date (:attr:`Clock.due_date`, the date the clocks page shows);
- **hand-overs**: the person's custody certificates 换押证 (online or paper, cancelled ones left out);
  for a person without custody, the case's changes of holder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.agencies.models import AgencyKind
from casehub.cases.models import CustodyStatus, Person, PersonRole
from casehub.clocks.counting import local_day
from casehub.clocks.models import Clock, ClockStatus
from casehub.custody.models import (
    CertificateStatus,
    CustodyCertificate,
    CustodyEvent,
    CustodyRecord,
    NoticeKind,
)

WIDTH = 960
LABEL_WIDTH = 190
RIGHT_PAD = 100  # room for the last due-date label
ROW = 22
BAR = 14
AXIS = 28

# Colour classes (templates/custody/_timeline.html holds the colours).
AGENCY_CLASS = {AgencyKind.POLICE: "tl-police", AgencyKind.PROCURATORATE: "tl-procuratorate",
                AgencyKind.COURT: "tl-court"}
MEASURE_CLASS = {
    CustodyStatus.DETAINED: "tl-detained", CustodyStatus.ARRESTED: "tl-arrested", CustodyStatus.BAIL: "tl-bail",
    CustodyStatus.RESIDENTIAL_SURVEILLANCE: "tl-surveillance", CustodyStatus.RELEASED: "tl-released",
    CustodyStatus.NOT_DETAINED: "tl-none",
}
NOTICE_MEASURE = {NoticeKind.BAIL: CustodyStatus.BAIL, NoticeKind.RELEASE: CustodyStatus.RELEASED,
                  NoticeKind.ARREST: CustodyStatus.ARRESTED}


@dataclass
class Span:
    start: date
    end: date
    text: str
    css: str
    detail: str = ""
    x: float = 0.0
    w: float = 0.0


@dataclass
class Mark:
    on: date
    text: str
    css: str
    detail: str = ""
    x: float = 0.0


@dataclass
class ClockRow:
    clock: Clock
    label: str
    start: date
    end: date
    due: date
    status: str
    css: str
    x: float = 0.0
    w: float = 0.0
    due_x: float = 0.0
    y: float = 0.0


@dataclass
class PersonTimeline:
    person: Person
    holders: list[Span] = field(default_factory=list)
    measures: list[Span] = field(default_factory=list)
    clocks: list[ClockRow] = field(default_factory=list)
    handovers: list[Mark] = field(default_factory=list)
    # geometry (filled by layout)
    y: float = 0.0
    holder_y: float = 0.0
    measure_y: float = 0.0
    height: float = 0.0

    @property
    def table_rows(self) -> list[dict[str, Any]]:
        """The text alternative: one row per band, clock and hand-over, in time order."""
        rows: list[dict[str, Any]] = []
        rows += [{"what": _("承办/羁押权属"), "text": s.text, "start": s.start, "end": s.end, "due": None}
                 for s in self.holders]
        rows += [{"what": _("强制措施"), "text": s.text, "start": s.start, "end": s.end, "due": None}
                 for s in self.measures]
        rows += [{"what": _("期限"), "text": _("%(what)s（%(note)s）") % {"what": c.label, "note": c.status}, "start": c.start,
                  "end": c.end if c.clock.status == ClockStatus.STOPPED else None, "due": c.due,
                  "clock": c.clock.pk} for c in self.clocks]
        rows += [{"what": _("移送/换押"), "text": m.text, "start": m.on, "end": None, "due": None} for m in self.handovers]
        return sorted(rows, key=lambda r: (r["start"], str(r["what"])))


@dataclass
class Timeline:
    persons: list[PersonTimeline]
    start: date
    end: date
    today: date
    width: int = WIDTH
    height: float = 0.0
    ticks: list[tuple[float, str]] = field(default_factory=list)
    today_x: float = 0.0
    label_width: int = LABEL_WIDTH

    @property
    def plot_right(self) -> int:
        return self.width - RIGHT_PAD


def _day(value: datetime | date | None) -> date | None:
    if value is None:
        return None
    return local_day(value) if isinstance(value, datetime) else value


def _agency_class(agency: Any) -> str:
    return AGENCY_CLASS.get(getattr(agency, "kind", ""), "tl-other")


def _merge(points: Sequence[tuple[date, Any, str, str]], end: date) -> list[Span]:
    """Change points (day, key, text, css) → consecutive spans, equal neighbours merged."""
    spans: list[Span] = []
    for day, key, text, css in points:
        if spans and spans[-1].detail == str(key):
            continue
        if spans:
            spans[-1].end = max(spans[-1].start, day)
        spans.append(Span(day, end, text, css, detail=str(key)))
    for s in spans:
        s.end = max(s.end, s.start)
    return spans


def _status_label(value: str) -> str:
    try:
        return str(CustodyStatus(value).label)
    except ValueError:
        return value


def _record_bands(record: CustodyRecord, events: list[CustodyEvent], today: date) -> tuple[list[Span], list[Span]]:
    end = _day(record.ended_at) or today
    holders: list[tuple[date, Any, str, str]] = []
    measures: list[tuple[date, Any, str, str]] = []
    start = _day(record.detained_at)
    for e in events:
        day = start if e.kind == "registered" else max(_day(e.at), start)
        if e.responsible_agency_id:
            holders.append((day, e.responsible_agency_id, str(e.responsible_agency), _agency_class(e.responsible_agency)))
        measure = NOTICE_MEASURE.get(e.notice.kind, e.measure) if e.notice_id else e.measure
        if measure:
            measures.append((day, measure, _status_label(measure), MEASURE_CLASS.get(measure, "tl-none")))
    if not holders:
        holders.append((start, record.responsible_agency_id, str(record.responsible_agency),
                        _agency_class(record.responsible_agency)))
    if not measures:
        measures.append((start, record.measure, _status_label(record.measure), MEASURE_CLASS.get(record.measure, "")))
    return _merge(holders, end), _merge(measures, today)


MEASURE_OF_CLOCK = {"bail": CustodyStatus.BAIL, "residential_surveillance": CustodyStatus.RESIDENTIAL_SURVEILLANCE}
LAPSED = "lapsed"


def _measure_bands(person: Person, clocks: list[Clock], since: date, today: date) -> list[Span]:
    """A person without a custody record: each bail or surveillance decision from its own period
    (CPL art. 79: one per deciding authority), a period that ran out without a new decision as
    "期满解除" from the day after its last day, and the current measure since it was decided."""
    points: list[tuple[date, Any, str, str]] = []
    for c in clocks:
        measure = MEASURE_OF_CLOCK.get(c.kind)
        if measure is None:
            continue
        points.append((_day(c.started_at), f"{measure}-{c.pk}", _status_label(measure), MEASURE_CLASS[measure]))
        if c.status == ClockStatus.STOPPED and c.stopped_at is not None and _day(c.stopped_at) > c.due_date:
            points.append((c.due_date + timedelta(days=1), f"{LAPSED}-{c.pk}",
                           _("%(measure)s期满解除（刑事诉讼法第七十九条）") % {"measure": _status_label(measure)},
                           "tl-released"))
    current = person.custody_status
    current_since = _day(person.measure_since) or since
    if not points or (current not in MEASURE_OF_CLOCK.values() and current_since > max(p[0] for p in points)):
        points.append((current_since if points else since, current, _status_label(current),
                       MEASURE_CLASS.get(current, "tl-none")))
    points.sort(key=lambda p: p[0])
    return _merge(points, today)


def _after_record(spans: list[Span], person: Person, record: CustodyRecord, clocks: list[Clock],
                  today: date) -> list[Span]:
    """A person released from custody onto bail or residential surveillance: that measure's own
    periods (art. 79) — and a lapse at the end of one — follow the record's bands."""
    ended = record.ended_at - timedelta(minutes=1)
    later = [c for c in clocks if c.person_id == person.pk and c.kind in MEASURE_OF_CLOCK and c.started_at >= ended]
    if not later:
        return spans
    after = _measure_bands(person, later, _day(record.ended_at), today)
    if spans and after and spans[-1].text == after[0].text:  # the bail notice and the bail's own period
        spans.pop()
    if spans and after:
        spans[-1].end = max(spans[-1].start, after[0].start)
    return spans + after


def _case_holders(case_start: date, logs: list[Any], today: date) -> tuple[list[Span], list[Mark]]:
    points: list[tuple[date, Any, str, str]] = []
    marks: list[Mark] = []
    for log in logs:
        if log.to_agency_id is None:
            continue
        points.append((_day(log.occurred_at), log.to_agency_id, str(log.to_agency), _agency_class(log.to_agency)))
        if log.from_agency_id and log.from_agency_id != log.to_agency_id:
            marks.append(Mark(_day(log.occurred_at), f"{log.from_agency} → {log.to_agency}", "tl-handover"))
    if points:
        points[0] = (min(points[0][0], case_start), *points[0][1:])
    return _merge(points, today), marks


def _clock_rows(clocks: Iterable[Clock], today: date) -> list[ClockRow]:
    rows = []
    for c in clocks:
        start = _day(c.started_at)
        stopped = _day(c.stopped_at) if c.status == ClockStatus.STOPPED else None
        end = stopped or today
        css = {"overdue": "tl-overdue", "stopped": "tl-stopped", "paused": "tl-paused"}.get(c.status, "tl-running")
        if c.status != ClockStatus.STOPPED and c.due_date < today:
            css = "tl-overdue"
        label = str(c.get_kind_display())
        if c.person_id is None:
            label = _("%(kind)s（全案）") % {"kind": label}
        rows.append(ClockRow(c, label, start, max(end, start), c.due_date, str(c.get_status_display()), css))
    return rows


def build(case: Any, persons: Sequence[Person] | None = None, *, today: date | None = None) -> Timeline:
    """The timeline of ``persons`` (default: the case's suspects) of ``case`` — a fixed number of
    queries whatever the number of persons."""
    from workflows.models import TransitionLog  # the engine's log: same layer, read only (no cycle)

    today = today or timezone.localdate()
    if persons is None:
        persons = list(case.persons.filter(role=PersonRole.SUSPECT).order_by("id"))
    ids = [p.pk for p in persons]
    records = {r.person_id: r for r in CustodyRecord.objects.filter(person_id__in=ids).select_related(
        "responsible_agency")}
    events: dict[int, list[CustodyEvent]] = {}
    for e in (CustodyEvent.objects.filter(record__person_id__in=ids)
              .select_related("responsible_agency", "notice").order_by("at", "id")):
        events.setdefault(e.record_id, []).append(e)
    certs: dict[int, list[CustodyCertificate]] = {}
    for c in (CustodyCertificate.objects.filter(person_id__in=ids).exclude(status=CertificateStatus.CANCELLED)
              .select_related("from_agency", "to_agency").order_by("issued_at", "id")):
        certs.setdefault(c.person_id, []).append(c)
    clocks = list(Clock.objects.filter(case=case).filter(Q(person_id__in=ids) | Q(person__isnull=True))
                  .order_by("started_at", "id"))
    logs = list(TransitionLog.objects.filter(case=case).select_related("from_agency", "to_agency")
                .order_by("occurred_at", "id"))
    case_start = _day(case.created_at) or today

    result: list[PersonTimeline] = []
    for person in persons:
        tl = PersonTimeline(person)
        record = records.get(person.pk)
        if record is not None:
            tl.holders, tl.measures = _record_bands(record, events.get(record.pk, []), today)
            if record.ended_at is not None:  # out of custody: a bail or surveillance may run (and lapse) after
                tl.measures = _after_record(tl.measures, person, record, clocks, today)
            for c in certs.get(person.pk, []):
                channel = str(c.get_channel_display())
                tl.handovers.append(Mark(_day(c.issued_at), _("%(what)s（%(note)s）") % {"what": f"{c.from_agency} → {c.to_agency}", "note": channel},
                                         "tl-paper" if c.channel == "paper" else "tl-handover",
                                         detail=c.number))
        else:
            tl.holders, tl.handovers = _case_holders(case_start, logs, today)
            since = _day(person.custody_since) or case_start
            tl.measures = _measure_bands(person, [c for c in clocks if c.person_id == person.pk], since, today)
        tl.clocks = _clock_rows((c for c in clocks if c.person_id in (None, person.pk)), today)
        result.append(tl)
    return _layout(result, today)


def _layout(persons: list[PersonTimeline], today: date) -> Timeline:
    days: list[date] = [today]
    for tl in persons:
        days += [s.start for s in tl.holders + tl.measures] + [s.end for s in tl.holders + tl.measures]
        days += [c.start for c in tl.clocks] + [c.due for c in tl.clocks] + [c.end for c in tl.clocks]
        days += [m.on for m in tl.handovers]
    start, end = min(days) - timedelta(days=2), max(days) + timedelta(days=3)
    timeline = Timeline(persons, start, end, today)
    plot = timeline.plot_right - LABEL_WIDTH
    span_days = max((end - start).days, 1)

    def x(day: date) -> float:
        return round(LABEL_WIDTH + (day - start).days / span_days * plot, 1)

    def width(a: date, b: date) -> float:
        return max(round(x(b) - x(a), 1), 2.0)

    step = max(1, round(span_days / 7))
    timeline.ticks = [(x(start + timedelta(days=i)), (start + timedelta(days=i)).isoformat())
                      for i in range(0, span_days + 1, step)]
    timeline.today_x = x(today)
    y = AXIS + 6.0
    for tl in persons:
        tl.y = y
        tl.holder_y = y + ROW
        tl.measure_y = y + 2 * ROW
        for s in tl.holders + tl.measures:
            s.x, s.w = x(s.start), width(s.start, s.end)
        for m in tl.handovers:
            m.x = x(m.on)
        for i, c in enumerate(tl.clocks):
            c.y = y + (3 + i) * ROW
            c.x, c.w, c.due_x = x(c.start), width(c.start, c.end), x(c.due)
        tl.height = (3 + len(tl.clocks)) * ROW + 10
        y += tl.height
    timeline.height = y + 4
    return timeline
