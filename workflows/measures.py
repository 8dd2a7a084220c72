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
from django.utils.translation import gettext_lazy

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
