"""Guards: conditions a transition needs, each a function returning ``None`` or the reason it fails.

Guards run twice: when the UI/API lists what a user may do (:func:`workflows.engine.available_transitions`)
and inside the transition's transaction after the case row is locked, where they are authoritative.
Counts are taken from the transition log — the log is the evidence, not a counter on the case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.cases.models import Case, CustodyStatus, PersonRole
from workflows.models import (
    ApprovalRequest,
    ApprovalStatus,
    Transfer,
    TransitionLog,
    VerificationStatus,
)


@dataclass
class GuardContext:
    case: Case | None  # None for a paper registration that names no platform case
    spec: Any  # TransitionSpec
    user: Any
    inputs: dict[str, Any] = field(default_factory=dict)
    pending_transfer: Transfer | None = None
    approval: ApprovalRequest | None = None  # set when a supervisor's approval is firing the transition


Guard = Callable[[GuardContext], str | None]
GUARDS: dict[str, Guard] = {}

MAX_SUPPLEMENTARY_RETURNS = 2


def guard(fn: Guard) -> Guard:
    GUARDS[fn.__name__] = fn
    return fn


@guard
def no_pending_approval(ctx: GuardContext) -> str | None:
    """Only one outgoing action of a case may wait for internal approval at a time.

    Not a statute: the platform's internal-approval rule (审批), so a supervisor never approves
    two conflicting actions on the same case.
    """
    pending = ApprovalRequest.objects.filter(case=ctx.case, status=ApprovalStatus.PENDING)
    if ctx.approval is not None:
        pending = pending.exclude(pk=ctx.approval.pk)
    if pending.exists():
        return _("本案已有一项待审批的事项，请等待审批结果。")
    return None


@guard
def has_suspect(ctx: GuardContext) -> str | None:
    """A transfer for prosecution (art. 162) or an indictment (art. 176) names at least one suspect."""
    if not ctx.case.persons.filter(role=PersonRole.SUSPECT).exists():
        return _("案件没有登记犯罪嫌疑人。")
    return None


@guard
def has_arrest_candidate(ctx: GuardContext) -> str | None:
    """Art. 87/91: arrest approval is requested for a suspect who is not already under arrest."""
    candidates = ctx.case.persons.filter(role=PersonRole.SUSPECT).exclude(
        custody_status__in=[CustodyStatus.ARRESTED, CustodyStatus.RELEASED]
    )
    if not candidates.exists():
        return _("没有可提请批准逮捕的犯罪嫌疑人。")
    return None


@guard
def arrest_persons_requestable(ctx: GuardContext) -> str | None:
    """Art. 87 (with art. 80): the police request the arrest of chosen suspects, each not yet arrested
    (a 提请批准逮捕书 lists them; the procuratorate decides on each of them)."""
    from workflows import persons

    return persons.requestable_problem(ctx.case, ctx.spec, ctx.inputs)


@guard
def arrest_persons_decided(ctx: GuardContext) -> str | None:
    """Art. 90 (SPP Rules 2019 arts. 282, 289): the procuratorate approves or refuses the arrest
    of every person of the request, one decision each; no other person is touched."""
    from workflows import persons

    return persons.decision_problem(ctx.case, ctx.spec, ctx.inputs)


@guard
def has_main_documents(ctx: GuardContext) -> str | None:
    """Art. 162/176: the case file travels with the transfer — at least one main-file document."""
    from workflows import packaging

    if not packaging.has_main_documents(ctx.case):
        return _("正卷中没有任何材料，不能移送。")
    return None


@guard
def package_verified(ctx: GuardContext) -> str | None:
    """The receiver may accept only a package whose signature, chain and every hash verified.

    Not a statute: the platform's rule that makes an electronic transfer as good as the paper
    one (DESIGN.md §4, "A transfer is a signed package").
    """
    t = ctx.pending_transfer
    if t is None:
        return _("没有待接收的移送。")
    if t.verification_status == VerificationStatus.PASSED:
        return None
    if t.verification_status == VerificationStatus.FAILED:
        failed = "; ".join(e.get("message", "") for e in t.verification_errors[:5])
        return _("移送材料校验未通过，不能接收：%(errors)s") % {"errors": failed}
    return _("移送材料尚未完成校验。")


@guard
def custody_ready(ctx: GuardContext) -> str | None:
    """换押: the receiver takes custody of every detained suspect over when it accepts the case
    (SPP/MPS custody-transfer rules; the periods of CPL arts. 172, 175, 208 then bound the custody,
    art. 105(4)). A detained suspect without a custody record (no detention centre) could not be
    handed over, so the acceptance waits until the sender registers one."""
    from casehub.custody.services import CUSTODY_TRANSFER_KINDS, check_ready_for_acceptance

    t = ctx.pending_transfer
    if t is None or t.kind not in CUSTODY_TRANSFER_KINDS:
        return None
    reasons = check_ready_for_acceptance(ctx.case)
    return "；".join(reasons) or None


@guard
def fewer_than_two_returns(ctx: GuardContext) -> str | None:
    """Art. 175(3): supplementary investigation is limited to two returns."""
    done = TransitionLog.objects.filter(case=ctx.case, transition="return_for_supplementary").count()
    if done >= MAX_SUPPLEMENTARY_RETURNS:
        return _("补充侦查以二次为限（刑事诉讼法第一百七十五条），本案已退回补充侦查 %(n)d 次。") % {"n": done}
    return None


@guard
def review_not_extended(ctx: GuardContext) -> str | None:
    """Art. 172: the one-month review may be extended by fifteen days once per review period.

    A review period starts with each acceptance of the transfer (art. 175: it restarts when the
    case comes back from supplementary investigation).
    """
    last_accept = (
        TransitionLog.objects.filter(case=ctx.case, transition="accept_review_transfer")
        .order_by("-occurred_at", "-id").first()
    )
    extensions = TransitionLog.objects.filter(case=ctx.case, transition="extend_review")
    if last_accept is not None:
        extensions = extensions.filter(id__gt=last_accept.id)
    if extensions.exists():
        return _("本次审查起诉期限已延长过一次（刑事诉讼法第一百七十二条）。")
    return None


@guard
def announced_not_in_future(ctx: GuardContext) -> str | None:
    """Art. 202: the delivery period runs from the announcement; it cannot be announced in the future."""
    announced = ctx.inputs.get("announced_on")
    if isinstance(announced, date) and announced > timezone.localdate():
        return _("宣判日期不能晚于今天。")
    return None


@guard
def paper_from_own_region(ctx: GuardContext) -> str | None:
    """A paper hand-over is registered by its receiver, from an agency of the receiver's own region.

    Art. 162/176 (同级): cases travel between the police, procuratorate and court of one region;
    a "paper transfer" from another district's agency would change that district's circulation
    rates (THREAT_MODEL.md F18.9).
    """
    sender = ctx.inputs.get("from_agency")
    receiver = getattr(ctx.user, "agency", None)
    if sender is None or receiver is None:
        return _("请选择移送机关。")
    if sender.pk == receiver.pk:
        return _("移送机关不能是本机关。")
    if not receiver.region or sender.region != receiver.region:
        return _("只能登记本行政区划内机关移送给本机关的纸质卷宗。")
    return None


@guard
def paper_kind_fits_direction(ctx: GuardContext) -> str | None:
    """The kind of a paper hand-over must fit its direction (e.g. an indictment goes from a
    procuratorate to a court, art. 176; a supplementary return from a procuratorate to the police,
    art. 175) — the directions in which the process definition sends that kind."""
    from workflows.definition import TRANSFER_DIRECTIONS

    sender, receiver = ctx.inputs.get("from_agency"), getattr(ctx.user, "agency", None)
    kind = ctx.inputs.get("kind")
    if sender is None or receiver is None:
        return None  # paper_from_own_region says why
    if (sender.kind, receiver.kind) not in TRANSFER_DIRECTIONS.get(kind, ()):
        return _("“%(sender)s”不会向“%(receiver)s”移送此类材料。") % {
            "sender": sender.get_kind_display(), "receiver": receiver.get_kind_display()}
    return None


def failing(names: tuple[str, ...], ctx: GuardContext) -> list[str]:
    """The reasons of every failing guard, in declaration order."""
    reasons = []
    for name in names:
        reason = GUARDS[name](ctx)
        if reason:
            reasons.append(reason)
    return reasons


# The trial procedures register their guards here too (workflows.trial imports ``guard`` above).
from workflows import appeal as _appeal  # noqa: E402,F401
from workflows import trial as _trial  # noqa: E402,F401
