"""Workflow actions, generated from the process definition (:mod:`workflows.definition`).

Nothing here is written per transition. For every :class:`~workflows.definition.TransitionSpec`
this module builds a request serializer from its ``inputs`` and a view that fires it through
:func:`workflows.engine.fire` — the same function the UI calls, which locks the case, checks the
actor's agency, role and object permission, the guards, and writes the log and the audit event.
The OpenAPI schema therefore lists one typed operation per transition
(``POST /api/v1/cases/{id}/actions/<transition>/``), and a new transition in the definition
appears in the API without code here.

Also here: the approval queue (internal approval of outgoing transitions) and transfers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import Http404
from django.urls import re_path
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from casehub.agencies.models import AgencyKind
from casehub.agencies.permissions import has_capability
from casehub.api import tasks
from casehub.api.base import accepted
from casehub.api.doors import DOOR_PERMISSIONS
from casehub.api.errors import Conflict, InternalError
from casehub.api.idempotency import idempotent
from casehub.api.models import ApiTask
from casehub.api.serializers import ID_MAX, AgencyRefSerializer, CaseSerializer, TaskSerializer
from casehub.api.strict import QueryFilter, StrictModelSerializer, StrictSerializer
from casehub.audit.services import record_event
from casehub.cases.doors import CASES
from casehub.cases.identity import manifest_for, require_id_numbers
from casehub.cases.models import Case
from casehub.cases.selectors import actionable_cases
from casehub.transfers.doors import APPROVAL_LIST, APPROVALS, PAPER_REGISTER, TRANSFER_LIST, TRANSFERS
from casehub.transfers.selectors import pending_transfer_to
from workflows import definition as d
from workflows import engine
from workflows.models import (
    ApprovalRequest,
    ApprovalStatus,
    Transfer,
    TransferKind,
    TransferStatus,
    VerificationStatus,
)

# --- reaching the case -----------------------------------------------------------------------------


def case_for_actions(user: Any, pk: Any) -> Case:
    """The case as the caller may act on it: one their agency can see, or one whose pending
    package is addressed to their agency (the receiver may accept or reject before it has any
    right on the case). Anything else is 404 — to a role that works on no cases at all too: the
    object is looked up before the role is checked (casehub.cases.doors), so nobody learns from a
    403 that a case exists. Whether the caller may fire a transition is then a 403 with the reason."""
    try:
        return CASES.get(user, pk)
    except Http404:
        # The receiver's package, seen through the package door (a role that reads no packages sees none).
        pending = pending_transfer_to(user, pk) if TRANSFER_LIST.can(user) else None
        if pending is None or pending.case_id is None:
            raise
        return Case.objects.select_related("holder_agency", "origin_agency").get(pk=pending.case_id)


def _annotated(case: Case, user: Any) -> Case:
    case.can_act = actionable_cases(user).filter(pk=case.pk).exists()
    return case


# --- the shape of a transition ---------------------------------------------------------------------


class InputSpecSerializer(StrictSerializer):
    name = serializers.CharField()
    label = serializers.CharField()
    type = serializers.ChoiceField(choices=["text", "textarea", "date", "int", "agency", "choice"])
    required = serializers.BooleanField()
    choices = serializers.ListField(child=serializers.CharField(), help_text="Allowed values (type=choice).")
    agency_kind = serializers.CharField(allow_blank=True, help_text="For type=agency: the kind of agency to pick.")
    help_text = serializers.CharField(allow_blank=True)
    default = serializers.CharField(allow_null=True)


class TransitionSerializer(StrictSerializer):
    name = serializers.CharField()
    label = serializers.CharField()
    target = serializers.CharField(help_text="Stage after firing (for a rejection/withdrawal: the sender's stage).")
    needs_approval = serializers.BooleanField(help_text="A supervisor of your agency must approve before it runs.")
    article = serializers.CharField(allow_blank=True, help_text="Criminal Procedure Law article(s) it implements.")
    description = serializers.CharField(allow_blank=True)
    inputs = InputSpecSerializer(many=True)
    url = serializers.CharField(help_text="POST here to fire it.")
    blocked_by = serializers.ListField(child=serializers.CharField(),
                                       help_text="Why it cannot be fired now (empty when available).")


class TransitionListSerializer(StrictSerializer):
    case = serializers.IntegerField()
    stage = serializers.CharField()
    version = serializers.IntegerField(help_text="Send back as expected_version to detect concurrent changes.")
    available = TransitionSerializer(many=True)
    blocked = TransitionSerializer(many=True, help_text="Yours to fire but for failing guards; see blocked_by.")


def describe_transition(spec: d.TransitionSpec, case: Case, request: Request, reasons: list[str] = ()) -> dict:
    return {
        "name": spec.name,
        "label": str(spec.label),
        "target": spec.target,
        "needs_approval": spec.requires_approval,
        "article": spec.article,
        "description": str(spec.description),
        "inputs": [
            {
                "name": i.name, "label": str(i.label), "type": i.type, "required": i.required and i.default is None,
                "choices": [str(c[0]) for c in i.choices], "agency_kind": i.agency_kind,
                "help_text": str(i.help_text), "default": None if i.default is None else str(i.default),
            }
            for i in spec.inputs
        ],
        "url": request.build_absolute_uri(f"/api/v1/cases/{case.pk}/actions/{spec.name}/"),
        "blocked_by": list(reasons),
    }


class FireResultSerializer(StrictSerializer):
    transition = serializers.CharField()
    outcome = serializers.ChoiceField(
        choices=["executed", "awaiting_approval"],
        help_text="`awaiting_approval`: nothing moved yet; a supervisor decides via /approvals/.",
    )
    source = serializers.CharField()
    target = serializers.CharField()
    approval = serializers.IntegerField(allow_null=True)
    transfers = serializers.ListField(child=serializers.IntegerField(), help_text="Packages sent by this transition.")
    case = CaseSerializer()


# --- generating one serializer and one view per transition -----------------------------------------


def _field_for(inp: d.InputSpec) -> serializers.Field:
    # Required-ness and limits come from the InputSpec, the same the engine and the UI form apply.
    required = inp.must_be_given
    common: dict[str, Any] = {"required": required, "help_text": str(inp.help_text or inp.label)}
    if inp.type in ("text", "textarea"):
        return serializers.CharField(max_length=inp.length_limit, allow_blank=not required, **common)
    if inp.type == "date":
        return serializers.DateField(**common)
    if inp.type == "int":
        return serializers.IntegerField(min_value=d.INT_MIN, max_value=d.INT_MAX, **common)
    if inp.type == "choice":
        return serializers.ChoiceField(choices=[str(c[0]) for c in inp.choices], **common)
    if inp.type == "agency":
        common["help_text"] = f"{common['help_text']} (id of a {inp.agency_kind} agency, GET /agencies/?kind=" \
                              f"{inp.agency_kind})"
        return serializers.IntegerField(min_value=1, max_value=ID_MAX, allow_null=not required, **common)
    if inp.type == "persons":
        common["help_text"] = f"{common['help_text']} (ids of persons of the case, GET /cases/{{id}}/; " \
                              f"omitted: the default the description names)"
        return serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=d.INT_MAX),
                                     allow_empty=True, **common)
    raise ValueError(f"input type {inp.type} has no API field")  # a definition bug: fail at import


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _example_value(inp: d.InputSpec) -> Any:
    if inp.type == "persons":
        return [1]
    return {"date": "2026-11-25", "int": 1, "agency": None}.get(inp.type) or (
        str(inp.choices[0][0]) if inp.choices else "……"
    )


def input_serializer(spec: d.TransitionSpec) -> type[serializers.Serializer]:
    fields: dict[str, Any] = {inp.name: _field_for(inp) for inp in spec.inputs}
    fields["expected_version"] = serializers.IntegerField(
        required=False, min_value=0, max_value=2**31 - 1,
        help_text="The case version you decided on (GET .../actions/); if the case changed since, 409.",
    )
    fields["Meta"] = type("Meta", (), {"ref_name": f"{_camel(spec.name)}Inputs"})
    return type(f"{_camel(spec.name)}InputSerializer", (StrictSerializer,), fields)


def _fire(request: Request, case_pk: Any, spec: d.TransitionSpec, serializer_class: type) -> Response:
    user = request.user
    case = case_for_actions(user, case_pk)
    # Who may fire it at all is answered before the inputs are looked at: a role without the right
    # gets 403, not a list of field errors. The engine checks everything again under the lock.
    if user.agency.kind != spec.agency_kind or not has_capability(user, spec.capability):
        raise exceptions.PermissionDenied(_("您的角色不能办理“%(label)s”。") % {"label": spec.label})
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"non_field_errors": [_("请求体应为 JSON 对象。")]})
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = dict(serializer.validated_data)
    expected_version = data.pop("expected_version", None)
    with transition_errors():
        result = engine.fire(case, spec.name, acting_user=user, inputs=data, expected_version=expected_version)
    case = Case.objects.select_related("holder_agency", "origin_agency").get(pk=case.pk)
    body = {
        "transition": spec.name,
        "outcome": "awaiting_approval" if result.awaiting_approval else "executed",
        "source": result.source, "target": result.target,
        "approval": result.approval.pk if result.approval is not None else None,
        "transfers": [t.pk for t in result.transfers],
        "case": CaseSerializer(_annotated(case, user), context={"request": request}).data,
    }
    return Response(body, status=status.HTTP_200_OK)


class SideEffectFailed(exceptions.APIException):
    """The store, the signer or the broker is down; nothing changed — retry later (Retry-After)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "side_effect_failed"
    wait = 30  # seconds, sent as Retry-After


@contextmanager
def transition_errors() -> Iterator[None]:
    """Map the engine's errors to API errors, one place for every call that fires or decides."""
    try:
        yield
    except engine.CaseChanged as exc:
        raise Conflict(exc.message, code="case_changed") from exc
    except engine.NotAllowed as exc:
        raise exceptions.PermissionDenied(exc.message) from exc
    except engine.InvalidInputs as exc:
        raise exceptions.ValidationError(exc.errors or {"non_field_errors": [exc.message]}) from exc
    except engine.GuardFailed as exc:
        raise GuardFailed(exc.reasons) from exc
    except engine.SideEffectFailed as exc:
        raise SideEffectFailed(exc.message) from exc
    except engine.TransitionCrashed as exc:
        raise InternalError(exc.message, incident=exc.incident) from exc


class GuardFailed(exceptions.APIException):
    """The request is well-formed but the law's conditions are not met (e.g. a third return)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "guard_failed"

    def __init__(self, reasons: list[str]) -> None:
        super().__init__({"non_field_errors": [exceptions.ErrorDetail(r, code="guard_failed") for r in reasons]})


GUARD_EXAMPLE = OpenApiExample("third return refused", response_only=True, status_codes=["409"], value={
    "code": "guard_failed", "message": "本案已退回补充侦查两次，不得再次退回（刑事诉讼法第一百七十五条）。",
    "errors": [{"field": "non_field_errors", "code": "guard_failed",
                "message": "本案已退回补充侦查两次，不得再次退回（刑事诉讼法第一百七十五条）。"}],
})


def _describe_action(spec: d.TransitionSpec) -> str:
    # Whether the action waits for a supervisor is the *effective* setting (after the deployment's
    # CASEHUB_WORKFLOW_APPROVALS), the one the engine applies, read when the schema is generated.
    return (
        f"{spec.description or ''}\n\nFired by: {AgencyKind(spec.agency_kind).label} "
        f"with capability `{spec.capability}` ({spec.party}). "
        f"Source stages: {', '.join(spec.sources)}. Target: {spec.target}. "
        f"{'Needs internal approval. ' if spec.requires_approval else ''}{spec.article}"
    )


_action_description = lazy(_describe_action, str)


def make_action_view(spec: d.TransitionSpec) -> type[APIView]:
    serializer_class = input_serializer(spec)
    example = {i.name: _example_value(i) for i in spec.inputs if i.required or i.default is not None}

    class ActionView(APIView):
        @extend_schema(
            operation_id=f"cases_actions_{spec.name}",
            summary=f"{spec.label} ({spec.name})",
            description=_action_description(spec),
            tags=["workflow actions"],
            request=serializer_class,
            responses={200: FireResultSerializer},
            parameters=[OpenApiParameter("case_pk", int, OpenApiParameter.PATH, description="Case id")],
            examples=[
                OpenApiExample("inputs", request_only=True, value={**example, "expected_version": 3}),
                GUARD_EXAMPLE,
            ],
        )
        @idempotent
        def post(self, request: Request, case_pk: str) -> Response:
            return _fire(request, case_pk, spec, serializer_class)

    ActionView.__name__ = f"{_camel(spec.name)}ActionView"
    ActionView.__qualname__ = ActionView.__name__
    return ActionView


ACTION_VIEWS: dict[str, type[APIView]] = {
    spec.name: make_action_view(spec) for spec in d.TRANSITIONS if spec.name != d.REGISTER
}


class TransitionListView(APIView):
    @extend_schema(
        summary="The transitions you may fire on this case now (and those blocked by a guard, with why)",
        tags=["workflow actions"], responses=TransitionListSerializer,
        parameters=[OpenApiParameter("case_pk", int, OpenApiParameter.PATH, description="Case id")],
    )
    def get(self, request: Request, case_pk: str) -> Response:
        case = case_for_actions(request.user, case_pk)
        available = [describe_transition(s, case, request) for s in engine.available_transitions(case, request.user)
                     if s.name in ACTION_VIEWS]
        blocked = [describe_transition(s, case, request, reasons)
                   for s, reasons in engine.blocked_transitions(case, request.user) if s.name in ACTION_VIEWS]
        return Response({"case": case.pk, "stage": case.stage, "version": case.version,
                         "available": available, "blocked": blocked})


def action_urlpatterns() -> list:
    # Ids longer than 18 digits cannot be a row id (bigint); they never reach the database.
    case = r"^cases/(?P<case_pk>[0-9]{1,18})/actions/"
    patterns = [re_path(f"{case}$", TransitionListView.as_view(), name="case-actions")]
    for name, view in ACTION_VIEWS.items():
        patterns.append(re_path(f"{case}{name}/$", view.as_view(), name=f"case-action-{name}"))
    return patterns


# --- internal approvals ----------------------------------------------------------------------------


class ApprovalSerializer(StrictModelSerializer):
    requested_by = serializers.CharField(source="requested_by.get_username", read_only=True)
    decided_by = serializers.CharField(source="decided_by.get_username", read_only=True, allow_null=True,
                                       default=None)
    case_title = serializers.CharField(source="case.title", read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = ("id", "case", "case_title", "transition", "source_stage", "inputs", "status", "requested_by",
                  "requested_at", "decided_by", "decided_at", "comment")


class ApprovalDecisionSerializer(StrictSerializer):
    approve = serializers.BooleanField(help_text="true runs the transition now; false turns it down.")
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000,
                                    help_text="Required when turning it down.")


class ApprovalFilter(QueryFilter):
    status = serializers.ChoiceField(choices=ApprovalStatus.choices, required=False)
    case = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)


@extend_schema_view(
    list=extend_schema(summary="Approval requests of your agency", tags=["approvals"], parameters=[
        OpenApiParameter("status", str, enum=ApprovalStatus.values), OpenApiParameter("case", int)]),
    retrieve=extend_schema(summary="One approval request", tags=["approvals"]),
)
class ApprovalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ApprovalSerializer
    queryset = ApprovalRequest.objects.none()
    ordering = "-id"

    # The one rule (casehub.transfers.doors, the same doors as the approval pages'): the list is 403
    # to a role that reads no approvals; one request the user may not see is 404; deciding one they
    # see without approval rights is 403.
    door = APPROVALS
    list_door = APPROVAL_LIST
    permission_classes = DOOR_PERMISSIONS
    door_actions = {"decide": "decide"}

    def get_queryset(self) -> Any:
        qs = APPROVALS.visible(self.request.user)
        if self.action == "list":
            f = ApprovalFilter(data=self.request.query_params)
            f.is_valid(raise_exception=True)
            qs = qs.filter(**f.validated_data)
        return qs

    @extend_schema(summary="Approve (the transition runs now) or turn down", tags=["approvals"],
                   request=ApprovalDecisionSerializer, responses={200: ApprovalSerializer},
                   examples=[OpenApiExample("approve", request_only=True, value={"approve": True, "comment": "同意"})])
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str) -> Response:
        approval = self.get_object()  # not visible: 404; no approval rights: 403 (DoorPermission)
        serializer = ApprovalDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transition_errors():
            engine.decide_approval(approval, acting_user=request.user, **serializer.validated_data)
        approval.refresh_from_db()
        return Response(ApprovalSerializer(approval).data)

    @extend_schema(summary="Take back your own approval request", tags=["approvals"], request=None,
                   responses={200: ApprovalSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        approval = self.get_object()
        with transition_errors():
            engine.cancel_approval(approval, acting_user=request.user)
        approval.refresh_from_db()
        return Response(ApprovalSerializer(approval).data)


# --- transfers ---------------------------------------------------------------------------------------


class TransferSerializer(StrictModelSerializer):
    from_agency = AgencyRefSerializer(read_only=True)
    to_agency = AgencyRefSerializer(read_only=True)
    direction = serializers.SerializerMethodField()

    class Meta:
        model = Transfer
        fields = (
            "id", "case", "kind", "mode", "transition", "direction", "from_agency", "to_agency", "status",
            "requires_acceptance", "sent_at", "document_count", "volume_count", "page_count", "total_bytes",
            "dossier_complete", "electronic", "verification_status", "verification_progress",
            "verification_errors", "verified_at", "decided_at", "decision_reason", "external_reference",
        )

    def get_direction(self, transfer: Transfer) -> str:
        user = self.context["request"].user
        return "outgoing" if transfer.from_agency_id == user.agency_id else "incoming"


class TransferDetailSerializer(TransferSerializer):
    manifest = serializers.SerializerMethodField()

    class Meta(TransferSerializer.Meta):
        fields = (*TransferSerializer.Meta.fields, "manifest", "manifest_sha256", "receipt")

    @extend_schema_field(serializers.JSONField(help_text="The signed manifest, parsed; persons' ID numbers "
                                                         "masked unless your role may see them in full."))
    def get_manifest(self, transfer: Transfer) -> dict[str, Any]:
        return manifest_for(self.context["request"].user, transfer.manifest)


class TransferFilter(QueryFilter):
    direction = serializers.ChoiceField(choices=["incoming", "outgoing"], required=False)
    status = serializers.ChoiceField(choices=TransferStatus.choices, required=False)
    case = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)


class SignedBlobSerializer(StrictSerializer):
    transfer = serializers.IntegerField()
    content = serializers.JSONField(help_text="The signed JSON, parsed.")
    bytes_base64 = serializers.CharField(help_text="The exact canonical bytes that were signed.")
    sha256 = serializers.CharField()
    signature_base64 = serializers.CharField(help_text="Detached CMS (PKCS#7) signature, DER.")


class PaperTransferSerializer(StrictSerializer):
    from_agency = serializers.IntegerField(min_value=1, max_value=ID_MAX, help_text="The agency that handed the paper dossier over.")
    kind = serializers.ChoiceField(choices=TransferKind.choices)
    received_on = serializers.DateField()
    volumes = serializers.IntegerField(min_value=1, max_value=10000)
    pages = serializers.IntegerField(min_value=1, max_value=10_000_000)
    reason = serializers.CharField(max_length=2000, help_text="Why it did not go through the platform.")
    external_reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    case = serializers.IntegerField(min_value=1, max_value=ID_MAX, required=False, allow_null=True, default=None)
    complete = serializers.BooleanField(default=False)




@extend_schema_view(
    list=extend_schema(summary="Transfers sent by or to your agency", tags=["transfers"], parameters=[
        OpenApiParameter("direction", str, enum=["incoming", "outgoing"]),
        OpenApiParameter("status", str, enum=TransferStatus.values), OpenApiParameter("case", int)]),
    retrieve=extend_schema(summary="One transfer with its signed manifest, verification and receipt",
                           tags=["transfers"], responses=TransferDetailSerializer),
)
class TransferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Accepting and rejecting a package are workflow actions (``accept_*``/``reject_*``/``docket_case``)."""

    serializer_class = TransferSerializer
    queryset = Transfer.objects.none()
    ordering = "-id"
    # The one rule (casehub.transfers.doors, the same door as the package pages'): a package the user
    # may not see is a 404; re-verifying one they see but did not receive is a 403.
    door = TRANSFERS
    list_door = TRANSFER_LIST  # a role that reads no packages: 403 on the list
    permission_classes = DOOR_PERMISSIONS
    door_actions = {"verify": "reverify"}

    def get_serializer_class(self) -> type:
        return TransferDetailSerializer if self.action == "retrieve" else TransferSerializer

    def get_queryset(self) -> Any:
        qs = TRANSFERS.visible(self.request.user)
        if self.action == "list":
            f = TransferFilter(data=self.request.query_params)
            f.is_valid(raise_exception=True)
            data = dict(f.validated_data)
            direction = data.pop("direction", None)
            if direction == "incoming":
                qs = qs.filter(to_agency_id=self.request.user.agency_id)
            elif direction == "outgoing":
                qs = qs.filter(from_agency_id=self.request.user.agency_id)
            if "case" in data:
                data["case_id"] = data.pop("case")
            qs = qs.filter(**data)
        return qs

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        transfer = self.get_object()
        response = Response(self.get_serializer(transfer).data)
        # The manifest lists persons with their ID numbers: an audited read (R2).
        record_event("transfer.viewed", actor=request.user, obj=transfer, case=transfer.case_id, details={"via": "api"})
        return response

    @extend_schema(
        summary="Verify the package again: signature, certificate chain, every object's SHA-256 (202 + task)",
        tags=["transfers"], request=None, responses={202: TaskSerializer},
    )
    @action(detail=True, methods=["post"], url_path="verifications")
    @idempotent
    def verify(self, request: Request, pk: str) -> Response:
        from casehub.transfers.services import reverify

        transfer = self.get_object()
        reverify(transfer, acting_user=request.user)  # checks the receiver's right, audits, queues the work
        return accepted(tasks.track("transfer.verify", owner=request.user, params={"transfer": transfer.pk}),
                        request)

    @extend_schema(summary="The signed manifest: exact bytes, SHA-256 and detached CMS signature (base64)",
                   tags=["transfers"], responses=SignedBlobSerializer)
    @action(detail=True, methods=["get"])
    def manifest(self, request: Request, pk: str) -> Response:
        transfer = self.get_object()
        require_id_numbers(request.user)  # exact signed bytes: full ID numbers, cannot be masked
        return _signed_blob(request, transfer, "manifest")

    @extend_schema(summary="The receiver's signed receipt (accepted/rejected, reason, verified manifest hash)",
                   tags=["transfers"], responses=SignedBlobSerializer)
    @action(detail=True, methods=["get"])
    def receipt(self, request: Request, pk: str) -> Response:
        transfer = self.get_object()
        if not transfer.receipt_bytes:
            raise exceptions.NotFound(_("该移送尚无回执。"))
        return _signed_blob(request, transfer, "receipt")

    @extend_schema(summary="Register a hand-over that happened on paper (counts in the circulation rates)",
                   tags=["transfers"], request=PaperTransferSerializer, responses={201: TransferSerializer},
                   examples=[OpenApiExample("paper", request_only=True, value={
                       "from_agency": 1, "kind": "review_transfer", "received_on": "2026-11-20", "volumes": 3,
                       "pages": 412, "reason": "系统故障，纸质移送", "external_reference": "深龙公（刑）诉字〔2026〕005号"})])
    @action(detail=False, methods=["post"])
    @idempotent
    def paper(self, request: Request) -> Response:
        from casehub.agencies.models import Agency
        from workflows.engine import register_paper_transfer

        PAPER_REGISTER.check(request.user)
        serializer = PaperTransferSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["from_agency"] = Agency.objects.filter(pk=data["from_agency"]).first()
        if data.get("case") is not None:
            # The service answers "no such case" for one the caller may not see; an unknown id alike.
            data["case"] = Case.objects.filter(pk=data["case"]).first()
            if data["case"] is None:
                raise exceptions.ValidationError({"case": [_("找不到该案件。")]})
        if data["from_agency"] is None:
            raise exceptions.ValidationError({"from_agency": [_("请选择移送机关（不能是本机关）。")]})
        transfer = register_paper_transfer(acting_user=request.user, **data)
        return Response(TransferSerializer(transfer, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


def _signed_blob(request: Request, transfer: Transfer, which: str) -> Response:
    import base64

    from casehub.audit.services import record_event

    raw = bytes(getattr(transfer, f"{which}_bytes") or b"")
    record_event(f"transfer.{which}_downloaded", actor=request.user, obj=transfer, case=transfer.case_id,
                 details={"transfer": transfer.pk, "via": "api"})
    return Response({
        "transfer": transfer.pk, "content": getattr(transfer, which),
        "bytes_base64": base64.b64encode(raw).decode(), "sha256": getattr(transfer, f"{which}_sha256"),
        "signature_base64": base64.b64encode(bytes(getattr(transfer, f"{which}_signature") or b"")).decode(),
    })


@tasks.mirror("transfer.verify")
def _transfer_verification_state(task: ApiTask) -> dict[str, Any]:
    transfer = Transfer.objects.filter(pk=task.params.get("transfer")).first()
    if transfer is None:
        return {"status": "failed", "error": {"code": "not_found", "message": _("移送已不存在。")}}
    vs = transfer.verification_status
    if vs in (VerificationStatus.PENDING, VerificationStatus.RUNNING):
        return {"status": "running" if vs == VerificationStatus.RUNNING else "pending",
                "progress": transfer.verification_progress, "step": "verify"}
    return {"status": "succeeded", "progress": 100, "step": "", "finished_at": transfer.verified_at,
            "result": {"ok": vs == VerificationStatus.PASSED, "errors": transfer.verification_errors,
                       "manifest_sha256": transfer.manifest_sha256}}
