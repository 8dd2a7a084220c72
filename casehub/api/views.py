"""API resources over agencies, cases, persons, audit events, credentials and tasks.

Every case comes from :func:`casehub.cases.selectors.visible_cases` — another agency's case is
404 — and every state change goes through the same service function as the UI, which checks
again and writes the audit event.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from casehub.agencies import permissions as p
from casehub.agencies.doors import ListDoor, any_capability
from casehub.agencies.models import Agency, AgencyKind
from casehub.api import credentials, tasks
from casehub.api.authentication import session_verified
from casehub.api.base import accepted
from casehub.api.doors import DOOR_PERMISSIONS
from casehub.api.errors import Conflict
from casehub.api.idempotency import idempotent
from casehub.api.models import ApiCredential, ApiTask, CredentialKind
from casehub.api.serializers import (
    ID_MAX,
    AgencySerializer,
    AuditEventSerializer,
    CaseCreateSerializer,
    CaseDetailSerializer,
    CaseSerializer,
    ClientCreateSerializer,
    CredentialSerializer,
    IssuedCredentialSerializer,
    MeSerializer,
    OffenceSerializer,
    PersonalTokenCreateSerializer,
    PersonInSerializer,
    PersonSerializer,
    TaskSerializer,
)
from casehub.api.strict import QueryFilter
from casehub.audit.doors import AUDIT_TRAIL
from casehub.audit.models import AuditEvent
from casehub.audit.selectors import visible_events
from casehub.audit.services import record_event
from casehub.cases.doors import CASE_LIST, CASE_REGISTER, CASES
from casehub.cases.identity import may_see_id_numbers
from casehub.cases.models import Case, CaseNumber, CaseStatus, Offence, Person
from casehub.cases.persons import add_person
from casehub.cases.selectors import (
    actionable_cases,
    search_cases,
)
from casehub.cases.services import register_case


def _validated_query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Query parameters checked like a body: a bad filter is a 400 naming the parameter."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if v not in (None, "")}


# --- who am I -------------------------------------------------------------------------------------


class MeView(APIView):
    @extend_schema(responses=MeSerializer, summary="The caller: agency, roles, capabilities, credential used")
    def get(self, request: Request) -> Response:
        user = request.user
        credential = getattr(user, "api_credential", None)
        capabilities = sorted(c for c in {c for caps in p.ROLE_CAPABILITIES.values() for c in caps}
                              if p.has_capability(user, c))
        data = {
            "id": user.pk, "username": user.get_username(), "display_name": str(user), "agency": user.agency,
            "roles": sorted(user.roles), "capabilities": capabilities, "credential": credential,
        }
        return Response(MeSerializer(data).data)


# --- agencies -------------------------------------------------------------------------------------


class AgencyFilter(QueryFilter):
    kind = serializers.ChoiceField(choices=AgencyKind.choices, required=False)


@extend_schema_view(
    list=extend_schema(summary="Agencies (the directory every client may read)",
                       parameters=[OpenApiParameter("kind", str, enum=AgencyKind.values)]),
    retrieve=extend_schema(summary="One agency"),
)
class AgencyViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AgencySerializer
    queryset = Agency.objects.all()
    ordering = "id"

    def get_queryset(self) -> QuerySet[Agency]:
        qs = Agency.objects.all()
        if self.action == "list":
            qs = qs.filter(**_validated_query(AgencyFilter, self.request))
        return qs


# --- offences (reference data) ----------------------------------------------------------------------


@extend_schema_view(list=extend_schema(summary="Offences (罪名) in force, for case registration"))
class OffenceViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = OffenceSerializer
    queryset = Offence.objects.filter(effective_to__isnull=True)
    ordering = "code"
    lookup_field = "code"


# --- cases ----------------------------------------------------------------------------------------


class CaseFilter(QueryFilter):
    q = serializers.CharField(required=False, allow_blank=True, max_length=100)
    stage = serializers.CharField(required=False, allow_blank=True, max_length=40)
    status = serializers.ChoiceField(choices=CaseStatus.choices, required=False, allow_blank=True)
    can_act = serializers.BooleanField(required=False, allow_null=True, default=None)


CASE_FILTER_PARAMS = [
    OpenApiParameter("q", str, description="Search: any case number, person name or ID number, offence, title."),
    OpenApiParameter("stage", str, description="Workflow stage, e.g. `investigation`."),
    OpenApiParameter("status", str, enum=CaseStatus.values),
    OpenApiParameter("can_act", bool, description="Only cases the caller's agency currently holds (true)."),
]


@extend_schema_view(
    list=extend_schema(summary="Cases visible to the caller's agency, searchable", parameters=CASE_FILTER_PARAMS),
    retrieve=extend_schema(summary="One case with its persons", responses=CaseDetailSerializer),
    create=extend_schema(
        summary="Register a case (立案登记, police investigators)", request=CaseCreateSerializer,
        responses={201: CaseDetailSerializer},
    ),
)
class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  viewsets.GenericViewSet):
    serializer_class = CaseSerializer
    queryset = Case.objects.none()
    ordering = "-id"
    # The one rule (casehub.cases.doors, the same as the case pages'): the list is 403 to a role that
    # reads no cases; one case the caller may not see (such a role included) is 404.
    list_door = CASE_LIST
    permission_classes = DOOR_PERMISSIONS

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["show_id_number"] = may_see_id_numbers(self.request.user)
        return context

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return CaseDetailSerializer if self.action == "retrieve" else CaseSerializer

    def get_queryset(self) -> QuerySet[Case]:
        user = self.request.user
        qs = CASES.visible(user)
        if self.action == "list":
            filters = _validated_query(CaseFilter, self.request)
            qs = search_cases(qs, q=filters.get("q", ""), stage=filters.get("stage", ""),
                              status=filters.get("status", ""), by_id_number=may_see_id_numbers(user))
            if "can_act" in filters:
                qs = qs.filter(pk__in=actionable_cases(user).values("pk")) if filters["can_act"] else \
                    qs.exclude(pk__in=actionable_cases(user).values("pk"))
        qs = qs.annotate(can_act=Exists(actionable_cases(user).filter(pk=OuterRef("pk"))))
        qs = qs.select_related("origin_agency", "holder_agency").prefetch_related(
            Prefetch("numbers", queryset=CaseNumber.objects.select_related("agency").order_by("issued_at", "id")),
            "offences",
        )
        if self.action == "retrieve":
            qs = qs.prefetch_related(
                Prefetch("persons", queryset=Person.objects.select_related("detention_centre").order_by("id")),
                "handling_officers",
            )
        return qs

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        # Names and ID numbers of the persons are in the answer: a read that is audited (R2).
        record_event("case.viewed", actor=request.user, case=int(kwargs["pk"]), details={"via": "api"})
        return response

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        CASE_REGISTER.check(request.user)  # 403 before the body is looked at
        serializer = CaseCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        case = register_case(acting_user=request.user, **serializer.validated_data)
        instance = self.get_queryset().get(pk=case.pk)
        body = CaseDetailSerializer(instance, context=self.get_serializer_context()).data
        location = request.build_absolute_uri(f"{request.path.rstrip('/')}/{case.pk}/")
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})


@extend_schema_view(
    list=extend_schema(summary="Persons in a case"),
    retrieve=extend_schema(summary="One person in a case"),
    create=extend_schema(summary="Add a person (the holding agency's case officers)", request=PersonInSerializer,
                         responses={201: PersonSerializer}),
)
class PersonViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    viewsets.GenericViewSet):
    serializer_class = PersonSerializer
    queryset = Person.objects.none()
    ordering = "id"

    def get_case(self, action: str | None = None) -> Case:
        # The case first: 404 to who may not see it (a role that reads no cases included), then
        # 403 with the reason for an action the caller's role or agency may not take on it.
        return CASES.get(self.request.user, self.kwargs["case_pk"], action)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        context["show_id_number"] = may_see_id_numbers(self.request.user)
        return context

    def get_queryset(self) -> QuerySet[Person]:
        return Person.objects.filter(case=self.get_case()).select_related("detention_centre")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        record_event("case.persons_viewed", actor=request.user, case=int(kwargs["case_pk"]), details={"via": "api"})
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().retrieve(request, *args, **kwargs)
        record_event("case.persons_viewed", actor=request.user, case=int(kwargs["case_pk"]),
                     details={"via": "api", "person": int(kwargs["pk"])})
        return response

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        case = self.get_case("add_person")
        serializer = PersonInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        person = add_person(case, acting_user=request.user, data=serializer.validated_data)
        body = PersonSerializer(person, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)


# --- audit (auditors) ----------------------------------------------------------------------------


class AuditFilter(QueryFilter):
    action = serializers.CharField(required=False, max_length=64)
    case = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    agency = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)


@extend_schema_view(
    list=extend_schema(summary="Audit events (auditors)", parameters=[
        OpenApiParameter("action", str, description="Exact action, e.g. `case.registered`."),
        OpenApiParameter("case", int), OpenApiParameter("agency", int),
        OpenApiParameter("since", str, description="ISO 8601 date-time, inclusive."),
        OpenApiParameter("until", str, description="ISO 8601 date-time, exclusive."),
    ]),
    retrieve=extend_schema(summary="One audit event by sequence number"),
)
class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.none()
    ordering = "-sequence"
    lookup_field = "sequence"
    # The one rule (casehub.audit.doors): the trail is 403 to a role without view_audit; one event
    # outside the auditor's region, or asked for by any other role, is 404 (visible_events is empty).
    list_door = AUDIT_TRAIL
    permission_classes = DOOR_PERMISSIONS

    def get_queryset(self) -> QuerySet[AuditEvent]:
        qs = visible_events(self.request.user)  # the auditor's region, as in the auditor's view
        if self.action == "list":
            f = _validated_query(AuditFilter, self.request)
            mapping = {"action": "action", "case": "case_id", "agency": "agency_id",
                       "since": "occurred_at__gte", "until": "occurred_at__lt"}
            qs = qs.filter(**{mapping[k]: v for k, v in f.items()})
        return qs


class VerificationViewSet(viewsets.GenericViewSet):
    serializer_class = TaskSerializer
    queryset = ApiTask.objects.none()

    @extend_schema(
        summary="Verify the whole audit chain and its signed checkpoints (long work: 202 + task)",
        request=None, responses={202: TaskSerializer},
        examples=[OpenApiExample("queued", response_only=True, status_codes=["202"], value={
            "id": "0b7e1a9c-2d1f-4d59-8f43-2f1b8f0b5a11", "kind": "audit.verify", "status": "pending",
            "progress": 0, "step": "", "result": None, "error": None, "created_at": "2026-11-25T16:00:00+08:00",
            "updated_at": "2026-11-25T16:00:00+08:00", "finished_at": None,
        })],
    )
    @idempotent
    def create(self, request: Request) -> Response:
        AUDIT_TRAIL.check(request.user)
        task = tasks.start("audit.verify", owner=request.user, params={})
        return accepted(task, request)


@tasks.register("audit.verify")
def _verify_audit(task: ApiTask, progress: tasks.Progress) -> dict[str, Any]:
    from casehub.audit.verify import verify_audit_trail

    progress(10, "verify chain")
    return verify_audit_trail(record=True, actor=task.owner).as_dict()


# --- tasks ------------------------------------------------------------------------------------------


@extend_schema_view(retrieve=extend_schema(summary="Poll long work: status, progress, result or error"))
class TaskViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"  # a UUID
    serializer_class = TaskSerializer
    queryset = ApiTask.objects.none()

    def get_queryset(self) -> QuerySet[ApiTask]:
        return ApiTask.objects.filter(owner=self.request.user)  # someone else's task is 404

    @extend_schema(summary="Queue stalled work again (only when `stalled` is true; 409 not_stalled otherwise)",
                   request=None, responses={200: TaskSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        task = self.get_object()
        try:
            tasks.retry(task, request.user)
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages), code="not_stalled") from None
        task.refresh_from_db()
        return Response(TaskSerializer(task, context={"request": request}).data)


# --- credentials ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Your personal API tokens"),
    create=extend_schema(summary="Issue a personal token (the secret is shown once)",
                         request=PersonalTokenCreateSerializer, responses={201: IssuedCredentialSerializer}),
    destroy=extend_schema(summary="Revoke a personal token at once"),
)
class PersonalTokenViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                           viewsets.GenericViewSet):
    serializer_class = CredentialSerializer
    queryset = ApiCredential.objects.none()

    def get_queryset(self) -> QuerySet[ApiCredential]:
        return ApiCredential.objects.filter(user=self.request.user, kind=CredentialKind.PERSONAL)

    @idempotent(secret_fields=("token",))
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = PersonalTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = credentials.issue_personal_token(acting_user=request.user, **serializer.validated_data,
                                                  second_factor_verified=session_verified(request))
        body = IssuedCredentialSerializer(issued.credential).data | {"token": issued.token}
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        credentials.revoke(self.get_object(), acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


CLIENT_MANAGERS = ListDoor("api.clients", any_capability(p.MANAGE_AGENCY_USERS),
                           lambda: _("只有机构管理员可以管理系统客户端。"))


@extend_schema_view(
    list=extend_schema(summary="System clients of your agency (agency administrators)"),
    create=extend_schema(summary="Register a system client acting as one role (the secret is shown once)",
                         request=ClientCreateSerializer, responses={201: IssuedCredentialSerializer}),
    destroy=extend_schema(summary="Revoke a system client's credential at once"),
)
class ClientViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                    viewsets.GenericViewSet):
    serializer_class = CredentialSerializer
    queryset = ApiCredential.objects.none()
    # The one rule (casehub.agencies.doors): listing and registering clients is 403 to anyone but the
    # agency's administrator; one client they may not see (another agency's, or any for another
    # role) is 404.
    list_door = CLIENT_MANAGERS
    list_door_actions = ("list", "create")
    permission_classes = DOOR_PERMISSIONS

    def get_queryset(self) -> QuerySet[ApiCredential]:
        if not CLIENT_MANAGERS.can(self.request.user):
            return ApiCredential.objects.none()
        return ApiCredential.objects.filter(agency_id=self.request.user.agency_id, kind=CredentialKind.CLIENT)

    @idempotent(secret_fields=("token",))
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ClientCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = credentials.register_client(
            acting_user=request.user, agency=request.user.agency, **serializer.validated_data,
            second_factor_verified=session_verified(request),
        )
        body = IssuedCredentialSerializer(issued.credential).data | {"token": issued.token}
        return Response(body, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        credentials.revoke(self.get_object(), acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

