"""After the first-instance judgment: the appeal and protest window, the second instance, the judgment
taking effect and its execution (CPL arts. 230-244, 259-264, 269; SPC Interpretation 2021 arts. 377,
381, 384, 389-390, 511, 519; Community Correction Law art. 20).

| step | transition | period |
| --- | --- | --- |
| the judgment is served | ``deliver_judgment`` | each defendant's 10-day window from the day after receipt (art. 230) |
| a defendant appeals (through the first-instance court) | ``record_appeal`` | the court sends the case up within 3 days after the window expired (art. 231; SPC Interp. 381) |
| the procuratorate protests (through the first-instance court) | ``protest`` | the same (SPC Interp. 384) |
| the case goes to the court above | ``forward_appeal`` → ``docket_appeal`` | second instance 2 months, +2 with the provincial high court (art. 243) |
| the procuratorate reads the file | ``start_file_review`` / ``end_file_review`` | not counted (art. 235) |
| the court above decides | ``decide_second_instance`` (final, art. 244) or ``remand`` (art. 236) | a remanded case is tried again from receipt (art. 241; a 速裁 case under the ordinary procedure, SPC Interp. 377) |
| nobody appealed or protested | ``judgment_effective`` (art. 259) | hand-over for execution within 10 days (art. 264) |
| execution | ``hand_over_for_execution`` → ``accept_execution*`` | custody ends; the case closes |

A joint-crime case is one case: one defendant's appeal or the procuratorate's protest sends the whole
case up and the court above reviews every defendant (art. 233(2); SPC Interpretation arts. 389-390);
the judgment of the defendants who did not appeal takes effect with the second-instance decision.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.cases.models import CustodyStatus, PersonRole
from casehub.clocks.kinds import ClockKind
from workflows import effects
from workflows.guards import GuardContext, guard

DEFENDANTS = "@defendants"  # ClockOp.persons: every defendant of the case

# Who executes what (arts. 264, 269): custodial sentences through the police (who deliver the convict
# to prison; they execute 拘役 themselves), a short remaining term in the detention centre, community
# sentences (probation, public surveillance) by the justice bureau's community correction.
EXECUTORS: tuple[tuple[str, Any], ...] = (
    ("police", gettext_lazy("公安机关（送交监狱执行；拘役由公安机关执行）")),
    ("detention", gettext_lazy("看守所（剩余刑期三个月以下，代为执行）")),
    ("justice", gettext_lazy("司法行政机关社区矫正机构（管制、缓刑、暂予监外执行）")),
)
SECOND_INSTANCE_RESULTS: tuple[tuple[str, Any], ...] = (
    ("upheld", gettext_lazy("驳回上诉、抗诉，维持原判（第二百三十六条第一款第一项）")),
    ("revised", gettext_lazy("改判（第二百三十六条第一款第二项）")),
)


def defendants(case: Any) -> Any:
    return case.persons.filter(role=PersonRole.SUSPECT).order_by("id")


def _windows(case: Any) -> Any:
    from casehub.clocks.models import Clock

    return Clock.objects.filter(case=case, kind=ClockKind.APPEAL_PERIOD)


def open_windows(case: Any) -> list[int]:
    """Defendants whose appeal window still runs today."""
    from casehub.clocks.models import ACTIVE_STATUSES

    today = timezone.localdate()
    return sorted(set(_windows(case).filter(status__in=ACTIVE_STATUSES, due_date__gte=today)
                      .values_list("person_id", flat=True)))


def windows_end(case: Any) -> Any:
    """The last day any defendant may still appeal (None before the judgment was served)."""
    from casehub.clocks.models import ACTIVE_STATUSES

    return _windows(case).filter(status__in=ACTIVE_STATUSES).aggregate(end=Max("due_date"))["end"]


def _since_delivery(case: Any, names: tuple[str, ...]) -> Any:
    from workflows.models import TransitionLog

    served = (TransitionLog.objects.filter(case=case, transition="deliver_judgment")
              .order_by("-occurred_at", "-id").first())
    qs = TransitionLog.objects.filter(case=case, transition__in=names)
    return qs.filter(occurred_at__gte=served.occurred_at) if served is not None else qs.none()


def appeals(case: Any) -> dict[int, list[str]]:
    """Per defendant, who challenged the judgment since it was served: "appeal" and/or "protest"."""
    found: dict[int, list[str]] = {}
    for log in _since_delivery(case, ("record_appeal", "protest")):
        for pk in log.inputs.get("persons") or []:
            found.setdefault(int(pk), []).append("appeal" if log.transition == "record_appeal" else "protest")
    return found


def forward_start(ctx: Any) -> Any:
    """Art. 231; SPC Interpretation arts. 381, 384: the three days run from the end of the window."""
    from datetime import datetime, time

    end = windows_end(ctx.case)
    if end is None:
        return ctx.now
    return timezone.make_aware(datetime.combine(end, time(23, 59)))


# --- guards -----------------------------------------------------------------------------------


@guard
def appeal_persons_in_window(ctx: GuardContext) -> str | None:
    """Art. 230: each defendant named appeals (or is protested against) within their own window."""
    named = ctx.inputs.get("persons")
    open_ = set(open_windows(ctx.case))
    if not open_:
        return _("上诉、抗诉期限已经届满（刑事诉讼法第二百三十条）。")
    if named is not None:
        if not named:
            return _("请选择提出上诉或者被抗诉的被告人。")
        late = set(int(pk) for pk in named) - open_
        if late:
            return _("所选被告人的上诉、抗诉期限已届满或者不是本案被告人。")
    return None


@guard
def received_after_announcement(ctx: GuardContext) -> str | None:
    """CPL art. 230: the window runs from the day after the defendant received the judgment — a day
    between its announcement and today."""
    from datetime import date

    from workflows.models import TransitionLog

    received = ctx.inputs.get("received_on")
    if not isinstance(received, date):
        return None
    if received > timezone.localdate():
        return _("收到判决书的日期不能晚于今天。")
    announced = (TransitionLog.objects.filter(case=ctx.case, transition="announce_judgment")
                 .order_by("-occurred_at", "-id").values_list("inputs", flat=True).first() or {}).get("announced_on")
    if announced and received.isoformat() < str(announced):
        return _("收到判决书的日期不能早于宣判日期。")
    return None


@guard
def appeal_lodged(ctx: GuardContext) -> str | None:
    """CPL art. 231, art. 232: there is an appeal or a protest to send up."""
    if not appeals(ctx.case):
        return _("没有被告人上诉，人民检察院也没有抗诉。")
    return None


@guard
def no_appeal_lodged(ctx: GuardContext) -> str | None:
    """Art. 259: a judgment takes effect when the window passed with no appeal and no protest."""
    if appeals(ctx.case):
        return _("已有上诉或者抗诉，判决未发生法律效力，应当移送第二审人民法院。")
    return None


@guard
def appeal_windows_expired(ctx: GuardContext) -> str | None:
    """CPL art. 230, art. 231; SPC Interpretation arts. 381, 384: the case goes up (or the judgment takes
    effect) only after every defendant's window has expired."""
    end = windows_end(ctx.case)
    if end is not None and end >= timezone.localdate():
        return _("上诉、抗诉期限至%(end)s届满，期满后才能移送或者生效。") % {"end": end}
    return None


@guard
def has_higher_court(ctx: GuardContext) -> str | None:
    """CPL art. 231: the case goes to the court one level above (``agency.parent``)."""
    holder = ctx.case.holder_agency
    if holder is None or holder.parent_id is None or holder.parent.kind != "court":
        return _("没有登记上一级人民法院。")
    return None


@guard
def second_instance_not_extended(ctx: GuardContext) -> str | None:
    """Art. 243: the provincial high court's approval adds two months, once."""
    from casehub.clocks.models import ACTIVE_STATUSES, Clock

    clock = (Clock.objects.filter(case=ctx.case, kind=ClockKind.SECOND_INSTANCE, status__in=ACTIVE_STATUSES)
             .order_by("-started_at").first())
    if clock is None:
        return _("没有正在计算的第二审审理期限。")
    if clock.extensions.exists():
        return _("第二审审理期限已经延长过二个月（刑事诉讼法第二百四十三条）。")
    return None


def executor_for(decision: Any) -> str:
    """Which authority executes a defendant's sentence ("" where nobody does: acquittal, exemption,
    a fine the court itself collects)."""
    from workflows.models import Outcome, Penalty

    if decision is None or decision.outcome != Outcome.GUILTY or decision.penalty == Penalty.FINE_ONLY:
        return ""
    if decision.probation or decision.outside_prison or decision.penalty == Penalty.PUBLIC_SURVEILLANCE:
        return "justice"  # arts. 265, 269: execution outside prison is community correction too
    return "police"


@guard
def executor_fits(ctx: GuardContext) -> str | None:
    """CPL art. 264, art. 269: the documents go to the authority that executes the sentence — community
    correction for probation and public surveillance, the police (or the detention centre for a short
    remaining term) for a custodial sentence."""
    chosen = ctx.inputs.get("executor")
    if chosen is None:
        return None
    needed = sentences_to_execute(ctx.case)
    if chosen == "detention":
        chosen = "police"
    if needed and chosen not in needed:
        return _("所选执行机关与判处的刑罚不符：管制、缓刑交付社区矫正机构，监禁刑交付公安机关或者看守所。")
    if chosen in handed_over(ctx.case):
        return _("已向该执行机关交付执行，不重复交付。")
    return None


def _executor_of_agency(agency: Any) -> str:
    """Which kind of execution an executing agency takes (the detention centre executes a custodial
    sentence in the police's place, art. 264(2))."""
    return "justice" if agency.kind == "justice" else "police"


def handed_over(case: Any) -> set[str]:
    """The executions an executing authority has taken over for this case (art. 264): one hand-over
    per authority, never two."""
    from workflows.models import Transfer, TransferKind, TransferStatus

    return {_executor_of_agency(t.to_agency) for t in Transfer.objects.filter(
        case=case, kind=TransferKind.EXECUTION, status=TransferStatus.ACCEPTED).select_related("to_agency")}


def executions_left_after_pending(case: Any) -> set[str]:
    """What still needs a hand-over once the package waiting for its executing authority is taken."""
    from workflows.engine import pending_transfer

    pending = pending_transfer(case)
    taking = {_executor_of_agency(pending.to_agency)} if pending is not None else set()
    return sentences_to_execute(case) - handed_over(case) - taking


@guard
def last_execution(ctx: GuardContext) -> str | None:
    """CPL art. 264: the case closes when the last executing authority took its convicts over."""
    if executions_left_after_pending(ctx.case):
        return _("本案还有罪犯需要交付其他执行机关，接收后案件回到待交付执行。")
    return None


@guard
def more_executions(ctx: GuardContext) -> str | None:
    """CPL art. 264, art. 269: convicts executed by different authorities (prison and community correction)
    are handed over to each, once; after the first the case waits for the next hand-over."""
    if not executions_left_after_pending(ctx.case):
        return _("这是本案最后一项交付执行，接收后结案。")
    return None


def sentences_to_execute(case: Any) -> set[str]:
    from workflows.models import JudgmentDecision

    apart = separately_executed(case)  # handed over on their own (art. 233(2); SPC Interp. art. 390)
    return {executor_for(d) for d in JudgmentDecision.objects.filter(case=case).exclude(person_id__in=apart)} - {""}


@guard
def something_to_execute(ctx: GuardContext) -> str | None:
    """CPL art. 264: only a sentence is handed over for execution (an acquittal, an exemption or a fine
    the court collects itself is not)."""
    from workflows.models import JudgmentDecision

    if JudgmentDecision.objects.filter(case=ctx.case).exists() and not sentences_to_execute(ctx.case):
        return _("本案没有需要交付执行的刑罚（无罪、免予刑事处罚或者单处罚金）。")
    if sentences_to_execute(ctx.case) and not sentences_to_execute(ctx.case) - handed_over(ctx.case):
        return _("已向全部执行机关交付执行。")
    return None


@guard
def nothing_to_execute(ctx: GuardContext) -> str | None:
    """CPL art. 264: a case with a sentence to execute closes only when an executing authority took it."""
    if not _decided(ctx.case) or sentences_to_execute(ctx.case):
        return _("本案有需要交付执行的刑罚，应当交付执行机关。")
    return None


def _decided(case: Any) -> bool:
    from workflows.models import JudgmentDecision

    return JudgmentDecision.objects.filter(case=case).exists()


# --- recipients and effects -------------------------------------------------------------------


def executing_authority(case: Any, holder: Any, executor: str) -> Any:
    """The executing agency the court sends the documents to."""
    from casehub.agencies.models import Agency, AgencyKind
    from casehub.custody.models import CustodyRecord

    if executor == "detention":
        record = CustodyRecord.objects.filter(case=case).select_related("detention_centre").order_by("-id").first()
        if record is not None:
            return record.detention_centre
        return Agency.objects.filter(kind=AgencyKind.DETENTION_CENTRE, region=holder.region).first()
    if executor == "justice":
        return Agency.objects.filter(kind=AgencyKind.JUSTICE_BUREAU, region=holder.region).first()
    return case.origin_agency


def retrial_procedure(case: Any) -> str:
    """SPC Interpretation art. 377: a remanded 速裁 case is retried under the ordinary procedure."""
    from workflows import trial

    current = trial.procedure(case)
    return trial.ORDINARY if current == trial.SPEEDY else current


def end_custody_for_execution(ctx: Any) -> None:
    """The executing authority took its convicts over (art. 264): their custody records end with a
    signed notice to the detention centre, and they are no longer held for the case. Only the convicts
    this authority executes: a co-defendant waiting for another authority stays as he is."""
    from casehub.custody import services as custody
    from casehub.custody.models import CustodyRecord, NoticeKind, RecordStatus
    from workflows.models import JudgmentDecision

    executor = _executor_of_agency(ctx.pending.to_agency if ctx.pending is not None else ctx.holder_after)
    decisions = {d.person_id: d for d in JudgmentDecision.objects.filter(case=ctx.case)}
    # A defendant without a recorded decision (the verdict only typed at the announcement) goes with
    # whichever authority takes the case over: nothing says otherwise.
    mine = [p.pk for p in defendants(ctx.case)
            if p.pk not in decisions or executor_for(decisions[p.pk]) == executor]
    for record in CustodyRecord.objects.filter(case=ctx.case, status=RecordStatus.IN_CUSTODY, person_id__in=mine):
        custody.issue_notice(record, kind=NoticeKind.EXECUTION, agency=ctx.holder_before,
                             acting_user=ctx.acting_user, reason=_("判决已生效，交付执行（刑事诉讼法第二百六十四条）。"),
                             at=ctx.now)
    held = [CustodyStatus.DETAINED, CustodyStatus.ARRESTED]
    for person in defendants(ctx.case).filter(custody_status__in=held, pk__in=mine):
        person.custody_status, person.measure_since, person.measure_authority = (
            CustodyStatus.EXECUTED, ctx.now, ctx.holder_before)
        person.save(update_fields=["custody_status", "measure_since", "measure_authority"])


# --- co-defendants at the second instance (art. 233(2); SPC Interpretation arts. 389-390) ---------

JOINT_CRIME_RULINGS: tuple[tuple[str, Any], ...] = (
    ("joint", gettext_lazy("共同犯罪：全案审查，第二审裁判对全部被告人发生法律效力")),
    ("separate", gettext_lazy("非共同犯罪（合并审理）：未上诉、未被抗诉的被告人的判决在上诉期满后已生效，另行交付执行")),
)


def unchallenged_co_defendants(case: Any) -> list[Any]:
    """Defendants tried together with an appellant who neither appealed nor were protested against."""
    challenged = appeals(case)
    people = list(defendants(case))
    if len(people) < 2 or not challenged:
        return []
    return [p for p in people if p.pk not in challenged]


def joint_crime_ruling(case: Any) -> str:
    """What the second-instance court recorded about the co-defendants ("" before it did)."""
    from workflows.models import TransitionLog

    docketed = (TransitionLog.objects.filter(case=case, transition="docket_appeal")
                .order_by("-occurred_at", "-id").first())
    logs = TransitionLog.objects.filter(case=case, transition="rule_on_joint_crime")
    if docketed is not None:
        logs = logs.filter(occurred_at__gte=docketed.occurred_at)
    log = logs.order_by("-occurred_at", "-id").first()
    return str((log.inputs or {}).get("ruling") or "") if log is not None else ""


@guard
def co_defendants_ruled(ctx: GuardContext) -> str | None:
    """CPL art. 233(2); SPC Interpretation arts. 389-390: in a joint crime the second instance reviews
    every defendant; defendants merely tried together are not a joint crime. Where some co-defendants did
    not appeal and were not protested against, the court records which it is before deciding."""
    others = unchallenged_co_defendants(ctx.case)
    if others and not joint_crime_ruling(ctx.case):
        return _("被告人%(names)s未上诉、未被抗诉：请先认定本案是否共同犯罪（最高人民法院解释第三百八十九条、"
                 "第三百九十条）。") % {"names": "、".join(p.name for p in others)}
    return None


@guard
def co_defendants_to_rule_on(ctx: GuardContext) -> str | None:
    """SPC Interpretation art. 389, art. 390: a ruling on the co-defendants is needed only where some of
    them did not appeal and were not protested against."""
    if not unchallenged_co_defendants(ctx.case):
        return _("全部被告人均已上诉或者被抗诉，无须认定。")
    return None


# --- separate execution after a "not a joint crime" ruling (art. 233(2); SPC Interp. arts. 389-390) --


def first_instance_court(case: Any) -> Any:
    """The court that docketed the case at first instance (the last ``docket_case``)."""
    from workflows.models import TransitionLog

    log = (TransitionLog.objects.filter(case=case, transition="docket_case").select_related("actor_agency")
           .order_by("-occurred_at", "-id").first())
    return log.actor_agency if log is not None else None


def separately_executed(case: Any) -> set[int]:
    """Defendants already handed over for execution on their own (``hand_over_separately``)."""
    from workflows.models import TransitionLog

    done: set[int] = set()
    for inputs in TransitionLog.objects.filter(case=case, transition="hand_over_separately").values_list(
            "inputs", flat=True):
        done.update(int(pk) for pk in (inputs or {}).get("handed_over") or [])
    return done


def split_off(case: Any) -> list[Any]:
    """The defendants the second-instance court split off (ruled "not a joint crime"): their first-instance
    judgment took effect when their own window expired (art. 259) and they are executed separately."""
    if joint_crime_ruling(case) != "separate":
        return []
    return unchallenged_co_defendants(case)


def separated_decisions(case: Any, executor: str = "") -> list[Any]:
    """The recorded decisions of the split-off defendants still to hand over (for ``executor`` if given;
    the detention centre executes what the police would)."""
    from workflows.models import JudgmentDecision

    wanted = "police" if executor == "detention" else executor
    done = separately_executed(case)
    ids = [p.pk for p in split_off(case) if p.pk not in done]
    return [d for d in JudgmentDecision.objects.filter(case=case, person_id__in=ids).select_related("person")
            .order_by("person_id") if executor_for(d) and (not wanted or executor_for(d) == wanted)]


def effective_on(case: Any, person: Any) -> Any:
    """The day a split-off defendant's first-instance judgment took effect: the day after the last day of
    the defendant's own appeal window (arts. 230, 259)."""
    from datetime import timedelta

    from casehub.clocks.models import Clock

    window = (Clock.objects.filter(case=case, kind=ClockKind.APPEAL_PERIOD, person=person)
              .order_by("-started_at", "-id").first())
    return window.due_date + timedelta(days=1) if window is not None and window.due_date else None


@guard
def separated_to_hand_over(ctx: GuardContext) -> str | None:
    """CPL art. 233(2), arts. 259, 264; SPC Interpretation arts. 389-390: after a ruling that the case is not a
    joint crime, the first-instance court hands the defendants who did not appeal and were not protested
    against over for execution on their own — each executing authority once."""
    if not split_off(ctx.case):
        return _("第二审人民法院没有认定本案不属于共同犯罪，未上诉、未被抗诉的被告人随第二审裁判交付执行。")
    if not separated_decisions(ctx.case):
        return _("未上诉、未被抗诉的被告人已经全部交付执行，或者没有需要交付执行的刑罚。")
    executor = ctx.inputs.get("executor")
    if executor is not None and not separated_decisions(ctx.case, str(executor)):
        return _("所选执行机关与未上诉的被告人被判处的刑罚不符，或者已向该执行机关交付执行。")
    return None


@effects.effect
def separate_unchallenged(ctx: Any) -> None:
    """CPL arts. 259, 264; SPC Interpretation art. 390: the court above ruled that the defendants were merely
    tried together — the judgment of those who did not appeal and were not protested against has taken
    effect, and the first-instance court has 10 days to hand each of them over for execution."""
    from casehub.clocks.services import open_clock

    if str(ctx.inputs.get("ruling") or "") != "separate":
        return
    court = first_instance_court(ctx.case)
    ids = {d.person_id for d in separated_decisions_for(ctx.case, unchallenged_co_defendants(ctx.case))}
    for person in unchallenged_co_defendants(ctx.case):
        if person.pk in ids and court is not None:
            open_clock(ctx.case, ClockKind.EXECUTION_HANDOVER, agency=court, start=ctx.now, person=person,
                       acting_user=ctx.acting_user,
                       decision=_("不属于共同犯罪，未上诉、未被抗诉的被告人的第一审判决已生效，另行交付执行"))


def separated_decisions_for(case: Any, persons: list[Any]) -> list[Any]:
    from workflows.models import JudgmentDecision

    return [d for d in JudgmentDecision.objects.filter(case=case, person__in=persons) if executor_for(d)]


@effects.effect
def execute_separately(ctx: Any) -> None:
    """CPL art. 264: the split-off defendants this executing authority executes are handed over — their
    custody records end with the first-instance court's execution notice, their hand-over clocks stop and
    the log names them (``handed_over``); the others stay before the court above."""
    from casehub.clocks.services import stop_clocks
    from casehub.custody import services as custody
    from casehub.custody.models import CustodyRecord, NoticeKind, RecordStatus

    court = ctx.acting_user.agency
    decisions = separated_decisions(ctx.case, str(ctx.inputs.get("executor") or "police"))
    for decision in decisions:
        person = decision.person
        for record in CustodyRecord.objects.filter(case=ctx.case, person=person, status=RecordStatus.IN_CUSTODY):
            custody.issue_notice(record, kind=NoticeKind.EXECUTION, agency=court, acting_user=ctx.acting_user,
                                 at=ctx.now, reason=_("不属于共同犯罪，第一审判决已生效，另行交付执行（刑事诉讼法第二百三十三条"
                                                      "第二款、第二百六十四条；最高人民法院解释第三百九十条）。"))
        stop_clocks(ctx.case, [ClockKind.EXECUTION_HANDOVER], at=ctx.now, person=person,
                    acting_user=ctx.acting_user, reason=ctx.spec.name)
        if person.custody_status in (CustodyStatus.DETAINED, CustodyStatus.ARRESTED):
            person.custody_status, person.measure_since, person.measure_authority = (
                CustodyStatus.EXECUTED, ctx.now, court)
            person.save(update_fields=["custody_status", "measure_since", "measure_authority"])
    ctx.inputs["handed_over"] = [d.person_id for d in decisions]
