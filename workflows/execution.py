"""Execution in the community (社区矫正) and outside prison (暂予监外执行): the periods that start when the
judgment takes effect (Community Correction Law art. 20; SPC Interpretation 2021 arts. 515, 519).

- A defendant sentenced to public surveillance (管制) or probation, or whose execution outside prison
  the court decided in the judgment (CPL art. 265), is executed by the justice bureau's community
  correction institution. When the judgment takes effect (``judgment_effective`` or the final
  ``decide_second_instance``) a 5-day clock ``correction_notice`` starts for the first-instance court:
  it notifies the institution (``notify_community_correction``, a signed package with a signed
  receipt); the documents follow within the 10 days of ``execution_handover``
  (``hand_over_for_execution`` with ``executor=justice``, which is also a notice and stops the 5-day
  clock if it runs).
- For a convict in custody whose execution outside prison the court decided, a per-person 10-day clock
  ``outside_prison_handover`` starts for the detention centre: it hands the person to community
  correction within 10 days (SPC Interpretation art. 515). The take-over by the institution
  (``accept_execution_correction``) ends the custody record with a signed execution notice and stops
  the clock.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from casehub.cases.models import CustodyStatus
from casehub.clocks.kinds import ClockKind
from workflows import effects
from workflows.guards import GuardContext, guard


def community_decisions(case: Any) -> list[Any]:
    """The decisions community correction executes (管制, probation, execution outside prison)."""
    from workflows import appeal
    from workflows.models import JudgmentDecision

    apart = appeal.separately_executed(case)  # handed over on their own after a "not a joint crime" ruling
    return [d for d in JudgmentDecision.objects.filter(case=case).select_related("person").order_by("person_id")
            if appeal.executor_for(d) == "justice" and d.person_id not in apart]


def _running(case: Any, kind: str, **kw: Any) -> Any:
    from casehub.clocks.models import ACTIVE_STATUSES, Clock

    return Clock.objects.filter(case=case, kind=kind, status__in=ACTIVE_STATUSES, **kw)


@effects.effect
def open_execution_clocks(ctx: Any) -> None:
    """Community Correction Law art. 20; SPC Interpretation arts. 515, 519: when the judgment takes
    effect, the court's 5 days to notify community correction, and the detention centre's 10 days to
    hand over a convict in custody whose execution outside prison was decided."""
    from casehub.clocks.services import open_clock
    from casehub.custody.models import CustodyRecord, RecordStatus

    decisions = community_decisions(ctx.case)
    if not decisions:
        return
    court = ctx.holder_after
    if not _running(ctx.case, ClockKind.CORRECTION_NOTICE).exists():
        open_clock(ctx.case, ClockKind.CORRECTION_NOTICE, agency=court, start=ctx.now, acting_user=ctx.acting_user,
                   decision=_("判决发生法律效力，通知社区矫正机构"))
    held = [CustodyStatus.DETAINED, CustodyStatus.ARRESTED]
    for decision in decisions:
        person = decision.person
        if not decision.outside_prison or person.custody_status not in held:
            continue
        record = CustodyRecord.objects.filter(person=person, status=RecordStatus.IN_CUSTODY).first()
        if record is None or _running(ctx.case, ClockKind.OUTSIDE_PRISON_HANDOVER, person=person).exists():
            continue
        open_clock(ctx.case, ClockKind.OUTSIDE_PRISON_HANDOVER, agency=record.detention_centre, start=ctx.now,
                   person=person, acting_user=ctx.acting_user,
                   decision=_("人民法院决定暂予监外执行，看守所十日内将罪犯移送社区矫正机构"))


@effects.effect
def stop_outside_prison_clocks(ctx: Any) -> None:
    """SPC Interpretation art. 515: community correction took the convicts over — the detention
    centre's hand-over period ends."""
    from casehub.clocks.services import stop_clocks

    stop_clocks(ctx.case, [ClockKind.OUTSIDE_PRISON_HANDOVER], at=ctx.now, acting_user=ctx.acting_user,
                reason=ctx.spec.name)


@guard
def community_sentence(ctx: GuardContext) -> str | None:
    """Community Correction Law art. 20; SPC Interpretation art. 519: community correction is notified
    of a judgment to public surveillance, probation or execution outside prison."""
    if not community_decisions(ctx.case):
        return _("本案没有判处管制、宣告缓刑或者决定暂予监外执行的罪犯，无须通知社区矫正机构。")
    return None


@guard
def correction_not_notified(ctx: GuardContext) -> str | None:
    """Community Correction Law art. 20: the institution is notified once."""
    if not _running(ctx.case, ClockKind.CORRECTION_NOTICE).exists():
        return _("已经通知社区矫正机构。")
    return None


@effects.effect
def correction_documents_sent(ctx: Any) -> None:
    """Community Correction Law art. 20: the documents sent to community correction also notify it —
    the 5-day notice period ends if it still runs."""
    from casehub.clocks.services import stop_clocks

    if str(ctx.inputs.get("executor") or "") == "justice":
        stop_clocks(ctx.case, [ClockKind.CORRECTION_NOTICE], at=ctx.now, acting_user=ctx.acting_user,
                    reason=ctx.spec.name)


# --- copies of the documents to the procuratorate and the police (Community Correction Law art. 20) ---


def correction_copies(ctx: Any) -> list[tuple[Any, str]]:
    """Community Correction Law art. 20; SPC Interpretation art. 519: the documents sent to community
    correction are copied to the procuratorate and to the police — the procuratorate that prosecuted the
    case before this court and the police agency that investigated it — each a signed package of its own."""
    from casehub.agencies.models import Agency
    from workflows.models import Transfer, TransferKind, TransferStatus
    from workflows.packaging import sender_of

    if str(ctx.inputs.get("executor") or "") != "justice":
        return []
    # The procuratorate whose indictment the sending (first-instance) court accepted (art. 228's counterpart).
    prosecuting = (Transfer.objects.filter(case=ctx.case, kind=TransferKind.INDICTMENT, status=TransferStatus.ACCEPTED,
                                           to_agency=sender_of(ctx))
                   .order_by("-sent_at", "-id").values_list("from_agency_id", flat=True).first())
    ids = [prosecuting, ctx.case.origin_agency_id]
    found = {a.pk: a for a in Agency.objects.filter(pk__in=[i for i in ids if i is not None])}
    seen: list[Any] = []
    for pk in ids:
        agency = found.get(pk)
        if agency is not None and agency not in seen and agency != ctx.recipient:
            seen.append(agency)
    return [(agency, TransferKind.CORRECTION_COPY) for agency in seen]


COPIES = {"correction_copies": correction_copies}


# --- the detention centre hands a convict over for execution outside prison (SPC Interp. art. 515) ---


def outside_prison_in_custody(case: Any) -> list[Any]:
    """The custody records of convicts whose execution outside prison the court decided and whom a
    detention centre still keeps (the 10 days of ``outside_prison_handover`` run)."""
    from casehub.custody.models import CustodyRecord, RecordStatus

    persons = [d.person_id for d in community_decisions(case) if d.outside_prison]
    if not persons:
        return []
    return list(CustodyRecord.objects.filter(case=case, person_id__in=persons, status=RecordStatus.IN_CUSTODY)
                .select_related("person", "detention_centre").order_by("person_id"))


def centres_to_hand_over(case: Any) -> set[int]:
    """The detention centres that keep such a convict of ``case`` while the hand-over period runs."""
    running = set(_running(case, ClockKind.OUTSIDE_PRISON_HANDOVER).values_list("person_id", flat=True))
    return {r.detention_centre_id for r in outside_prison_in_custody(case) if r.person_id in running}


def _mine(ctx: Any) -> list[Any]:
    user = ctx.user if isinstance(ctx, GuardContext) else ctx.acting_user
    agency_id = getattr(user, "agency_id", None)
    running = set(_running(ctx.case, ClockKind.OUTSIDE_PRISON_HANDOVER).values_list("person_id", flat=True))
    return [r for r in outside_prison_in_custody(ctx.case)
            if r.detention_centre_id == agency_id and r.person_id in running]


@guard
def outside_prison_to_hand_over(ctx: GuardContext) -> str | None:
    """SPC Interpretation art. 515: the detention centre hands over a convict whose execution outside prison
    the court decided, once, within the 10 days."""
    if not _mine(ctx):
        return _("本看守所没有人民法院决定暂予监外执行、待移送社区矫正机构的罪犯。")
    return None


@effects.effect
def outside_prison_handed_over(ctx: Any) -> None:
    """SPC Interpretation art. 515; CPL art. 265: the detention centre handed the convicts over to community
    correction — their custody records end with the execution notice of the court that decided it (the
    centre's list no longer shows them), their custody status is "executed" and the 10-day clock stops."""
    from casehub.clocks.services import stop_clocks
    from casehub.custody import services as custody
    from casehub.custody.models import NoticeKind

    court = ctx.case.holder_agency
    for record in _mine(ctx):
        person = record.person
        custody.issue_notice(record, kind=NoticeKind.EXECUTION, agency=court, acting_user=ctx.acting_user,
                             at=ctx.now, reason=_("人民法院决定暂予监外执行，看守所已将罪犯移送社区矫正机构"
                                                  "（刑事诉讼法第二百六十五条；最高人民法院解释第五百一十五条）。"))
        stop_clocks(ctx.case, [ClockKind.OUTSIDE_PRISON_HANDOVER], at=ctx.now, person=person,
                    acting_user=ctx.acting_user, reason=ctx.spec.name)
        person.custody_status, person.measure_since, person.measure_authority = (
            CustodyStatus.EXECUTED, ctx.now, court)
        person.save(update_fields=["custody_status", "measure_since", "measure_authority"])
