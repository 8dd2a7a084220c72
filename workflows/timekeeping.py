"""Applies a transition's clock operations (:class:`workflows.definition.ClockOp`) through
:mod:`casehub.clocks.services`, inside the transition's transaction.

The periods and their articles live in :mod:`casehub.clocks.kinds`; the transition only says
which clock starts, stops, restarts or is extended, and for which agency:
art. 91 (arrest decision, 7 days), art. 156 (custody after arrest, per person), art. 172
(review, 1 month, +15 days once), art. 175 (supplementary investigation, 1 month; the review
clock restarts when the case comes back), art. 208 (trial, 2 months), art. 202 (delivery of the
judgment, 5 days from its announcement).
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.clocks.kinds import ClockKind

# A per-person clock whose period depends on whether the person is detained when it opens
# (SPP Rules 2019 art. 282: 7 days for a detained suspect, 15 for one who is not).
NOT_DETAINED_VARIANT = {ClockKind.ARREST_DECISION: ClockKind.ARREST_DECISION_NOT_DETAINED}
# Clocks a transition opens only if none runs yet (art. 231: the three days after the window).
OPENED_ONCE = frozenset({ClockKind.APPEAL_FORWARD})


def _agency(ctx: Any, which: str) -> Any:
    if which == "superior":  # art. 179: the higher procuratorate reviews
        return ctx.holder_before.parent
    return {"holder_after": ctx.holder_after, "holder_before": ctx.holder_before,
            "recipient": ctx.recipient or ctx.holder_after}[which]


def _variant(ctx: Any, kind: str) -> str:
    """Art. 202 para. 2: a judgment announced in court is served within 5 days; one announced on a
    later date, immediately."""
    if kind == ClockKind.JUDGMENT_DELIVERY and ctx.inputs.get("in_court") == "no":
        return ClockKind.JUDGMENT_DELIVERY_IMMEDIATE
    return kind


def _start(ctx: Any, op: Any) -> Any:
    if op.kind == ClockKind.APPEAL_FORWARD:
        from workflows import appeal

        return appeal.forward_start(ctx)
    # Art. 230: each appeal window runs from the day after the defendant received the judgment.
    received = ctx.inputs.get("received_on")
    if op.kind == ClockKind.APPEAL_PERIOD and received is not None:
        return timezone.make_aware(datetime.combine(received, time(9, 0)))
    # The delivery period runs from the announcement in court (art. 202), not from the click.
    announced = ctx.inputs.get("announced_on")
    if op.kind == "judgment_delivery" and announced is not None:
        return timezone.make_aware(datetime.combine(announced, time(9, 0)))
    return ctx.now


def apply(ctx: Any) -> None:
    from casehub.clocks import services
    from casehub.clocks.models import ACTIVE_STATUSES, Clock
    from workflows import trial

    decision = f"{ctx.spec.label}（{ctx.spec.article}）" if ctx.spec.article else str(ctx.spec.label)
    for op in ctx.spec.clocks:
        if op.kind == trial.TRIAL_PERIOD:
            _trial_period(ctx, op, decision)
        elif op.per_person:
            _per_person(ctx, op, decision)
        elif op.op == "stop" and op.agency == "sender":
            sender = ctx.pending.from_agency if ctx.pending is not None else ctx.holder_before
            services.stop_clocks(ctx.case, None if op.kind == "*" else [op.kind], at=ctx.now,
                                 agency=sender, reason=ctx.spec.name)
        elif op.op == "stop":
            services.stop_clocks(ctx.case, None if op.kind == "*" else [op.kind], at=ctx.now,
                                 reason=ctx.spec.name)
        elif op.op == "reopen":
            services.reopen_clock(ctx.case, op.kind, at=ctx.now, reason=ctx.spec.name)
        elif op.op == "open":
            if op.kind in OPENED_ONCE and Clock.objects.filter(case=ctx.case, kind=op.kind,
                                                                status__in=ACTIVE_STATUSES).exists():
                continue  # a second appeal does not move the three days after the window
            services.open_clock(ctx.case, _variant(ctx, op.kind), agency=_agency(ctx, op.agency),
                                start=_start(ctx, op), decision=decision)
        elif op.op in ("pause", "resume"):
            clock = (Clock.objects.filter(case=ctx.case, kind=op.kind, status__in=ACTIVE_STATUSES)
                     .order_by("-started_at", "-id").first())
            if clock is not None and op.op == "pause":
                services.pause_clock(clock, at=ctx.now, acting_user=ctx.acting_user, reason=ctx.spec.name)
            elif clock is not None and clock.paused_at is not None:
                services.resume_clock(clock, at=ctx.now, acting_user=ctx.acting_user)
        elif op.op == "restart":
            services.restart_clock(ctx.case, op.kind, agency=_agency(ctx, op.agency), start=_start(ctx, op),
                                   decision=decision)
        elif op.op == "period":
            # A period the law sets by the kind of case, counted from the clock's own start (art. 172:
            # ten days, fifteen, or back to one month — always from the receipt of the case).
            clock = (Clock.objects.filter(case=ctx.case, kind=op.kind, status__in=ACTIVE_STATUSES)
                     .order_by("-started_at", "-id").first())
            if clock is None:
                from workflows.engine import GuardFailed

                raise GuardFailed([_("没有正在计算的期限。")])
            months = int(ctx.inputs[op.months_input]) if op.months_input else op.months
            services.set_period(clock, days=op.days, months=months,
                                decision=str(ctx.inputs.get("decision") or ctx.inputs.get("reason") or decision),
                                acting_user=ctx.acting_user)
        elif op.op == "extend":
            clock = (Clock.objects.filter(case=ctx.case, kind=op.kind, status__in=ACTIVE_STATUSES)
                     .order_by("-started_at", "-id").first())
            if clock is None:
                from workflows.engine import GuardFailed

                raise GuardFailed([_("没有正在计算的期限可以延长。")])
            services.extend_clock(clock, days=op.days, months=op.months,
                                  decision=str(ctx.inputs.get("decision") or decision),
                                  acting_user=ctx.acting_user)
        else:  # pragma: no cover - check_definition() keeps this unreachable
            raise ValueError(f"unknown clock operation {op.op}")
    # Art. 79: a bail or surveillance decision runs its own period for its deciding authority.
    from workflows import measures

    measures.sync_clocks(ctx.case, acting_user=ctx.acting_user)
    # Art. 105(4) per person: the transition may have arrested or released someone.
    services.refresh_custody(ctx.case, acting_user=ctx.acting_user)


def _trial_period(ctx: Any, op: Any, decision: str) -> None:
    """The trial period of the procedure in force (:mod:`workflows.trial`): opened for the
    procedure the transition names or the case has, stopped whatever its procedure, extended by the
    rules of its procedure, paused while the trial is suspended and resumed with the days left."""
    from casehub.clocks import services
    from workflows import trial

    if op.op == "stop":
        services.stop_clocks(ctx.case, list(trial.TRIAL_CLOCKS), at=ctx.now, reason=ctx.spec.name)
    elif op.op in ("open", "restart"):
        services.restart_clock(ctx.case, trial.clock_kind_for(ctx), agency=_agency(ctx, op.agency),
                               start=_start(ctx, op), decision=decision)
    elif op.op == "extend":
        trial.extend(ctx)
    elif op.op == "pause":
        trial.pause(ctx)
    elif op.op == "resume":
        trial.resume(ctx)
    else:  # pragma: no cover - check_definition() keeps this unreachable
        raise ValueError(f"unknown trial clock operation {op.op}")


def _per_person(ctx: Any, op: Any, decision: str) -> None:
    """A clock operation for each person the transition names (``op.persons``), and nobody else:
    an approval for one suspect opens no clock for a co-suspect and restarts none already running."""
    from casehub.clocks import services
    from casehub.clocks.models import ACTIVE_STATUSES, Clock
    from workflows import persons

    kinds = [op.kind, *([NOT_DETAINED_VARIANT[op.kind]] if op.kind in NOT_DETAINED_VARIANT else [])]
    chosen = persons.named(ctx.case, ctx.inputs, op.persons)
    if op.op == "stop" and chosen:
        # A clock opened for the whole request before decisions were per person ends with it.
        services.stop_clocks(ctx.case, kinds, at=ctx.now, unassigned=True, reason=ctx.spec.name)
    for person in chosen:
        if op.op == "stop":
            services.stop_clocks(ctx.case, kinds, at=ctx.now, person=person, reason=ctx.spec.name)
        elif op.op == "reopen":
            services.reopen_clock(ctx.case, op.kind, person=person, at=ctx.now, reason=ctx.spec.name)
        elif op.op == "open":
            kind = op.kind if person.is_detained or op.kind not in NOT_DETAINED_VARIANT else kinds[1]
            if Clock.objects.filter(case=ctx.case, person=person, kind=kind, status__in=ACTIVE_STATUSES).exists():
                continue  # a period the law does not restart keeps running
            services.open_clock(ctx.case, kind, agency=_agency(ctx, op.agency), start=_start(ctx, op),
                                person=person, decision=decision)
        else:  # pragma: no cover - check_definition() keeps this unreachable
            raise ValueError(f"unknown per-person clock operation {op.op}")
