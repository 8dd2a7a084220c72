"""Deadline pages: the agency's running clocks, and the clocks of one case."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from casehub.cases.doors import CASES
from casehub.clocks.doors import CLOCK_LIST
from casehub.clocks.selectors import agency_clocks, case_clocks


def _rows(clocks, today):
    return [{"clock": c, "remaining": c.remaining_days(today)} for c in clocks]


@login_required
def clock_list(request: HttpRequest) -> HttpResponse:
    CLOCK_LIST.check(request.user)  # a role that works on no cases: 403 (casehub.clocks.doors)
    today = timezone.localdate()
    clocks = agency_clocks(request.user)
    within = request.GET.get("within", "")
    if within.isdigit():
        clocks = clocks.filter(due_date__lte=today + timedelta(days=int(within)))
    return render(request, "clocks/list.html", {
        "rows": _rows(clocks[:500], today), "today": today, "within": within,
        "warning_days": settings.CASEHUB_CLOCK_WARNING_DAYS,
    })


@login_required
def case_clock_list(request: HttpRequest, case_id: int) -> HttpResponse:
    case = CASES.get(request.user, case_id)  # a case the user may not see: 404 (casehub.cases.doors)
    CLOCK_LIST.check(request.user)
    today = timezone.localdate()
    return render(request, "clocks/case.html", {
        "case": case, "rows": _rows(case_clocks(case), today), "today": today,
        "warning_days": settings.CASEHUB_CLOCK_WARNING_DAYS,
    })
