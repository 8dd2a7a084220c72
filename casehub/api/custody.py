"""Custody transfers (换押) for detention centres, and the auditors' circulation metrics.

Custody goes through :mod:`casehub.custody.selectors` (a detention officer sees only the persons
held in their own centre) and :func:`casehub.custody.services.acknowledge`. Metrics are the
dashboard's own computation (:func:`casehub.metrics.dashboard.build`), validated by its form and
scoped to the auditor's region, returned as data.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
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

from casehub.api.doors import DOOR_PERMISSIONS
from casehub.api.idempotency import idempotent
from casehub.api.serializers import ID_MAX, AgencyRefSerializer
from casehub.api.strict import QueryFilter, StrictModelSerializer, StrictSerializer
from casehub.audit.services import record_event
from casehub.cases.doors import CASES
from casehub.cases.identity import id_number_for
from casehub.custody import selectors as custody
from casehub.custody.doors import CENTRE_LIST, CERTIFICATES, ITEM_LIST, NOTICES
from casehub.custody.models import (
    CertificateStatus,
    CustodyCertificate,
    CustodyNotice,
    CustodyRecord,
    NoticeKind,
    RecordStatus,
)
from casehub.custody.services import acknowledge, issue_notice_by_user
from casehub.metrics.doors import METRICS


def _masked(person: Any, request: Request) -> str:
    return id_number_for(request.user, person.id_number)


class CustodyPersonSerializer(StrictSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    id_number = serializers.CharField(help_text="Masked unless your role may see it in full.")


def _person(obj: Any, request: Request) -> dict[str, Any]:
    return {"id": obj.person_id, "name": obj.person.name, "id_number": _masked(obj.person, request)}


class DetaineeSerializer(StrictModelSerializer):
    person = serializers.SerializerMethodField()
    responsible_agency = AgencyRefSerializer(read_only=True)
    remaining_days = serializers.SerializerMethodField()

    class Meta:
        model = CustodyRecord
        fields = ("id", "person", "case", "measure", "status", "responsible_agency", "stage", "detained_at",
                  "period_kind", "period_start", "period_end", "remaining_days", "ended_at")

    @extend_schema_field(CustodyPersonSerializer)
    def get_person(self, record: CustodyRecord) -> dict[str, Any]:
        return _person(record, self.context["request"])

    @extend_schema_field(serializers.IntegerField(allow_null=True, help_text="Days until period_end (negative: over)."))
    def get_remaining_days(self, record: CustodyRecord) -> int | None:
        return (record.period_end - timezone.localdate()).days if record.period_end else None


class CertificateSerializer(StrictModelSerializer):
    person = serializers.SerializerMethodField()
    detention_centre = AgencyRefSerializer(read_only=True)
    from_agency = AgencyRefSerializer(read_only=True)
    to_agency = AgencyRefSerializer(read_only=True)

    class Meta:
        model = CustodyCertificate
        fields = ("id", "number", "channel", "case", "person", "detention_centre", "from_agency", "to_agency",
                  "from_stage", "to_stage", "reason", "transfer", "status", "issued_at", "taken_over_at",
                  "period_start", "period_end", "acknowledged_at", "paper_reference")

    @extend_schema_field(CustodyPersonSerializer)
    def get_person(self, cert: CustodyCertificate) -> dict[str, Any]:
        return _person(cert, self.context["request"])


class NoticeSerializer(StrictModelSerializer):
    person = serializers.SerializerMethodField()
    agency = AgencyRefSerializer(read_only=True)

    class Meta:
        model = CustodyNotice
        fields = ("id", "number", "kind", "case", "person", "detention_centre", "agency", "previous_end",
                  "new_end", "reason", "issued_at", "acknowledged_at")

    @extend_schema_field(CustodyPersonSerializer)
    def get_person(self, notice: CustodyNotice) -> dict[str, Any]:
        return _person(notice, self.context["request"])


class AcknowledgedSerializer(StrictSerializer):
    acknowledged = serializers.BooleanField(help_text="false: it had already been acknowledged (nothing changed).")
    acknowledged_at = serializers.DateTimeField()


class DetaineeFilter(QueryFilter):
    status = serializers.ChoiceField(choices=RecordStatus.choices, required=False)
    due_within = serializers.IntegerField(required=False, min_value=0, max_value=3650)


class PendingFilter(QueryFilter):
    pending = serializers.BooleanField(required=False, default=None, allow_null=True)
    case = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)


@extend_schema_view(
    list=extend_schema(summary="Persons held in your detention centre, with their custody period", tags=["custody"],
                       parameters=[OpenApiParameter("status", str, enum=RecordStatus.values),
                                   OpenApiParameter("due_within", int,
                                                    description="Only periods ending within N days (or over).")]),
    retrieve=extend_schema(summary="One detainee's custody record", tags=["custody"]),
)
class DetaineeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DetaineeSerializer
    queryset = CustodyRecord.objects.none()
    ordering = "id"
    # The one rule (casehub.custody.doors, the same as the centre's pages): the list is 403 to anyone
    # but a detention officer; a record outside the officer's centre (or asked for by anyone else) 404.
    list_door = CENTRE_LIST
    permission_classes = DOOR_PERMISSIONS

    def get_queryset(self) -> QuerySet[CustodyRecord]:
        qs = custody.centre_records(self.request.user)
        if self.action == "list":
            f = DetaineeFilter(data=self.request.query_params)
            f.is_valid(raise_exception=True)
            data = dict(f.validated_data)
            if "due_within" in data:
                horizon = timezone.localdate() + timedelta(days=data.pop("due_within"))
                qs = qs.filter(status=RecordStatus.IN_CUSTODY, period_end__lte=horizon)
            qs = qs.filter(**data)
        return qs


def _visible_custody_items(model: type, request: Request) -> QuerySet:
    """The custody door's objects (:mod:`casehub.custody.doors`, the same as the custody pages'): the
    list answers 403 to a role that reads none (``ITEM_LIST``); a single item the user may not see
    is a 404."""
    door = CERTIFICATES if model is CustodyCertificate else NOTICES
    return door.visible(request.user).select_related("person")


class _AcknowledgeMixin:
    model: type
    permission_classes = DOOR_PERMISSIONS
    list_door = ITEM_LIST
    door_actions = {"acknowledge": "acknowledge"}  # only the centre's officers: 403 for others who see it

    @extend_schema(summary="Acknowledge (detention officers); acknowledging twice changes nothing",
                   tags=["custody"], request=None, responses=AcknowledgedSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        item = self.get_object()
        changed = acknowledge(item, acting_user=request.user)  # checks centre and capability, audits
        item.refresh_from_db()
        return Response({"acknowledged": changed, "acknowledged_at": item.acknowledged_at})


@extend_schema_view(
    list=extend_schema(summary="Custody-transfer certificates (换押证) for your centre or agency", tags=["custody"],
                       parameters=[OpenApiParameter("pending", bool, description="Only not yet acknowledged."),
                                   OpenApiParameter("case", int)]),
    retrieve=extend_schema(summary="One custody-transfer certificate", tags=["custody"]),
)
class CertificateViewSet(_AcknowledgeMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                         viewsets.GenericViewSet):
    serializer_class = CertificateSerializer
    queryset = CustodyCertificate.objects.none()
    door = CERTIFICATES
    ordering = "-id"

    def get_queryset(self) -> QuerySet[CustodyCertificate]:
        qs = _visible_custody_items(CustodyCertificate, self.request).select_related(
            "detention_centre", "from_agency", "to_agency")
        if self.action == "list":
            f = PendingFilter(data=self.request.query_params)
            f.is_valid(raise_exception=True)
            if f.validated_data.get("pending") is not None:
                qs = qs.filter(acknowledged_at__isnull=f.validated_data["pending"]).exclude(
                    status=CertificateStatus.CANCELLED)
            if "case" in f.validated_data:
                qs = qs.filter(case_id=f.validated_data["case"])
        return qs


@extend_schema_view(
    list=extend_schema(summary="Custody change notices (变更羁押期限通知书)", tags=["custody"],
                       parameters=[OpenApiParameter("pending", bool), OpenApiParameter("case", int)]),
    retrieve=extend_schema(summary="One custody change notice", tags=["custody"]),
)
class NoticeViewSet(_AcknowledgeMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = NoticeSerializer
    queryset = CustodyNotice.objects.none()
    door = NOTICES
    ordering = "-id"

    def get_queryset(self) -> QuerySet[CustodyNotice]:
        qs = _visible_custody_items(CustodyNotice, self.request).select_related("agency")
        if self.action == "list":
            f = PendingFilter(data=self.request.query_params)
            f.is_valid(raise_exception=True)
            if f.validated_data.get("pending") is not None:
                qs = qs.filter(acknowledged_at__isnull=f.validated_data["pending"])
            if "case" in f.validated_data:
                qs = qs.filter(case_id=f.validated_data["case"])
        return qs


# --- custody records of a case (the agencies working on it) ------------------------------------------


class NoticeCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=NoticeKind.choices)
    reason = serializers.CharField(max_length=2000, help_text="Reason or decision number.")
    new_end = serializers.DateField(required=False, allow_null=True, default=None,
                                    help_text="End of the period the notice reports; computed from the running clock when omitted. "
                                              "Where a clock bounds the custody it must be that clock's end: "
                                              "an extension is decided by its own route (custody-terms), "
                                              "not by a notice.")


@extend_schema_view(
    list=extend_schema(summary="Custody records of the persons in a case", tags=["custody"]),
)
class CaseCustodyViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = DetaineeSerializer
    queryset = CustodyRecord.objects.none()
    ordering = "id"

    def _case(self) -> Any:
        # The case first (casehub.cases.doors): 404 to who may not see it, a role that reads no
        # cases included.
        return CASES.get(self.request.user, self.kwargs["case_pk"])

    def get_queryset(self) -> QuerySet[CustodyRecord]:
        return CustodyRecord.objects.filter(case=self._case()).select_related("person", "responsible_agency")

    @extend_schema(summary="Issue a custody change notice (变更羁押期限通知书) for one person (the responsible agency)",
                   tags=["custody"], request=NoticeCreateSerializer, responses={201: NoticeSerializer},
                   examples=[OpenApiExample("extension", request_only=True, value={
                       "kind": "extension", "reason": "深检延押〔2026〕3号：延长侦查羁押期限一个月"})])
    @action(detail=True, methods=["post"])
    @idempotent
    def notices(self, request: Request, case_pk: str, pk: str) -> Response:
        records = self.get_queryset()  # the case: 404 to who may not see it
        record = get_object_or_404(records, pk=pk)  # a record of another case: 404
        CASES.check(request.user, record.case, "custody_notice")  # a role that issues none: 403
        serializer = NoticeCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        notice = issue_notice_by_user(record, acting_user=request.user, **serializer.validated_data)
        return Response(NoticeSerializer(notice, context={"request": request}).data, status=status.HTTP_201_CREATED)


# --- metrics (auditors) ------------------------------------------------------------------------------


class RatioSerializer(StrictSerializer):
    numerator = serializers.IntegerField()
    denominator = serializers.IntegerField()
    value = serializers.FloatField(allow_null=True, help_text="numerator / denominator; null when nothing counted.")


class RateRowSerializer(StrictSerializer):
    agency = serializers.IntegerField(allow_null=True)
    direction = serializers.CharField()
    online = RatioSerializer(help_text="Online circulation rate 网上案件流转率.")
    dossier = RatioSerializer(help_text="E-dossier rate 卷宗电子化率.")


class CustodyRateSerializer(StrictSerializer):
    agency = serializers.IntegerField(allow_null=True)
    direction = serializers.CharField()
    certificates = RatioSerializer(help_text="E-custody-transfer rate 电子换押率.")
    persons = serializers.IntegerField()
    persons_online = serializers.IntegerField()


class TableSerializer(StrictSerializer):
    key = serializers.CharField()
    title = serializers.CharField()
    header = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField(child=serializers.JSONField()))


class MetricsSerializer(StrictSerializer):
    period = serializers.DictField(child=serializers.DateField())
    agencies = serializers.ListField(child=serializers.IntegerField(), help_text="Agencies counted (your region).")
    direction = serializers.CharField(allow_blank=True)
    totals = serializers.DictField(child=RatioSerializer(), help_text="online, dossier, custody.")
    rates = RateRowSerializer(many=True)
    custody = CustodyRateSerializer(many=True)
    overdue_clocks = serializers.IntegerField()
    tables = TableSerializer(many=True, help_text="The dashboard's tables, every row, as displayed.")


def _ratio(r: Any) -> dict[str, Any]:
    return {"numerator": r.numerator, "denominator": r.denominator, "value": r.value}


class MetricsView(APIView):
    @extend_schema(
        summary="Circulation metrics for a period (auditors): the three rates, per agency and direction",
        tags=["metrics"], responses=MetricsSerializer, parameters=[
            OpenApiParameter("date_from", str, description="YYYY-MM-DD; default: twelve months ago."),
            OpenApiParameter("date_to", str, description="YYYY-MM-DD; default: today. At most three years."),
            OpenApiParameter("agency", int, description="One agency of your region."),
            OpenApiParameter("direction", str, description="e.g. `police>procuratorate`."),
        ],
    )
    def get(self, request: Request) -> Response:
        from casehub.metrics.dashboard import DashboardForm, build, scope_for

        METRICS.check(request.user)  # the one rule (casehub.metrics.doors), as on the dashboard
        form = DashboardForm(request.query_params, viewer=request.user)
        if not form.is_valid():
            raise exceptions.ValidationError({
                (f if f != "__all__" else "non_field_errors"): [
                    exceptions.ErrorDetail(e["message"], code=e["code"] or "invalid") for e in errs]
                for f, errs in form.errors.get_json_data().items()
            })
        data = form.cleaned_data
        period, scope = data["period"], scope_for(request.user, data.get("agency"), data.get("direction") or "")
        board = build(period, scope, overdue_limit=None)
        record_event("metrics.exported", actor=request.user, details={
            "table": "all", "format": "api", "period": [period.start.isoformat(), period.end.isoformat()],
            "agencies": len(scope.agency_ids), "direction": scope.direction,
        })
        return Response({
            "period": {"start": period.start, "end": period.end},
            "agencies": scope.agency_ids, "direction": scope.direction,
            "totals": {"online": _ratio(board.totals["online"]), "dossier": _ratio(board.totals["dossier"]),
                       "custody": _ratio(board.custody_all)},
            "rates": [{"agency": r.agency_id, "direction": r.direction, "online": _ratio(r.online),
                       "dossier": _ratio(r.dossier)} for r in board.rates],
            "custody": [{"agency": r.agency_id, "direction": r.direction, "certificates": _ratio(r.certificates),
                         "persons": r.persons, "persons_online": r.persons_online} for r in board.custody],
            "overdue_clocks": board.overdue_total,
            "tables": [{"key": t.key, "title": str(t.title), "header": [str(h) for h in t.header],
                        "rows": [[v if isinstance(v, (int, float, type(None))) else str(v) for v in row]
                                 for row in t.rows]} for t in board.tables],
        })
