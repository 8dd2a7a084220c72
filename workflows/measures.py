"""Bail (取保候审) and residential surveillance (监视居住): limits per deciding authority.

CPL art. 79 limits bail to 12 months and residential surveillance to 6 — for each authority that
decides the measure, not for the case: when the case moves to the procuratorate, it decides the
measure anew and the period is counted again (SPP Rules 2019 arts. 103, 113); when it reaches the
court, the court decides within 7 days whether the measure continues (SPC Interpretation 2021 art.
162), and a continued measure runs a new period for the court.

A person's decided measure is their state (``custody_status``, ``measure_authority``,
``measure_since``); :func:`sync_clocks` gives each decision exactly one clock of its own, for the
deciding authority, from the decision: a decision the sender made stops with the sender's other
clocks when the case is received (the receiving authority decides again), and a measure changed or
lifted stops its clock. No clock ever runs across two authorities.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from casehub.cases.models import CustodyStatus, PersonRole
from casehub.clocks.kinds import ClockKind
from workflows import effects
from workflows.guards import GuardContext, guard

CLOCK_OF = {CustodyStatus.BAIL: ClockKind.BAIL, CustodyStatus.RESIDENTIAL_SURVEILLANCE: ClockKind.RESIDENTIAL_SURVEILLANCE}
ON_MEASURE = tuple(CLOCK_OF)
MEASURE_CHOICES: tuple[tuple[str, Any], ...] = (
    (CustodyStatus.BAIL, gettext_lazy("取保候审（重新计算期限）")),
    (CustodyStatus.RESIDENTIAL_SURVEILLANCE, gettext_lazy("监视居住（重新计算期限）")),
    (CustodyStatus.RELEASED, gettext_lazy("解除强制措施")),
)


def on_measure(case: Any) -> list[Any]:
    """Suspects on bail or under residential surveillance."""
    return list(case.persons.filter(role=PersonRole.SUSPECT, custody_status__in=ON_MEASURE).order_by("id"))


def sync_clocks(case: Any, *, acting_user: Any = None) -> None:
    """Each bail or surveillance decision runs one period for its deciding authority from the day
    it was decided (art. 79); a measure that changed or ended stops its period. A decision whose
    period was already stopped (the case moved on) is not restarted: the new holder decides again."""
    from casehub.clocks import services
    from casehub.clocks.models import ACTIVE_STATUSES, Clock

    kinds = list(CLOCK_OF.values())
    running = {c.person_id: c for c in Clock.objects.filter(case=case, kind__in=kinds, status__in=ACTIVE_STATUSES)}
    for person in case.persons.filter(role=PersonRole.SUSPECT).order_by("id"):
        kind = CLOCK_OF.get(person.custody_status)
        clock = running.get(person.pk)
        if clock is not None and (kind is None or clock.kind != kind or clock.agency_id != person.measure_authority_id
                                  or (person.measure_since and clock.started_at < person.measure_since)):
            services.stop_clocks(case, kinds, at=person.measure_since or clock.started_at, person=person,
                                 acting_user=acting_user, reason="measure_changed")
            clock = None
        if kind is None or clock is not None or person.measure_authority_id is None or person.measure_since is None:
            continue
        decided = Clock.objects.filter(case=case, person=person, kind=kind, agency_id=person.measure_authority_id,
                                       started_at__gte=person.measure_since)
        if not decided.exists():
            services.open_clock(case, kind, agency=person.measure_authority, start=person.measure_since,
                                person=person, decision=str(kind.label), acting_user=acting_user)


# --- the transitions' guard and effect ---------------------------------------------------------


@guard
def measure_persons_valid(ctx: GuardContext) -> str | None:
    """CPL art. 79; SPP Rules 2019 arts. 103, 113; SPC Interpretation 2021 art. 162: the decision
    concerns persons on bail or under residential surveillance."""
    if not ctx.inputs:
        return None if on_measure(ctx.case) else _("本案没有被取保候审或者监视居住的人员。")
    ids = set(ctx.inputs.get("persons") or [])
    if not ids:
        return _("请选择被取保候审或者监视居住的人员。")
    allowed = {p.pk for p in on_measure(ctx.case)}
    if not ids <= allowed:
        return _("所选人员没有被取保候审或者监视居住。")
    return None


@effects.effect
def redecide_measure(ctx: Any) -> None:
    """The holder decides the measure of the chosen persons anew (SPP Rules 2019 arts. 103, 113;
    SPC Interpretation 2021 art. 162): the measure is now its decision, from today, and
    :func:`sync_clocks` starts its own period; a lifted measure ends."""
    from workflows import persons

    status = str(ctx.inputs.get("measure") or CustodyStatus.BAIL)
    chosen = [p for p in persons.named(ctx.case, ctx.inputs, "persons") if p.custody_status in ON_MEASURE]
    effects._change_measure(chosen, status, authority=ctx.holder_before, at=ctx.now)


# --- art. 79: a measure ends when its period runs out ------------------------------------------


def lapsed_on(clock: Any) -> Any:
    """The day a bail or surveillance period ran out without a new decision (the day after its due
    date), or None: its clock was stopped after its due date (by :func:`lapse_expired`, or by a
    decision that came too late)."""
    from casehub.clocks.counting import local_day
    from casehub.clocks.models import ClockStatus

    if clock.kind not in CLOCK_OF.values() or clock.status != ClockStatus.STOPPED or clock.stopped_at is None:
        return None
    from datetime import timedelta

    return clock.due_date + timedelta(days=1) if local_day(clock.stopped_at) > clock.due_date else None


def lapse_of(person: Any, clocks: Any = None) -> Any:
    """The bail or surveillance clock whose running out (art. 79) is why ``person`` is now released
    (期满解除, :func:`lapse_expired`), or None — a release decided by an authority is an ordinary
    release. ``clocks``: the person's clocks if already loaded (the case page prefetches them)."""
    from casehub.clocks.models import Clock, ClockStatus

    if person.custody_status != CustodyStatus.RELEASED or person.measure_since is None:
        return None
    if clocks is None:
        clocks = Clock.objects.filter(person=person, kind__in=list(CLOCK_OF.values()), status=ClockStatus.STOPPED)
    for clock in clocks:
        if clock.stopped_at == person.measure_since and lapsed_on(clock) is not None:
            return clock
    return None


def measure_label(person: Any, clocks: Any = None) -> str:
    """The person's measure for people: "取保候审期满解除" for a measure that lapsed at the end of its
    period (art. 79), otherwise the measure's own label."""
    clock = lapse_of(person, clocks)
    if clock is None:
        return str(person.get_custody_status_display())
    return _("%(measure)s期满解除") % {"measure": CLOCK_OF_LABEL.get(clock.kind, clock.kind)}


def lapse_expired(today: Any = None) -> int:
    """取保候审、监视居住期限届满 (CPL art. 79): a bail (12 months) or residential surveillance (6 months)
    whose period for its deciding authority ran out without a new decision ends — the measure is
    recorded as lifted on the day after its last day (not silently "still on bail"), its clock stops,
    the deciding authority's officers are told and the person's timeline shows the lapse. Art. 79(2)
    requires the authority to lift it in time; a measure cannot outlive its period. Run by Celery
    beat (``workflows.tasks.lapse_expired_measures_task``) like the clocks' own check; idempotent.
    Returns how many measures lapsed."""
    from datetime import datetime, time, timedelta

    from django.db import transaction
    from django.utils import timezone

    from casehub.audit import services as audit
    from casehub.cases.models import Person
    from casehub.cases.state import engine_writes
    from casehub.clocks import services as clocks
    from casehub.clocks.models import ACTIVE_STATUSES, Clock
    from workflows import engine

    today = today or timezone.localdate()
    expired = list(Clock.objects.filter(kind__in=list(CLOCK_OF.values()), status__in=ACTIVE_STATUSES,
                                        due_date__lt=today, person__isnull=False)
                   .values_list("pk", "case_id", "person_id"))
    lapsed = 0
    for clock_pk, case_pk, person_pk in expired:
        with engine_writes(), transaction.atomic(), audit.deferred():
            case = engine._lock(case_pk)
            clock = Clock.objects.select_for_update().filter(pk=clock_pk, status__in=ACTIVE_STATUSES).first()
            if clock is None or clock.due_date >= today:  # decided anew or extended meanwhile
                continue
            person = Person.objects.select_for_update().get(pk=person_pk)
            end = timezone.make_aware(datetime.combine(clock.due_date + timedelta(days=1), time(0, 0)))
            measure = person.custody_status
            clocks.stop_clocks(case, [clock.kind], at=end, person=person, reason="lapsed")
            if CLOCK_OF.get(measure) == clock.kind and person.measure_authority_id == clock.agency_id:
                person.custody_status, person.measure_since = CustodyStatus.RELEASED, end
                person.save(update_fields=["custody_status", "measure_since"])
            case.version += 1
            case.save(update_fields=["version", "updated_at"])
            audit.record_event("custody.measure_lapsed", agency=clock.agency_id, obj=person, case=case,
                               details={"person": person.pk, "measure": clock.kind, "clock": clock.pk,
                                        "due_date": clock.due_date, "lapsed_on": clock.due_date + timedelta(days=1),
                                        "status": person.custody_status, "article": "刑事诉讼法第七十九条"})
            _tell_lapse(clock, person)
            lapsed += 1
    return lapsed


def _tell_lapse(clock: Any, person: Any) -> None:
    """The deciding authority's officers learn that the measure ran out (after commit)."""
    from django.db import transaction

    def _send() -> None:
        from django.urls import reverse

        from casehub.agencies.models import User
        from casehub.notifications.messages import message
        from casehub.notifications.services import notify

        kind = CLOCK_OF_LABEL.get(clock.kind, clock.kind)  # lazy: each reader's language
        title = message(gettext_noop("%(kind)s期限届满，已解除：%(name)s"), kind=kind, name=person.name)
        body = message(gettext_noop("%(kind)s期限已于%(due)s届满，未重新作出决定，依照刑事诉讼法第七十九条解除。"),
                       kind=kind, due=clock.due_date)
        notify(User.objects.filter(agency_id=clock.agency_id, is_active=True), kind="custody", title=title,
               body=body, case=clock.case, url=reverse("cases:detail", args=[clock.case_id]),
               key=f"measure-lapsed:{clock.pk}")

    transaction.on_commit(_send)


CLOCK_OF_LABEL = {ClockKind.BAIL: gettext_lazy("取保候审"), ClockKind.RESIDENTIAL_SURVEILLANCE: gettext_lazy("监视居住")}
