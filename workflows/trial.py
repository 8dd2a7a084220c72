"""First-instance trial procedures and their periods (CPL arts. 204-208, 220-226; SPC Interpretation
2021 arts. 210, 274, 368, 376).

The court records the procedure when it dockets a case (``docket_case``, input ``procedure``) and may
later convert it (``convert_procedure``). Each procedure has its own trial clock:

| procedure | period | extension, and by whom |
| --- | --- | --- |
| 速裁 fast-track | 10 days (art. 225) | to 15 days where the possible sentence exceeds one year — the trial court |
| 简易 summary | 20 days (art. 220) | to 1.5 months where the possible sentence exceeds three years — the trial court |
| ordinary | 2 months (art. 208) | to 3 months — the trial court; +3 months once from the next-higher court where a death sentence is possible, there is an incidental civil action or art. 158 applies, requested 15 days before expiry; then the Supreme People's Court, 1-3 months at a time (SPC Interpretation art. 210) |

A conversion starts the new procedure's period from the conversion decision (SPC Interpretation arts.
368, 376). A postponement for supplementary investigation (arts. 204(2), 205; at most twice, SPC
Interpretation art. 274) stops the trial period; it is counted afresh when the case comes back (art.
208(3)). A suspension (中止审理, art. 206) or a psychiatric assessment (art. 149) pauses the period;
resumption continues it with the days that were left.

The procedure in force is read from the transition log — the docketing and the conversions are the
evidence — like every other count the guards make.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.clocks.kinds import ClockKind
from workflows.guards import GuardContext, guard

SPEEDY, SUMMARY, ORDINARY = "speedy", "summary", "ordinary"
PROCEDURES: tuple[tuple[str, Any], ...] = (
    (ORDINARY, gettext_lazy("普通程序")),
    (SUMMARY, gettext_lazy("简易程序")),
    (SPEEDY, gettext_lazy("速裁程序")),
)
PROCEDURE_LABELS = dict(PROCEDURES)
# The clock each procedure's trial period runs on.
PROCEDURE_CLOCKS: dict[str, str] = {
    SPEEDY: ClockKind.TRIAL_SPEEDY, SUMMARY: ClockKind.TRIAL_SUMMARY, ORDINARY: ClockKind.TRIAL,
}
TRIAL_CLOCKS: tuple[str, ...] = tuple(PROCEDURE_CLOCKS.values())
# Marker for ClockOp.kind: the trial period of the procedure in force (workflows.timekeeping).
TRIAL_PERIOD = "@trial"

# Transitions that set the procedure (their input ``procedure``), latest first wins; a remand
# (workflows.appeal) starts a new first-instance trial.
SETS_PROCEDURE = ("docket_case", "convert_procedure", "remand")
STARTS_TRIAL = ("docket_case", "remand")
# A conversion goes only towards the fuller procedure (arts. 221, 226).
CONVERSIONS = {SPEEDY: {SUMMARY, ORDINARY}, SUMMARY: {ORDINARY}, ORDINARY: set()}

# The extension the trial court decides itself: (months, days) of the whole period afterwards.
OWN_EXTENSION: dict[str, tuple[int, int, str]] = {
    SPEEDY: (0, 15, "刑事诉讼法第二百二十五条：可能判处的有期徒刑超过一年的，延长至十五日"),
    SUMMARY: (1, 15, "刑事诉讼法第二百二十条：可能判处的有期徒刑超过三年的，延长至一个半月"),
    ORDINARY: (3, 0, "刑事诉讼法第二百零八条：至迟不得超过三个月"),
}
HIGHER_EXTENSION_MONTHS = 3  # art. 208; SPC Interpretation art. 210: once
HIGHER_REQUEST_LEAD_DAYS = 15  # SPC Interpretation art. 210: requested 15 days before expiry
HIGHER_GROUNDS: tuple[tuple[str, Any], ...] = (
    ("death", gettext_lazy("可能判处死刑")),
    ("civil", gettext_lazy("附带民事诉讼")),
    ("art158_1", gettext_lazy("交通十分不便的边远地区的重大复杂案件（第一百五十八条第一项）")),
    ("art158_2", gettext_lazy("重大的犯罪集团案件（第一百五十八条第二项）")),
    ("art158_3", gettext_lazy("流窜作案的重大复杂案件（第一百五十八条第三项）")),
    ("art158_4", gettext_lazy("犯罪涉及面广，取证困难的重大复杂案件（第一百五十八条第四项）")),
)
SPC_MONTHS = (1, 3)  # SPC Interpretation art. 210: 1-3 months each time
MAX_POSTPONEMENTS = 2  # SPC Interpretation art. 274
SUSPENSION_GROUNDS: tuple[tuple[str, Any], ...] = (
    ("illness", gettext_lazy("被告人患有严重疾病，无法出庭（第二百零六条第一款第一项）")),
    ("escape", gettext_lazy("被告人脱逃（第二百零六条第一款第二项）")),
    ("private_prosecutor", gettext_lazy("自诉人患有严重疾病，无法出庭，未委托诉讼代理人出庭（第二百零六条第一款第三项）")),
    ("force_majeure", gettext_lazy("由于不能抗拒的原因（第二百零六条第一款第四项）")),
    ("psychiatric", gettext_lazy("对被告人作精神病鉴定，鉴定期间不计入审理期限（第一百四十九条）")),
)


# --- reading ----------------------------------------------------------------------------------


def _logs(case: Any, names: tuple[str, ...]) -> Any:
    from workflows.models import TransitionLog

    return TransitionLog.objects.filter(case=case, transition__in=names).order_by("-occurred_at", "-id")


def procedure(case: Any) -> str:
    """The procedure in force: the last docketing, conversion or remand names it."""
    log = _logs(case, SETS_PROCEDURE).first()
    value = (log.inputs or {}).get("procedure") if log is not None else None
    return value if value in PROCEDURE_CLOCKS else ORDINARY


def procedure_label(case: Any) -> str:
    return str(PROCEDURE_LABELS[procedure(case)])


def trial_clock(case: Any) -> Any:
    """The running (or paused) trial period of the case, whatever its procedure."""
    from casehub.clocks.models import ACTIVE_STATUSES, Clock

    return (Clock.objects.filter(case=case, kind__in=TRIAL_CLOCKS, status__in=ACTIVE_STATUSES)
            .order_by("-started_at", "-id").first())


def _since_docketing(case: Any, names: tuple[str, ...]) -> Any:
    """Logs of ``names`` since the current first-instance trial began (docketing or remand)."""
    start = _logs(case, STARTS_TRIAL).first()
    qs = _logs(case, names)
    return qs.filter(occurred_at__gte=start.occurred_at) if start is not None else qs


def own_extension_used(case: Any) -> bool:
    """The trial court's own extension under the procedure in force (a conversion starts afresh)."""
    last_set = _logs(case, SETS_PROCEDURE).first()
    qs = _logs(case, ("extend_trial",))
    if last_set is not None:
        qs = qs.filter(occurred_at__gte=last_set.occurred_at)
    return qs.exists()


def higher_extension_granted(case: Any) -> bool:
    """The next-higher court's three months (art. 208), approved on the platform or on paper."""
    return _since_docketing(case, ("approve_higher_extension", "record_higher_extension")).exists()


def higher_request_pending(case: Any) -> bool:
    """A request to the next-higher court that it has not decided yet."""
    last = _since_docketing(case, ("request_higher_extension", "approve_higher_extension",
                                   "refuse_higher_extension")).first()
    return last is not None and last.transition == "request_higher_extension"


def postponements(case: Any) -> int:
    return _since_docketing(case, ("postpone_for_supplementary",)).count()


# --- clock amounts (called by workflows.timekeeping) ------------------------------------------


def clock_kind_for(ctx: Any) -> str:
    """The trial clock the transition opens: its own ``procedure`` input, else the procedure in force."""
    chosen = ctx.inputs.get("procedure")
    return PROCEDURE_CLOCKS[chosen if chosen in PROCEDURE_CLOCKS else procedure(ctx.case)]


def extend(ctx: Any) -> None:
    """Extend the trial period as the transition says: the court's own extension, the higher court's
    three months, or the Supreme People's Court's months."""
    from casehub.clocks import services

    clock = trial_clock(ctx.case)
    if clock is None:
        from workflows.engine import GuardFailed

        raise GuardFailed([_("没有正在计算的审理期限可以延长。")])
    name = ctx.spec.name
    decision = str(ctx.inputs.get("decision") or ctx.inputs.get("reason") or ctx.spec.label)
    if name == "extend_trial":
        months, days, basis = OWN_EXTENSION[procedure(ctx.case)]
    elif name in ("approve_higher_extension", "record_higher_extension"):
        months, days, basis = clock.period_months + HIGHER_EXTENSION_MONTHS, clock.period_days, \
            "刑事诉讼法第二百零八条：经上一级人民法院批准延长三个月"
    else:
        months, days, basis = clock.period_months + int(ctx.inputs.get("months") or 0), clock.period_days, \
            "刑事诉讼法第二百零八条、最高人民法院解释第二百一十条：报请最高人民法院批准延长"
    services.extend_clock_to(clock, months=months, days=days, decision=f"{basis}；{decision}"[:200],
                             acting_user=ctx.acting_user)


def pause(ctx: Any) -> None:
    from casehub.clocks import services

    clock = trial_clock(ctx.case)
    if clock is not None:
        services.pause_clock(clock, at=ctx.now, acting_user=ctx.acting_user, reason=ctx.spec.name)


def resume(ctx: Any) -> None:
    from casehub.clocks import services

    clock = trial_clock(ctx.case)
    if clock is not None and clock.paused_at is not None:
        services.resume_clock(clock, at=ctx.now, acting_user=ctx.acting_user)


# --- guards -----------------------------------------------------------------------------------


@guard
def procedure_convertible(ctx: GuardContext) -> str | None:
    """CPL art. 221, art. 226 (SPC Interpretation arts. 368, 375-377): a 速裁 case may be converted to the
    summary or ordinary procedure, a summary case to the ordinary one — never back."""
    current = procedure(ctx.case)
    allowed = CONVERSIONS[current]
    if not allowed:
        return _("本案适用普通程序审理，不能再变更审判程序。")
    wanted = ctx.inputs.get("procedure")
    if wanted is not None and wanted not in allowed:
        return _("%(current)s只能转为%(allowed)s。") % {
            "current": PROCEDURE_LABELS[current],
            "allowed": "、".join(str(PROCEDURE_LABELS[p]) for p in sorted(allowed, reverse=True))}
    return None


@guard
def trial_extension_allowed(ctx: GuardContext) -> str | None:
    """CPL art. 208, art. 220, art. 225: the trial court extends its own period once under the procedure in force
    (速裁 to 15 days, 简易 to 1.5 months, ordinary to 3 months)."""
    if trial_clock(ctx.case) is None:
        return _("没有正在计算的审理期限。")
    if own_extension_used(ctx.case):
        return _("本院已延长过%(procedure)s的审理期限；普通程序案件可依照第二百零八条报请上一级人民法院批准。") % {
            "procedure": procedure_label(ctx.case)}
    return None


@guard
def higher_extension_requestable(ctx: GuardContext) -> str | None:
    """Art. 208; SPC Interpretation art. 210: only an ordinary-procedure case, once, and the request
    reaches the higher court at least 15 days before the period expires."""
    if procedure(ctx.case) != ORDINARY:
        return _("只有适用普通程序的案件可以报请上一级人民法院批准延长审理期限。")
    if ctx.case.holder_agency.parent_id is None:
        return _("没有登记上一级人民法院，无法报请批准。")
    if higher_extension_granted(ctx.case):
        return _("上一级人民法院已批准延长一次；因特殊情况还需要延长的，报请最高人民法院批准。")
    if higher_request_pending(ctx.case):
        return _("已报请上一级人民法院批准，尚未决定。")
    clock = trial_clock(ctx.case)
    if clock is None:
        return _("没有正在计算的审理期限。")
    latest = clock.due_date - timedelta(days=HIGHER_REQUEST_LEAD_DAYS)
    if timezone.localdate() > latest:
        return _("申请批准延长审理期限应当在期限届满十五日以前层报（最高人民法院解释第二百一十条）；"
                 "本期限届满日为%(due)s，最迟应于%(latest)s报请。") % {"due": clock.due_date, "latest": latest}
    return None


@guard
def paper_request_in_time(ctx: GuardContext) -> str | None:
    """Art. 208; SPC Interpretation art. 210: the request for the next-higher court's approval is filed
    at least 15 days before the trial period expires — for an approval received on paper the court records
    the day it filed the request (``requested_on``): not in the future, not before the period began, not
    after the approval, and no later than 15 days before expiry."""
    from datetime import date

    requested = ctx.inputs.get("requested_on")
    if not isinstance(requested, date):
        return None
    if requested > timezone.localdate():
        return _("报请日期不能晚于今天。")
    approved = ctx.inputs.get("approved_on")
    if isinstance(approved, date) and approved < requested:
        return _("批准日期不能早于报请日期。")
    clock = trial_clock(ctx.case)
    if clock is None or clock.due_date is None:
        return None
    if requested < timezone.localtime(clock.started_at).date():
        return _("报请日期不能早于本审理期限的起算日。")
    latest = clock.due_date - timedelta(days=HIGHER_REQUEST_LEAD_DAYS)
    if requested > latest:
        return _("申请批准延长审理期限应当在期限届满十五日以前层报（最高人民法院解释第二百一十条）；"
                 "本期限届满日为%(due)s，最迟应于%(latest)s报请。") % {"due": clock.due_date, "latest": latest}
    return None


@guard
def higher_extension_pending(ctx: GuardContext) -> str | None:
    """Art. 208: the next-higher court decides a request the trial court filed."""
    if not higher_request_pending(ctx.case):
        return _("没有待决定的延长审理期限申请。")
    return None


@guard
def spc_extension_allowed(ctx: GuardContext) -> str | None:
    """Art. 208; SPC Interpretation art. 210: the Supreme People's Court's extension comes after the
    higher court's, 1-3 months each time."""
    if procedure(ctx.case) != ORDINARY or not higher_extension_granted(ctx.case):
        return _("报请最高人民法院批准延长，须在上一级人民法院批准延长三个月之后。")
    months = ctx.inputs.get("months")
    if months is not None and not SPC_MONTHS[0] <= int(months) <= SPC_MONTHS[1]:
        return _("最高人民法院每次批准延长一至三个月。")
    if trial_clock(ctx.case) is None:
        return _("没有正在计算的审理期限。")
    return None


@guard
def fewer_than_two_postponements(ctx: GuardContext) -> str | None:
    """SPC Interpretation art. 274: a postponement for supplementary investigation at the
    procuratorate's proposal, at most twice."""
    if postponements(ctx.case) >= MAX_POSTPONEMENTS:
        return _("建议延期审理不得超过两次（最高人民法院解释第二百七十四条）。")
    return None


def higher_court_on_platform(case: Any) -> bool:
    holder = case.holder_agency
    return holder is not None and holder.parent_id is not None and holder.parent.kind == "court"


@guard
def higher_approval_on_paper(ctx: GuardContext) -> str | None:
    """Art. 208; SPC Interpretation art. 210: an ordinary-procedure case, once; where the next-higher court
    is not on the platform the trial court records the approval it received on paper (otherwise the
    request and the approval go through the platform)."""
    if procedure(ctx.case) != ORDINARY:
        return _("只有适用普通程序的案件可以经上一级人民法院批准延长审理期限。")
    if higher_court_on_platform(ctx.case):
        return _("上一级人民法院在本平台办案，应当通过平台报请批准。")
    if higher_extension_granted(ctx.case):
        return _("上一级人民法院已批准延长一次；因特殊情况还需要延长的，报请最高人民法院批准。")
    if trial_clock(ctx.case) is None:
        return _("没有正在计算的审理期限。")
    return None


@guard
def approval_date_valid(ctx: GuardContext) -> str | None:
    """Not a statute: the date of a paper approval is a real day — not in the future, and within the
    period it extends (an approval after the period expired extends nothing)."""
    from datetime import date

    from casehub.clocks.models import ACTIVE_STATUSES, Clock

    approved = ctx.inputs.get("approved_on")
    if not isinstance(approved, date):
        return None
    if approved > timezone.localdate():
        return _("批准日期不能晚于今天。")
    kind = ClockKind.SECOND_INSTANCE if ctx.spec.name == "extend_second_instance" else None
    clock = (Clock.objects.filter(case=ctx.case, kind=kind, status__in=ACTIVE_STATUSES).order_by("-started_at").first()
             if kind else trial_clock(ctx.case))
    if clock is not None:
        if approved < timezone.localtime(clock.started_at).date():
            return _("批准日期不能早于本审理期限的起算日。")
        if clock.due_date is not None and approved > clock.due_date:
            return _("批准日期晚于审理期限届满日（%(due)s），不能据此延长。") % {"due": clock.due_date}
    return None
