"""Queries over clocks, always scoped to what the user's agency may see."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import QuerySet

from casehub.cases.selectors import visible_cases
from casehub.clocks.models import ACTIVE_STATUSES, Clock


def agency_clocks(user: Any) -> QuerySet[Clock]:
    """Active clocks running for the user's agency on cases the user may see."""
    if not user.is_authenticated or user.agency_id is None:
        return Clock.objects.none()
    return (
        Clock.objects.filter(agency_id=user.agency_id, status__in=ACTIVE_STATUSES, case__in=visible_cases(user))
        .select_related("case", "person", "agency")
        .order_by("due_date", "id")
    )


def due_soon(user: Any, *, today: date, within_days: int) -> QuerySet[Clock]:
    """The agency's active clocks due within ``within_days`` of ``today`` or already overdue."""
    return agency_clocks(user).filter(due_date__lte=today + timedelta(days=within_days))


def case_clocks(case: Any) -> QuerySet[Clock]:
    return Clock.objects.filter(case=case).select_related("agency", "person").order_by("-started_at", "-id")


def nearest_clocks(case_ids: list[int], *, agency: Any = None) -> dict[int, Clock]:
    """The active clock due soonest on each case (of ``agency`` if given), in one query — for
    inboxes and case lists that show a countdown per row (``clock.remaining_days(today)``)."""
    qs = Clock.objects.filter(case_id__in=list(case_ids), status__in=ACTIVE_STATUSES).order_by("due_date", "id")
    if agency is not None:
        qs = qs.filter(agency=agency)
    nearest: dict[int, Clock] = {}
    for clock in qs:
        nearest.setdefault(clock.case_id, clock)
    return nearest
