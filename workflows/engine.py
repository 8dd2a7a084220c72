"""The workflow engine: the single path through which a case changes stage and agency.

:func:`fire` runs one transition of :mod:`workflows.definition` in two phases. *Prepare*, outside
any transaction and without a lock (:func:`_prepare`): the transition is run in a prepare mode
that writes no row — the generated documents are rendered, the volumes the package will carry are
built and PAdES-signed, and all of them are written to the object store as content-addressed
objects (:mod:`casehub.objectstore.prepared`). *Apply*, one short durable transaction: lock the
case row, re-check its stage and its version (a case that changed while it was prepared raises
:class:`CaseChanged`: nothing is written, the prepared objects stay unreferenced), check who is
acting and the guards, then (in this order) resolve the recipient, run the transition's effects
(numbers, generated documents — the prepared bytes —, custody status), hand the case over (signed
manifest, permissions), run its clocks, update the case, write the transition log, the declared
custody steps and stage stay, and append the audit events. Observers, verification of a sent
package and notifications run after commit.

A transition that needs internal approval does not run when the officer fires it: it becomes an
:class:`~workflows.models.ApprovalRequest`, and :func:`decide_approval` by a supervisor
of the same agency runs it (or turns it down).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.agencies.models import Agency
from casehub.agencies.permissions import APPROVE_OUTGOING, has_capability
from casehub.audit import services as audit
from casehub.audit.services import record_event
from casehub.cases import access
from casehub.cases.models import Case, CaseStatus
from casehub.cases.state import engine_writes
from workflows import definition as d
from workflows import guards as g
from workflows import persons
from workflows.models import (
    ApprovalRequest,
    ApprovalStatus,
    Transfer,
    TransferKind,
    TransferMode,
    TransferStatus,
    TransitionLog,
    VerificationStatus,
)
from workflows.signals import case_transitioned

if TYPE_CHECKING:
    from casehub.objectstore.prepared import Prepared

logger = logging.getLogger(__name__)


class TransitionError(Exception):
    """A transition could not run; nothing was changed. ``str(exc)`` is for the user."""

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class CaseChanged(TransitionError):
    """The case moved on (another user acted first); reload and decide again."""


class NotAllowed(TransitionError, PermissionDenied):
    """The acting user's agency, role or relation to the case does not allow this transition."""


class GuardFailed(TransitionError):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("；".join(reasons))
        self.reasons = reasons


class InvalidInputs(TransitionError):
    pass


class SideEffectFailed(TransitionError):
    """An expected outage (object store, signer, message broker) stopped the transition; the
    transaction rolled back and nothing changed. Retrying later is the right answer (API: 503)."""


class TransitionCrashed(TransitionError):
    """Not an outage: a bug or an unexpected state. Nothing changed; retrying will not help.

    ``incident`` names the log entry (and the ``workflow.failed`` audit event) with the traceback,
    so a user can quote it to an operator. The API answers 500 with it, never 503.
    """

    def __init__(self, message: str, *, incident: str) -> None:
        super().__init__(message)
        self.incident = incident


def outage_kinds() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "a service we depend on is down", not "our code is wrong".

    The object store (:class:`storage.StorageError`), the signer (:class:`signing.SigningError`,
    a signing device that does not answer: ``ConnectionError``/``TimeoutError``) and the Celery
    broker (kombu's ``OperationalError``).
    """
    from signing import SigningError
    from storage import StorageError

    kinds: list[type[BaseException]] = [StorageError, SigningError, ConnectionError, TimeoutError]
    try:
        from kombu.exceptions import OperationalError as BrokerDown
    except ImportError:  # pragma: no cover - kombu comes with celery
        pass
    else:
        kinds.append(BrokerDown)
    return tuple(kinds)


def _side_effects_guarded(run: Any, *, case: Case, transition: str, acting_user: Any) -> Any:
    """Run a durable transition; classify what went wrong if it raised.

    The transition's own transaction has rolled back by the time we get here (stage, permissions,
    clocks, audit — nothing remains), so the failure is recorded in a transaction of its own: the
    audit trail shows the attempt and why it did not happen. An outage becomes
    :class:`SideEffectFailed` (retryable); anything else :class:`TransitionCrashed` with an incident id.
    """
    import uuid

    from casehub.pki.messages import describe_error
    from signing import SigningError
    from storage import StorageError

    incident = ""
    try:
        return run()
    except TransitionError:
        raise
    except SigningError as exc:
        message = _("电子签章失败，本次办理未生效：%(why)s") % {"why": describe_error(exc)}
        failure: Exception = exc
    except StorageError as exc:
        message = _("对象存储暂时不可用，本次办理未生效，请稍后重试。")
        failure = exc
    except outage_kinds() as exc:
        logger.warning("transition %s on case %s: service unavailable: %r", transition,
                       getattr(case, "pk", case), exc)
        message = _("签名设备或消息服务暂时不可用，本次办理未生效，请稍后重试。")
        failure = exc
    except Exception as exc:
        # A bug: the user learns that nothing happened and gets an incident number; the operator
        # finds the traceback in the log under that number and the attempt in the audit trail.
        incident = uuid.uuid4().hex[:12]
        logger.exception("incident %s: transition %s on case %s failed", incident, transition,
                         getattr(case, "pk", case))
        message = _("本次办理未生效：系统内部错误（事件编号 %(incident)s），已记录，请联系系统管理员。") % {
            "incident": incident}
        failure = exc
    details = {"transition": transition, "error": message, "detail": str(failure)[:500]}
    if incident:
        details["incident"] = incident
    record_event("workflow.failed", actor=acting_user, case=case, details=details)
    if incident:
        raise TransitionCrashed(message, incident=incident) from failure
    raise SideEffectFailed(message) from failure


@dataclass
class TransitionResult:
    case: Case
    spec: d.TransitionSpec
    source: str
    target: str
    log: TransitionLog | None = None
    transfers: list[Transfer] = field(default_factory=list)
    approval: ApprovalRequest | None = None

    @property
    def transfer(self) -> Transfer | None:
        return self.transfers[0] if self.transfers else None

    @property
    def awaiting_approval(self) -> bool:
        return self.log is None and self.approval is not None


@dataclass
class Context:
    """Everything a transition's effects, handover and clocks need; built inside the lock."""

    case: Case
    spec: d.TransitionSpec
    actor: Any  # who prepared/fired it
    acting_user: Any  # who made it happen now (the approver for approved transitions)
    inputs: dict[str, Any]
    source: str
    target: str
    now: Any
    holder_before: Agency
    holder_after: Agency
    pending: Transfer | None = None
    recipients: list[Agency] = field(default_factory=list)
    transfers: list[Transfer] = field(default_factory=list)
    numbers: dict[str, str] = field(default_factory=dict)
    documents: list[Any] = field(default_factory=list)  # documents generated by the effects
    approval: ApprovalRequest | None = None
    after_commit: list[Any] = field(default_factory=list)
    preparing: bool = False  # the prepare phase: write no row (see workflows.effects)
    prepared_documents: list[dict[str, Any]] = field(default_factory=list)  # rendered, not yet filed
    peeked: dict[tuple[Any, ...], int] = field(default_factory=dict)  # numbers peeked per series (prepare)
    peeked_numbers: list[tuple[int, str]] = field(default_factory=list)  # (agency id, number), in order

    @property
    def recipient(self) -> Agency | None:
        return self.recipients[0] if self.recipients else None


# ---------------------------------------------------------------------------------------------
# Reading


def pending_transfer(case: Case) -> Transfer | None:
    """The package of ``case`` waiting for its receiver (at most one at a time)."""
    return (
        Transfer.objects.filter(case=case, status=TransferStatus.SENT, requires_acceptance=True)
        .select_related("from_agency", "to_agency").order_by("-sent_at", "-id").first()
    )


def history(case: Case) -> QuerySet[TransitionLog]:
    return TransitionLog.objects.filter(case=case).select_related("actor", "actor_agency", "from_agency",
                                                                  "to_agency", "approved_by")


def _actor_problem(case: Case, spec: d.TransitionSpec, user: Any, pending: Transfer | None) -> str | None:
    if user is None or not user.is_authenticated or not user.is_active or user.agency_id is None:
        return _("只有机构用户可以办理流程。")
    if user.agency.kind != spec.agency_kind:
        return _("“%(label)s”只能由%(kind)s办理。") % {"label": spec.label, "kind": _agency_kind_label(spec)}
    if not has_capability(user, spec.capability):
        return _("您的角色不能办理“%(label)s”。") % {"label": spec.label}
    if spec.party == d.HOLDER:
        if case.holder_agency_id != user.agency_id:
            return _("本机关当前不是本案的承办机关。")
        # A closed case is acted on by nobody, except by the agency that closed it in the decisions
        # the law still allows against its closing (art. 179: reconsideration of a non-prosecution).
        if not d.after_closing(spec) and not access.agencies_with(case, access.ACT) >= {user.agency_id}:
            return _("本机关当前不是本案的承办机关。")
    elif spec.party == d.INVESTIGATOR:
        if case.origin_agency_id != user.agency_id:
            return _("只有立案侦查本案的公安机关可以办理“%(label)s”。") % {"label": spec.label}
    elif spec.party == d.SUPERIOR:
        holder = case.holder_agency
        if holder is None or holder.parent_id is None or holder.parent_id != user.agency_id:
            return _("只有上一级人民检察院可以办理“%(label)s”。") % {"label": spec.label}
    elif spec.party == d.RECEIVER:
        if pending is None or pending.to_agency_id != user.agency_id:
            return _("只有接收机关可以接收或退回移送。")
    elif spec.party == d.SENDER:
        if pending is None or pending.from_agency_id != user.agency_id:
            return _("只有移送机关可以撤回移送。")
    elif spec.party == d.HIGHER:
        holder = case.holder_agency
        if holder is None or holder.parent_id != user.agency_id:
            return _("只有上一级机关可以办理“%(label)s”。") % {"label": spec.label}
    elif spec.party == d.TRIAL_COURT:
        from workflows import court_door

        court = court_door.postponing_court(case)
        if court is None or court.pk != user.agency_id:
            return _("只有决定延期审理的人民法院可以办理“%(label)s”。") % {"label": spec.label}
    elif spec.party == d.PROSECUTING:
        if prosecuting_agency(case) != user.agency_id:
            return _("只有提起公诉的人民检察院可以办理“%(label)s”。") % {"label": spec.label}
    elif spec.party == d.DETENTION:
        from workflows import execution

        if user.agency_id not in execution.centres_to_hand_over(case):
            return _("只有羁押被决定暂予监外执行的罪犯的看守所可以办理“%(label)s”。") % {"label": spec.label}
    elif spec.party == d.FIRST_INSTANCE:
        from workflows import appeal

        court = appeal.first_instance_court(case)
        if court is None or court.pk != user.agency_id or case.holder_agency_id == user.agency_id:
            return _("只有第一审人民法院可以办理“%(label)s”。") % {"label": spec.label}
    return None


def _open_for(case: Case, spec: d.TransitionSpec) -> bool:
    """A closed case takes only the transitions declared to act after closing (art. 179)."""
    return case.status != CaseStatus.CLOSED or d.after_closing(spec)
def prosecuting_agency(case: Case) -> int | None:
    """The procuratorate whose indictment the court holding the case accepted (art. 228: it protests
    the judgment of the court of its level)."""
    return (Transfer.objects.filter(case=case, kind=TransferKind.INDICTMENT, status=TransferStatus.ACCEPTED,
                                    to_agency_id=case.holder_agency_id)
            .order_by("-sent_at", "-id").values_list("from_agency_id", flat=True).first())


def _agency_kind_label(spec: d.TransitionSpec) -> str:
    from casehub.agencies.models import AgencyKind

    return str(AgencyKind(spec.agency_kind).label)


def available_transitions(case: Case, user: Any) -> list[d.TransitionSpec]:
    """Transitions ``user`` may fire on ``case`` now (actor checks and guards pass).

    Input-dependent guards are checked without inputs here; :func:`fire` re-checks everything
    under the lock.
    """
    candidates = [t for t in d.TRANSITIONS if case.stage in t.sources and _open_for(case, t)]
    if not candidates:
        return []
    pending = pending_transfer(case) if d.STAGES[case.stage].pending else None
    result = []
    for spec in candidates:
        if _actor_problem(case, spec, user, pending):
            continue
        if g.failing(spec.guards, g.GuardContext(case, spec, user, {}, pending)):
            continue
        result.append(spec)
    return result


def blocked_transitions(case: Case, user: Any) -> list[tuple[d.TransitionSpec, list[str]]]:
    """Transitions the user could fire but for failing guards, with the reasons (for the UI)."""
    pending = pending_transfer(case) if d.STAGES.get(case.stage, d.STAGES[d.Stage.CLOSED]).pending else None
    result = []
    for spec in (t for t in d.TRANSITIONS if case.stage in t.sources and _open_for(case, t)):
        if _actor_problem(case, spec, user, pending):
            continue
        reasons = g.failing(spec.guards, g.GuardContext(case, spec, user, {}, pending))
        if reasons:
            result.append((spec, reasons))
    return result


# ---------------------------------------------------------------------------------------------
# Inputs


def clean_inputs(spec: d.TransitionSpec, raw: dict[str, Any]) -> dict[str, Any]:
    """Typed inputs, or :class:`InvalidInputs` naming every bad field. Unknown fields are refused."""
    errors: dict[str, list[str]] = {}
    unknown = set(raw) - {i.name for i in spec.inputs}
    for name in sorted(unknown):
        errors.setdefault(name, []).append(_("“%(label)s”不接受此字段。") % {"label": spec.label})
    cleaned: dict[str, Any] = {}
    for inp in spec.inputs:
        value = raw.get(inp.name)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, ""):
            if inp.default is not None:
                cleaned[inp.name] = inp.default
            elif inp.required:
                errors.setdefault(inp.name, []).append(_("请填写“%(label)s”。") % {"label": inp.label})
            continue
        try:
            cleaned[inp.name] = _convert(inp, value)
        except (ValueError, TypeError, Agency.DoesNotExist):
            errors.setdefault(inp.name, []).append(_("“%(label)s”的值无效。") % {"label": inp.label})
    if errors:
        raise InvalidInputs(_("请更正以下内容后再提交。"), errors=errors)
    return cleaned


def _convert(inp: d.InputSpec, value: Any) -> Any:
    if inp.type in ("text", "textarea"):
        value = str(value)
        if len(value) > inp.length_limit:  # the limit the form and the API declare too
            raise ValueError("too long")
        return value
    if inp.type == "date":
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    if inp.type == "int":
        number = int(value)
        if not d.INT_MIN <= number <= d.INT_MAX:
            raise ValueError("out of range")
        return number
    if inp.type == "choice":
        if str(value) not in {str(c[0]) for c in inp.choices}:
            raise ValueError("not a choice")
        return str(value)
    if inp.type == "agency":
        pk = value.pk if isinstance(value, Agency) else int(value)
        return Agency.objects.get(pk=pk, kind=inp.agency_kind)
    if inp.type == "persons":  # ids of persons of the case; which ones is a guard's question
        items = value.split(",") if isinstance(value, str) else list(value)
        ids = sorted({int(getattr(v, "pk", v)) for v in items if str(getattr(v, "pk", v)).strip()})
        if any(not 0 < pk <= d.INT_MAX for pk in ids):
            raise ValueError("not a person id")
        return ids
    raise ValueError(f"unknown input type {inp.type}")


def _jsonable_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in inputs.items():
        if isinstance(v, Agency):
            out[k] = {"id": v.pk, "code": v.code, "name": v.name}
        elif isinstance(v, date):
            out[k] = v.isoformat()
        else:
            out[k] = v
    return out


def _inputs_from_json(spec: d.TransitionSpec, stored: dict[str, Any]) -> dict[str, Any]:
    raw = {k: (v["id"] if isinstance(v, dict) and "id" in v else v) for k, v in stored.items()}
    return clean_inputs(spec, raw)


# ---------------------------------------------------------------------------------------------
# Firing


def _lock(case: Case | int) -> Case:
    pk = case.pk if isinstance(case, Case) else case
    # No joins in the locking query: PostgreSQL re-evaluates a locked row after the other writer
    # commits, and a join on the holder it just changed would make the row vanish (DoesNotExist)
    # instead of showing the new stage.
    return Case.objects.select_for_update().get(pk=pk)


def _check_source(case: Case, spec: d.TransitionSpec, expected_version: int | None) -> None:
    if not _open_for(case, spec) or case.stage not in spec.sources:
        raise CaseChanged(
            _("案件状态已变化（当前阶段：%(stage)s），无法办理“%(label)s”，请刷新后重试。")
            % {"stage": d.STAGES[case.stage].label if case.stage in d.STAGES else case.stage, "label": spec.label}
        )
    if expected_version is not None and case.version != expected_version:
        raise CaseChanged(_("案件已被他人更新，请刷新后重试。"))


def fire(
    case: Case, transition_name: str, *, acting_user: Any, inputs: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> TransitionResult:
    """Fire ``transition_name`` on ``case`` as ``acting_user``; see the module docstring.

    Raises :class:`CaseChanged` if the case is no longer in a source stage (or ``expected_version``
    is stale), :class:`NotAllowed`, :class:`InvalidInputs` or :class:`GuardFailed`; on any error
    nothing is changed.
    """
    spec = d.get(transition_name)
    if spec.name == d.REGISTER:
        raise NotAllowed(_("立案请使用立案登记功能。"))
    cleaned = clean_inputs(spec, inputs or {})

    def run() -> TransitionResult:
        preparation = None
        if not spec.requires_approval:
            preparation = _prepare(case.pk, spec, actor=acting_user, acting_user=acting_user, inputs=cleaned)
        apply = lambda: _fire(case, spec, acting_user, cleaned, expected_version, preparation)  # noqa: E731
        if preparation is not None:
            _rehearse(preparation, apply)
        return _retrying_sqlite_lock(apply)

    result = _side_effects_guarded(run, case=case, transition=spec.name, acting_user=acting_user)
    _sync_caller_case(case, result.case)
    return result


@dataclass
class Preparation:
    """What :func:`_prepare` made, outside the transaction, and the case version it read."""

    version: int
    now: Any
    prepared: Prepared


def _prepares_anything(spec: d.TransitionSpec) -> bool:
    """Whether the transition renders or signs anything: generated documents, volumes, a signed
    manifest or receipt, custody certificates, receipts or change notices."""
    from workflows import effects

    signing_custody = set(spec.custody) - {"cancel_certificates"}
    return (spec.handover in (d.SEND, d.DELIVER, d.NOTIFY, d.ACCEPT, d.REJECT) or bool(signing_custody)
            or any(effects.prepares(e) for e in spec.effects))


class _Rehearsed(Exception):  # noqa: N818 - not an error: ends a rehearsal by rolling it back
    """Raised at the end of a rehearsed apply phase, inside its transaction: rolls it back."""


def _end_of_rehearsal() -> None:
    """Called as the last statement of every transaction the engine may rehearse: a rehearsal
    never commits (and its deferred audit events are dropped with the exception)."""
    from casehub.objectstore.prepared import rehearsing

    if rehearsing():
        raise _Rehearsed


def _rehearse(preparation: Preparation | Prepared, apply: Any) -> None:
    """Run the apply phase once as a rehearsal, then build what it will sign — outside the transaction.

    Custody certificates, take-over receipts and change notices, and the CMS signatures of a
    manifest or receipt, are made from rows the transaction itself writes (numbers per person,
    the periods of the clocks it opens, the persons it arrests or releases). The rehearsal is the
    apply phase itself, run under its locks up to its end and rolled back there (no audit event is
    appended, no on-commit work runs); a deferrable artifact is not built in it, only its recipe is
    kept (:mod:`casehub.objectstore.prepared`). Then, with no transaction and no lock, those forms
    are rendered, PAdES-signed and stored, the signatures made; the real apply phase computes the
    same recipes and finds them prepared. If the state changes in between (another case took a
    number), the recipe differs and the form is built in the transaction — correct, only slower.
    A refusal found by the rehearsal (stale case, guard, actor) is the answer: raised as is.
    """
    from casehub.objectstore.prepared import REHEARSE

    prepared = preparation.prepared if isinstance(preparation, Preparation) else preparation
    with prepared.active(REHEARSE):
        try:
            _retrying_sqlite_lock(apply)
        except _Rehearsed:
            pass
        else:  # pragma: no cover - every rehearsed transaction ends in _end_of_rehearsal
            raise AssertionError("a rehearsal committed")
    prepared.build_pending()
    prepared.hits.clear()
    prepared.misses.clear()


def _prepare(case_pk: int, spec: d.TransitionSpec, *, actor: Any, acting_user: Any, inputs: dict[str, Any],
             approval: ApprovalRequest | None = None) -> Preparation | None:
    """The prepare phase, outside any transaction: no lock is taken, no row is written, no audit
    event is appended. Renders the generated documents (numbers peeked at, not taken), builds and
    signs the volumes the package will carry, and writes them to the object store; an outage of the
    store or the signer raises here, before anything was written. Returns None when the transition
    has nothing to prepare or would be refused anyway (the apply phase then says why)."""
    from casehub.dossier import services as dossier
    from casehub.objectstore.prepared import PREPARE
    from casehub.objectstore.prepared import Prepared as Artifacts
    from workflows import effects

    if not _prepares_anything(spec):
        return None
    snapshot = Case.objects.select_related("holder_agency").get(pk=case_pk)
    if not _open_for(snapshot, spec) or snapshot.stage not in spec.sources:
        return None
    pending = pending_transfer(snapshot) if d.STAGES[snapshot.stage].pending else None
    if _actor_problem(snapshot, spec, actor, pending):
        return None
    if g.failing(spec.guards, g.GuardContext(snapshot, spec, actor, inputs, pending, approval=approval)):
        return None
    preparation = Preparation(version=snapshot.version, now=timezone.now(), prepared=Artifacts())
    inputs = persons.resolve(snapshot, spec, inputs)  # as the apply phase will (every person it numbers)
    ctx = _context(snapshot, spec, actor=actor, acting_user=acting_user, inputs=inputs, pending=pending,
                   approval=approval, now=preparation.now)
    ctx.preparing = True
    with preparation.prepared.active(PREPARE):
        effects.run(ctx)
        if spec.handover in (d.SEND, d.DELIVER, d.NOTIFY):
            agency_id = getattr(acting_user, "agency_id", None)
            first = next((number for pk, number in ctx.peeked_numbers if pk == agency_id), "")
            dossier.prepare_main_volumes(snapshot, acting_user=acting_user, at=preparation.now,
                                         new_documents=ctx.prepared_documents, first_case_number=first)
    return preparation


def _check_prepared(case: Case, preparation: Preparation | None) -> None:
    """The apply phase re-checks the version the prepare phase read: a case that changed meanwhile
    is not changed on the strength of what was prepared from its old state."""
    if preparation is not None and case.version != preparation.version:
        raise CaseChanged(_("案件在办理过程中已被他人更新，本次办理未生效，请刷新后重试。"))


def _retrying_sqlite_lock(run: Any, attempts: int = 50) -> Any:
    """Run a durable transaction, retrying while SQLite reports a lock held by another writer.

    PostgreSQL queues on the row lock. SQLite (the embedded default) takes its write lock at BEGIN
    (IMMEDIATE) and, for shared-cache connections, reports ``table is locked`` instead of waiting.
    The failed attempt rolled back completely, so running it again is safe; the retry then sees
    the other writer's result (usually as :class:`CaseChanged`).
    """
    import time

    from django.db import OperationalError, connection

    for attempt in range(attempts):
        try:
            return run()
        except OperationalError as exc:
            if connection.vendor != "sqlite" or "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 + 0.01 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _fire(case: Case, spec: d.TransitionSpec, acting_user: Any, cleaned: dict[str, Any],
          expected_version: int | None, preparation: Preparation | None = None) -> TransitionResult:
    with engine_writes(), transaction.atomic(durable=True), audit.deferred():
        locked = _lock(case)
        _check_source(locked, spec, expected_version)
        _check_prepared(locked, preparation)
        pending = pending_transfer(locked) if d.STAGES[locked.stage].pending else None
        problem = _actor_problem(locked, spec, acting_user, pending)
        if problem:
            raise NotAllowed(problem)
        cleaned = persons.resolve(locked, spec, cleaned)  # the approver sees who is concerned
        reasons = g.failing(spec.guards, g.GuardContext(locked, spec, acting_user, cleaned, pending))
        if reasons:
            raise GuardFailed(reasons)
        if spec.requires_approval:
            approval = ApprovalRequest.objects.create(
                case=locked, transition=spec.name, source_stage=locked.stage, inputs=_jsonable_inputs(cleaned),
                agency=acting_user.agency, requested_by=acting_user,
            )
            record_event(
                "workflow.approval_requested", actor=acting_user, obj=approval, case=locked,
                details={"transition": spec.name, "stage": locked.stage, "inputs": approval.inputs},
            )
            _notify_after_commit("approval_requested", approval=approval)
            result = TransitionResult(locked, spec, locked.stage, locked.stage, approval=approval)
        else:
            result = _execute(locked, spec, actor=acting_user, acting_user=acting_user, inputs=cleaned,
                              pending=pending, preparation=preparation)
        _end_of_rehearsal()
    return result


def decide_approval(
    approval: ApprovalRequest, *, acting_user: Any, approve: bool, comment: str = ""
) -> TransitionResult | None:
    """A supervisor of the requesting agency approves (the transition runs now) or turns it down."""
    comment = (comment or "").strip()
    if not approve and not comment:
        raise InvalidInputs(_("不批准时请填写审批意见。"), errors={"comment": [_("请填写审批意见。")]})

    def run() -> TransitionResult | None:
        preparation = _prepare_approved(approval, acting_user) if approve else None
        apply = lambda: _decide(approval, acting_user, approve, comment, preparation)  # noqa: E731
        if preparation is not None:
            _rehearse(preparation, apply)
        return _retrying_sqlite_lock(apply)

    return _side_effects_guarded(run, case=approval.case, transition=approval.transition, acting_user=acting_user)


def _prepare_approved(approval: ApprovalRequest, acting_user: Any) -> Preparation | None:
    """Prepare the approved transition (outside the transaction), if the approver may approve it."""
    current = ApprovalRequest.objects.filter(pk=approval.pk).select_related("requested_by__agency").first()
    if (
        current is None or current.status != ApprovalStatus.PENDING
        or acting_user.agency_id != current.agency_id or not has_capability(acting_user, APPROVE_OUTGOING)
        or acting_user.pk == current.requested_by_id
    ):
        return None
    spec = d.get(current.transition)
    try:
        inputs = _inputs_from_json(spec, current.inputs)
    except InvalidInputs:
        return None
    return _prepare(current.case_id, spec, actor=current.requested_by, acting_user=acting_user, inputs=inputs,
                    approval=current)


def _decide(approval: ApprovalRequest, acting_user: Any, approve: bool, comment: str,
            preparation: Preparation | None = None) -> TransitionResult | None:
    with engine_writes(), transaction.atomic(durable=True), audit.deferred():
        locked = _lock(approval.case_id)
        approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
        if approval.status != ApprovalStatus.PENDING:
            raise CaseChanged(_("该审批事项已被处理。"))
        if (
            acting_user.agency_id != approval.agency_id
            or not has_capability(acting_user, APPROVE_OUTGOING)
        ):
            raise NotAllowed(_("只有本机关的审批人可以审批。"))
        if acting_user.pk == approval.requested_by_id:
            raise NotAllowed(_("不能审批本人提交的事项。"))
        spec = d.get(approval.transition)
        # The time of the decision is the time of the transition it runs (prepared at that moment).
        decided_at = preparation.now if preparation is not None else timezone.now()
        approval.decided_by, approval.decided_at, approval.comment = acting_user, decided_at, comment
        if not approve:
            approval.status = ApprovalStatus.REJECTED
            approval.save(update_fields=["status", "decided_by", "decided_at", "comment"])
            record_event(
                "workflow.approval_rejected", actor=acting_user, obj=approval, case=locked,
                details={"transition": spec.name, "comment": comment},
            )
            _notify_after_commit("approval_decided", approval=approval)
            _end_of_rehearsal()
            return None
        _check_source(locked, spec, None)
        _check_prepared(locked, preparation)
        pending = pending_transfer(locked) if d.STAGES[locked.stage].pending else None
        # The officer who prepared it must still be entitled to it (they may have moved on).
        problem = _actor_problem(locked, spec, approval.requested_by, pending)
        if problem:
            raise NotAllowed(problem)
        cleaned = _inputs_from_json(spec, approval.inputs)
        reasons = g.failing(spec.guards, g.GuardContext(locked, spec, approval.requested_by, cleaned, pending,
                                                        approval=approval))
        if reasons:
            raise GuardFailed(reasons)
        approval.status = ApprovalStatus.APPROVED
        approval.save(update_fields=["status", "decided_by", "decided_at", "comment"])
        result = _execute(locked, spec, actor=approval.requested_by, acting_user=acting_user, inputs=cleaned,
                          pending=pending, approval=approval, preparation=preparation)
        _notify_after_commit("approval_decided", approval=approval)
        _end_of_rehearsal()
    return result


def cancel_approval(approval: ApprovalRequest, *, acting_user: Any) -> None:
    """The officer who asked for approval takes the request back."""
    with transaction.atomic(durable=True):
        locked = _lock(approval.case_id)
        approval = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
        if approval.status != ApprovalStatus.PENDING:
            raise CaseChanged(_("该审批事项已被处理。"))
        if acting_user.pk != approval.requested_by_id:
            raise NotAllowed(_("只有提交人可以撤销审批申请。"))
        approval.status, approval.decided_at = ApprovalStatus.CANCELLED, timezone.now()
        approval.save(update_fields=["status", "decided_at"])
        record_event("workflow.approval_cancelled", actor=acting_user, obj=approval, case=locked,
                     details={"transition": approval.transition})
        _notify_after_commit("approval_cancelled", approval=approval)


def _sync_caller_case(original: Case, fresh: Case) -> None:
    # Callers keep using the instance they passed in; make it reflect the new state.
    if original is not fresh:
        with engine_writes():
            for f in ("stage", "status", "holder_agency_id", "version", "updated_at"):
                setattr(original, f, getattr(fresh, f))
        original.__dict__.pop("holder_agency", None)
        original._state.fields_cache.pop("holder_agency", None)


def _context(case: Case, spec: d.TransitionSpec, *, actor: Any, acting_user: Any, inputs: dict[str, Any],
             pending: Transfer | None, approval: ApprovalRequest | None, now: Any) -> Context:
    """The transition's context: its target, the holder before and after, the recipients."""
    target = spec.target
    if target == d.SAME_STAGE:
        target = case.stage
    if target == d.SENDER_STAGE:
        if pending is None or not pending.sender_stage:
            raise CaseChanged(_("找不到待处理的移送。"))
        target = pending.sender_stage
    holder_before = case.holder_agency
    ctx = Context(
        case=case, spec=spec, actor=actor, acting_user=acting_user, inputs=inputs, source=case.stage, target=target,
        now=now, holder_before=holder_before, holder_after=holder_before, pending=pending, approval=approval,
    )
    ctx.recipients = _recipients(ctx)
    if spec.handover == d.ACCEPT and not d.holder_stays(spec):
        ctx.holder_after = pending.to_agency
    elif spec.handover == d.DELIVER:
        ctx.holder_after = ctx.recipient
    return ctx


def _execute(
    case: Case, spec: d.TransitionSpec, *, actor: Any, acting_user: Any, inputs: dict[str, Any],
    pending: Transfer | None, approval: ApprovalRequest | None = None, preparation: Preparation | None = None,
) -> TransitionResult:
    from contextlib import nullcontext

    from casehub.objectstore.prepared import APPLY, rehearsing

    inputs = persons.resolve(case, spec, inputs)
    ctx = _context(case, spec, actor=actor, acting_user=acting_user, inputs=inputs, pending=pending,
                   approval=approval, now=preparation.now if preparation is not None else timezone.now())
    applying = preparation is not None and not rehearsing()  # a rehearsal keeps its own phase
    with preparation.prepared.active(APPLY) if applying else nullcontext():
        result = _apply(ctx)
    if applying and preparation.prepared.misses:
        logger.info("transition %s on case %s: not prepared, built in the transaction: %s", spec.name, case.pk,
                    ", ".join(preparation.prepared.misses))
    return result


def _apply(ctx: Context) -> TransitionResult:
    from casehub.custody import handlers as custody
    from casehub.metrics import handlers as stays
    from workflows import effects, packaging, timekeeping

    case, spec, actor, acting_user, inputs = ctx.case, ctx.spec, ctx.actor, ctx.acting_user, ctx.inputs
    source, target, holder_before, approval = ctx.source, ctx.target, ctx.holder_before, ctx.approval

    effects.run(ctx)  # numbers, generated documents, custody status — before the package is sealed
    _handover(ctx, packaging)
    timekeeping.apply(ctx)

    case.stage = target
    case.holder_agency = ctx.holder_after
    case.version += 1
    if d.STAGES[target].final:
        case.status = CaseStatus.CLOSED
        for agency_id in access.agencies_with(case, access.ACT):
            access.grant(case, Agency.objects.get(pk=agency_id), act=False)
    elif case.status == CaseStatus.CLOSED:  # a closing revoked (art. 179): the holder acts again
        case.status = CaseStatus.ACTIVE
        access.grant(case, ctx.holder_after, act=True)
    case.save(update_fields=["stage", "holder_agency", "version", "status", "updated_at"])

    reason = str(inputs.get("reason") or inputs.get("decision") or "")
    log = TransitionLog.objects.create(
        case=case, transition=spec.name, source=source, target=target, actor=actor, actor_agency=actor.agency,
        from_agency=holder_before, to_agency=ctx.holder_after, occurred_at=ctx.now, reason=reason,
        inputs={**_jsonable_inputs(inputs), **({"numbers": ctx.numbers} if ctx.numbers else {})},
        transfer=ctx.transfers[0] if ctx.transfers else None, approval=approval,
        approved_by=acting_user if approval is not None else None, case_version=case.version,
    )
    # Declared participants, in the transaction (the case row and the log are written).
    custody.run(spec, case=case, target=target, to_agency=ctx.holder_after, acting_user=acting_user,
                transfer=ctx.transfers[0] if ctx.transfers else None, at=ctx.now)
    stays.record(log)
    signal_args = dict(
        sender="workflows", case=case, transition=spec, source=source, target=target,
        from_agency=holder_before, to_agency=ctx.holder_after, acting_user=acting_user,
        transfer=ctx.transfers[0] if ctx.transfers else None, transfers=list(ctx.transfers), log=log,
        inputs=inputs,
    )
    # Observers learn of the transition after it committed: a receiver can neither change the
    # transition's state nor veto it.
    transaction.on_commit(lambda: case_transitioned.send(**signal_args))
    record_event(
        f"workflow.{spec.name}", actor=acting_user, agency=acting_user.agency, obj=log, case=case,
        details={
            "transition": spec.name, "from": source, "to": target,
            "from_agency": holder_before.code, "to_agency": ctx.holder_after.code,
            "prepared_by": actor.get_username(), "reason": reason, "numbers": ctx.numbers,
            "transfers": [t.pk for t in ctx.transfers],
            "manifest_sha256": [t.manifest_sha256 for t in ctx.transfers if t.manifest_sha256],
        },
    )
    for callback in ctx.after_commit:
        transaction.on_commit(callback)
    _notify_after_commit("transitioned", case=case, spec=spec, transfers=list(ctx.transfers))
    return TransitionResult(case, spec, source, target, log=log, transfers=list(ctx.transfers), approval=approval)


def _recipients(ctx: Context) -> list[Agency]:
    """Who receives the package, by the spec's recipient rule. Paper registrations never count:
    a package goes back only to an agency that sent this case to the holder *electronically*."""
    spec = ctx.spec
    if spec.handover in (d.ACCEPT, d.REJECT, d.WITHDRAW):
        return []
    if spec.recipient == d.FORWARD:
        inp = next(i for i in spec.inputs if i.type == "agency")
        chosen = ctx.inputs.get(inp.name)
        if chosen is None:
            chosen = _same_region(ctx.holder_before, inp.agency_kind)
        elif not d.within_jurisdiction(ctx.holder_before, chosen):
            message = _("接收机关必须是本行政区划的同级机关。")
            raise InvalidInputs(message, errors={inp.name: [message]})
        return [chosen]
    if spec.recipient == d.JURISDICTION:
        from workflows import jurisdiction

        return [jurisdiction.recipient(ctx)]
    if spec.recipient == d.BACK_TO_SENDER:
        last = (
            Transfer.objects.filter(case=ctx.case, to_agency=ctx.holder_before, mode=TransferMode.ONLINE,
                                    status__in=[TransferStatus.ACCEPTED, TransferStatus.DELIVERED])
            .exclude(from_agency=ctx.holder_before).select_related("from_agency").order_by("-sent_at", "-id").first()
        )
        if last is None:
            raise GuardFailed([_("找不到向本机关移送本案的机关。")])
        return [last.from_agency]
    if spec.recipient == d.UP:
        higher = ctx.holder_before.parent
        if higher is None or higher.kind != ctx.holder_before.kind:
            raise GuardFailed([_("没有登记上一级人民法院。")])
        return [higher]
    if spec.recipient == d.EXECUTOR:
        from workflows import appeal, packaging

        executing = appeal.executing_authority(ctx.case, packaging.sender_of(ctx),
                                               str(ctx.inputs.get("executor") or ""))
        if executing is None:
            raise GuardFailed([_("找不到执行机关。")])
        return [executing]
    if spec.recipient == d.EARLIER_AGENCIES:
        ids = access.agencies_with(ctx.case, access.VIEW) - {ctx.holder_before.pk}
        if ctx.holder_before.kind == "court":
            # The court above read the case to approve an extension (art. 208); it held nothing.
            ids -= {ctx.holder_before.parent_id}
            ids -= set(Agency.objects.filter(pk__in=ids, kind__in=("detention", "justice", "law_firm"))
                       .values_list("pk", flat=True))
        return list(Agency.objects.filter(pk__in=ids).order_by("kind", "code"))
    return []


def _same_region(agency: Agency, kind: str) -> Agency:
    """Art. 162 同级人民检察院 / art. 176 同级人民法院: the agency of ``kind`` in the sender's region."""
    candidates = list(Agency.objects.filter(kind=kind, region=agency.region).exclude(region="")[:2])
    if len(candidates) != 1:
        raise InvalidInputs(_("请选择接收机关。"), errors={"to_agency": [_("请选择接收机关。")]})
    return candidates[0]


def _handover(ctx: Context, packaging: Any) -> None:
    spec, case = ctx.spec, ctx.case
    if spec.handover == d.SEND:
        transfer = packaging.send_package(ctx, ctx.recipient, requires_acceptance=True)
        ctx.transfers.append(transfer)
        access.grant(case, ctx.holder_before, act=False)  # the sender waits; it may only withdraw
    elif spec.handover == d.DELIVER:
        transfer = packaging.send_package(ctx, ctx.recipient, requires_acceptance=False)
        ctx.transfers.append(transfer)
        access.grant(case, ctx.holder_after, act=True)
        access.grant(case, ctx.holder_before, act=False)
    elif spec.handover == d.NOTIFY:
        for recipient in ctx.recipients:
            ctx.transfers.append(packaging.send_package(ctx, recipient, requires_acceptance=False))
    elif spec.handover == d.ACCEPT:
        packaging.answer_package(ctx, ctx.pending, accepted=True)
        ctx.transfers.append(ctx.pending)
        # A receiver that takes only its part (one executing authority of several, arts. 264, 269)
        # reads the case; the sender keeps it.
        stays = d.holder_stays(spec)
        access.grant(case, ctx.pending.to_agency, act=not stays)
        access.grant(case, ctx.pending.from_agency, act=stays)
    elif spec.handover == d.REJECT:
        packaging.answer_package(ctx, ctx.pending, accepted=False)
        ctx.transfers.append(ctx.pending)
        access.grant(case, ctx.pending.from_agency, act=True)
    elif spec.handover == d.WITHDRAW:
        t = ctx.pending
        t.status, t.decided_by, t.decided_at = TransferStatus.WITHDRAWN, ctx.acting_user, ctx.now
        t.decision_reason = str(ctx.inputs.get("reason", ""))
        t.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
        ctx.transfers.append(t)
        access.grant(case, t.from_agency, act=True)
    # Copies of what the package carries, to agencies that read without acting (Community Correction Law
    # art. 20: the procuratorate and the police receive copies of the documents sent to community correction).
    copies = spec.extra.get("copies")
    if copies and spec.handover in (d.SEND, d.DELIVER, d.NOTIFY):
        from workflows import execution

        for agency, kind in execution.COPIES[copies](ctx):
            ctx.transfers.append(packaging.send_package(ctx, agency, requires_acceptance=False, kind=kind))


def _notify_after_commit(event: str, **kwargs: Any) -> None:
    """In-app notifications are best effort and happen after commit (never block a transition)."""
    def _send() -> None:
        from workflows import notify

        notify.dispatch(event, **kwargs)

    transaction.on_commit(_send)


def register_paper_transfer(
    *, acting_user: Any, from_agency: Agency, kind: str, received_on: date, volumes: int, pages: int,
    reason: str, external_reference: str = "", case: Any = None, complete: bool = False,
) -> Transfer:
    """The receiving agency registers a hand-over that happened on paper (:data:`d.PAPER_REGISTRATION`).

    Its guards: the sender is another agency of the receiver's region, and the kind fits the
    direction. It moves no case and is never read to decide who holds or receives one; it counts
    as an offline transfer in the circulation rates (``mode=paper``, ``electronic=False``), so its
    rollups are written here, in the same transaction.
    """
    from django.core.exceptions import ValidationError

    from casehub.cases.selectors import visible_cases

    spec = d.PAPER_REGISTRATION
    agency = getattr(acting_user, "agency", None)
    if agency is None or not has_capability(acting_user, spec.capability):
        raise PermissionDenied(_("您的角色不能登记纸质移送。"))
    errors: dict[str, str] = {}
    if kind not in TransferKind.values:
        errors["kind"] = _("移送类别无效。")
    if received_on is None or received_on > timezone.localdate():
        errors["received_on"] = _("接收日期不能晚于今天。")
    if volumes is None or volumes < 1 or volumes > 10000:
        errors["volumes"] = _("卷数应为 1 至 10000。")
    if pages is None or pages < 1 or pages > 10_000_000:
        errors["pages"] = _("页数应为正数。")
    if not (reason or "").strip():
        errors["reason"] = _("请说明未通过平台移送的原因。")
    if case is not None and not visible_cases(acting_user).filter(pk=case.pk).exists():
        errors["case"] = _("找不到该案件。")
    if case is None and not (external_reference or "").strip():
        errors["external_reference"] = _("请填写案件名称或文号。")
    if "kind" not in errors:
        field_of = {"paper_from_own_region": "from_agency", "paper_kind_fits_direction": "kind"}
        gctx = g.GuardContext(case, spec, acting_user, {"from_agency": from_agency, "kind": kind})
        for name in spec.guards:
            reason_failed = g.GUARDS[name](gctx)
            if reason_failed:
                errors.setdefault(field_of.get(name, "non_field_errors"), reason_failed)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(durable=True):
        transfer = Transfer.objects.create(
            case=case, kind=kind, mode=TransferMode.PAPER, requires_acceptance=False, from_agency=from_agency,
            to_agency=agency, status=TransferStatus.ACCEPTED, sent_by=None,
            sent_at=timezone.make_aware(timezone.datetime(received_on.year, received_on.month, received_on.day)),
            decided_by=acting_user, decided_at=timezone.now(), decision_reason=reason.strip(),
            paper_received_on=received_on, paper_volumes=volumes, paper_pages=pages, page_count=pages,
            volume_count=volumes, external_reference=(external_reference or "").strip()[:200],
            electronic=False, dossier_complete=complete, verification_status=VerificationStatus.PENDING,
        )
        record_event(
            "transfer.paper_registered", actor=acting_user, obj=transfer, case=case,
            details={"kind": kind, "from_agency": from_agency.code, "received_on": received_on,
                     "volumes": volumes, "pages": pages, "reason": reason.strip(),
                     "external_reference": transfer.external_reference},
        )
    return transfer


def _prepared_apply(apply: Any) -> Any:
    """A decision outside :func:`fire` that signs a custody notice: rehearsed first, so that the
    notices it will sign are rendered and signed before (outside) its transaction (:func:`_rehearse`),
    then applied with them."""
    from casehub.objectstore.prepared import APPLY
    from casehub.objectstore.prepared import Prepared as Artifacts

    prepared = Artifacts()
    _rehearse(prepared, apply)
    with prepared.active(APPLY):
        return apply()


def decide_custody(record: Any, *, kind: str, reason: str, acting_user: Any, new_end: date | None = None) -> Any:
    """The responsible agency decides about one person's custody (:data:`d.PERSON_DECISIONS`).

    One transaction under the case lock: the decision changes the person's custody status, the
    custody notice reports it to the detention centre (signed), the case version moves on and one
    audit event records the decision. The police cannot record an arrest here: it needs the
    procuratorate's approval (CPL arts. 80, 87) and is recorded by the ``approve_arrest`` transition.
    """
    return _prepared_apply(
        lambda: _decide_custody_once(record, kind=kind, reason=reason, acting_user=acting_user, new_end=new_end))


def _decide_custody_once(record: Any, *, kind: str, reason: str, acting_user: Any, new_end: date | None = None) -> Any:
    from django.core.exceptions import ValidationError

    from casehub.cases.models import Person
    from casehub.custody import services as custody

    spec = d.PERSON_DECISIONS.get(kind)
    if spec is None:
        raise ValidationError({"kind": [_("变更事项无效。")]})
    agency = getattr(acting_user, "agency", None)
    if spec.deciding_kinds and agency is not None and agency.kind not in spec.deciding_kinds:
        message = _("逮捕须经人民检察院批准（刑事诉讼法第八十条、第八十七条），由“批准逮捕”流程记录，不能以变更通知登记。")
        raise ValidationError({"kind": [message]})
    if agency is None or agency.pk != record.responsible_agency_id or not has_capability(acting_user, spec.capability):
        raise NotAllowed(_("只有羁押权属机关可以发出变更羁押期限通知书。"))
    with engine_writes(), transaction.atomic(), audit.deferred():
        case = _lock(record.case_id)
        if spec.name in PERIOD_NOTICES and new_end is not None:
            _check_period_notice(record, new_end)
        person = Person.objects.select_for_update().get(pk=record.person_id)
        notice = custody.issue_notice(record, kind=spec.notice_kind, reason=reason, agency=agency,
                                      acting_user=acting_user, new_end=new_end)
        told = ""
        if spec.new_status and person.custody_status != spec.new_status:
            from workflows import custody_terms

            was_arrested = person.custody_status == "arrested"
            approving = custody_terms.arresting_procuratorate(person) if was_arrested else None
            person.custody_status, person.measure_since, person.measure_authority = (
                spec.new_status, timezone.now(), agency)
            person.save(update_fields=["custody_status", "measure_since", "measure_authority"])
            from casehub.clocks.services import refresh_custody
            from workflows import measures

            measures.sync_clocks(case, acting_user=acting_user)  # art. 79: the bail runs its own period
            refresh_custody(case, acting_user=acting_user)  # art. 105(4) follows the person's custody
            told = custody_terms.tell_approving_procuratorate(case, person, procuratorate=approving, agency=agency,
                                                              status=spec.new_status)  # art. 96
        case.version += 1
        case.save(update_fields=["version", "updated_at"])
        record_event("workflow.person_decision", actor=acting_user, agency=agency, obj=notice, case=case,
                     details={"decision": spec.name, "persons": [person.pk], "status": person.custody_status,
                              "notice": notice.number, "article": spec.article,
                              **({"notified": told, "notified_article": "刑事诉讼法第九十六条"} if told else {})})
        _end_of_rehearsal()
    return notice


# A notice of these kinds reports a period decided elsewhere; it cannot decide one.
PERIOD_NOTICES = ("extension", "recalculation")


def _check_period_notice(record: Any, new_end: date) -> None:
    """A 变更羁押期限通知书 of an extension or recount reports the end of the person's running period;
    it does not make one. Where a clock bounds the custody, the notice's end must be that clock's:
    the period changes only by the decisions the law names — the police chief's extension of the
    request period (art. 91; MPS Provisions 2020 art. 129), the procuratorate's extension of custody
    after arrest (arts. 156, 158, 159), the recount (art. 160), the stage periods' own extensions —
    each of which moves the clock and notifies the detention centre itself. Otherwise the clock, the
    换押证 and the detention centre's list would disagree (art. 105(4) per person, issue #15)."""
    from django.core.exceptions import ValidationError

    from casehub.custody.services import custody_period

    _kind, _start, end = custody_period(record)
    if end is not None and new_end != end:
        raise ValidationError({"new_end": [_(
            "羁押期限只能由法律规定的决定延长或重新计算（刑事诉讼法第九十一条、第一百五十六条至第一百六十条），"
            "延长侦查羁押期限须经人民检察院批准；%(name)s现行期限届满日为%(end)s，变更羁押期限通知书不能另定届满日。")
            % {"name": record.person.name, "end": end}]})


def record_own_detention(person: Any, *, centre: Agency, since: Any, agency: Agency | None = None) -> None:
    """The holder's own custody decision, recorded on the person: the police detain (刑事拘留,
    CPL arts. 82, 85) on their own authority, so registering a detention needs no other decision.
    Called by :func:`casehub.custody.services.register_custody` inside its transaction."""
    from casehub.cases.models import CustodyStatus

    with engine_writes():
        person.custody_status, person.custody_since, person.detention_centre = CustodyStatus.DETAINED, since, centre
        person.measure_since, person.measure_authority = since, agency or person.measure_authority
        person.save(update_fields=["custody_status", "custody_since", "detention_centre", "measure_since",
                                   "measure_authority"])


def record_registration(case: Case, *, acting_user: Any) -> TransitionLog:
    """The initial transition's log row; called by :func:`casehub.cases.services.register_case`
    inside its transaction."""
    from casehub.metrics import handlers as stays

    log = TransitionLog.objects.create(
        case=case, transition=d.REGISTER, source="", target=d.Stage.INVESTIGATION, actor=acting_user,
        actor_agency=acting_user.agency, from_agency=None, to_agency=case.holder_agency,
        case_version=case.version,
    )
    stays.record(log)
    from workflows import measures

    measures.sync_clocks(case, acting_user=acting_user)  # art. 79: a bail decided at registration runs
    return log


# --- per-person clock decisions ---------------------------------------------------------------

# Art. 91(1)(2): the 3-day request period may be extended by 1-4 days in special cases, and to 30 days
# in all for a major suspect of roaming, serial or gang crime — extra days at most, per category.
ARREST_REQUEST_EXTENSIONS: dict[str, tuple[int, str]] = {
    "special": (4, "特殊情况，延长一日至四日（刑事诉讼法第九十一条第一款）"),
    "roaming": (27, "流窜作案、多次作案、结伙作案的重大嫌疑分子，延长至三十日（刑事诉讼法第九十一条第二款）"),
}
# Arts. 156, 158, 159: investigation custody after arrest, extended in this order.
CUSTODY_EXTENSIONS: tuple[tuple[str, int, str], ...] = (
    ("156", 1, "刑事诉讼法第一百五十六条（上一级人民检察院批准延长一个月）"),
    ("158", 2, "刑事诉讼法第一百五十八条（省级人民检察院批准延长二个月）"),
    ("159", 2, "刑事诉讼法第一百五十九条（省级人民检察院批准再延长二个月）"),
)
EXTENSION_REQUEST_LEAD_DAYS = 7  # SPP Rules 2019 art. 309: filed at least 7 days before expiry


def _person_clock(person: Any, kind: str) -> Any:
    from casehub.clocks.models import ACTIVE_STATUSES, Clock

    return (Clock.objects.select_for_update().filter(person=person, kind=kind, status__in=ACTIVE_STATUSES)
            .order_by("-started_at", "-id").first())


def _notify_new_end(person: Any, *, agency: Agency, reason: str, acting_user: Any) -> Any:
    """The detention centre learns the person's new end date by a signed change notice."""
    from casehub.custody import services as custody
    from casehub.custody.models import CustodyRecord, NoticeKind, RecordStatus

    record = CustodyRecord.objects.filter(person=person, status=RecordStatus.IN_CUSTODY).first()
    if record is None:
        return None
    return custody.issue_notice(record, kind=NoticeKind.EXTENSION, reason=reason, agency=agency,
                                acting_user=acting_user)


def extend_arrest_request(person: Any, *, days: int, category: str, reason: str, acting_user: Any) -> Any:
    """延长提请批准逮捕期限: a detained suspect's 3-day request period (art. 91(1)) is extended by
    ``days``, approved by a county-level police chief (MPS Provisions 2020 art. 129) — in casehub
    the police agency's approving officer — with the category and the reason recorded. Decided
    before the period runs out; the detention centre receives a notice of the new end."""
    return _prepared_apply(
        lambda: _extend_arrest_request_once(person, days=days, category=category, reason=reason, acting_user=acting_user))


def _extend_arrest_request_once(person: Any, *, days: int, category: str, reason: str, acting_user: Any) -> Any:
    from django.core.exceptions import ValidationError

    from casehub.clocks import services as clocks
    from casehub.clocks.kinds import ClockKind

    reason = (reason or "").strip()
    if category not in ARREST_REQUEST_EXTENSIONS:
        raise ValidationError({"category": [_("延长事由无效。")]})
    if not reason:
        raise ValidationError({"reason": [_("请写明延长的理由。")]})
    agency = getattr(acting_user, "agency", None)
    with engine_writes(), transaction.atomic(), audit.deferred():
        case = _lock(person.case_id)
        if (agency is None or agency.pk != case.holder_agency_id or agency.kind != "police"
                or not has_capability(acting_user, APPROVE_OUTGOING)):
            raise NotAllowed(_("延长提请批准逮捕的期限须经县级以上公安机关负责人批准（公安机关办理刑事案件程序规定第一百二十九条）。"))
        clock = _person_clock(person, ClockKind.ARREST_REQUEST)
        if clock is None or clock.due_date < timezone.localdate():
            raise ValidationError({"days": [_("提请批准逮捕的期限已届满或未在计算，不能延长。")]})
        cap, label = ARREST_REQUEST_EXTENSIONS[category]
        already = clock.period_days - ClockKind.ARREST_REQUEST.period.days
        if days < 1 or already + days > cap:
            raise ValidationError({"days": [_("%(label)s：最多还可延长%(n)d日。") % {"label": label,
                                                                              "n": max(cap - already, 0)}]})
        decision = f"{label}；{reason}；批准人：{acting_user.get_full_name() or acting_user.get_username()}"
        clock = clocks.extend_clock(clock, days=days, decision=decision[:200], acting_user=acting_user)
        notice = _notify_new_end(person, agency=agency, reason=decision, acting_user=acting_user)
        case.version += 1
        case.save(update_fields=["version", "updated_at"])
        record_event("workflow.person_decision", actor=acting_user, agency=agency, obj=clock, case=case,
                     details={"decision": "arrest_request_extension", "persons": [person.pk], "days": days,
                              "category": category, "reason": reason, "due_date": clock.due_date,
                              "notice": getattr(notice, "number", ""), "article": "刑事诉讼法第九十一条"})
        _end_of_rehearsal()
    return clock


# No one-step extension of investigation custody: the police request it and a procuratorate decides
# (arts. 156, 158, 159; SPP Rules 2019 arts. 309-313), only through
# workflows.custody_terms.request_extension → forward_extension → decide_extension. A decision made on
# paper by a procuratorate not on the platform is recorded there too (``paper_reference``), by the
# procuratorate it came back through — never by the police.


# --- reconsideration and review of a refusal (art. 92) ----------------------------------------

REFUSAL_CHALLENGE_DAYS = 5  # MPS Provisions 2020 art. 141: within 5 days of receiving the decision


def _latest_refusal(person: Any) -> Any:
    from casehub.cases.models import CaseNumber, NumberKind

    return (CaseNumber.objects.filter(person=person, kind=NumberKind.ARREST_REFUSAL).select_related("agency")
            .order_by("-issued_at", "-id").first())


def _challenge_clock(person: Any, kind: str, *, active: bool) -> Any:
    from casehub.clocks.models import ACTIVE_STATUSES, Clock, ClockStatus

    statuses = ACTIVE_STATUSES if active else (ClockStatus.STOPPED,)
    return (Clock.objects.select_for_update().filter(person=person, kind=kind, status__in=statuses)
            .select_related("agency").order_by("-started_at", "-id").first())


def _arrest_after_all(case: Case, person: Any, *, procuratorate: Agency, reason: str, acting_user: Any) -> None:
    """The refusal is changed: the person is arrested (a 批准逮捕决定书 of the procuratorate that
    refused), custody after arrest starts for the police (art. 156) and the detention centre is told."""
    from casehub.cases.models import CustodyStatus, NumberKind
    from casehub.cases.numbering import issue_number
    from casehub.clocks import services as clocks
    from casehub.clocks.kinds import ClockKind
    from casehub.custody import services as custody
    from casehub.custody.models import CustodyRecord

    now = timezone.now()
    police = case.holder_agency if case.holder_agency.kind == "police" else case.origin_agency
    person.custody_status, person.measure_since, person.measure_authority = CustodyStatus.ARRESTED, now, procuratorate
    person.custody_since = now
    person.save(update_fields=["custody_status", "measure_since", "measure_authority", "custody_since"])
    issue_number(case, procuratorate, NumberKind.ARREST_DECISION, person=person)
    clocks.open_clock(case, ClockKind.INVESTIGATION_CUSTODY, agency=police, start=now, person=person,
                      decision=reason[:200], acting_user=acting_user)
    record = CustodyRecord.objects.filter(person=person).first()
    if record is not None and not record.in_custody:
        custody.resume_after_arrest(record, police=police, deciding=procuratorate, reason=reason,
                                    acting_user=acting_user, at=now)
    clocks.refresh_custody(case, acting_user=acting_user)


def request_arrest_reconsideration(person: Any, *, reason: str, acting_user: Any) -> Any:
    """要求复议 (art. 92; MPS Provisions 2020 art. 141): the police ask the procuratorate that refused
    a person's arrest to reconsider, within 5 days of the refusal; the person stays released. The
    procuratorate's 7 days (SPP Rules 2019 art. 290) run on their own clock."""
    from django.core.exceptions import ValidationError

    from casehub.agencies.permissions import PREPARE_OUTGOING
    from casehub.cases.models import CustodyStatus
    from casehub.clocks import services as clocks
    from casehub.clocks.counting import local_day
    from casehub.clocks.kinds import ClockKind

    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请写明要求复议的理由。")]})
    agency = getattr(acting_user, "agency", None)
    with engine_writes(), transaction.atomic(), audit.deferred():
        case = _lock(person.case_id)
        person = type(person).objects.select_for_update().get(pk=person.pk)
        if agency is None or agency.kind != "police" or agency.pk != case.holder_agency_id \
                or not has_capability(acting_user, PREPARE_OUTGOING):
            raise NotAllowed(_("只有本案的侦查机关可以要求复议。"))
        refusal = _latest_refusal(person)
        if refusal is None or person.custody_status == CustodyStatus.ARRESTED:
            raise ValidationError({"reason": [_("该人员没有不批准逮捕的决定。")]})
        if (timezone.localdate() - local_day(refusal.issued_at)).days > REFUSAL_CHALLENGE_DAYS:
            raise ValidationError({"reason": [_("要求复议应当在收到不批准逮捕决定书后五日以内提出。")]})
        if _challenge_clock(person, ClockKind.ARREST_RECONSIDERATION, active=True) is not None or \
                clocks_since(person, ClockKind.ARREST_RECONSIDERATION, refusal.issued_at):
            raise ValidationError({"reason": [_("已就该决定要求过复议。")]})
        clock = clocks.open_clock(case, ClockKind.ARREST_RECONSIDERATION, agency=refusal.agency,
                                  start=timezone.now(), person=person, decision=reason[:200], acting_user=acting_user)
        case.version += 1
        case.save(update_fields=["version", "updated_at"])
        record_event("workflow.person_decision", actor=acting_user, agency=agency, obj=clock, case=case,
                     details={"decision": "arrest_reconsideration_requested", "persons": [person.pk],
                              "refusal": refusal.number, "reason": reason, "due_date": clock.due_date,
                              "article": "刑事诉讼法第九十二条"})
    return clock


def clocks_since(person: Any, kind: str, since: Any) -> bool:
    from casehub.clocks.models import Clock

    return Clock.objects.filter(person=person, kind=kind, started_at__gte=since).exists()


def decide_arrest_reconsideration(person: Any, *, changed: bool, reason: str, acting_user: Any) -> Any:
    """复议决定 (SPP Rules 2019 art. 290): the procuratorate that refused decides whether to change its
    refusal. Kept: the person stays released. Changed: the person is arrested."""
    return _decide_challenge(person, kind="arrest_reconsideration", changed=changed, reason=reason,
                             acting_user=acting_user)


def request_arrest_review(person: Any, *, reason: str, acting_user: Any) -> Any:
    """提请复核 (art. 92; MPS Provisions 2020 art. 141): if the reconsideration kept the refusal, the
    police may ask the next-higher procuratorate to review it within 5 days; it decides within 15
    days (SPP Rules 2019 art. 291), on its own clock, while the person stays released."""
    from django.core.exceptions import ValidationError

    from casehub.agencies.models import AgencyKind
    from casehub.agencies.permissions import PREPARE_OUTGOING
    from casehub.cases.models import CustodyStatus
    from casehub.clocks import services as clocks
    from casehub.clocks.counting import local_day
    from casehub.clocks.kinds import ClockKind

    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请写明提请复核的理由。")]})
    agency = getattr(acting_user, "agency", None)
    with engine_writes(), transaction.atomic(), audit.deferred():
        case = _lock(person.case_id)
        person = type(person).objects.select_for_update().get(pk=person.pk)
        if agency is None or agency.kind != "police" or agency.pk != case.holder_agency_id \
                or not has_capability(acting_user, PREPARE_OUTGOING):
            raise NotAllowed(_("只有本案的侦查机关可以提请复核。"))
        decided = _challenge_clock(person, ClockKind.ARREST_RECONSIDERATION, active=False)
        if decided is None or person.custody_status == CustodyStatus.ARRESTED:
            raise ValidationError({"reason": [_("只有复议维持不批准逮捕决定的，才能提请复核。")]})
        if (timezone.localdate() - local_day(decided.stopped_at)).days > REFUSAL_CHALLENGE_DAYS:
            raise ValidationError({"reason": [_("提请复核应当在收到复议决定书后五日以内提出。")]})
        if clocks_since(person, ClockKind.ARREST_REVIEW_HIGHER, decided.stopped_at):
            raise ValidationError({"reason": [_("已就该决定提请过复核。")]})
        higher = decided.agency.parent
        if higher is None or higher.kind != AgencyKind.PROCURATORATE:
            raise ValidationError({"reason": [_("没有登记上一级人民检察院，无法提请复核。")]})
        access.grant(case, higher, act=False)
        clock = clocks.open_clock(case, ClockKind.ARREST_REVIEW_HIGHER, agency=higher, start=timezone.now(),
                                  person=person, decision=reason[:200], acting_user=acting_user)
        case.version += 1
        case.save(update_fields=["version", "updated_at"])
        record_event("workflow.person_decision", actor=acting_user, agency=agency, obj=clock, case=case,
                     details={"decision": "arrest_review_requested", "persons": [person.pk], "to": higher.code,
                              "reason": reason, "due_date": clock.due_date, "article": "刑事诉讼法第九十二条"})
    return clock


def decide_arrest_review(person: Any, *, changed: bool, reason: str, acting_user: Any) -> Any:
    """复核决定 (SPP Rules 2019 art. 291): the higher procuratorate decides; if it changes the refusal
    the procuratorate below approves the arrest and the police execute it."""
    return _decide_challenge(person, kind="arrest_review_higher", changed=changed, reason=reason,
                             acting_user=acting_user)


def _decide_challenge(person: Any, *, kind: str, changed: bool, reason: str, acting_user: Any) -> Any:
    return _prepared_apply(
        lambda: _decide_challenge_once(person, kind=kind, changed=changed, reason=reason, acting_user=acting_user))


def _decide_challenge_once(person: Any, *, kind: str, changed: bool, reason: str, acting_user: Any) -> Any:
    from django.core.exceptions import ValidationError

    from casehub.agencies.permissions import DECIDE_ARREST
    from casehub.clocks import services as clocks

    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [_("请写明决定的理由。")]})
    agency = getattr(acting_user, "agency", None)
    with engine_writes(), transaction.atomic(), audit.deferred():
        case = _lock(person.case_id)
        person = type(person).objects.select_for_update().get(pk=person.pk)
        clock = _challenge_clock(person, kind, active=True)
        if clock is None:
            raise ValidationError({"reason": [_("没有待决定的复议或复核。")]})
        if agency is None or agency.pk != clock.agency_id or not has_capability(acting_user, DECIDE_ARREST):
            raise NotAllowed(_("只有受理复议或复核的人民检察院可以作出决定。"))
        clocks.stop_clocks(case, [kind], at=timezone.now(), person=person, acting_user=acting_user,
                           reason="changed" if changed else "kept")
        if changed:
            refusal = _latest_refusal(person)
            _arrest_after_all(case, person, procuratorate=refusal.agency if refusal else agency,
                              reason=reason, acting_user=acting_user)
        case.version += 1
        case.save(update_fields=["version", "updated_at"])
        record_event("workflow.person_decision", actor=acting_user, agency=agency, obj=clock, case=case,
                     details={"decision": f"{kind}_decided", "persons": [person.pk], "changed": changed,
                              "reason": reason, "on_time": timezone.localdate() <= clock.due_date,
                              "article": "刑事诉讼法第九十二条"})
        _end_of_rehearsal()
    return clock
