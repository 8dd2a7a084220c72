"""Separate handling (分案处理) and joining (并案处理) of cases, and the persons a document concerns.

Thin wrappers around :mod:`workflows.separation` and
:func:`casehub.dossier.services.mark_concerns`: a case the caller's agency does not hold (or
cannot see) is a 404, whatever the role; a role that may not prepare cases gets 403 on a case
its agency holds.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from casehub.api.idempotency import idempotent
from casehub.api.serializers import ID_MAX
from casehub.api.strict import StrictSerializer
from casehub.cases.doors import CASES
from casehub.cases.models import Case
from casehub.dossier.doors import DOSSIERS
from casehub.dossier.selectors import get_visible_document
from casehub.dossier.services import mark_concerns
from workflows import separation


class SplitSerializer(StrictSerializer):
    persons = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=ID_MAX), min_length=1,
                                    max_length=500, help_text="Suspects of the case who go to the new case.")
    reason = serializers.CharField(max_length=2000)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class JoinSerializer(StrictSerializer):
    other = serializers.IntegerField(min_value=1, max_value=ID_MAX,
                                     help_text="The case joined into this one (same holder, same stage); it is closed.")
    reason = serializers.CharField(max_length=2000)


class SeparationResultSerializer(StrictSerializer):
    case = serializers.IntegerField(help_text="The case that now holds the persons (the new case of a split).")
    persons = serializers.ListField(child=serializers.IntegerField())
    numbers = serializers.ListField(child=serializers.CharField())


class ConcernsSerializer(StrictSerializer):
    persons = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=ID_MAX), max_length=500,
                                    help_text="Persons of the case the document concerns; empty: the whole case.")


class ConcernsResultSerializer(StrictSerializer):
    document = serializers.IntegerField()
    persons = serializers.ListField(child=serializers.IntegerField())


def _held_case(request: Request, case_pk: Any) -> Case:
    # The one rule (casehub.cases.doors): a case the caller may not see is 404; one they see but
    # may not separate or join (their role, or their agency no longer holds it) 403 with the reason.
    return CASES.get(request.user, case_pk, "separate")


def _result(case: Case) -> dict[str, Any]:
    return {"case": case.pk, "persons": list(case.persons.order_by("id").values_list("pk", flat=True)),
            "numbers": list(case.numbers.order_by("id").values_list("number", flat=True))}


class SplitView(APIView):
    @extend_schema(summary="Separate handling (分案处理): move chosen suspects into a new case", tags=["workflow"],
                   request=SplitSerializer, responses={201: SeparationResultSerializer},
                   examples=[OpenApiExample("split", request_only=True,
                                            value={"persons": [12], "reason": "李四在逃，另案处理"})])
    @idempotent
    def post(self, request: Request, case_pk: int) -> Response:
        case = _held_case(request, case_pk)
        data = SplitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = separation.split_case(case, acting_user=request.user, **data.validated_data)
        return Response(_result(new), status=status.HTTP_201_CREATED)


class JoinView(APIView):
    @extend_schema(summary="Join (并案处理): another case of the same holder and stage is joined into this one",
                   tags=["workflow"], request=JoinSerializer, responses={200: SeparationResultSerializer})
    @idempotent
    def post(self, request: Request, case_pk: int) -> Response:
        case = _held_case(request, case_pk)
        data = JoinSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        other = _held_case(request, data.validated_data["other"])
        kept = separation.join_cases(case, other, acting_user=request.user, reason=data.validated_data["reason"])
        return Response(_result(kept))


class DocumentConcernsView(APIView):
    @extend_schema(summary="Mark the persons a document concerns (the agency holding the case)", tags=["dossier"],
                   request=ConcernsSerializer, responses={200: ConcernsResultSerializer})
    def post(self, request: Request, pk: int) -> Response:
        doc = get_visible_document(request.user, pk)  # 404 to who may not see it
        DOSSIERS.check(request.user, doc.case, "mark_concerns")  # 403 with the reason, as on the page
        data = ConcernsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mark_concerns(doc, persons=data.validated_data["persons"], acting_user=request.user)
        return Response({"document": doc.pk, "persons": sorted(doc.concerns.values_list("pk", flat=True))})
