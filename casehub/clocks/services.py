"""Opening, stopping, pausing, restarting and extending statutory clocks.

The workflow engine calls these inside its transition transaction; each runs in a (nested)
transaction and writes one audit event, so a rolled-back transition leaves no clock behind.
``acting_user`` is optional because most clock changes are consequences of a transition the
engine has already audited with its actor; pass it when a person takes the decision directly.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.audit.services import record_event
from casehub.clocks.calendar import DatabaseCalendar, WorkingCalendar
from casehub.clocks.counting import DueDate, due_date, local_day
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock, ClockExtension, ClockStatus


def _kind(kind: str) -> ClockKind:
    try:
        return ClockKind(kind)
    except ValueError as exc:
        raise ValidationError(_("未知的期限类别：%(kind)s") % {"kind": kind}) from exc


def _aware(moment: datetime | date) -> datetime:
    if isinstance(moment, datetime):
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
    # A bare date means the start of that day in the platform's time zone.
    return datetime(moment.year, moment.month, moment.day, tzinfo=timezone.get_current_timezone())


def compute_due(clock: Clock, calendar: WorkingCalendar | None = None) -> DueDate:
    """The clock's due date from its start, its period (with extensions) and the days it was paused."""
    return due_date(
        clock.started_at, months=clock.period_months, days=clock.period_days + clock.paused_days,
        custody=clock.custody, calendar=calendar,
    )


def _apply_due(clock: Clock, calendar: WorkingCalendar | None = None) -> None:
    due = compute_due(clock, calendar)
    clock.due_date, clock.provisional = due.date, due.provisional


def _details(clock: Clock, **extra: Any) -> dict[str, Any]:
    return {
        "clock": clock.pk, "kind": clock.kind, "agency": clock.agency_id, "person": clock.person_id,
        "due_date": clock.due_date.isoformat(), "provisional": clock.provisional, **extra,
    }


def held_in_custody(case: Any, person: Any = None) -> bool:
    """CPL art. 105 para. 4: is the period "in custody" — is the person it concerns held (detained or
    arrested)? A clock of no particular person (a stage period: review, trial, supplementary
    investigation) is in custody while any suspect or defendant of the case is held. Read from the
    database, so a decision earlier in the same transaction counts."""
    from casehub.cases.models import CustodyStatus, Person, PersonRole

    held = [CustodyStatus.DETAINED, CustodyStatus.ARRESTED]
    if person is not None:
        return Person.objects.filter(pk=getattr(person, "pk", person), custody_status__in=held).exists()
    case_id = getattr(case, "pk", case)
    return Person.objects.filter(case_id=case_id, role=PersonRole.SUSPECT, custody_status__in=held).exists()


def _custody_flag(clock_kind: ClockKind, case: Any, person: Any) -> bool:
    return clock_kind.custody or held_in_custody(case, person)


def refresh_custody(case: Any, *, acting_user: Any = None) -> list[Clock]:
    """Re-decide art. 105(4) for the case's active clocks after a person's custody changed (an
    arrest, a release, a detention registered): a period of a person no longer held may move past
    a holiday again, one of a person now held ends on its last day. Returns the clocks changed."""
    changed = []
    with transaction.atomic():
        for clock in Clock.objects.select_for_update().filter(case=case, status__in=ACTIVE_STATUSES):
            flag = _custody_flag(clock.clock_kind, case, clock.person_id)
            if flag == clock.custody:
                continue
            before = clock.due_date
            clock.custody = flag
            _apply_due(clock)
            if clock.due_date != before:
                clock.warned_on = None
            clock.save(update_fields=["custody", "due_date", "provisional", "warned_on"])
            changed.append(clock)
        if changed:
            record_event("clock.recounted", actor=acting_user, case=case,
                         details={"changed": [{"clock": c.pk, "custody": c.custody, "after": c.due_date}
                                              for c in changed], "reason": "custody"})
    return changed


def open_clock(
    case: Any, kind: str, *, agency: Any, start: datetime | date, person: Any = None, decision: str = "",
    acting_user: Any = None,
) -> Clock:
    """Start a statutory clock of ``kind`` for ``agency`` on ``case`` (period and article from
    :mod:`casehub.clocks.kinds`; counting per CPL art. 105)."""
    clock_kind = _kind(kind)
    if person is not None and person.case_id != case.pk:
        raise ValidationError(_("该人员不属于本案。"))
    period = clock_kind.period
    with transaction.atomic():
        clock = Clock(
            case=case, kind=clock_kind.value, agency=agency, person=person, started_at=_aware(start),
            period_months=period.months, period_days=period.days,
            custody=_custody_flag(clock_kind, case, person), decision=decision[:200],
        )
        _apply_due(clock)
        clock.save()
        record_event("clock.opened", actor=acting_user, agency=agency, obj=clock, case=case,
                     details=_details(clock, started_at=clock.started_at, article=clock_kind.article))
    return clock


def stop_clocks(
    case: Any, kinds: list[str] | None = None, *, at: datetime | date, person: Any = None,
    acting_user: Any = None, reason: str = "", agency: Any = None, unassigned: bool = False,
) -> list[Clock]:
    """Stop the case's active clocks (of ``kinds``, for ``person``, of ``agency`` if given; with
    ``unassigned`` only those of no particular person); returns those stopped."""
    kinds = [_kind(k).value for k in kinds] if kinds is not None else None
    with transaction.atomic():
        qs = Clock.objects.select_for_update().filter(case=case, status__in=ACTIVE_STATUSES)
        if kinds is not None:
            qs = qs.filter(kind__in=kinds)
        if person is not None:
            qs = qs.filter(person=person)
        if agency is not None:
            qs = qs.filter(agency=agency)
        if unassigned:
            qs = qs.filter(person__isnull=True)
        clocks = list(qs.order_by("id"))
        if not clocks:
            return []
        stopped_at = _aware(at)
        from casehub.metrics import rollup

        # One UPDATE for all of them; the met/late rollups follow explicitly, in this transaction.
        with rollup.bulk_change(Clock, [c.pk for c in clocks]):
            for clock in clocks:
                clock.status, clock.stopped_at = ClockStatus.STOPPED, stopped_at
            Clock.objects.bulk_update(clocks, ["status", "stopped_at"])
        record_event(
            "clock.stopped", actor=acting_user, agency=clocks[0].agency, case=case,
            details={"clocks": [c.pk for c in clocks], "kinds": [c.kind for c in clocks],
                     "at": stopped_at, "reason": reason},
        )
    return clocks


def reopen_clock(
    case: Any, kind: str, *, person: Any = None, at: datetime | date, acting_user: Any = None, reason: str = "",
) -> Clock | None:
    """Count on with the last stopped clock of ``kind`` (for ``person``), as if it had never stopped:
    a package refused or taken back did not do what stopped it (an arrest request the procuratorate
    did not accept was never filed). Its period and due date are unchanged; no new period starts."""
    with transaction.atomic():
        qs = Clock.objects.select_for_update().filter(case=case, kind=_kind(kind).value)
        if person is not None:
            qs = qs.filter(person=person)
        if qs.filter(status__in=ACTIVE_STATUSES).exists():
            return None
        clock = qs.filter(status=ClockStatus.STOPPED).order_by("-stopped_at", "-id").first()
        if clock is None:
            return None
        clock.status, clock.stopped_at = ClockStatus.RUNNING, None
        clock.save(update_fields=["status", "stopped_at"])
        record_event("clock.reopened", actor=acting_user, agency=clock.agency, obj=clock, case=case,
                     details=_details(clock, at=_aware(at), reason=reason))
    return clock


def _locked(clock: Clock) -> Clock:
    return Clock.objects.select_for_update().get(pk=clock.pk)


def pause_clock(clock: Clock, *, at: datetime | date, acting_user: Any = None, reason: str = "") -> Clock:
    """Stop counting (e.g. time for a psychiatric evaluation is not counted, CPL art. 149)."""
    with transaction.atomic():
        clock = _locked(clock)
        if clock.status not in (ClockStatus.RUNNING, ClockStatus.OVERDUE):
            raise ValidationError(_("只有计时中的期限可以中止。"))
        paused_at = _aware(at)
        if paused_at < clock.started_at:
            raise ValidationError(_("中止时间不能早于起算时间。"))
        clock.status, clock.paused_at = ClockStatus.PAUSED, paused_at
        clock.save(update_fields=["status", "paused_at"])
        record_event("clock.paused", actor=acting_user, agency=clock.agency, obj=clock, case=clock.case_id,
                     details=_details(clock, at=paused_at, reason=reason))
    return clock


def resume_clock(clock: Clock, *, at: datetime | date, acting_user: Any = None) -> Clock:
    """Count again; the due date moves by the whole days the clock was paused."""
    with transaction.atomic():
        clock = _locked(clock)
        if clock.status != ClockStatus.PAUSED or clock.paused_at is None:
            raise ValidationError(_("该期限未处于中止状态。"))
        resumed_at = _aware(at)
        if resumed_at < clock.paused_at:
            raise ValidationError(_("恢复时间不能早于中止时间。"))
        clock.paused_days += (local_day(resumed_at) - local_day(clock.paused_at)).days
        clock.status, clock.paused_at = ClockStatus.RUNNING, None
        _apply_due(clock)
        clock.overdue_since, clock.warned_on = None, None
        clock.save(update_fields=["status", "paused_at", "paused_days", "due_date", "provisional",
                                  "overdue_since", "warned_on"])
        record_event("clock.resumed", actor=acting_user, agency=clock.agency, obj=clock, case=clock.case_id,
                     details=_details(clock, at=resumed_at, paused_days=clock.paused_days))
    return clock


def restart_clock(
    case: Any, kind: str, *, agency: Any, start: datetime | date, person: Any = None, decision: str = "",
    acting_user: Any = None,
) -> Clock:
    """Stop the running clock of ``kind`` and start a fresh full period (e.g. the review clock when
    a case comes back from supplementary investigation, CPL art. 175 para. 3)."""
    with transaction.atomic():
        stop_clocks(case, [kind], at=start, person=person, acting_user=acting_user, reason="restart")
        return open_clock(case, kind, agency=agency, start=start, person=person, decision=decision,
                          acting_user=acting_user)


def extend_clock(
    clock: Clock, *, days: int = 0, months: int = 0, decision: str, acting_user: Any = None,
) -> Clock:
    """Extend a clock by a recorded decision (e.g. +15 days review, CPL art. 172; +1 month
    investigation custody, art. 156). The total extension may not exceed what the law allows
    for the kind within one stage."""
    decision = (decision or "").strip()
    if not decision:
        raise ValidationError(_("延长期限必须载明决定（文号或理由）。"))
    if days < 0 or months < 0 or (days == 0 and months == 0):
        raise ValidationError(_("延长的期间必须为正数。"))
    with transaction.atomic():
        clock = _locked(clock)
        if not clock.is_active:
            raise ValidationError(_("已结束的期限不能延长。"))
        spec = clock.clock_kind.spec
        base = spec.period
        total_months = clock.period_months - base.months + months
        total_days = clock.period_days - base.days + days
        cap = spec.max_extension
        if cap is None or total_months > cap.months or total_days > cap.days:
            raise ValidationError(
                _("%(kind)s 最多可延长 %(cap)s（%(law)s第%(article)s条）。")
                % {"kind": clock.get_kind_display(), "cap": _format_period(cap), "law": spec.law,
                   "article": spec.article}
            )
        previous = clock.due_date
        clock.period_months += months
        clock.period_days += days
        _apply_due(clock)
        clock.extended_by = (clock.extended_by + "\n" if clock.extended_by else "") + decision
        today = timezone.localdate()
        if clock.status == ClockStatus.OVERDUE and clock.due_date >= today:
            clock.status, clock.overdue_since = ClockStatus.RUNNING, None
        clock.warned_on = None
        clock.save(update_fields=["period_months", "period_days", "due_date", "provisional", "extended_by",
                                  "status", "overdue_since", "warned_on"])
        ClockExtension.objects.create(
            clock=clock, months=months, days=days, decision=decision[:200], previous_due_date=previous,
            new_due_date=clock.due_date, decided_by=acting_user,
        )
        record_event("clock.extended", actor=acting_user, agency=clock.agency, obj=clock, case=clock.case_id,
                     details=_details(clock, previous_due_date=previous, months=months, days=days,
                                      decision=decision))
    return clock


def set_period(
    clock: Clock, *, days: int = 0, months: int = 0, decision: str, acting_user: Any = None,
) -> Clock:
    """Give a running clock the period the law sets for the kind of case, counted from the clock's
    own start: a plea case that fits the fast-track trial is reviewed in 10 days (15 if the possible
    sentence exceeds one year), and goes back to one month when it no longer fits (CPL art. 172(1);
    SPP Rules 2019 art. 273). Not an extension: no extension is recorded and the caps do not apply."""
    decision = (decision or "").strip()
    if not decision:
        raise ValidationError(_("变更期限必须载明决定（文号或理由）。"))
    if days < 0 or months < 0 or (days == 0 and months == 0):
        raise ValidationError(_("期间必须为正数。"))
    with transaction.atomic():
        clock = _locked(clock)
        if not clock.is_active:
            raise ValidationError(_("已结束的期限不能变更。"))
        previous = clock.due_date
        clock.period_months, clock.period_days = months, days
        _apply_due(clock)
        today = timezone.localdate()
        if clock.status == ClockStatus.OVERDUE and clock.due_date >= today:
            clock.status, clock.overdue_since = ClockStatus.RUNNING, None
        clock.warned_on = None
        clock.save(update_fields=["period_months", "period_days", "due_date", "provisional", "status",
                                  "overdue_since", "warned_on"])
        record_event("clock.period_set", actor=acting_user, agency=clock.agency, obj=clock, case=clock.case_id,
                     details=_details(clock, previous_due_date=previous, months=months, days=days,
                                      decision=decision))
def extend_clock_to(
    clock: Clock, *, months: int, days: int, decision: str, acting_user: Any = None,
) -> Clock:
    """Set a clock's whole period to ``months`` + ``days`` by a recorded decision, where the law
    says "extended *to*" rather than "by" (CPL art. 220: summary procedure 20 days, extended to one
    and a half months) or allows repeated extensions that no per-kind cap describes (art. 208: the
    Supreme People's Court's 1-3 months at a time). The caller checks what the law allows; here the
    period may only grow."""
    decision = (decision or "").strip()
    if not decision:
        raise ValidationError(_("延长期限必须载明决定（文号或理由）。"))
    with transaction.atomic():
        clock = _locked(clock)
        if not clock.is_active:
            raise ValidationError(_("已结束的期限不能延长。"))
        previous, before = clock.due_date, (clock.period_months, clock.period_days)
        clock.period_months, clock.period_days = months, days
        _apply_due(clock)
        if clock.due_date <= previous and (months, days) <= before:
            raise ValidationError(_("延长后的期限必须长于原期限。"))
        clock.extended_by = (clock.extended_by + "\n" if clock.extended_by else "") + decision
        if clock.status == ClockStatus.OVERDUE and clock.due_date >= timezone.localdate():
            clock.status, clock.overdue_since = ClockStatus.RUNNING, None
        clock.warned_on = None
        clock.save(update_fields=["period_months", "period_days", "due_date", "provisional", "extended_by",
                                  "status", "overdue_since", "warned_on"])
        ClockExtension.objects.create(
            clock=clock, months=max(months - before[0], 0), days=max(days - before[1], 0),
            decision=decision[:200], previous_due_date=previous,
            new_due_date=clock.due_date, decided_by=acting_user,
        )
        record_event("clock.extended", actor=acting_user, agency=clock.agency, obj=clock, case=clock.case_id,
                     details=_details(clock, previous_due_date=previous, months=months - before[0],
                                      days=days - before[1], decision=decision))
    return clock


def _format_period(period: Any) -> str:
    if period is None:
        return _("不得延长")
    parts = []
    if period.months:
        parts.append(_("%(n)d个月") % {"n": period.months})
    if period.days:
        parts.append(_("%(n)d日") % {"n": period.days})
    return "".join(parts)


def recount_clocks(*, acting_user: Any = None) -> int:
    """Recount every active non-custody clock against the current calendar (after the
    administrator changed holidays or confirmed a year); returns how many due dates changed.

    Custody periods never depend on the calendar, so they are left alone.
    """
    calendar = DatabaseCalendar()
    changed = []
    with transaction.atomic():
        for clock in Clock.objects.select_for_update().filter(status__in=ACTIVE_STATUSES, custody=False):
            before = (clock.due_date, clock.provisional)
            _apply_due(clock, calendar)
            if (clock.due_date, clock.provisional) != before:
                if clock.due_date != before[0]:
                    clock.warned_on = None  # warn again for the new date
                clock.save(update_fields=["due_date", "provisional", "warned_on"])
                changed.append({"clock": clock.pk, "before": before[0], "after": clock.due_date})
        if changed:
            record_event("clock.recounted", actor=acting_user, details={"changed": changed})
    return len(changed)


# Kept for callers written against the first version of this module.
recompute_provisional = recount_clocks
