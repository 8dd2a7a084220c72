"""One arrested person's custody terms through the API (issue #15), the same services and the same
rule as the page (:mod:`casehub.custody.terms`): the extension of investigation custody routed as the
law says — the police request (at least 7 days before the period ends, SPP Rules 2019 art. 309), the
procuratorate that received it forwards, the procuratorate one level up (CPL art. 156) or the
provincial one (arts. 158-159) decides — the recount of art. 160 and the psychiatric assessment of
art. 149. A case the caller may not see is 404; an action their agency or role may not take 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from casehub.api.doors import DOOR_PERMISSIONS
from casehub.api.idempotency import idempotent
from casehub.api.serializers import ID_MAX, AgencyRefSerializer
from casehub.api.strict import QueryFilter, StrictModelSerializer, StrictSerializer
from casehub.cases.doors import CASES
from casehub.cases.models import PersonRole
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock
from casehub.custody.doors import EXTENSIONS, ITEM_LIST
from casehub.custody.models import CustodyExtension, ExtensionStatus
from casehub.custody.terms import offered
from workflows import custody_terms


class ExtensionSerializer(StrictModelSerializer):
    police = AgencyRefSerializer(read_only=True)
    received_by = AgencyRefSerializer(read_only=True)
    recorded_by = AgencyRefSerializer(read_only=True)
    decided_by = AgencyRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = CustodyExtension
        fields = ("id", "case", "person", "article", "ground", "sentence_ten_years", "reason", "police",
                  "requested_at", "period_end", "received_by", "forwarded_at", "opinion", "decided_by",
                  "decided_by_name", "recorded_by", "status", "decided_at", "decision_reason", "paper_reference",
                  "number", "new_end")


class TermsActionSerializer(StrictSerializer):
    action = serializers.ChoiceField(choices=["request_extension", "recount", "assessment_start", "assessment_end",
                                              "complex_arrest_decision"],
                                     help_text="complex_arrest_decision: the procuratorate deciding on the arrest "
                                               "of a suspect not detained finds the case major or complex — "
                                               "20 days instead of 15 (SPP Rules 2019 art. 282).")
    reason = serializers.CharField(max_length=2000)
    ground = serializers.CharField(max_length=20, required=False, allow_blank=True, default="",
                                   help_text="Art. 158: remote/group/roaming/wide; art. 160 recount: "
                                             "another_crime/identified.")
    sentence_ten_years = serializers.BooleanField(required=False, default=False,
                                                  help_text="Art. 159: possible sentence of ten years or more.")
    since = serializers.DateField(required=False, help_text="Art. 160: the day the period counts again from.")


class ClockRefSerializer(StrictSerializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    due_date = serializers.DateField()


class TermsResultSerializer(StrictSerializer):
    person = serializers.IntegerField()
    extension = ExtensionSerializer(allow_null=True)
    clocks = ClockRefSerializer(many=True, help_text="The person's running clocks after the action.")


ACTIONS = {"request_extension": "request", "recount": "recount", "assessment_start": "assessment_start",
           "assessment_end": "assessment_end", "complex_arrest_decision": "complex"}


class PersonCustodyTermsView(APIView):
    @extend_schema(summary="Act on one suspect's custody terms: request an extension of investigation custody "
                           "(arts. 156, 158, 159), recount (art. 160), start or end a psychiatric assessment "
                           "(art. 149)", tags=["custody"], request=TermsActionSerializer,
                   responses={200: TermsResultSerializer, 201: TermsResultSerializer},
                   examples=[OpenApiExample("extension", request_only=True, value={
                       "action": "request_extension", "reason": "案情复杂，需继续侦查"})])
    @idempotent
    def post(self, request: Request, case_pk: int, person_pk: int) -> Response:
        case = CASES.get(request.user, case_pk)  # 404 to who may not see the case
        person = get_object_or_404(case.persons.filter(role=PersonRole.SUSPECT), pk=person_pk)
        data = TermsActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        clock = (Clock.objects.filter(person=person, kind=ClockKind.INVESTIGATION_CUSTODY, status__in=ACTIVE_STATUSES)
                 .order_by("-started_at", "-id").first())
        pending = custody_terms.pending_extension(person)
        if ACTIONS[values["action"]] not in offered(case, person, request.user, clock=clock, pending=pending):
            raise PermissionDenied(_("您的机关或角色无权进行此操作。"))
        extension = None
        if values["action"] == "request_extension":
            extension = custody_terms.request_extension(person, reason=values["reason"], ground=values["ground"],
                                                        sentence_ten_years=values["sentence_ten_years"],
                                                        acting_user=request.user)
        elif values["action"] == "recount":
            if "since" not in values:
                raise serializers.ValidationError({"since": [_("请填写重新计算的起算日。")]})
            custody_terms.recount_investigation_custody(person, ground=values["ground"], since=values["since"],
                                                        reason=values["reason"], acting_user=request.user)
        elif values["action"] == "complex_arrest_decision":
            custody_terms.complex_arrest_decision(person, reason=values["reason"], acting_user=request.user)
        elif values["action"] == "assessment_start":
            custody_terms.start_psychiatric_assessment(person, reason=values["reason"], acting_user=request.user)
        else:
            custody_terms.end_psychiatric_assessment(person, reason=values["reason"], acting_user=request.user)
        running = Clock.objects.filter(person=person, status__in=ACTIVE_STATUSES).order_by("id")
        body = {"person": person.pk, "extension": ExtensionSerializer(extension).data if extension else None,
                "clocks": [{"id": c.pk, "kind": c.kind, "status": c.status, "due_date": c.due_date} for c in running]}
        return Response(body, status=status.HTTP_201_CREATED if extension else status.HTTP_200_OK)


class ExtensionFilter(QueryFilter):
    pending = serializers.BooleanField(required=False, default=None, allow_null=True)
    case = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)


class ForwardSerializer(StrictSerializer):
    opinion = serializers.CharField(max_length=2000)


class DecideSerializer(StrictSerializer):
    approve = serializers.BooleanField()
    reason = serializers.CharField(max_length=2000)
    paper_reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="",
                                            help_text="The number of the higher procuratorate's paper decision, "
                                                      "when it is not on the platform.")


@extend_schema_view(
    list=extend_schema(summary="Requests to extend investigation custody (arts. 156, 158, 159) you may see",
                       tags=["custody"], parameters=[OpenApiParameter("pending", bool), OpenApiParameter("case", int)]),
    retrieve=extend_schema(summary="One request to extend investigation custody", tags=["custody"]),
)
class ExtensionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ExtensionSerializer
    queryset = CustodyExtension.objects.none()
    ordering = "-id"
    door = EXTENSIONS
    list_door = ITEM_LIST
    door_actions = {"forward": "forward", "decide": "decide"}
    permission_classes = DOOR_PERMISSIONS

    def get_queryset(self) -> QuerySet[CustodyExtension]:
        qs = EXTENSIONS.visible(self.request.user).select_related("police", "received_by", "recorded_by",
                                                                  "decided_by")
        if self.action == "list":
            f = ExtensionFilter(data=self.request.query_params)
            f.is_valid(raise_exception=True)
            pending = f.validated_data.get("pending")
            if pending is not None:
                waiting = (ExtensionStatus.REQUESTED, ExtensionStatus.FORWARDED)
                qs = qs.filter(status__in=waiting) if pending else qs.exclude(status__in=waiting)
            if "case" in f.validated_data:
                qs = qs.filter(case_id=f.validated_data["case"])
        return qs

    @extend_schema(summary="Forward the request with the receiving procuratorate's opinion", tags=["custody"],
                   request=ForwardSerializer, responses=ExtensionSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def forward(self, request: Request, pk: str) -> Response:
        ext = self.get_object()  # 404 unseen; 403 not the receiving procuratorate
        data = ForwardSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ext = custody_terms.forward_extension(ext, acting_user=request.user, **data.validated_data)
        return Response(ExtensionSerializer(ext).data)

    @extend_schema(summary="Decide the request (the deciding procuratorate, or the one recording its paper "
                           "decision); a signed 延长侦查羁押期限决定书 is issued", tags=["custody"],
                   request=DecideSerializer, responses=ExtensionSerializer)
    @action(detail=True, methods=["post"])
    @idempotent
    def decide(self, request: Request, pk: str) -> Response:
        ext = self.get_object()
        data = DecideSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ext = custody_terms.decide_extension(ext, acting_user=request.user, **data.validated_data)
        return Response(ExtensionSerializer(ext).data)


