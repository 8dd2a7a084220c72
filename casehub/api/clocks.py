"""Statutory clocks and in-app notifications through the API.

Clocks are read through :mod:`casehub.clocks.selectors` (only clocks of cases the caller's agency
may see); notifications are the caller's own, marked read through
:func:`casehub.notifications.services.mark_read`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from casehub.api.doors import DOOR_PERMISSIONS
from casehub.api.serializers import ID_MAX, AgencyRefSerializer
from casehub.api.strict import QueryFilter, StrictModelSerializer, StrictSerializer
from casehub.cases.doors import CASES
from casehub.clocks.doors import CLOCK_LIST
from casehub.clocks.models import Clock, ClockStatus
from casehub.clocks.selectors import agency_clocks, case_clocks
from casehub.notifications.models import Notification
from casehub.notifications.services import mark_read


class ClockSerializer(StrictModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    agency = AgencyRefSerializer(read_only=True)
    person = serializers.SerializerMethodField()
    remaining_days = serializers.SerializerMethodField()

    class Meta:
        model = Clock
        fields = ("id", "case", "kind", "kind_label", "agency", "person", "started_at", "due_date",
                  "remaining_days", "provisional", "custody", "status", "decision", "paused_at", "stopped_at",
                  "extended_by", "overdue_since")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_person(self, clock: Clock) -> str | None:
        return clock.person.name if clock.person_id else None

    @extend_schema_field(serializers.IntegerField(
        allow_null=True, help_text="Days left (0 on the due day, negative when overdue; null once stopped)."))
    def get_remaining_days(self, clock: Clock) -> int | None:
        return clock.remaining_days()


class ClockFilter(QueryFilter):
    due_within = serializers.IntegerField(required=False, min_value=0, max_value=3650)
    status = serializers.ChoiceField(choices=ClockStatus.choices, required=False)
    case = serializers.IntegerField(required=False, min_value=1, max_value=ID_MAX)


@extend_schema_view(list=extend_schema(
    summary="Running clocks of your agency, soonest due first", tags=["clocks"], parameters=[
        OpenApiParameter("due_within", int, description="Only clocks due within this many days (or overdue)."),
        OpenApiParameter("status", str, enum=ClockStatus.values), OpenApiParameter("case", int)]))
class ClockViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ClockSerializer
    queryset = Clock.objects.none()
    ordering = ("due_date", "id")
    list_door = CLOCK_LIST  # the one rule (casehub.clocks.doors): 403 to a role that works on no cases
    permission_classes = DOOR_PERMISSIONS

    def get_queryset(self) -> Any:
        f = ClockFilter(data=self.request.query_params)
        f.is_valid(raise_exception=True)
        data = dict(f.validated_data)
        qs = agency_clocks(self.request.user)
        if "due_within" in data:
            qs = qs.filter(due_date__lte=timezone.localdate() + timedelta(days=data.pop("due_within")))
        if "case" in data:
            data["case_id"] = data.pop("case")
        return qs.filter(**data)


@extend_schema_view(list=extend_schema(summary="Every clock of a case (running and stopped)", tags=["clocks"]))
class CaseClockViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ClockSerializer
    queryset = Clock.objects.none()
    ordering = "-id"

    def get_queryset(self) -> Any:
        case = CASES.get(self.request.user, self.kwargs["case_pk"])  # 404 first, then 403 as on the page
        CLOCK_LIST.check(self.request.user)
        return case_clocks(case)


class NotificationSerializer(StrictModelSerializer):
    class Meta:
        model = Notification
        fields = ("id", "kind", "title", "body", "url", "case", "created_at", "read_at")


class NotificationFilter(QueryFilter):
    unread = serializers.BooleanField(required=False, default=None, allow_null=True)


class MarkReadSerializer(StrictSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=ID_MAX), required=False, allow_null=True,
                                max_length=1000, help_text="Omit to mark every unread notification read.")


class MarkedSerializer(StrictSerializer):
    marked = serializers.IntegerField()


@extend_schema_view(list=extend_schema(summary="Your notifications, newest first", tags=["notifications"],
                                       parameters=[OpenApiParameter("unread", bool)]))
class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()
    ordering = "-id"

    def get_queryset(self) -> Any:
        f = NotificationFilter(data=self.request.query_params)
        f.is_valid(raise_exception=True)
        qs = Notification.objects.filter(recipient=self.request.user)
        if f.validated_data.get("unread") is not None:
            qs = qs.filter(read_at__isnull=f.validated_data["unread"])
        return qs

    @extend_schema(summary="Mark your notifications read", tags=["notifications"], request=MarkReadSerializer,
                   responses=MarkedSerializer,
                   examples=[OpenApiExample("some", request_only=True, value={"ids": [12, 13]})])
    @action(detail=False, methods=["post"])
    def read(self, request: Request) -> Response:
        serializer = MarkReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"marked": mark_read(request.user, serializer.validated_data.get("ids"))})
