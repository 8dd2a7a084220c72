"""The criminal process, declared as data — the only transitions a case can take.

Stages say which kind of agency holds the case. Transitions say who may fire them (agency kind,
capability, and whether the actor must belong to the *holder*, the *receiver* of the pending
package or its *sender*), which inputs they need, which guards must pass, which statutory
clocks they open, stop, restart or extend, whether a package travels with them, and whether a
supervisor of the sending agency must approve them first. :mod:`workflows.engine` executes
this table; :mod:`workflows.diagram` draws it; the REST API generates its actions from it.
Nothing else changes a case's stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from casehub.agencies import permissions as p
from casehub.agencies.models import AgencyKind
from casehub.clocks.kinds import ClockKind
from workflows import court_documents, court_door, execution, jurisdiction, measures, trial  # noqa: F401 - builders, effects, guards
from workflows.appeal import EXECUTORS, JOINT_CRIME_RULINGS, SECOND_INSTANCE_RESULTS
from workflows.models import TransferKind


class Stage:
    INVESTIGATION = "investigation"
    ARREST_REQUESTED = "arrest_requested"
    ARREST_REVIEW = "arrest_review"
    REVIEW_REQUESTED = "review_requested"
    PROSECUTION_REVIEW = "prosecution_review"
    SUPPLEMENTARY_INVESTIGATION = "supplementary_investigation"
    COURT_FILING = "court_filing"
    CONDITIONAL_NON_PROSECUTION = "conditional_non_prosecution"
    JURISDICTION_TRANSFER = "jurisdiction_transfer"
    TRIAL = "trial"
    TRIAL_SUSPENDED = "trial_suspended"
    TRIAL_SUPPLEMENTARY = "trial_supplementary"
    APPEAL_PERIOD = "appeal_period"
    APPEAL_FILED = "appeal_filed"
    SECOND_INSTANCE = "second_instance"
    FILE_REVIEW = "second_instance_file_review"
    EXECUTION = "execution"
    EXECUTION_SENT = "execution_sent"
    JUDGMENT_DELIVERY = "judgment_delivery"
    CLOSED = "closed"


@dataclass(frozen=True)
class StageSpec:
    name: str
    label: str | Promise
    holder_kind: str | None  # kind of agency holding the case; None once closed
    pending: bool = False  # a package waits for the receiver's acceptance
    final: bool = False


STAGES: dict[str, StageSpec] = {
    s.name: s
    for s in (
        StageSpec(Stage.INVESTIGATION, _("侦查"), AgencyKind.POLICE),
        StageSpec(Stage.ARREST_REQUESTED, _("提请批准逮捕（待接收）"), AgencyKind.POLICE, pending=True),
        StageSpec(Stage.ARREST_REVIEW, _("审查逮捕"), AgencyKind.PROCURATORATE),
        StageSpec(Stage.REVIEW_REQUESTED, _("移送审查起诉（待接收）"), AgencyKind.POLICE, pending=True),
        StageSpec(Stage.PROSECUTION_REVIEW, _("审查起诉"), AgencyKind.PROCURATORATE),
        StageSpec(Stage.SUPPLEMENTARY_INVESTIGATION, _("补充侦查"), AgencyKind.POLICE),
        StageSpec(Stage.COURT_FILING, _("提起公诉（待立案）"), AgencyKind.PROCURATORATE, pending=True),
        StageSpec(Stage.CONDITIONAL_NON_PROSECUTION, _("附条件不起诉考验期"), AgencyKind.PROCURATORATE),
        StageSpec(Stage.JURISDICTION_TRANSFER, _("移送管辖（待接收）"), AgencyKind.PROCURATORATE, pending=True),
        StageSpec(Stage.TRIAL, _("审理"), AgencyKind.COURT),
        StageSpec(Stage.TRIAL_SUSPENDED, _("中止审理"), AgencyKind.COURT),
        StageSpec(Stage.TRIAL_SUPPLEMENTARY, _("延期审理（补充侦查）"), AgencyKind.PROCURATORATE),
        StageSpec(Stage.JUDGMENT_DELIVERY, _("宣判送达"), AgencyKind.COURT),
        StageSpec(Stage.APPEAL_PERIOD, _("上诉、抗诉期间"), AgencyKind.COURT),
        StageSpec(Stage.APPEAL_FILED, _("上诉、抗诉移送（待第二审受理）"), AgencyKind.COURT, pending=True),
        StageSpec(Stage.SECOND_INSTANCE, _("第二审"), AgencyKind.COURT),
        StageSpec(Stage.FILE_REVIEW, _("第二审（检察院阅卷）"), AgencyKind.COURT),
        StageSpec(Stage.EXECUTION, _("判决生效（待交付执行）"), AgencyKind.COURT),
        StageSpec(Stage.EXECUTION_SENT, _("交付执行（待执行机关接收）"), AgencyKind.COURT, pending=True),
        StageSpec(Stage.CLOSED, _("结案"), None, final=True),
    )
}

# Who among the agencies around a case may fire a transition.
HOLDER = "holder"  # the agency currently holding the case (with the act permission)
RECEIVER = "receiver"  # the addressee of the pending package
SENDER = "sender"  # the sender of the pending package (withdrawal)
INVESTIGATOR = "investigator"  # the police agency that registered the case (art. 179: it contests a non-prosecution)
SUPERIOR = "superior"  # the next-higher agency of the holder (art. 179: review by the higher procuratorate)
HIGHER = "higher"  # the agency above the holder (agency.parent): approvals the law gives it (art. 208)
PROSECUTING = "prosecuting"  # the procuratorate whose indictment the court accepted (protest, art. 228)
TRIAL_COURT = "trial_court"  # the court that postponed the trial for supplementary investigation (SPP Rules art. 421)
DETENTION = "detention"  # a detention centre keeping a convict it must hand over for execution outside prison
FIRST_INSTANCE = "first_instance"  # the first-instance court while the court above holds the case (art. 233(2))

# How the case changes hands.
SEND = "send"  # a package goes out; the receiver must verify and accept it
ACCEPT = "accept"  # the receiver accepts the pending package and becomes the holder
REJECT = "reject"  # the receiver refuses the pending package; it goes back to the sender
WITHDRAW = "withdraw"  # the sender takes the pending package back
DELIVER = "deliver"  # a decision package goes out and the recipient becomes holder at once
NOTIFY = "notify"  # a decision or judgment goes out; the holder does not change
STAY = "stay"  # nothing travels

# Target marker: back to the stage the pending package was sent from.
SENDER_STAGE = "@sender_stage"
# Target marker: the stage stays what it is (a decision recorded in any of the sources).
SAME_STAGE = "@same_stage"

# Recipient rules for packages.
FORWARD = "forward"  # next agency up the chain, chosen by the sender (default: same region)
BACK_TO_SENDER = "back"  # the agency that sent the case to the current holder
EARLIER_AGENCIES = "earlier"  # every agency that held the case before (judgment, non-prosecution)
UP = "up"  # the court above the holder (agency.parent): an appealed or protested case (art. 231)
EXECUTOR = "executor"  # the executing authority the input ``executor`` names (arts. 264, 269)
JURISDICTION = "jurisdiction"  # another procuratorate, named by ``to_agency`` (SPP Rules art. 328)


# The limits of the inputs, one set for the engine, the UI form and the API serializer (all three are
# built from the InputSpec; tests/workflow/test_inputs_declared_once.py checks they agree).
TEXT_MAX_LENGTH = 500  # one line: a number, a name
TEXTAREA_MAX_LENGTH = 5000  # a reasoned decision, facts, a list of evidence
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class InputSpec:
    """One input of a transition. ``required``: the transition cannot run without a value; a
    ``default`` supplies the value when the user gives none, so only a required input without a
    default must be given by the user (:attr:`must_be_given`) — in the form, the API and the engine."""

    name: str
    label: str | Promise
    type: str = "text"  # text | textarea | date | int | agency | choice | persons
    required: bool = True
    choices: tuple[tuple[str, Any], ...] = ()
    agency_kind: str = ""  # for type="agency"
    help_text: str | Promise = ""
    default: Any = None
    max_length: int | None = None  # text/textarea; None: the type's limit above
    # type="persons": which persons of the case may be named (workflows.persons.SELECTIONS); left
    # empty, the input means the selection's default (workflows.persons.resolve).
    select: str = ""

    @property
    def must_be_given(self) -> bool:
        return self.required and self.default is None

    @property
    def length_limit(self) -> int | None:
        if self.type not in ("text", "textarea"):
            return None
        if self.max_length is not None:
            return self.max_length
        return TEXTAREA_MAX_LENGTH if self.type == "textarea" else TEXT_MAX_LENGTH


@dataclass(frozen=True)
class ClockOp:
    """A clock action. ``op``: open | stop | restart | extend | reopen | pause | resume | period;
    ``agency``: who runs the clock. ``kind`` ``"@trial"`` (:data:`workflows.trial.TRIAL_PERIOD`) is the
    trial period of the procedure in force (:mod:`workflows.trial`). ``period`` sets the running clock's
    period to ``months``/``days`` counted from its own start (the review period of a fast-track plea
    case, art. 172, and back to one month).

    ``reopen`` counts on with the last stopped clock of the kind (no new period: a package refused
    or taken back did not end what its sending stopped). ``stop`` of ``"*"`` with ``agency="sender"``
    stops every clock of the agency that sent the accepted package: its stage ended with the transfer
    (its custody periods included)."""

    op: str
    kind: str  # a ClockKind value, or "*" (stop only: every running clock of the case / of the sender)
    agency: str = "holder_after"  # holder_after | holder_before | recipient | sender
    days: int = 0  # extend only; an opened clock takes its period from casehub.clocks.kinds
    months: int = 0
    per_person: bool = False
    # per_person: the input naming the persons (workflows.persons), or "@arrest_request" for the
    # persons named in the pending arrest request. Empty: every arrested suspect (legacy tables only).
    persons: str = ""
    months_input: str = ""  # period only: the input that gives the months (art. 283: 6-12 months)


@dataclass(frozen=True)
class TransitionSpec:
    name: str
    label: str | Promise
    sources: tuple[str, ...]
    target: str
    agency_kind: str
    capability: str
    party: str = HOLDER
    handover: str = STAY
    recipient: str = ""
    transfer_kind: str = ""
    inputs: tuple[InputSpec, ...] = ()
    guards: tuple[str, ...] = ()
    clocks: tuple[ClockOp, ...] = ()
    effects: tuple[str, ...] = ()
    custody: tuple[str, ...] = ()  # casehub.custody.handlers steps, run in the transaction
    needs_approval: bool = False
    article: str = ""
    description: str | Promise = ""
    style: str = "primary"  # bootstrap button colour
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def requires_approval(self) -> bool:
        """Per-deployment override: settings.CASEHUB_WORKFLOW_APPROVALS = {"indict": False, ...}."""
        overrides = getattr(settings, "CASEHUB_WORKFLOW_APPROVALS", {}) or {}
        return bool(overrides.get(self.name, self.needs_approval))

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)


REASON = InputSpec("reason", _("理由"), "textarea")
PROCEDURE = InputSpec(
    "procedure", _("审判程序"), "choice", required=False, choices=trial.PROCEDURES, default=trial.ORDINARY,
    help_text=_("速裁程序：受理后十日以内审结，可能判处有期徒刑超过一年的可延长至十五日（第二百二十五条）；"
                "简易程序：二十日以内，可能判处有期徒刑超过三年的可延长至一个半月（第二百二十条）；"
                "普通程序：二个月以内，至迟不超过三个月（第二百零八条）。"))
OPTIONAL_REASON = InputSpec("reason", _("说明"), "textarea", required=False)
APPROVED_ON = InputSpec("approved_on", _("批准日期"), "date",
                        help_text=_("上级人民法院纸质批复的日期；本院据此作出延长审理期限决定书。"))


def _persons(name: str, label: Any, select: str, help_text: Any = "") -> InputSpec:
    return InputSpec(name, label, "persons", required=False, select=select, help_text=help_text)


ARREST_PERSONS = _persons("persons", _("提请批准逮捕的犯罪嫌疑人"), "arrest_candidates",
                          _("留空则为全部被拘留的犯罪嫌疑人。"))
APPROVED_PERSONS = _persons("persons", _("批准逮捕的犯罪嫌疑人"), "arrest_pending",
                            _("留空则为提请批准逮捕的全部人员（减去不批准逮捕的人员）。"))
REFUSED_PERSONS = _persons("refused", _("不批准逮捕的犯罪嫌疑人"), "arrest_pending")
REFUSED_ALL = _persons("persons", _("不批准逮捕的犯罪嫌疑人"), "arrest_pending",
                       _("留空则为提请批准逮捕的全部人员。"))
AFTER_REFUSAL = InputSpec(
    "refused_measure", _("不批准逮捕后的处理"), "choice", required=False, default="released",
    choices=(("released", _("立即释放")), ("bail", _("取保候审")), ("residential_surveillance", _("监视居住"))),
    help_text=_("刑事诉讼法第九十一条第三款：不批准逮捕的，立即释放；需要继续侦查并符合条件的，依法取保候审或者监视居住。"),
)


def _forward_to(kind: str) -> InputSpec:
    return InputSpec(
        "to_agency", _("接收机关"), "agency", required=False, agency_kind=kind,
        help_text=_("留空则移送同一行政区划的机关。"),
    )


# --- plea and leniency 认罪认罚 --------------------------------------------------------------

PLEA_PERSONS = _persons("persons", _("认罪认罚的犯罪嫌疑人"), "suspects", _("留空则为本案全部犯罪嫌疑人。"))
SENTENCING_FORM = InputSpec(
    "sentencing_form", _("量刑建议的提出方式"), "choice", required=False, default="indictment",
    choices=(("indictment", _("在起诉书中写明")), ("separate", _("另行制作量刑建议书"))),
    help_text=_("《人民检察院刑事诉讼规则》第二百七十四条：量刑建议一般应当在起诉书中写明，也可以单独制作量刑建议书，"
                "与起诉书一并移送人民法院。"),
)
PROCEDURE = InputSpec(
    "procedure", _("建议适用的审判程序"), "choice", required=False, default="ordinary",
    choices=(("speedy", _("速裁程序")), ("summary", _("简易程序")), ("ordinary", _("普通程序"))),
    help_text=_("速裁程序：可能判处三年有期徒刑以下刑罚、事实清楚、证据确实充分、被告人认罪认罚并同意适用"
                "（刑事诉讼法第二百二十二条）；简易程序：事实清楚、证据充分、被告人承认所指控的犯罪事实（第二百一十四条）。"),
)

PLEA_TRANSITIONS: tuple[TransitionSpec, ...] = (
    TransitionSpec(
        "record_plea", _("记录认罪认罚"), (Stage.INVESTIGATION, Stage.SUPPLEMENTARY_INVESTIGATION), SAME_STAGE,
        AgencyKind.POLICE, p.PREPARE_OUTGOING,
        inputs=(PLEA_PERSONS, InputSpec("statement", _("认罪认罚情况"), "textarea",
                                        help_text=_("犯罪嫌疑人自愿如实供述、承认指控的犯罪事实、愿意接受处罚的情况，"
                                                    "以及已告知其诉讼权利和认罪认罚的法律规定。"))),
        guards=("plea_persons_valid",),
        effects=("record_police_plea",),
        article="刑事诉讼法第十五条、第一百二十条第二款、第一百六十二条第二款",
        description=_("犯罪嫌疑人自愿认罪的，应当记录在案，随案移送，并在起诉意见书中写明有关情况。"),
        style="secondary",
    ),
    TransitionSpec(
        "withdraw_police_plea", _("撤回认罪认罚（侦查阶段）"), (Stage.INVESTIGATION, Stage.SUPPLEMENTARY_INVESTIGATION),
        SAME_STAGE, AgencyKind.POLICE, p.PREPARE_OUTGOING,
        inputs=(_persons("persons", _("撤回认罪认罚的犯罪嫌疑人"), "suspects", _("留空则为本案全部犯罪嫌疑人。")),
                InputSpec("reason", _("撤回认罪认罚的情况"), "textarea")),
        guards=("police_pleas_withdrawable",),
        effects=("withdraw_police_pleas",),
        article="刑事诉讼法第十五条、第一百六十二条第二款",
        description=_("犯罪嫌疑人在侦查阶段撤回认罪认罚的，记录在案；起诉意见书不再写明其认罪认罚。"),
        style="secondary",
    ),
    TransitionSpec(
        "record_plea_statement", _("记录认罪认罚具结"), (Stage.PROSECUTION_REVIEW,), Stage.PROSECUTION_REVIEW,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(
            PLEA_PERSONS,
            InputSpec("counsel_role", _("在场律师身份"), "choice",
                      choices=(("counsel", _("辩护人")), ("duty_lawyer", _("值班律师")))),
            InputSpec("counsel_name", _("辩护人或值班律师姓名"), "text", max_length=60),
            InputSpec("statement_document", _("认罪认罚具结书（卷宗材料编号）"), "int", required=False,
                      help_text=_("先将签署的具结书上传至本院卷宗，再填写其材料编号。第一百七十四条第二款情形可不填。")),
            InputSpec("exemption", _("无需签署具结书的情形"), "choice", required=False, default="none",
                      choices=(("none", _("不适用（应当签署具结书）")),
                               ("174_2_1", _("盲、聋、哑人或者尚未完全丧失辨认或者控制自己行为能力的精神病人")),
                               ("174_2_2", _("未成年犯罪嫌疑人的法定代理人、辩护人对认罪认罚有异议")),
                               ("174_2_3", _("其他不需要签署认罪认罚具结书的情形")))),
            InputSpec("guardian_name", _("在场的法定代理人（未成年人）"), "text", required=False, max_length=60),
            InputSpec("sentencing", _("量刑建议"), "textarea",
                      help_text=_("主刑、附加刑、是否适用缓刑等（刑事诉讼法第一百七十六条第二款）。")),
        ),
        guards=("plea_persons_valid", "plea_statement_complete"),
        effects=("record_procuratorate_plea",),
        article="刑事诉讼法第一百七十三条、第一百七十四条、第一百七十六条第二款",
        description=_("犯罪嫌疑人认罪认罚的，在辩护人或者值班律师在场的情况下签署认罪认罚具结书；"
                      "未成年人还应有法定代理人在场。"),
        style="secondary",
    ),
    TransitionSpec(
        "adopt_fast_track_review", _("适用速裁审查期限"), (Stage.PROSECUTION_REVIEW,), Stage.PROSECUTION_REVIEW,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(InputSpec("sentence_up_to_three_years", _("可能判处的刑罚"), "choice",
                          choices=(("yes", _("三年有期徒刑以下刑罚")), ("no", _("三年有期徒刑以上刑罚"))),
                          help_text=_("速裁程序只适用于可能判处三年有期徒刑以下刑罚的案件（刑事诉讼法第二百二十二条）。")),
                InputSpec("reason", _("符合速裁程序适用条件的理由"), "textarea"),),
        guards=("no_pending_approval", "all_suspects_plead", "fast_track_fits", "review_not_extended",
                "review_not_fast_track", "fast_track_period_open"),
        clocks=(ClockOp("period", ClockKind.REVIEW_PROSECUTION, days=10),),
        article="刑事诉讼法第一百七十二条第一款、第二百二十二条、第二百二十三条",
        description=_("犯罪嫌疑人认罪认罚、符合速裁程序适用条件的，审查起诉期限为十日，自受理之日起计算；"
                      "不符合速裁程序适用条件的认罪认罚案件仍为一个月。"),
        style="secondary",
        custody=("notices",),
    ),
    TransitionSpec(
        "extend_fast_track_review", _("速裁审查期限延长至十五日"), (Stage.PROSECUTION_REVIEW,),
        Stage.PROSECUTION_REVIEW, AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(InputSpec("decision", _("可能判处一年以上有期徒刑的理由"), "textarea"),),
        guards=("no_pending_approval", "fast_track_review_of_ten_days"),
        clocks=(ClockOp("period", ClockKind.REVIEW_PROSECUTION, days=15),),
        needs_approval=True, article="刑事诉讼法第一百七十二条第一款",
        description=_("对可能判处的有期徒刑超过一年的，速裁案件的审查起诉期限可以延长至十五日。"),
        style="secondary",
        custody=("notices",),
    ),
    TransitionSpec(
        "revert_fast_track_review", _("不再适用速裁审查期限"), (Stage.PROSECUTION_REVIEW,), Stage.PROSECUTION_REVIEW,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(InputSpec("reason", _("不再符合速裁程序适用条件的理由"), "textarea"),),
        guards=("fast_track_review_active",),
        clocks=(ClockOp("period", ClockKind.REVIEW_PROSECUTION, months=1),),
        article="刑事诉讼法第一百七十二条第一款；人民检察院刑事诉讼规则第二百七十三条",
        description=_("不再符合速裁程序适用条件的，审查起诉期限恢复为一个月，仍自受理之日起计算。"),
        style="secondary",
        custody=("notices",),
    ),
    TransitionSpec(
        "withdraw_plea", _("撤回认罪认罚"), (Stage.PROSECUTION_REVIEW,), Stage.PROSECUTION_REVIEW,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(_persons("persons", _("撤回认罪认罚的犯罪嫌疑人"), "suspects", _("留空则为本案全部犯罪嫌疑人。")),
                InputSpec("reason", _("撤回认罪认罚的情况"), "textarea")),
        guards=("pleas_withdrawable",),
        effects=("withdraw_pleas",),
        article="刑事诉讼法第十五条；人民检察院刑事诉讼规则第二百七十三条",
        description=_("犯罪嫌疑人在提起公诉前撤回认罪认罚的，记录在案，不再作为认罪认罚处理；已适用速裁审查期限的，"
                      "审查起诉期限恢复为一个月，仍自受理之日起计算。"),
        style="secondary",
        custody=("notices",),
    ),
)


# --- non-prosecution of its kinds, conditional non-prosecution, and its challenges -----------------

NON_PROSECUTION_KIND = InputSpec(
    "kind", _("不起诉的种类"), "choice", required=False,
    choices=(("statutory", _("法定不起诉（刑事诉讼法第一百七十七条第一款）")),
             ("discretionary", _("酌定不起诉（刑事诉讼法第一百七十七条第二款）")),
             ("insufficient_evidence", _("证据不足不起诉（刑事诉讼法第一百七十五条第四款）"))),
    help_text=_("证据不足不起诉：二次退回补充侦查后仍证据不足的，应当不起诉；一次退回补充侦查后，经检察长批准，"
                "可以不起诉（《人民检察院刑事诉讼规则》第三百六十七条）。留空则按法律依据判断。"),
)
AFTER_CLOSING = {"after_closing": True}
# Art. 179, and art. 282(2) for a conditional non-prosecution during its probation: the police contest it.
CONTESTABLE = (Stage.CLOSED, Stage.CONDITIONAL_NON_PROSECUTION)
PETITIONER = InputSpec("petitioner", _("申诉人"), "text", max_length=60,
                       help_text=_("被害人或者其近亲属、诉讼代理人的姓名。"))
RECEIVED_ON = InputSpec("received_on", _("申诉人收到不起诉决定书的日期"), "date",
                        help_text=_("七日的申诉期限自收到决定书的次日起计算（刑事诉讼法第一百八十条、第一百八十一条）。"))
FILED_ON = InputSpec("filed_on", _("提出申诉的日期"), "date", required=False, help_text=_("留空则为今天。"))

NON_PROSECUTION_TRANSITIONS: tuple[TransitionSpec, ...] = (
    TransitionSpec(
        "decide_conditional_non_prosecution", _("附条件不起诉"), (Stage.PROSECUTION_REVIEW,),
        Stage.CONDITIONAL_NON_PROSECUTION, AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(InputSpec("facts", _("经审查查明的事实及悔罪表现"), "textarea"),
                InputSpec("probation_months", _("考验期（月）"), "int", help_text=_("六个月以上一年以下。")),
                InputSpec("sentence_up_to_one_year", _("可能判处的刑罚"), "choice",
                          choices=(("yes", _("一年有期徒刑以下刑罚")), ("no", _("一年有期徒刑以上刑罚")))),
                InputSpec("heard", _("听取公安机关、被害人意见的情况"), "textarea"),
                InputSpec("conditions", _("考验期内应当遵守的规定及矫治教育要求"), "textarea", required=False)),
        guards=("no_pending_approval", "conditional_non_prosecution_fits"),
        clocks=(ClockOp("stop", ClockKind.REVIEW_PROSECUTION),
                ClockOp("open", ClockKind.CONDITIONAL_PROBATION),
                ClockOp("period", ClockKind.CONDITIONAL_PROBATION, months_input="probation_months")),
        effects=("issue_conditional_non_prosecution_number", "generate_conditional_non_prosecution",
                 "release_detained"),
        needs_approval=True, article="刑事诉讼法第二百八十二条、第二百八十三条",
        description=_("未成年人涉嫌刑法分则第四章、第五章、第六章规定的犯罪，可能判处一年有期徒刑以下刑罚，符合起诉条件，"
                      "但有悔罪表现的，可以作出附条件不起诉的决定；考验期六个月以上一年以下，从决定之日起计算。"),
        style="warning",
        custody=("notices",),
    ),
    TransitionSpec(
        "prosecute_on_objection", _("未成年人异议，作出起诉决定"), (Stage.CONDITIONAL_NON_PROSECUTION,),
        Stage.PROSECUTION_REVIEW, AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(InputSpec("reason", _("异议人及异议内容"), "textarea"),),
        clocks=(ClockOp("stop", ClockKind.CONDITIONAL_PROBATION),
                ClockOp("reopen", ClockKind.REVIEW_PROSECUTION)),
        article="刑事诉讼法第二百八十二条第三款",
        description=_("未成年犯罪嫌疑人及其法定代理人对附条件不起诉决定有异议的，人民检察院应当作出起诉的决定。"),
        style="secondary",
        custody=("notices",),
    ),
    TransitionSpec(
        "revoke_conditional_non_prosecution", _("撤销附条件不起诉"), (Stage.CONDITIONAL_NON_PROSECUTION,),
        Stage.PROSECUTION_REVIEW, AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(InputSpec("ground", _("撤销的情形"), "choice", choices=(
                    ("new_crime", _("实施新的犯罪")),
                    ("earlier_crime", _("发现决定附条件不起诉以前还有其他犯罪需要追诉")),
                    ("violation", _("违反治安管理规定或者考察机关的监督管理规定，情节严重")))),
                InputSpec("reason", _("事实和理由"), "textarea")),
        guards=("no_pending_approval", "probation_running"),
        clocks=(ClockOp("stop", ClockKind.CONDITIONAL_PROBATION),
                ClockOp("reopen", ClockKind.REVIEW_PROSECUTION)),
        effects=("issue_issuer_number", "generate_conditional_revocation"),
        needs_approval=True, article="刑事诉讼法第二百八十四条第一款", style="danger",
        description=_("考验期内有第二百八十四条第一款情形之一的，撤销附条件不起诉的决定，提起公诉。"),
        custody=("notices",),
    ),
    TransitionSpec(
        "decide_final_non_prosecution", _("考验期满不起诉"), (Stage.CONDITIONAL_NON_PROSECUTION,), Stage.CLOSED,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, handover=NOTIFY, recipient=EARLIER_AGENCIES,
        transfer_kind=TransferKind.NON_PROSECUTION,
        inputs=(InputSpec("facts", _("考验期内的表现"), "textarea"),),
        guards=("no_pending_approval", "probation_over"),
        clocks=(ClockOp("stop", "*"),),
        effects=("issue_non_prosecution_number", "generate_non_prosecution_decision", "release_detained",
                 "inform_superior"),
        needs_approval=True, article="刑事诉讼法第二百八十四条第二款",
        description=_("被附条件不起诉的未成年犯罪嫌疑人在考验期内没有第二百八十四条第一款情形，考验期满的，作出不起诉的决定。"),
        custody=("notices",),
        extra={"non_prosecution_kind": "conditional"},
    ),
    # Art. 179: the police contest a non-prosecution — reconsideration by the procuratorate that decided,
    # then review by the next-higher one (MPS Provisions art. 294: 7 days each; SPP Rules arts. 379-380:
    # 30 days to decide each). The closed case stays closed unless the decision is revoked.
    TransitionSpec(
        "request_np_reconsideration", _("要求复议不起诉决定"), CONTESTABLE, SAME_STAGE,
        AgencyKind.POLICE, p.PREPARE_OUTGOING, party=INVESTIGATOR,
        inputs=(InputSpec("reason", _("认为不起诉决定有错误的理由"), "textarea"),),
        guards=("no_pending_approval", "non_prosecution_reconsiderable"),
        clocks=(ClockOp("open", ClockKind.NP_RECONSIDERATION),),
        effects=("issue_issuer_number", "generate_np_reconsideration_request"),
        needs_approval=True, article="刑事诉讼法第一百七十九条；公安机关办理刑事案件程序规定第二百九十四条第一款",
        description=_("公安机关认为不起诉决定有错误的，应当在收到不起诉决定书后七日以内制作要求复议意见书，"
                      "经县级以上公安机关负责人批准后，移送人民检察院复议；人民检察院在三十日以内作出复议决定。"),
        style="warning", custody=("notices",), extra=AFTER_CLOSING,
    ),
    TransitionSpec(
        "keep_non_prosecution", _("复议维持不起诉决定"), CONTESTABLE, SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(REASON,),
        guards=("no_pending_approval", "np_reconsideration_pending"),
        clocks=(ClockOp("stop", ClockKind.NP_RECONSIDERATION),),
        effects=("issue_issuer_number", "generate_np_reconsideration_decision"),
        needs_approval=True, article="刑事诉讼法第一百七十九条；人民检察院刑事诉讼规则第三百七十九条第二款",
        style="secondary", custody=("notices",), extra={**AFTER_CLOSING, "kept": True},
    ),
    TransitionSpec(
        "revoke_non_prosecution", _("复议撤销不起诉决定"), CONTESTABLE, Stage.PROSECUTION_REVIEW,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(REASON,),
        guards=("no_pending_approval", "np_reconsideration_pending"),
        clocks=(ClockOp("stop", ClockKind.NP_RECONSIDERATION),
                ClockOp("stop", ClockKind.CONDITIONAL_PROBATION), ClockOp("restart", ClockKind.REVIEW_PROSECUTION)),
        effects=("issue_issuer_number", "generate_np_reconsideration_decision"),
        needs_approval=True, article="刑事诉讼法第一百七十九条；人民检察院刑事诉讼规则第三百七十九条第二款",
        description=_("复议认为不起诉决定错误的，撤销不起诉决定，案件回到审查起诉，重新计算审查起诉期限；"
                      "已解除的强制措施需要时另行决定。"),
        style="danger", custody=("notices",), extra={**AFTER_CLOSING, "kept": False},
    ),
    TransitionSpec(
        "request_np_review", _("提请复核不起诉决定"), CONTESTABLE, SAME_STAGE,
        AgencyKind.POLICE, p.PREPARE_OUTGOING, party=INVESTIGATOR,
        inputs=(InputSpec("reason", _("提请复核的理由"), "textarea"),),
        guards=("no_pending_approval", "non_prosecution_reviewable"),
        clocks=(ClockOp("open", ClockKind.NP_REVIEW, agency="superior"),),
        effects=("grant_superior", "issue_issuer_number", "generate_np_review_request"),
        needs_approval=True, article="刑事诉讼法第一百七十九条；公安机关办理刑事案件程序规定第二百九十四条第二款",
        description=_("要求复议的意见不被接受的，可以在收到复议决定书后七日以内提请上一级人民检察院复核；"
                      "上一级人民检察院在三十日以内作出复核决定。"),
        style="warning", custody=("notices",), extra=AFTER_CLOSING,
    ),
    TransitionSpec(
        "keep_non_prosecution_on_review", _("复核维持不起诉决定"), CONTESTABLE, SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, party=SUPERIOR,
        inputs=(REASON,),
        guards=("np_review_pending",),
        clocks=(ClockOp("stop", ClockKind.NP_REVIEW),),
        effects=("issue_issuer_number", "generate_np_review_decision"),
        article="刑事诉讼法第一百七十九条；人民检察院刑事诉讼规则第三百八十条",
        style="secondary", custody=("notices",), extra={**AFTER_CLOSING, "kept": True},
    ),
    TransitionSpec(
        "revoke_non_prosecution_on_review", _("复核撤销不起诉决定"), CONTESTABLE, Stage.PROSECUTION_REVIEW,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, party=SUPERIOR,
        inputs=(REASON,),
        guards=("np_review_pending",),
        clocks=(ClockOp("stop", ClockKind.NP_REVIEW),
                ClockOp("stop", ClockKind.CONDITIONAL_PROBATION),
                ClockOp("restart", ClockKind.REVIEW_PROSECUTION, agency="holder_before")),
        effects=("issue_issuer_number", "generate_np_review_decision"),
        article="刑事诉讼法第一百七十九条；人民检察院刑事诉讼规则第三百八十条",
        description=_("上一级人民检察院复核认为不起诉决定错误的，撤销下级人民检察院的不起诉决定，由其重新审查起诉。"),
        style="danger", custody=("notices",), extra={**AFTER_CLOSING, "kept": False},
    ),
    # Arts. 180-181: the victim's petition (reviewed by the next-higher procuratorate) and the appeal of the
    # person not prosecuted under art. 177(2) (reviewed by the deciding one), each within 7 days of
    # receiving the decision; a late one is examined as a complaint (SPP Rules arts. 381-388).
    TransitionSpec(
        "forward_victim_petition", _("报送被害人申诉"), (Stage.CLOSED,), SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(PETITIONER, RECEIVED_ON, FILED_ON, InputSpec("reason", _("申诉理由"), "textarea")),
        guards=("no_pending_approval", "victim_petition_timely"),
        clocks=(ClockOp("open", ClockKind.NP_PETITION_REVIEW, agency="superior"),),
        effects=("grant_superior",),
        article="刑事诉讼法第一百八十条；人民检察院刑事诉讼规则第三百八十一条、第三百八十七条",
        description=_("被害人不服不起诉决定，在收到不起诉决定书后七日以内申诉的，由上一级人民检察院复查；向本院提出的，"
                      "本院将申诉材料连同案卷报送上一级人民检察院。上一级人民检察院在三个月以内作出复查决定。"),
        style="warning", extra=AFTER_CLOSING,
    ),
    TransitionSpec(
        "register_victim_petition", _("受理被害人申诉（向本院提出）"), (Stage.CLOSED,), SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, party=SUPERIOR,
        inputs=(PETITIONER, RECEIVED_ON, FILED_ON, InputSpec("reason", _("申诉理由"), "textarea")),
        guards=("no_pending_approval", "victim_petition_lodged_above"),
        clocks=(ClockOp("open", ClockKind.NP_PETITION_REVIEW, agency="superior"),),
        article="刑事诉讼法第一百八十条；人民检察院刑事诉讼规则第三百八十一条第一款、第三百八十七条",
        description=_("被害人不服不起诉决定，在收到不起诉决定书后七日以内直接向上一级人民检察院申诉的，由上一级人民检察院"
                      "受理并复查，在三个月以内作出复查决定。"),
        style="warning", extra=AFTER_CLOSING,
    ),
    TransitionSpec(
        "keep_non_prosecution_on_petition", _("复查维持不起诉决定（被害人申诉）"), (Stage.CLOSED,), SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, party=SUPERIOR,
        inputs=(InputSpec("reason", _("复查意见"), "textarea"),),
        guards=("no_pending_approval", "np_petition_pending"),
        clocks=(ClockOp("stop", ClockKind.NP_PETITION_REVIEW),),
        effects=("issue_issuer_number", "generate_np_petition_decision"),
        needs_approval=True,
        article="刑事诉讼法第一百八十条；人民检察院刑事诉讼规则第三百八十一条、第三百八十三条、第三百八十六条",
        description=_("上一级人民检察院经复查维持不起诉决定的，将复查决定书送达被害人、被不起诉人和作出不起诉决定的人民检察院；"
                      "被害人可以向人民法院起诉。"),
        style="secondary", extra={**AFTER_CLOSING, "kept": True},
    ),
    TransitionSpec(
        "revoke_non_prosecution_on_petition", _("复查撤销不起诉决定（被害人申诉）"), (Stage.CLOSED,),
        Stage.PROSECUTION_REVIEW, AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, party=SUPERIOR,
        inputs=(InputSpec("reason", _("复查意见"), "textarea"),),
        guards=("no_pending_approval", "np_petition_pending"),
        clocks=(ClockOp("stop", ClockKind.NP_PETITION_REVIEW),
                ClockOp("restart", ClockKind.REVIEW_PROSECUTION, agency="holder_before")),
        effects=("issue_issuer_number", "generate_np_petition_decision"),
        needs_approval=True,
        article="刑事诉讼法第一百八十条；人民检察院刑事诉讼规则第三百八十三条第二款、第三百八十六条、第三百八十八条",
        description=_("上一级人民检察院经复查作出起诉决定的，撤销下级人民检察院的不起诉决定，交由其提起公诉，"
                      "并将复查决定抄送移送起诉的公安机关。"),
        style="danger", custody=("notices",), extra={**AFTER_CLOSING, "kept": False},
    ),
    TransitionSpec(
        "end_petition_review", _("终止复查（人民法院已受理被害人起诉）"), (Stage.CLOSED,), SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, party=SUPERIOR,
        inputs=(InputSpec("court_notice", _("人民法院受理被害人起诉的通知"), "textarea",
                          help_text=_("受理的人民法院、案号和通知日期；有关案卷材料移送该人民法院。")),),
        guards=("no_pending_approval", "np_petition_pending", "victim_may_sue"),
        clocks=(ClockOp("stop", ClockKind.NP_PETITION_REVIEW),),
        article="刑事诉讼法第一百八十条；人民检察院刑事诉讼规则第三百八十四条",
        description=_("人民检察院收到人民法院受理被害人对被不起诉人起诉的通知后，终止复查，将作出不起诉决定所依据的有关案卷材料"
                      "移送人民法院。"),
        style="secondary", extra=AFTER_CLOSING,
    ),
    TransitionSpec(
        "receive_np_appeal", _("受理被不起诉人申诉"), (Stage.CLOSED,), SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(_persons("persons", _("申诉的被不起诉人"), "suspects", _("留空则为本案全部被不起诉人。")),
                RECEIVED_ON, FILED_ON, InputSpec("reason", _("申诉理由"), "textarea")),
        guards=("no_pending_approval", "np_appeal_timely"),
        clocks=(ClockOp("open", ClockKind.NP_APPEAL_REVIEW),),
        article="刑事诉讼法第一百八十一条；人民检察院刑事诉讼规则第三百八十五条、第三百八十七条",
        description=_("依照刑事诉讼法第一百七十七条第二款被不起诉的人不服，在收到不起诉决定书后七日以内申诉的，"
                      "由本院负责捕诉的部门复查，三个月以内作出复查决定。"),
        style="warning", extra=AFTER_CLOSING,
    ),
    TransitionSpec(
        "receive_late_np_complaint", _("受理逾期申诉"), (Stage.CLOSED,), SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(InputSpec("petitioner_role", _("申诉人身份"), "choice",
                          choices=(("victim", _("被害人")), ("non_prosecuted", _("被不起诉人")))),
                InputSpec("petitioner", _("申诉人"), "text", max_length=60,
                          help_text=_("被害人或者其近亲属、诉讼代理人，或者被不起诉人的姓名。")),
                RECEIVED_ON, FILED_ON, InputSpec("reason", _("申诉理由"), "textarea")),
        guards=("no_pending_approval", "late_np_complaint"),
        clocks=(ClockOp("open", ClockKind.NP_APPEAL_REVIEW),),
        article="人民检察院刑事诉讼规则第三百八十二条、第三百八十五条第一款",
        description=_("被害人、被不起诉人在收到不起诉决定书七日以后提出申诉的，由本院负责控告申诉检察的部门审查："
                      "认为不起诉决定正确的，出具审查结论直接答复申诉人；认为可能存在错误的，移送负责捕诉的部门复查。"),
        style="secondary", extra=AFTER_CLOSING,
    ),
    TransitionSpec(
        "answer_np_complaint", _("出具申诉审查结论"), (Stage.CLOSED,), SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(InputSpec("reason", _("审查意见"), "textarea"),),
        guards=("no_pending_approval", "late_np_complaint_pending"),
        clocks=(ClockOp("stop", ClockKind.NP_APPEAL_REVIEW),),
        effects=("generate_np_complaint_answer",),
        article="人民检察院刑事诉讼规则第三百八十二条、第三百八十五条第一款",
        description=_("经审查认为不起诉决定正确的，出具审查结论直接答复申诉人，并做好释法说理工作。"),
        style="secondary", extra=AFTER_CLOSING,
    ),
    TransitionSpec(
        "keep_non_prosecution_on_appeal", _("复查维持不起诉决定"), (Stage.CLOSED,), SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(InputSpec("reason", _("复查意见"), "textarea"),),
        guards=("no_pending_approval", "np_appeal_pending"),
        clocks=(ClockOp("stop", ClockKind.NP_APPEAL_REVIEW),),
        effects=("issue_issuer_number", "generate_np_appeal_decision"),
        needs_approval=True,
        article="刑事诉讼法第一百八十一条；人民检察院刑事诉讼规则第三百八十五条、第三百八十六条",
        style="secondary", extra={**AFTER_CLOSING, "kept": True},
    ),
    TransitionSpec(
        "revoke_non_prosecution_on_appeal", _("复查撤销不起诉决定"), (Stage.CLOSED,), Stage.PROSECUTION_REVIEW,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(InputSpec("reason", _("复查意见"), "textarea"),),
        guards=("no_pending_approval", "np_appeal_pending"),
        clocks=(ClockOp("stop", ClockKind.NP_APPEAL_REVIEW),
                ClockOp("restart", ClockKind.REVIEW_PROSECUTION)),
        effects=("issue_issuer_number", "generate_np_appeal_decision"),
        needs_approval=True,
        article="刑事诉讼法第一百八十一条；人民检察院刑事诉讼规则第三百八十五条第二款、第三百八十六条、第三百八十八条",
        description=_("经复查发现不起诉决定确有错误、符合起诉条件的，撤销不起诉决定，提起公诉；复查决定书抄送公安机关。"),
        style="danger", custody=("notices",), extra={**AFTER_CLOSING, "kept": False},
    ),
)


# --- police closing: withdrawal of the case, termination for one suspect (art. 163) -------------

CLOSING_GROUND = InputSpec(
    "ground", _("撤销案件的情形"), "choice",
    choices=(("no_crime", _("没有犯罪事实")), ("trivial", _("情节显著轻微、危害不大，不认为是犯罪")),
             ("time_barred", _("犯罪已过追诉时效期限")), ("pardon", _("经特赦令免除刑罚")),
             ("death", _("犯罪嫌疑人死亡")), ("other", _("其他依法不追究刑事责任的情形"))),
    help_text=_("公安机关办理刑事案件程序规定第一百八十六条第一款。"),
)

POLICE_CLOSING_TRANSITIONS: tuple[TransitionSpec, ...] = (
    TransitionSpec(
        "withdraw_case", _("撤销案件"), (Stage.INVESTIGATION, Stage.SUPPLEMENTARY_INVESTIGATION), Stage.CLOSED,
        AgencyKind.POLICE, p.PREPARE_OUTGOING, handover=NOTIFY, recipient=EARLIER_AGENCIES,
        transfer_kind=TransferKind.POLICE_CLOSING,
        inputs=(CLOSING_GROUND, InputSpec("reason", _("撤销案件的事实和理由"), "textarea")),
        guards=("no_pending_approval",),
        clocks=(ClockOp("stop", "*"), ClockOp("open", ClockKind.CLOSING_NOTICE)),
        effects=("issue_withdrawal_number", "issue_release_certificate_numbers", "generate_withdrawal_decision",
                 "generate_release_certificates", "release_detained"),
        needs_approval=True,
        article="刑事诉讼法第一百六十三条；公安机关办理刑事案件程序规定第一百八十六条、第一百八十七条、第一百八十九条、第二百九十六条",
        description=_("发现不应对犯罪嫌疑人追究刑事责任的，经县级以上公安机关负责人批准撤销案件；在押的立即释放，发给释放证明书；"
                      "已逮捕的通知原批准逮捕的人民检察院；补充侦查期间撤销的，通知退查的人民检察院。三日以内告知原犯罪嫌疑人、"
                      "被害人或者其近亲属、法定代理人以及案件移送机关。"),
        style="danger",
        custody=("notices",),
    ),
    TransitionSpec(
        "terminate_investigation", _("终止侦查"), (Stage.INVESTIGATION, Stage.SUPPLEMENTARY_INVESTIGATION), SAME_STAGE,
        AgencyKind.POLICE, p.PREPARE_OUTGOING, handover=NOTIFY, recipient=EARLIER_AGENCIES,
        transfer_kind=TransferKind.POLICE_CLOSING,
        inputs=(_persons("persons", _("终止侦查的犯罪嫌疑人"), "suspects"),
                InputSpec("ground", _("终止侦查的情形"), "choice", choices=(
                    ("not_the_offender", _("犯罪不是该犯罪嫌疑人实施的")),
                    ("not_punishable", _("共同犯罪中该犯罪嫌疑人不够刑事处罚")),
                    ("other", _("其他依法不追究刑事责任的情形")))),
                InputSpec("reason", _("终止侦查的事实和理由"), "textarea")),
        guards=("no_pending_approval", "termination_persons_valid"),
        clocks=(ClockOp("stop", ClockKind.ARREST_REQUEST, per_person=True, persons="persons"),
                ClockOp("stop", ClockKind.DETENTION, per_person=True, persons="persons"),
                ClockOp("stop", ClockKind.INVESTIGATION_CUSTODY, per_person=True, persons="persons"),
                ClockOp("open", ClockKind.CLOSING_NOTICE)),
        effects=("issue_termination_numbers", "issue_release_certificate_numbers", "generate_termination_decision",
                 "generate_release_certificates", "terminate_persons"),
        needs_approval=True,
        article="公安机关办理刑事案件程序规定第一百八十六条第二款、第一百八十七条、第一百八十九条第二款",
        description=_("犯罪不是该犯罪嫌疑人实施的，或者共同犯罪中部分犯罪嫌疑人不够刑事处罚的，对其终止侦查，案件继续侦查；"
                      "在押的立即释放，发给释放证明书，已逮捕的通知原批准逮捕的人民检察院；三日以内告知原犯罪嫌疑人。"),
        style="warning",
        custody=("notices",),
    ),
    TransitionSpec(
        "record_closing_notice", _("登记撤销案件、终止侦查的告知"),
        (Stage.INVESTIGATION, Stage.SUPPLEMENTARY_INVESTIGATION, Stage.CLOSED), SAME_STAGE,
        AgencyKind.POLICE, p.PREPARE_OUTGOING, party=INVESTIGATOR,
        inputs=(InputSpec("notified", _("已告知的人员、方式和日期"), "textarea"),),
        guards=("closing_notice_due",),
        clocks=(ClockOp("stop", ClockKind.CLOSING_NOTICE),),
        article="公安机关办理刑事案件程序规定第一百八十九条",
        style="secondary", custody=("notices",), extra=AFTER_CLOSING,
    ),
)


REGISTER = "register_case"  # the initial transition, run by casehub.cases.services.register_case

TRANSITIONS: tuple[TransitionSpec, ...] = (
    TransitionSpec(
        REGISTER, _("立案"), (), Stage.INVESTIGATION, AgencyKind.POLICE, p.REGISTER_CASE,
        article="刑事诉讼法第一百一十二条",
        description=_("公安机关立案侦查。由立案登记页面执行。"),
    ),
    # --- arrest approval (art. 87–91) ---
    TransitionSpec(
        "request_arrest", _("提请批准逮捕"), (Stage.INVESTIGATION,),
        Stage.ARREST_REQUESTED, AgencyKind.POLICE, p.PREPARE_OUTGOING,
        handover=SEND, recipient=FORWARD, transfer_kind=TransferKind.ARREST_REQUEST,
        inputs=(REASON, ARREST_PERSONS, _forward_to(AgencyKind.PROCURATORATE)),
        guards=("no_pending_approval", "has_arrest_candidate", "arrest_persons_requestable"),
        clocks=(ClockOp("stop", ClockKind.ARREST_REQUEST, per_person=True, persons="persons"),
                ClockOp("open", ClockKind.ARREST_DECISION, agency="recipient", per_person=True, persons="persons")),
        effects=("generate_arrest_request",),
        needs_approval=True, article="刑事诉讼法第八十七条、第九十一条",
        description=_("提请批准逮捕书列明被提请的犯罪嫌疑人；检察院对每一人分别作出决定，"
                      "期限自收到提请之日起计算：被拘留的七日，未被拘留的十五日（重大、复杂的二十日）。"),
        custody=("notices",),
    ),
    TransitionSpec(
        "accept_arrest_request", _("接收提请批捕"), (Stage.ARREST_REQUESTED,), Stage.ARREST_REVIEW,
        AgencyKind.PROCURATORATE, p.REVIEW_INCOMING, party=RECEIVER, handover=ACCEPT,
        guards=("package_verified",), article="刑事诉讼法第八十七条",
    ),
    TransitionSpec(
        "reject_arrest_request", _("退回提请批捕"), (Stage.ARREST_REQUESTED,), SENDER_STAGE,
        AgencyKind.PROCURATORATE, p.REVIEW_INCOMING, party=RECEIVER, handover=REJECT, inputs=(REASON,),
        clocks=(ClockOp("stop", ClockKind.ARREST_DECISION, per_person=True, persons="@arrest_request"),
                ClockOp("reopen", ClockKind.ARREST_REQUEST, per_person=True, persons="@arrest_request")),
        style="danger",
        custody=("cancel_certificates", "notices"),
    ),
    TransitionSpec(
        "withdraw_arrest_request", _("撤回提请批捕"), (Stage.ARREST_REQUESTED,), SENDER_STAGE,
        AgencyKind.POLICE, p.PREPARE_OUTGOING, party=SENDER, handover=WITHDRAW, inputs=(REASON,),
        clocks=(ClockOp("stop", ClockKind.ARREST_DECISION, per_person=True, persons="@arrest_request"),
                ClockOp("reopen", ClockKind.ARREST_REQUEST, per_person=True, persons="@arrest_request")),
        style="secondary",
        custody=("cancel_certificates", "notices"),
    ),
    TransitionSpec(
        "approve_arrest", _("批准逮捕"), (Stage.ARREST_REVIEW,), Stage.INVESTIGATION,
        AgencyKind.PROCURATORATE, p.DECIDE_ARREST, handover=DELIVER, recipient=BACK_TO_SENDER,
        transfer_kind=TransferKind.ARREST_DECISION,
        inputs=(APPROVED_PERSONS, REFUSED_PERSONS, AFTER_REFUSAL, OPTIONAL_REASON),
        guards=("no_pending_approval", "arrest_persons_decided"),
        clocks=(ClockOp("stop", ClockKind.ARREST_DECISION, per_person=True, persons="persons"),
                ClockOp("stop", ClockKind.ARREST_DECISION, per_person=True, persons="refused"),
                ClockOp("open", ClockKind.INVESTIGATION_CUSTODY, agency="recipient", per_person=True,
                        persons="persons")),
        effects=("issue_arrest_decision_number", "generate_arrest_approval", "generate_arrest_refusal",
                 "mark_suspects_arrested", "release_refused"),
        needs_approval=True, article="刑事诉讼法第八十条、第九十条、第九十一条、第一百五十六条",
        description=_("对提请的每一名犯罪嫌疑人分别决定：批准的执行逮捕，侦查羁押期限自逮捕之日起计算；"
                      "同时不批准的人员立即释放或变更强制措施。其他人员不受影响。"),
        extra={"approved": "persons", "refused": "refused"},
        custody=("notices",),
    ),
    TransitionSpec(
        "refuse_arrest", _("不批准逮捕"), (Stage.ARREST_REVIEW,), Stage.INVESTIGATION,
        AgencyKind.PROCURATORATE, p.DECIDE_ARREST, handover=DELIVER, recipient=BACK_TO_SENDER,
        transfer_kind=TransferKind.ARREST_DECISION, inputs=(REFUSED_ALL, AFTER_REFUSAL, REASON),
        guards=("no_pending_approval", "arrest_persons_decided"),
        clocks=(ClockOp("stop", ClockKind.ARREST_DECISION, per_person=True, persons="persons"),),
        effects=("issue_arrest_decision_number", "generate_arrest_refusal", "release_refused"),
        needs_approval=True, article="刑事诉讼法第九十条、第九十一条", style="danger",
        description=_("不批准逮捕的人员立即释放（或取保候审、监视居住）；其他犯罪嫌疑人不受影响。"),
        extra={"refused": "persons"},
        custody=("notices",),
    ),
    # --- transfer for review and prosecution (art. 162, 172) ---
    TransitionSpec(
        "transfer_for_review", _("移送审查起诉"), (Stage.INVESTIGATION,), Stage.REVIEW_REQUESTED,
        AgencyKind.POLICE, p.PREPARE_OUTGOING, handover=SEND, recipient=FORWARD,
        transfer_kind=TransferKind.REVIEW_TRANSFER,
        inputs=(
            InputSpec("facts", _("经依法侦查查明的犯罪事实"), "textarea"),
            InputSpec("evidence", _("证据清单（每行一项）"), "textarea"),
            InputSpec("legal_basis", _("法律依据"), "textarea", required=False),
            _forward_to(AgencyKind.PROCURATORATE),
        ),
        guards=("no_pending_approval", "has_suspect", "has_main_documents"),
        effects=("issue_recommendation_number", "generate_prosecution_recommendation"),
        needs_approval=True, article="刑事诉讼法第一百六十二条",
        description=_("随案移送起诉意见书、案卷材料和证据。"),
        custody=("issue_certificates",),
    ),
    TransitionSpec(
        "resubmit_for_review", _("补充侦查完毕重新移送"), (Stage.SUPPLEMENTARY_INVESTIGATION,),
        Stage.REVIEW_REQUESTED, AgencyKind.POLICE, p.PREPARE_OUTGOING, handover=SEND, recipient=BACK_TO_SENDER,
        transfer_kind=TransferKind.REVIEW_TRANSFER,
        inputs=(InputSpec("reason", _("补充侦查情况"), "textarea"),),
        guards=("no_pending_approval", "has_main_documents"),
        clocks=(ClockOp("stop", ClockKind.SUPPLEMENTARY_INVESTIGATION),),
        needs_approval=True, article="刑事诉讼法第一百七十五条",
        custody=("issue_certificates", "notices"),
    ),
    TransitionSpec(
        "accept_review_transfer", _("受理审查起诉"), (Stage.REVIEW_REQUESTED,), Stage.PROSECUTION_REVIEW,
        AgencyKind.PROCURATORATE, p.REVIEW_INCOMING, party=RECEIVER, handover=ACCEPT,
        guards=("package_verified", "custody_ready"),
        clocks=(ClockOp("stop", "*", agency="sender"), ClockOp("restart", ClockKind.REVIEW_PROSECUTION)),
        effects=("issue_review_number",),
        article="刑事诉讼法第一百七十二条、第一百七十五条",
        description=_("审查起诉期限一个月；补充侦查后重新移送的，重新计算。"),
        custody=("take_over", "notices"),
    ),
    TransitionSpec(
        "reject_review_transfer", _("不予受理（退回移送）"), (Stage.REVIEW_REQUESTED,), SENDER_STAGE,
        AgencyKind.PROCURATORATE, p.REVIEW_INCOMING, party=RECEIVER, handover=REJECT,
        inputs=(InputSpec("reason", _("退回理由（如卷宗不齐全、管辖错误）"), "textarea"),), style="danger",
        custody=("cancel_certificates",),
    ),
    TransitionSpec(
        "withdraw_review_transfer", _("撤回移送"), (Stage.REVIEW_REQUESTED,), SENDER_STAGE,
        AgencyKind.POLICE, p.PREPARE_OUTGOING, party=SENDER, handover=WITHDRAW, inputs=(REASON,),
        style="secondary",
        custody=("cancel_certificates",),
    ),
    TransitionSpec(
        "extend_review", _("延长审查起诉期限"), (Stage.PROSECUTION_REVIEW,), Stage.PROSECUTION_REVIEW,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(InputSpec("decision", _("延长的理由"), "textarea",
                          help_text=_("重大、复杂案件的理由；决定书文号由系统编号。")),),
        guards=("no_pending_approval", "review_not_extended", "review_not_fast_track"),
        clocks=(ClockOp("extend", ClockKind.REVIEW_PROSECUTION, days=15),),
        effects=("issue_review_extension_number", "generate_review_extension"),
        needs_approval=True, article="刑事诉讼法第一百七十二条", style="secondary",
        custody=("notices",),
    ),
    TransitionSpec(
        "return_for_supplementary", _("退回补充侦查"), (Stage.PROSECUTION_REVIEW,),
        Stage.SUPPLEMENTARY_INVESTIGATION, AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        handover=DELIVER, recipient=BACK_TO_SENDER, transfer_kind=TransferKind.SUPPLEMENTARY_RETURN,
        inputs=(InputSpec("reason", _("补充侦查提纲"), "textarea"),),
        guards=("no_pending_approval", "fewer_than_two_returns"),
        clocks=(ClockOp("stop", ClockKind.REVIEW_PROSECUTION),
                ClockOp("open", ClockKind.SUPPLEMENTARY_INVESTIGATION, agency="recipient")),
        effects=("issue_supplementary_return_number", "generate_supplementary_return"),
        needs_approval=True, article="刑事诉讼法第一百七十五条", style="warning",
        custody=("issue_certificates", "take_over_at_once", "notices"),
    ),
    TransitionSpec(
        "decide_non_prosecution", _("不起诉"), (Stage.PROSECUTION_REVIEW,), Stage.CLOSED,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, handover=NOTIFY, recipient=EARLIER_AGENCIES,
        transfer_kind=TransferKind.NON_PROSECUTION,
        inputs=(InputSpec("facts", _("经审查查明的事实"), "textarea"),
                InputSpec("legal_basis", _("不起诉的法律依据"), "textarea"),
                NON_PROSECUTION_KIND),
        guards=("no_pending_approval", "non_prosecution_kind_allowed"),
        clocks=(ClockOp("stop", "*"),),
        effects=("issue_non_prosecution_number", "generate_non_prosecution_decision", "release_detained",
                 "inform_superior"),
        needs_approval=True, article="刑事诉讼法第一百七十五条第四款、第一百七十七条、第一百七十八条",
        style="danger",
        custody=("notices",),
    ),
    # --- indictment and court (art. 176, 186, 208, 202) ---
    TransitionSpec(
        "indict", _("提起公诉"), (Stage.PROSECUTION_REVIEW,), Stage.COURT_FILING,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, handover=SEND, recipient=FORWARD,
        transfer_kind=TransferKind.INDICTMENT,
        inputs=(InputSpec("facts", _("起诉书认定的犯罪事实"), "textarea"),
                InputSpec("charges", _("指控罪名及法律依据"), "textarea"),
                InputSpec("sentencing", _("量刑建议"), "textarea", required=False,
                          help_text=_("写入起诉书（《人民检察院刑事诉讼规则》第二百七十四条）。已记录认罪认罚的，"
                                      "各被告人的量刑建议取自认罪认罚记录。")),
                SENTENCING_FORM, PROCEDURE,
                InputSpec("new_grounds", _("撤回起诉后再行起诉的新的事实或者新的证据"), "textarea", required=False,
                          help_text=_("仅在本案曾撤回起诉时填写：没有新的事实或者新的证据，不得再行起诉"
                                      "（《人民检察院刑事诉讼规则》第四百二十四条）。")),
                _forward_to(AgencyKind.COURT)),
        guards=("no_pending_approval", "has_suspect", "has_main_documents", "procedure_fits_plea",
                "new_grounds_after_withdrawal", "not_to_the_court_that_declined"),
        clocks=(ClockOp("stop", ClockKind.REVIEW_PROSECUTION), ClockOp("stop", ClockKind.WITHDRAWN_PROSECUTION),
                ClockOp("open", ClockKind.COURT_ACCEPTANCE, agency="recipient")),
        effects=("issue_indictment_number", "generate_indictment", "generate_sentencing_recommendation"),
        needs_approval=True, article="刑事诉讼法第一百七十六条",
        custody=("issue_certificates", "notices"),
    ),
    TransitionSpec(
        "docket_case", _("立案受理并编立案号"), (Stage.COURT_FILING,), Stage.TRIAL,
        AgencyKind.COURT, p.DOCKET_CASE, party=RECEIVER, handover=ACCEPT,
        inputs=(InputSpec("type_code", _("案件类型代字"), "choice", required=False,
                          choices=(("刑初", _("刑初（第一审公诉案件）")),), default="刑初",
                          help_text=_("提起公诉的案件编“刑初”字号；“刑终”只用于上诉、抗诉的第二审案件。")),
                PROCEDURE),
        guards=("package_verified", "custody_ready"),
        clocks=(ClockOp("stop", "*", agency="sender"), ClockOp("stop", ClockKind.COURT_ACCEPTANCE),
                ClockOp("open", trial.TRIAL_PERIOD),
                ClockOp("open", ClockKind.COURT_MEASURE_DECISION, per_person=True, persons="@on_measure")),
        effects=("issue_docket_number",),
        article="刑事诉讼法第一百八十六条、第二百零八条、第二百二十条、第二百二十五条",
        description=_("审理期限按审判程序计算：速裁程序十日、简易程序二十日、普通程序二个月，自受理之日起计算。"),
        custody=("take_over", "notices"),
    ),
    TransitionSpec(
        "reject_indictment", _("不予立案（退回起诉）"), (Stage.COURT_FILING,), SENDER_STAGE,
        AgencyKind.COURT, p.DOCKET_CASE, party=RECEIVER, handover=REJECT, inputs=(REASON,),
        clocks=(ClockOp("stop", ClockKind.COURT_ACCEPTANCE), ClockOp("reopen", ClockKind.REVIEW_PROSECUTION)),
        style="danger",
        description=_("退回的起诉不重新计算审查起诉期限：检察院原期限继续计算；羁押权属未转移，法院不发羁押期限变更通知。"),
        custody=("cancel_certificates",),
    ),
    TransitionSpec(
        "withdraw_indictment", _("撤回起诉"), (Stage.COURT_FILING,), SENDER_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, party=SENDER, handover=WITHDRAW, inputs=(REASON,),
        clocks=(ClockOp("stop", ClockKind.COURT_ACCEPTANCE), ClockOp("reopen", ClockKind.REVIEW_PROSECUTION)),
        style="secondary",
        description=_("立案前撤回起诉不重新计算审查起诉期限：原期限继续计算。"),
        custody=("cancel_certificates",),
    ),
    TransitionSpec(
        "announce_judgment", _("宣告判决"), (Stage.TRIAL,), Stage.JUDGMENT_DELIVERY,
        AgencyKind.COURT, p.DELIVER_JUDGMENT,
        inputs=(InputSpec("announced_on", _("宣判日期"), "date"),
                InputSpec("in_court", _("宣判方式"), "choice",
                          choices=(("yes", _("当庭宣判")), ("no", _("定期宣判"))), default="yes"),
                InputSpec("verdict", _("判决主文"), "textarea",
                          help_text=_("已为每名被告人记录判决结果的，判决书按记录逐人写明判决主文。"))),
        guards=("announced_not_in_future",),
        effects=("generate_judgment", "release_on_announcement"),
        clocks=(ClockOp("stop", trial.TRIAL_PERIOD), ClockOp("open", ClockKind.JUDGMENT_DELIVERY)),
        article="刑事诉讼法第二百零二条、第二百零八条、第二百六十条；最高人民法院解释第一百七十条",
        description=_("当庭宣判的，五日以内送达判决书；定期宣判的，宣判后立即送达。在押被告人被判决无罪、免除刑事处罚，"
                      "或者被判处管制、宣告缓刑、单处附加刑，或者羁押时间已到判处的刑期的，宣判后立即释放。"),
        custody=("notices",),
    ),
    TransitionSpec(
        "deliver_judgment", _("送达判决书"), (Stage.JUDGMENT_DELIVERY,), Stage.APPEAL_PERIOD,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, handover=NOTIFY, recipient=EARLIER_AGENCIES,
        transfer_kind=TransferKind.JUDGMENT,
        inputs=(InputSpec("received_on", _("被告人收到判决书的日期"), "date", required=False,
                          help_text=_("上诉、抗诉期限从接到判决书的第二日起算；留空为今天。")),
                OPTIONAL_REASON),
        guards=("received_after_announcement",),
        clocks=(ClockOp("stop", ClockKind.JUDGMENT_DELIVERY), ClockOp("stop", ClockKind.JUDGMENT_DELIVERY_IMMEDIATE),
                ClockOp("open", ClockKind.APPEAL_PERIOD, per_person=True, persons="@defendants")),
        article="刑事诉讼法第二百零二条、第二百三十条",
        description=_("判决书送达人民检察院和公安机关；每名被告人的上诉、抗诉期限为十日，从接到判决书的第二日起算。"),
        custody=("notices",),
    ),
)

# --- first-instance trial procedures and their periods (arts. 204-208, 220-226) ---------------
# workflows.trial says how each procedure's period is counted; "@trial" is its clock.

TRIAL_TRANSITIONS: tuple[TransitionSpec, ...] = (
    TransitionSpec(
        "convert_procedure", _("变更审判程序"), (Stage.TRIAL,), Stage.TRIAL, AgencyKind.COURT, p.DELIVER_JUDGMENT,
        inputs=(InputSpec("procedure", _("转为"), "choice", choices=trial.PROCEDURES[:2]), REASON),
        guards=("no_pending_approval", "procedure_convertible"),
        clocks=(ClockOp("stop", trial.TRIAL_PERIOD), ClockOp("open", trial.TRIAL_PERIOD)),
        article="刑事诉讼法第二百二十一条、第二百二十六条；最高人民法院解释第三百六十八条、第三百七十六条",
        description=_("速裁程序可转为简易程序或普通程序，简易程序可转为普通程序；审理期限自作出决定之日起按新程序重新计算。"),
        style="secondary", custody=("notices",),
    ),
    TransitionSpec(
        "extend_trial", _("延长审理期限（本院）"), (Stage.TRIAL,), Stage.TRIAL, AgencyKind.COURT, p.DELIVER_JUDGMENT,
        inputs=(InputSpec("decision", _("延长的理由（可能判处的刑罚）"), "textarea"),),
        guards=("no_pending_approval", "trial_extension_allowed"),
        effects=("generate_trial_extension",),
        clocks=(ClockOp("extend", trial.TRIAL_PERIOD),),
        needs_approval=True, article="刑事诉讼法第二百零八条、第二百二十条、第二百二十五条",
        description=_("由本院决定：速裁程序延长至十五日（可能判处的有期徒刑超过一年），简易程序延长至一个半月"
                      "（超过三年），普通程序延长至三个月。"),
        style="secondary", custody=("notices",),
    ),
    TransitionSpec(
        "request_higher_extension", _("报请上一级人民法院批准延长审理期限"), (Stage.TRIAL,), Stage.TRIAL,
        AgencyKind.COURT, p.DELIVER_JUDGMENT,
        inputs=(InputSpec("ground", _("延长的事由"), "choice", choices=trial.HIGHER_GROUNDS), REASON),
        guards=("no_pending_approval", "higher_extension_requestable"),
        effects=("grant_higher_court",),
        needs_approval=True, article="刑事诉讼法第二百零八条；最高人民法院解释第二百一十条",
        description=_("可能判处死刑、附带民事诉讼或者有第一百五十八条情形之一的普通程序案件，经上一级人民法院批准，"
                      "可以延长三个月，限一次；应当在期限届满十五日以前报请。"),
        style="secondary",
    ),
    TransitionSpec(
        "approve_higher_extension", _("批准延长审理期限"), (Stage.TRIAL,), Stage.TRIAL,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, party=HIGHER,
        inputs=(InputSpec("decision", _("批准决定（文号）"), "text"),),
        guards=("higher_extension_pending",),
        effects=("generate_higher_extension",),
        clocks=(ClockOp("extend", trial.TRIAL_PERIOD),),
        article="刑事诉讼法第二百零八条；最高人民法院解释第二百一十条",
        description=_("上一级人民法院批准延长审理期限三个月。"), custody=("notices",),
    ),
    TransitionSpec(
        "refuse_higher_extension", _("不批准延长审理期限"), (Stage.TRIAL,), Stage.TRIAL,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, party=HIGHER, inputs=(REASON,),
        guards=("higher_extension_pending",),
        article="最高人民法院解释第二百一十条", style="danger",
        description=_("不同意延长的，应当在审理期限届满五日以前作出决定。"),
    ),
    TransitionSpec(
        "record_higher_extension", _("登记上一级人民法院批准延长审理期限（纸质批复）"), (Stage.TRIAL,), Stage.TRIAL,
        AgencyKind.COURT, p.DELIVER_JUDGMENT,
        inputs=(InputSpec("ground", _("延长的事由"), "choice", choices=trial.HIGHER_GROUNDS),
                InputSpec("requested_on", _("本院报请日期"), "date",
                          help_text=_("应当在审理期限届满十五日以前报请（最高人民法院解释第二百一十条）。")),
                InputSpec("decision", _("上一级人民法院批准文号"), "text"), APPROVED_ON),
        guards=("no_pending_approval", "higher_approval_on_paper", "approval_date_valid", "paper_request_in_time"),
        effects=("generate_approved_extension",),
        clocks=(ClockOp("extend", trial.TRIAL_PERIOD),),
        article="刑事诉讼法第二百零八条；最高人民法院解释第二百一十条",
        description=_("上一级人民法院不在本平台的，本院登记收到的纸质批复（文号、日期），并作出延长审理期限决定书（三个月，限一次）。"),
        style="secondary", custody=("notices",),
    ),
    TransitionSpec(
        "record_spc_extension", _("登记最高人民法院批准延长审理期限"), (Stage.TRIAL,), Stage.TRIAL,
        AgencyKind.COURT, p.DELIVER_JUDGMENT,
        inputs=(InputSpec("months", _("延长月数（一至三个月）"), "int"),
                InputSpec("decision", _("最高人民法院批准文号"), "text"), APPROVED_ON),
        guards=("no_pending_approval", "spc_extension_allowed", "approval_date_valid"),
        effects=("generate_approved_extension",),
        clocks=(ClockOp("extend", trial.TRIAL_PERIOD),),
        article="刑事诉讼法第二百零八条；最高人民法院解释第二百一十条",
        description=_("上一级人民法院批准延长后因特殊情况还需要延长的，经最高人民法院批准，每次延长一至三个月。"),
        style="secondary", custody=("notices",),
    ),
    TransitionSpec(
        "postpone_for_supplementary", _("延期审理（补充侦查）"), (Stage.TRIAL,), Stage.TRIAL_SUPPLEMENTARY,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, handover=DELIVER, recipient=BACK_TO_SENDER,
        transfer_kind=TransferKind.TRIAL_SUPPLEMENTARY,
        inputs=(InputSpec("reason", _("检察院延期审理建议（文号及理由）"), "textarea"),),
        guards=("no_pending_approval", "fewer_than_two_postponements"),
        clocks=(ClockOp("stop", trial.TRIAL_PERIOD),
                ClockOp("open", ClockKind.TRIAL_SUPPLEMENTARY, agency="recipient")),
        article="刑事诉讼法第二百零四条第二项、第二百零五条；最高人民法院解释第二百七十四条",
        description=_("检察院建议补充侦查的，合议庭同意后延期审理，不得超过两次；检察院应当在一个月以内补充侦查完毕。"
                      "审理期限停止计算，补充侦查完毕移送法院后重新计算（第二百零八条第三款）。"),
        style="warning", custody=("issue_certificates", "take_over_at_once", "notices"),
    ),
    TransitionSpec(
        "return_after_supplementary", _("补充侦查完毕移送人民法院"), (Stage.TRIAL_SUPPLEMENTARY,), Stage.TRIAL,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, handover=DELIVER, recipient=BACK_TO_SENDER,
        transfer_kind=TransferKind.SUPPLEMENTARY_EVIDENCE,
        inputs=(InputSpec("reason", _("补充侦查情况"), "textarea"),),
        guards=("no_pending_approval", "no_withdrawal_pending_to_resume"),
        clocks=(ClockOp("stop", ClockKind.TRIAL_SUPPLEMENTARY), ClockOp("open", trial.TRIAL_PERIOD)),
        article="刑事诉讼法第二百零五条、第二百零八条第三款",
        description=_("人民法院收到补充侦查的案件后重新计算审理期限。"),
        custody=("issue_certificates", "take_over_at_once", "notices"),
    ),
    TransitionSpec(
        "suspend_trial", _("中止审理"), (Stage.TRIAL,), Stage.TRIAL_SUSPENDED, AgencyKind.COURT, p.DELIVER_JUDGMENT,
        inputs=(InputSpec("ground", _("中止审理的事由"), "choice", choices=trial.SUSPENSION_GROUNDS), REASON),
        guards=("no_pending_approval",),
        clocks=(ClockOp("pause", trial.TRIAL_PERIOD),),
        article="刑事诉讼法第二百零六条、第一百四十九条",
        description=_("中止审理的期间不计入审理期限；恢复审理后继续计算剩余的期限。"),
        style="warning", custody=("notices",),
    ),
    TransitionSpec(
        "resume_trial", _("恢复审理"), (Stage.TRIAL_SUSPENDED,), Stage.TRIAL, AgencyKind.COURT, p.DELIVER_JUDGMENT,
        inputs=(OPTIONAL_REASON,),
        clocks=(ClockOp("resume", trial.TRIAL_PERIOD),),
        article="刑事诉讼法第二百零六条第二款",
        description=_("中止审理的原因消失后恢复审理，审理期限继续计算。"), custody=("notices",),
    ),
)

TRANSITIONS = TRANSITIONS + TRIAL_TRANSITIONS


# --- at the court's door and before judgment: material, withdrawal of the prosecution ------------
# workflows.court_door says what they check and generate.

COURT_DOOR_TRANSITIONS: tuple[TransitionSpec, ...] = (
    TransitionSpec(
        "request_court_material", _("通知补送材料"), (Stage.COURT_FILING,), SAME_STAGE,
        AgencyKind.COURT, p.DOCKET_CASE, party=RECEIVER,
        inputs=(InputSpec("material", _("需要补送的材料"), "textarea"),),
        guards=("no_material_requested",),
        clocks=(ClockOp("open", ClockKind.COURT_MATERIAL, agency="holder_before"),),
        article="最高人民法院解释第二百一十八条、第二百一十九条第一款第四项",
        description=_("起诉材料不全的，通知人民检察院在三日以内补送；案件仍在人民法院受理审查，受理审查期限不重新计算。"),
        style="secondary", custody=("notices",),
    ),
    TransitionSpec(
        "supply_court_material", _("补送材料"), (Stage.COURT_FILING,), SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, party=SENDER,
        inputs=(InputSpec("supplied", _("补送的材料"), "textarea",
                          help_text=_("补送的文书请先上传至本案卷宗。")),),
        guards=("material_requested",),
        clocks=(ClockOp("stop", ClockKind.COURT_MATERIAL),),
        article="最高人民法院解释第二百一十九条第一款第四项",
        description=_("人民检察院在三日以内补送人民法院要求的材料。"), custody=("notices",),
    ),
    TransitionSpec(
        "request_prosecution_withdrawal", _("撤回起诉"), (Stage.TRIAL, Stage.TRIAL_SUSPENDED), SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, party=PROSECUTING,
        inputs=(InputSpec("ground", _("撤回起诉的情形"), "choice", choices=court_door.WITHDRAWAL_GROUNDS), REASON),
        guards=("no_pending_approval", "no_withdrawal_pending"),
        effects=("generate_prosecution_withdrawal",),
        needs_approval=True, article="人民检察院刑事诉讼规则第四百二十四条、第四百二十六条",
        description=_("人民法院宣告判决前，有第四百二十四条第一款情形之一的，经检察长批准，以书面方式撤回起诉，"
                      "由人民法院裁定是否准许。"),
        style="danger",
    ),
    TransitionSpec(
        "permit_prosecution_withdrawal", _("裁定准许撤回起诉"), (Stage.TRIAL, Stage.TRIAL_SUSPENDED),
        Stage.PROSECUTION_REVIEW, AgencyKind.COURT, p.DELIVER_JUDGMENT, handover=DELIVER, recipient=BACK_TO_SENDER,
        transfer_kind=TransferKind.PROSECUTION_WITHDRAWAL, inputs=(OPTIONAL_REASON,),
        guards=("no_pending_approval", "withdrawal_requested"),
        effects=("generate_prosecution_withdrawal_ruling",),
        clocks=(ClockOp("stop", trial.TRIAL_PERIOD),
                ClockOp("open", ClockKind.WITHDRAWN_PROSECUTION, agency="recipient")),
        article="最高人民法院解释第二百九十六条；人民检察院刑事诉讼规则第四百二十四条第二款",
        description=_("准许撤回起诉的，案件连同在押被告人退回人民检察院；人民检察院应当在撤回起诉后三十日以内作出不起诉决定，"
                      "没有新的事实或者新的证据不得再行起诉。审查起诉期限不重新计算。"),
        style="warning", custody=("issue_certificates", "take_over_at_once", "notices"),
    ),
    TransitionSpec(
        "refuse_prosecution_withdrawal", _("裁定不准许撤回起诉"), (Stage.TRIAL, Stage.TRIAL_SUSPENDED), SAME_STAGE,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, inputs=(REASON,),
        guards=("withdrawal_requested",),
        effects=("generate_prosecution_withdrawal_ruling",),
        article="最高人民法院解释第二百九十六条",
        description=_("撤回起诉的理由不成立的，裁定不准许撤回起诉，本案继续审理，审理期限继续计算。"),
        style="secondary",
    ),
)


# SPP Rules 2019 art. 421: during a postponement for supplementary investigation the procuratorate,
# which holds the case, asks to resume the trial (return_after_supplementary) or withdraws the
# prosecution; the court that postponed the trial rules on it (SPC Interpretation art. 296).
COURT_DOOR_TRANSITIONS = COURT_DOOR_TRANSITIONS + (
    TransitionSpec(
        "request_withdrawal_in_supplementary", _("撤回起诉（补充侦查期间）"), (Stage.TRIAL_SUPPLEMENTARY,), SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION,
        inputs=(InputSpec("ground", _("撤回起诉的情形"), "choice", choices=court_door.WITHDRAWAL_GROUNDS), REASON),
        guards=("no_pending_approval", "no_withdrawal_pending"),
        effects=("generate_prosecution_withdrawal",),
        needs_approval=True, article="人民检察院刑事诉讼规则第四百二十一条、第四百二十四条、第四百二十六条",
        description=_("法庭宣布延期审理后，人民检察院在补充侦查期限内提请恢复法庭审理或者撤回起诉；"
                      "撤回起诉经检察长批准，由决定延期审理的人民法院裁定是否准许。"),
        style="danger",
    ),
    TransitionSpec(
        "permit_withdrawal_in_supplementary", _("裁定准许撤回起诉（补充侦查期间）"), (Stage.TRIAL_SUPPLEMENTARY,),
        Stage.PROSECUTION_REVIEW, AgencyKind.COURT, p.DELIVER_JUDGMENT, party=TRIAL_COURT, inputs=(OPTIONAL_REASON,),
        guards=("withdrawal_requested",),
        effects=("generate_prosecution_withdrawal_ruling",),
        clocks=(ClockOp("stop", ClockKind.TRIAL_SUPPLEMENTARY),
                ClockOp("open", ClockKind.WITHDRAWN_PROSECUTION, agency="holder_before")),
        article="最高人民法院解释第二百九十六条；人民检察院刑事诉讼规则第四百二十一条、第四百二十四条第二款",
        description=_("准许撤回起诉的，补充侦查期限停止计算；案件和在押被告人已在人民检察院，人民检察院应当在三十日以内"
                      "作出不起诉决定，羁押期限变更通知由人民检察院发出。"),
        style="warning", custody=("notices",), extra={"notices_by_holder": True},
    ),
    TransitionSpec(
        "refuse_withdrawal_in_supplementary", _("裁定不准许撤回起诉（补充侦查期间）"), (Stage.TRIAL_SUPPLEMENTARY,),
        SAME_STAGE, AgencyKind.COURT, p.DELIVER_JUDGMENT, party=TRIAL_COURT, inputs=(REASON,),
        guards=("withdrawal_requested",),
        effects=("generate_prosecution_withdrawal_ruling",),
        article="最高人民法院解释第二百九十六条",
        description=_("不准许撤回起诉的，补充侦查继续，人民检察院在补充侦查期限内提请恢复法庭审理。"),
        style="secondary",
    ),
)

TRANSITIONS = TRANSITIONS + COURT_DOOR_TRANSITIONS


# --- change of jurisdiction: the court's return for lack of jurisdiction, procuratorate to procuratorate --
# workflows.jurisdiction says what they check.

JURISDICTION_TRANSITIONS: tuple[TransitionSpec, ...] = (
    TransitionSpec(
        jurisdiction.RETURN, _("退回起诉（不属于本院管辖）"), (Stage.COURT_FILING,), SENDER_STAGE,
        AgencyKind.COURT, p.DOCKET_CASE, party=RECEIVER, handover=REJECT,
        inputs=(InputSpec("competent_court", _("有管辖权的人民法院"), "agency", required=False,
                          agency_kind=AgencyKind.COURT),
                InputSpec("reason", _("不属于本院管辖的理由"), "textarea")),
        clocks=(ClockOp("stop", ClockKind.COURT_ACCEPTANCE), ClockOp("reopen", ClockKind.REVIEW_PROSECUTION),
                ClockOp("open", ClockKind.JURISDICTION_HANDOVER, agency="holder_before")),
        article="最高人民法院解释第二百一十九条第一款第一项；人民检察院刑事诉讼规则第三百二十八条、第三百九十一条",
        description=_("不属于本院管辖的，退回人民检察院；提起公诉的人民检察院在五日以内将案件移送与审判管辖相对应的人民检察院。"
                      "审查起诉期限不重新计算，羁押权属未转移，人民法院不发羁押期限变更通知。"),
        style="danger", custody=("cancel_certificates",),
    ),
    TransitionSpec(
        "transfer_jurisdiction", _("移送管辖"), (Stage.PROSECUTION_REVIEW,), Stage.JURISDICTION_TRANSFER,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, handover=SEND, recipient=JURISDICTION,
        transfer_kind=TransferKind.JURISDICTION_TRANSFER,
        inputs=(InputSpec("to_agency", _("有管辖权的人民检察院"), "agency", agency_kind=AgencyKind.PROCURATORATE),
                InputSpec("reason", _("不属于本院管辖的理由"), "textarea")),
        guards=("no_pending_approval", "jurisdiction_recipient_valid"),
        clocks=(ClockOp("stop", ClockKind.JURISDICTION_HANDOVER),),
        effects=("notify_transferring_police",),
        article="刑事诉讼法第一百七十二条第二款；人民检察院刑事诉讼规则第三百二十八条、第三百九十一条",
        description=_("经审查认为不属于本院管辖的，移送有管辖权的人民检察院（属于上级人民法院管辖的第一审案件，报送上级人民检察院），"
                      "同时通知移送起诉的公安机关；犯罪嫌疑人随案换押；审查起诉期限从改变后的人民检察院收到案件之日起计算。"),
        style="warning", custody=("issue_certificates",),
    ),
    TransitionSpec(
        "accept_jurisdiction_transfer", _("受理移送管辖的案件"), (Stage.JURISDICTION_TRANSFER,),
        Stage.PROSECUTION_REVIEW, AgencyKind.PROCURATORATE, p.REVIEW_INCOMING, party=RECEIVER, handover=ACCEPT,
        guards=("package_verified", "custody_ready"),
        clocks=(ClockOp("stop", "*", agency="sender"), ClockOp("restart", ClockKind.REVIEW_PROSECUTION)),
        effects=("issue_review_number",),
        article="刑事诉讼法第一百七十二条第二款；人民检察院刑事诉讼规则第三百二十八条",
        description=_("改变管辖的，从改变后的人民检察院收到案件之日起计算审查起诉期限；移送的人民检察院的期限停止计算。"),
        custody=("take_over", "notices"),
    ),
    TransitionSpec(
        "reject_jurisdiction_transfer", _("不接受移送管辖"), (Stage.JURISDICTION_TRANSFER,), SENDER_STAGE,
        AgencyKind.PROCURATORATE, p.REVIEW_INCOMING, party=RECEIVER, handover=REJECT, inputs=(REASON,),
        article="人民检察院刑事诉讼规则第三百二十八条", style="danger",
        description=_("退回的案件由移送的人民检察院继续审查，其审查起诉期限继续计算。"),
        custody=("cancel_certificates",),
    ),
    TransitionSpec(
        "withdraw_jurisdiction_transfer", _("撤回移送管辖"), (Stage.JURISDICTION_TRANSFER,), SENDER_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, party=SENDER, handover=WITHDRAW, inputs=(REASON,),
        style="secondary", custody=("cancel_certificates",),
    ),
)

TRANSITIONS = TRANSITIONS + JURISDICTION_TRANSITIONS


# --- bail and residential surveillance, decided anew by each authority (art. 79) ------------------
# workflows.measures keeps one period per decision.

MEASURE_PERSONS = _persons("persons", _("被取保候审、监视居住的人员"), "on_measure", _("留空则为全部被取保候审、监视居住的人员。"))
MEASURE = InputSpec("measure", _("决定"), "choice", choices=measures.MEASURE_CHOICES)

MEASURE_TRANSITIONS: tuple[TransitionSpec, ...] = (
    TransitionSpec(
        "redecide_measure", _("重新作出取保候审、监视居住决定"), (Stage.PROSECUTION_REVIEW,), SAME_STAGE,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, inputs=(MEASURE_PERSONS, MEASURE, REASON),
        guards=("measure_persons_valid",), effects=("redecide_measure",),
        article="刑事诉讼法第七十九条；人民检察院刑事诉讼规则第一百零三条、第一百一十三条",
        description=_("公安机关决定取保候审、监视居住的案件移送审查起诉后，需要继续的，人民检察院重新作出决定，"
                      "期限重新计算（取保候审最长十二个月，监视居住最长六个月）。"),
        style="secondary",
    ),
    TransitionSpec(
        "decide_measure_at_court", _("决定是否继续取保候审、监视居住"), (Stage.TRIAL, Stage.TRIAL_SUSPENDED), SAME_STAGE,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, inputs=(MEASURE_PERSONS, MEASURE, REASON),
        guards=("measure_persons_valid",), effects=("redecide_measure",),
        clocks=(ClockOp("stop", ClockKind.COURT_MEASURE_DECISION, per_person=True, persons="persons"),),
        article="刑事诉讼法第七十九条；最高人民法院解释第一百六十二条",
        description=_("人民检察院、公安机关已经取保候审、监视居住的，案件起诉至人民法院后，人民法院在七日以内决定是否继续；"
                      "继续的，期限重新计算。"),
        style="secondary",
    ),
)

TRANSITIONS = TRANSITIONS + MEASURE_TRANSITIONS


# --- appeal, second instance, effect and execution (arts. 230-244, 259-264, 269) --------------
# workflows.appeal says who may appeal when, who receives what and how custody ends.

PERSONS_CHALLENGED = InputSpec("persons", _("上诉或者被抗诉的被告人"), "persons", select="defendants",
                               help_text=_("共同犯罪案件中部分被告人上诉或者被抗诉的，全案移送第二审（第二百三十三条第二款）。"))

APPEAL_TRANSITIONS: tuple[TransitionSpec, ...] = (
    TransitionSpec(
        "record_appeal", _("登记被告人上诉"), (Stage.APPEAL_PERIOD,), Stage.APPEAL_PERIOD,
        AgencyKind.COURT, p.DELIVER_JUDGMENT,
        inputs=(PERSONS_CHALLENGED, InputSpec("reason", _("上诉状（上诉理由）"), "textarea")),
        guards=("appeal_persons_in_window",),
        clocks=(ClockOp("open", ClockKind.APPEAL_FORWARD),),
        article="刑事诉讼法第二百二十七条、第二百三十条、第二百三十一条",
        description=_("被告人通过原审人民法院提出上诉；上诉期满后三日以内将上诉状连同案卷、证据移送上一级人民法院。"),
        style="warning", custody=("notices",),
    ),
    TransitionSpec(
        "protest", _("提出抗诉"), (Stage.APPEAL_PERIOD,), Stage.APPEAL_PERIOD,
        AgencyKind.PROCURATORATE, p.DECIDE_PROSECUTION, party=PROSECUTING,
        inputs=(PERSONS_CHALLENGED, InputSpec("reason", _("抗诉书（抗诉理由）"), "textarea")),
        guards=("no_pending_approval", "appeal_persons_in_window"),
        effects=("generate_protest",),
        clocks=(ClockOp("open", ClockKind.APPEAL_FORWARD),),
        needs_approval=True, article="刑事诉讼法第二百二十八条、第二百三十条；最高人民法院解释第三百八十四条",
        description=_("人民检察院认为第一审判决确有错误的，通过原审人民法院提出抗诉。"),
        style="warning", custody=("notices",),
    ),
    TransitionSpec(
        "forward_appeal", _("移送第二审人民法院"), (Stage.APPEAL_PERIOD,), Stage.APPEAL_FILED,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, handover=SEND, recipient=UP, transfer_kind=TransferKind.APPEAL,
        inputs=(OPTIONAL_REASON,),
        guards=("no_pending_approval", "appeal_lodged", "appeal_windows_expired", "has_higher_court"),
        clocks=(ClockOp("stop", ClockKind.APPEAL_PERIOD), ClockOp("stop", ClockKind.APPEAL_FORWARD)),
        article="刑事诉讼法第二百三十一条、第二百三十三条；最高人民法院解释第三百八十一条、第三百八十四条、第三百八十九条",
        description=_("上诉、抗诉期满后三日以内，全案连同案卷、证据移送上一级人民法院，被告人随案换押。"),
        custody=("issue_certificates", "notices"),
    ),
    TransitionSpec(
        "docket_appeal", _("受理第二审案件并编立案号"), (Stage.APPEAL_FILED,), Stage.SECOND_INSTANCE,
        AgencyKind.COURT, p.DOCKET_CASE, party=RECEIVER, handover=ACCEPT,
        inputs=(InputSpec("type_code", _("案件类型代字"), "choice", required=False,
                          choices=(("刑终", _("刑终（第二审案件）")),), default="刑终"),),
        guards=("package_verified", "custody_ready"),
        clocks=(ClockOp("stop", "*", agency="sender"), ClockOp("open", ClockKind.SECOND_INSTANCE)),
        effects=("issue_docket_number",),
        article="刑事诉讼法第二百四十三条", custody=("take_over", "notices"),
        description=_("第二审人民法院受理上诉、抗诉案件，应当在二个月以内审结。"),
    ),
    TransitionSpec(
        "start_file_review", _("通知检察院阅卷"), (Stage.SECOND_INSTANCE,), Stage.FILE_REVIEW,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, inputs=(OPTIONAL_REASON,),
        guards=("no_pending_approval",),
        clocks=(ClockOp("pause", ClockKind.SECOND_INSTANCE),), effects=("grant_same_level_procuratorate",),
        article="刑事诉讼法第二百三十五条", style="secondary",
        description=_("人民检察院应当在一个月以内查阅完毕；查阅案卷的时间不计入审理期限。"), custody=("notices",),
    ),
    TransitionSpec(
        "end_file_review", _("检察院阅卷完毕"), (Stage.FILE_REVIEW,), Stage.SECOND_INSTANCE,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, inputs=(OPTIONAL_REASON,),
        clocks=(ClockOp("resume", ClockKind.SECOND_INSTANCE),),
        article="刑事诉讼法第二百三十五条", custody=("notices",),
    ),
    TransitionSpec(
        "extend_second_instance", _("延长第二审审理期限"), (Stage.SECOND_INSTANCE,), Stage.SECOND_INSTANCE,
        AgencyKind.COURT, p.DELIVER_JUDGMENT,
        inputs=(InputSpec("ground", _("延长的事由"), "choice", choices=trial.HIGHER_GROUNDS),
                InputSpec("decision", _("高级人民法院批准文号"), "text"), APPROVED_ON),
        guards=("no_pending_approval", "second_instance_not_extended", "approval_date_valid"),
        effects=("generate_approved_extension",),
        clocks=(ClockOp("extend", ClockKind.SECOND_INSTANCE, months=2),),
        article="刑事诉讼法第二百四十三条", style="secondary",
        description=_("可能判处死刑、附带民事诉讼或者有第一百五十八条情形之一的，经省、自治区、直辖市高级人民法院批准，可以延长二个月。"),
        custody=("notices",),
    ),
    TransitionSpec(
        "decide_second_instance", _("第二审宣判（终审）"), (Stage.SECOND_INSTANCE,), Stage.EXECUTION,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, handover=DELIVER, recipient=BACK_TO_SENDER,
        transfer_kind=TransferKind.JUDGMENT,
        inputs=(InputSpec("result", _("第二审结果"), "choice", choices=SECOND_INSTANCE_RESULTS),
                InputSpec("verdict", _("判决、裁定主文"), "textarea")),
        guards=("no_pending_approval", "co_defendants_ruled"),
        effects=("generate_second_instance_decision", "open_execution_clocks"),
        clocks=(ClockOp("stop", ClockKind.SECOND_INSTANCE),
                ClockOp("open", ClockKind.EXECUTION_HANDOVER, agency="recipient")),
        article="刑事诉讼法第二百三十三条、第二百三十六条、第二百四十四条、第二百五十九条",
        description=_("第二审的判决、裁定是终审的判决、裁定，对全案被告人发生法律效力；由第一审人民法院在十日以内交付执行。"),
        custody=("notices",),
    ),
    TransitionSpec(
        "rule_on_joint_crime", _("认定是否共同犯罪"), (Stage.SECOND_INSTANCE,), SAME_STAGE,
        AgencyKind.COURT, p.DELIVER_JUDGMENT,
        inputs=(InputSpec("ruling", _("认定"), "choice", choices=JOINT_CRIME_RULINGS), REASON),
        guards=("no_pending_approval", "co_defendants_to_rule_on"),
        effects=("separate_unchallenged",),
        article="刑事诉讼法第二百三十三条第二款；最高人民法院解释第三百八十九条、第三百九十条",
        description=_("部分被告人上诉或者被抗诉、其他被告人没有的，第二审人民法院先认定是否共同犯罪：共同犯罪的全案审查，"
                      "一并处理；仅合并审理的，其他被告人的判决已经生效。"),
        style="secondary",
    ),
    TransitionSpec(
        "remand", _("发回重新审判"), (Stage.SECOND_INSTANCE,), Stage.TRIAL,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, handover=DELIVER, recipient=BACK_TO_SENDER,
        transfer_kind=TransferKind.REMAND, inputs=(REASON,),
        guards=("no_pending_approval", "co_defendants_ruled"),
        effects=("set_retrial_procedure", "generate_remand_ruling", "issue_docket_number"),
        clocks=(ClockOp("stop", ClockKind.SECOND_INSTANCE), ClockOp("open", trial.TRIAL_PERIOD, agency="recipient")),
        article="刑事诉讼法第二百三十六条、第二百三十八条、第二百四十一条；最高人民法院解释第三百七十七条",
        description=_("原审人民法院从收到发回的案件之日起，重新计算审理期限；速裁程序案件发回的，适用第一审普通程序重新审判。"),
        style="warning", custody=("issue_certificates", "take_over_at_once", "notices"),
    ),
    TransitionSpec(
        "judgment_effective", _("判决发生法律效力"), (Stage.APPEAL_PERIOD,), Stage.EXECUTION,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, inputs=(OPTIONAL_REASON,),
        guards=("no_pending_approval", "no_appeal_lodged", "appeal_windows_expired"),
        effects=("open_execution_clocks",),
        clocks=(ClockOp("stop", ClockKind.APPEAL_PERIOD), ClockOp("open", ClockKind.EXECUTION_HANDOVER)),
        article="刑事诉讼法第二百五十九条、第二百六十四条",
        description=_("已过法定期限没有上诉、抗诉的判决是发生法律效力的判决；应当在十日以内交付执行。"),
        custody=("notices",),
    ),
    TransitionSpec(
        "hand_over_for_execution", _("交付执行"), (Stage.EXECUTION,), Stage.EXECUTION_SENT,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, handover=SEND, recipient=EXECUTOR,
        transfer_kind=TransferKind.EXECUTION,
        inputs=(InputSpec("executor", _("执行机关"), "choice", choices=EXECUTORS, default="police"),
                OPTIONAL_REASON),
        guards=("no_pending_approval", "something_to_execute", "executor_fits"),
        effects=("generate_execution_notices", "correction_documents_sent"),
        clocks=(ClockOp("stop", ClockKind.EXECUTION_HANDOVER),),
        article="刑事诉讼法第二百六十四条、第二百六十九条；社区矫正法第二十条；最高人民法院解释第五百一十一条、第五百一十九条",
        description=_("判决生效后十日以内将判决书、执行通知书等法律文书送达执行机关；判处管制、宣告缓刑的，"
                      "送达社区矫正机构，同时抄送人民检察院和公安机关。执行机关签收后羁押记录终结，案件结案。"),
        custody=("notices",), extra={"copies": "correction_copies"},
    ),
    TransitionSpec(
        "hand_over_outside_prison", _("移送社区矫正（暂予监外执行）"), (Stage.EXECUTION, Stage.EXECUTION_SENT),
        SAME_STAGE, AgencyKind.DETENTION_CENTRE, p.ACKNOWLEDGE_CUSTODY, party=DETENTION, inputs=(OPTIONAL_REASON,),
        guards=("outside_prison_to_hand_over",),
        effects=("outside_prison_handed_over",),
        article="刑事诉讼法第二百六十五条；最高人民法院解释第五百一十五条",
        description=_("人民法院决定暂予监外执行的罪犯在押的，看守所在十日以内将其移送社区矫正机构；移送后羁押记录终结。"),
        style="secondary",
    ),
    TransitionSpec(
        "hand_over_separately", _("交付执行（不属共同犯罪、未上诉的被告人）"), (Stage.SECOND_INSTANCE, Stage.FILE_REVIEW),
        SAME_STAGE, AgencyKind.COURT, p.DELIVER_JUDGMENT, party=FIRST_INSTANCE, handover=NOTIFY, recipient=EXECUTOR,
        transfer_kind=TransferKind.EXECUTION,
        inputs=(InputSpec("executor", _("执行机关"), "choice", choices=EXECUTORS, default="police"), OPTIONAL_REASON),
        guards=("separated_to_hand_over",),
        effects=("generate_execution_notices", "execute_separately"),
        article="刑事诉讼法第二百三十三条第二款、第二百五十九条、第二百六十四条；最高人民法院解释第三百八十九条、第三百九十条",
        description=_("第二审人民法院认定不属于共同犯罪的，未上诉、未被抗诉的被告人的第一审判决在上诉期满后已经生效，"
                      "由第一审人民法院在十日以内另行交付执行；其羁押记录终结，其余被告人仍由第二审审理。"),
        extra={"sent_by_actor": True, "copies": "correction_copies"},
    ),
    TransitionSpec(
        "notify_community_correction", _("通知社区矫正机构"), (Stage.EXECUTION,), SAME_STAGE,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, handover=NOTIFY, recipient=EXECUTOR,
        transfer_kind=TransferKind.CORRECTION_NOTICE,
        inputs=(InputSpec("executor", _("社区矫正机构"), "choice", required=False,
                          choices=(("justice", _("执行地司法行政机关社区矫正机构")),), default="justice"),
                OPTIONAL_REASON),
        guards=("no_pending_approval", "community_sentence", "correction_not_notified"),
        clocks=(ClockOp("stop", ClockKind.CORRECTION_NOTICE),),
        article="社区矫正法第二十条；最高人民法院解释第五百一十九条",
        description=_("判处管制、宣告缓刑、决定暂予监外执行的，判决生效后五日以内通知执行地社区矫正机构，"
                      "十日以内送达有关法律文书。"),
        style="secondary", custody=("notices",),
    ),
    TransitionSpec(
        "close_without_execution", _("结案（无须交付执行）"), (Stage.EXECUTION,), Stage.CLOSED,
        AgencyKind.COURT, p.DELIVER_JUDGMENT, inputs=(OPTIONAL_REASON,),
        guards=("no_pending_approval", "nothing_to_execute"),
        clocks=(ClockOp("stop", "*"),),
        article="刑事诉讼法第二百五十九条、第二百六十条",
        description=_("判决无罪、免予刑事处罚或者单处罚金（由人民法院执行）的，判决生效后结案。"),
        custody=("notices",),
    ),
) + tuple(
    TransitionSpec(
        name + suffix, _("接收交付执行"), (Stage.EXECUTION_SENT,), target, kind, capability, party=RECEIVER,
        handover=ACCEPT, guards=("package_verified", guard),
        clocks=clocks,
        effects=("end_custody_for_execution", *(("stop_outside_prison_clocks",) if kind == AgencyKind.JUSTICE_BUREAU
                                                else ())),
        article="刑事诉讼法第二百六十四条、第二百六十九条",
        description=description,
        custody=("notices",), extra={"holder_stays": True} if suffix else {},
    )
    for name, kind, capability in (
        ("accept_execution", AgencyKind.POLICE, p.MANAGE_CUSTODY),
        ("accept_execution_detention", AgencyKind.DETENTION_CENTRE, p.ACKNOWLEDGE_CUSTODY),
        ("accept_execution_correction", AgencyKind.JUSTICE_BUREAU, p.COMMUNITY_CORRECTION),
    )
    for suffix, target, guard, clocks, description in (
        ("", Stage.CLOSED, "last_execution", (),
         _("执行机关核验并签收法律文书，罪犯交付执行，羁押记录终结，案件结案。")),
        # Convicts for another authority remain (art. 269): the case waits for their hand-over, within
        # the same ten days (the hand-over clock counts on).
        ("_part", Stage.EXECUTION, "more_executions", (ClockOp("reopen", ClockKind.EXECUTION_HANDOVER),),
         _("执行机关签收本机关执行的罪犯的法律文书，其羁押记录终结；其他罪犯仍待交付其他执行机关，案件回到待交付执行。")),
    )
)

TRANSITIONS = TRANSITIONS + APPEAL_TRANSITIONS
TRANSITIONS = TRANSITIONS + PLEA_TRANSITIONS + NON_PROSECUTION_TRANSITIONS + POLICE_CLOSING_TRANSITIONS

BY_NAME: dict[str, TransitionSpec] = {t.name: t for t in TRANSITIONS}


# --- recipient rules: jurisdiction ------------------------------------------------------------


def within_jurisdiction(sender: Any, recipient: Any) -> bool:
    """A case travels within one administrative region: art. 162 (the police transfer to the
    procuratorate 同级, of the same level), art. 87 (arrest approval by the same-level
    procuratorate), art. 176 (indictment to the court with jurisdiction, 同级人民法院). An agency
    without a region code has no jurisdiction to send into."""
    return bool(sender.region) and sender.region == recipient.region


# --- decisions about chosen persons -----------------------------------------------------------


@dataclass(frozen=True)
class PersonDecisionSpec:
    """A decision about the custody of chosen persons, by the authority the law gives it to.

    The engine records it (:func:`workflows.engine.decide_custody`): under the case lock it changes
    the persons' custody status, bumps the case version, writes the audit event, and the custody
    notice to the detention centre *reports* the decision (a notice never decides anything). Who
    decides: the agency responsible for the person's custody, and for an arrest only if it is a
    procuratorate or a court (art. 80: 逮捕必须经过人民检察院批准或者人民法院决定) — the police's
    arrest comes only from the procuratorate's ``approve_arrest`` transition. The shape is the one a
    later per-person transition takes: a name, who decides, the capability, the persons' status
    after it, and the statute.
    """

    name: str
    label: str | Promise
    notice_kind: str  # the casehub.custody NoticeKind that reports it
    new_status: str = ""  # the persons' custody status afterwards ("" = unchanged)
    decided_by: str = "responsible"
    deciding_kinds: tuple[str, ...] = ()  # agency kinds that may decide it (empty: any responsible agency)
    capability: str = p.MANAGE_CUSTODY
    article: str = ""


PERSON_DECISIONS: dict[str, PersonDecisionSpec] = {
    s.name: s
    for s in (
        PersonDecisionSpec("extension", _("延长羁押期限"), "extension",
                           article="刑事诉讼法第一百五十六条至第一百五十九条"),
        PersonDecisionSpec("recalculation", _("重新计算羁押期限"), "recalculation",
                           article="刑事诉讼法第一百六十条"),
        PersonDecisionSpec("arrest", _("决定逮捕"), "arrest", new_status="arrested",
                           deciding_kinds=(AgencyKind.PROCURATORATE, AgencyKind.COURT),
                           article="刑事诉讼法第八十条、第九十条、第一百六十五条"),
        PersonDecisionSpec("bail", _("变更为取保候审"), "bail", new_status="bail",
                           article="刑事诉讼法第六十七条、第九十六条、第九十七条"),
        PersonDecisionSpec("release", _("释放"), "release", new_status="released",
                           article="刑事诉讼法第九十一条第三款、第九十六条、第一百六十三条"),
    )
}


# --- paper hand-overs -------------------------------------------------------------------------

# Which kind of agency hands which kind of package to which (sender kind, receiver kind) — the
# directions in which the transitions above send each kind. A paper registration must fit one.
TRANSFER_DIRECTIONS: dict[str, frozenset[tuple[str, str]]] = {
    TransferKind.ARREST_REQUEST: frozenset({(AgencyKind.POLICE, AgencyKind.PROCURATORATE)}),
    TransferKind.ARREST_DECISION: frozenset({(AgencyKind.PROCURATORATE, AgencyKind.POLICE)}),
    TransferKind.REVIEW_TRANSFER: frozenset({(AgencyKind.POLICE, AgencyKind.PROCURATORATE)}),
    TransferKind.SUPPLEMENTARY_RETURN: frozenset({(AgencyKind.PROCURATORATE, AgencyKind.POLICE)}),
    TransferKind.NON_PROSECUTION: frozenset({(AgencyKind.PROCURATORATE, AgencyKind.POLICE)}),
    TransferKind.INDICTMENT: frozenset({(AgencyKind.PROCURATORATE, AgencyKind.COURT)}),
    TransferKind.INDICTMENT_RETURN: frozenset({(AgencyKind.COURT, AgencyKind.PROCURATORATE)}),
    TransferKind.POLICE_CLOSING: frozenset({(AgencyKind.POLICE, AgencyKind.PROCURATORATE)}),
    TransferKind.JUDGMENT: frozenset({(AgencyKind.COURT, AgencyKind.PROCURATORATE),
                                      (AgencyKind.COURT, AgencyKind.POLICE), (AgencyKind.COURT, AgencyKind.COURT)}),
    TransferKind.TRIAL_SUPPLEMENTARY: frozenset({(AgencyKind.COURT, AgencyKind.PROCURATORATE)}),
    TransferKind.SUPPLEMENTARY_EVIDENCE: frozenset({(AgencyKind.PROCURATORATE, AgencyKind.COURT)}),
    TransferKind.APPEAL: frozenset({(AgencyKind.COURT, AgencyKind.COURT)}),
    TransferKind.REMAND: frozenset({(AgencyKind.COURT, AgencyKind.COURT)}),
    TransferKind.PROSECUTION_WITHDRAWAL: frozenset({(AgencyKind.COURT, AgencyKind.PROCURATORATE)}),
    TransferKind.JURISDICTION_TRANSFER: frozenset({(AgencyKind.PROCURATORATE, AgencyKind.PROCURATORATE)}),
    TransferKind.CORRECTION_NOTICE: frozenset({(AgencyKind.COURT, AgencyKind.JUSTICE_BUREAU)}),
    TransferKind.EXECUTION: frozenset({(AgencyKind.COURT, AgencyKind.POLICE),
                                       (AgencyKind.COURT, AgencyKind.DETENTION_CENTRE),
                                       (AgencyKind.COURT, AgencyKind.JUSTICE_BUREAU)}),
}


@dataclass(frozen=True)
class RegistrationSpec:
    """A hand-over that happened on paper, registered by the receiving agency through the engine.

    It writes one ``mode=paper`` transfer that counts in the circulation rates; it changes no
    stage, no holder, no permission, and the engine never reads it to decide who receives a case
    next (``BACK_TO_SENDER`` follows electronic transfers only).
    """

    name: str
    label: str | Promise
    capability: str
    guards: tuple[str, ...]
    description: str | Promise = ""


PAPER_REGISTRATION = RegistrationSpec(
    "register_paper_transfer", _("登记纸质移送"), p.REGISTER_PAPER_TRANSFER,
    guards=("paper_from_own_region", "paper_kind_fits_direction"),
    description=_("接收机关登记在平台外以纸质方式完成的移送，计入网上流转率的分母；不改变案件的承办机关。"),
)


def holder_stays(spec: TransitionSpec) -> bool:
    """Whether accepting ``spec``'s package leaves the case with its sender (an executing authority that
    takes over only its own convicts while others wait for another authority, arts. 264, 269)."""
    return bool(spec.extra.get("holder_stays"))


def after_closing(spec: TransitionSpec) -> bool:
    """Whether ``spec`` may act on a closed case (the police's reconsideration and review of a
    non-prosecution, art. 179, and the procuratorates' answers)."""
    return bool(spec.extra.get("after_closing"))


def get(name: str) -> TransitionSpec:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no transition named {name!r} in the process definition") from None


def sending_stages(pending_stage: str) -> list[str]:
    """Stages a package leading to ``pending_stage`` can be sent from (where a rejection goes back)."""
    return sorted({s for t in TRANSITIONS if t.target == pending_stage for s in t.sources})


def possible_targets(spec: TransitionSpec) -> list[str]:
    if spec.target == SAME_STAGE:
        return sorted(spec.sources)
    if spec.target != SENDER_STAGE:
        return [spec.target]
    return sorted({s for src in spec.sources for s in sending_stages(src)})


def targets_from(spec: TransitionSpec, source: str) -> list[str]:
    """Where ``spec`` takes a case that is in ``source`` (a ``SAME_STAGE`` decision stays there)."""
    return [source] if spec.target == SAME_STAGE else possible_targets(spec)


def kinds_arriving_in(stage: str) -> set[str]:
    """Transfer kinds of the packages that put a case into (pending) ``stage``."""
    return {t.transfer_kind for t in TRANSITIONS if t.target == stage and t.transfer_kind}


# Clocks that never bound a person's custody: stopping them changes no detention centre's date.
CLOCKS_NOT_BOUNDING_CUSTODY = frozenset({ClockKind.COURT_ACCEPTANCE, ClockKind.JURISDICTION_HANDOVER,
                                         ClockKind.COURT_MEASURE_DECISION,
                                         # The review of a petition against a closed case (arts. 180-181).
                                         ClockKind.NP_PETITION_REVIEW, ClockKind.NP_APPEAL_REVIEW})


def _custody_problems(t: TransitionSpec) -> list[str]:
    """Custody must be declared wherever a custody-moving package travels (the 换押 rules)."""
    from casehub.custody import handlers
    from casehub.custody.services import CUSTODY_TRANSFER_KINDS

    problems = [f"{t.name}: unknown custody step {s}" for s in t.custody if s not in handlers.STEPS]
    moving = t.transfer_kind in CUSTODY_TRANSFER_KINDS
    arriving = any(k in CUSTODY_TRANSFER_KINDS for src in t.sources for k in kinds_arriving_in(src))
    need: set[str] = set()
    if t.handover in (SEND, DELIVER) and moving:
        need.add(handlers.ISSUE_CERTIFICATES)
    if t.handover == DELIVER and moving:
        need.add(handlers.TAKE_OVER_AT_ONCE)
    if t.handover == ACCEPT and arriving:
        need.add(handlers.TAKE_OVER)
        if "custody_ready" not in t.guards:
            problems.append(f"{t.name}: accepting custody needs the custody_ready guard")
    if t.handover in (REJECT, WITHDRAW) and arriving:
        need.add(handlers.CANCEL_CERTIFICATES)
    if any(op.op != "reopen" and not (op.op in ("open", "stop") and op.kind in CLOCKS_NOT_BOUNDING_CUSTODY)
           for op in t.clocks) or (
            {"mark_suspects_arrested", "release_detained", "release_refused", "release_on_announcement"}
            & set(t.effects)):
        need.add(handlers.NOTICES)
    problems += [f"{t.name}: custody step {s} not declared" for s in sorted(need - set(t.custody))]
    return problems


def check_definition() -> list[str]:
    """Consistency problems in the table (tested: must be empty)."""
    problems = []
    for t in TRANSITIONS:
        for s in (*t.sources, *possible_targets(t)):
            if s not in STAGES:
                problems.append(f"{t.name}: unknown stage {s}")
        if t.handover in (SEND, DELIVER, NOTIFY) and not (t.transfer_kind and t.recipient):
            problems.append(f"{t.name}: a package needs a transfer kind and a recipient rule")
        if t.handover in (ACCEPT, REJECT) and t.party != RECEIVER:
            problems.append(f"{t.name}: only the receiver accepts or rejects")
        if t.handover == WITHDRAW and t.party != SENDER:
            problems.append(f"{t.name}: only the sender withdraws")
        if t.handover in (ACCEPT, REJECT, WITHDRAW) and not all(STAGES[s].pending for s in t.sources):
            problems.append(f"{t.name}: accept/reject/withdraw start from a pending stage")
        if len({t.name for t in TRANSITIONS}) != len(TRANSITIONS):
            problems.append("duplicate transition names")
        if t.transfer_kind and t.transfer_kind not in TRANSFER_DIRECTIONS:
            problems.append(f"{t.name}: no direction declared for transfer kind {t.transfer_kind}")
        problems += _custody_problems(t)
        forward = next((i for i in t.inputs if i.type == "agency"), None)
        if t.recipient == FORWARD and forward is not None and (
                (t.agency_kind, forward.agency_kind) not in TRANSFER_DIRECTIONS.get(t.transfer_kind, ())):
            problems.append(f"{t.name}: sends {t.transfer_kind} in an undeclared direction")
    return problems
