"""The beat task that keeps clocks honest: mark overdue clocks, warn supervisors before due."""

from __future__ import annotations

from datetime import date, timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from casehub.agencies.models import Role, User
from casehub.agencies.permissions import role_group_name
from casehub.audit.services import record_event
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import Clock, ClockStatus
from casehub.notifications.messages import message
from casehub.notifications.services import notify


def _supervisors(agency_id: int) -> list[User]:
    return list(User.objects.filter(agency_id=agency_id, is_active=True,
                                    groups__name=role_group_name(Role.SUPERVISOR)).distinct())


def check_clocks(today: date | None = None) -> dict[str, int]:
    """Mark running clocks past their due date overdue and notify, once each, the supervisors of
    the agency that holds the clock: ``CASEHUB_CLOCK_WARNING_DAYS`` days before it is due and on
    the day it becomes overdue. Safe to run as often as wanted."""
    today = today or timezone.localdate()
    warn_days = settings.CASEHUB_CLOCK_WARNING_DAYS
    overdue = warned = 0
    with transaction.atomic():
        # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the person join.
        late = list(Clock.objects.select_for_update(of=("self",))
                    .filter(status=ClockStatus.RUNNING, due_date__lt=today).select_related("case", "person"))
        for clock in late:
            clock.status, clock.overdue_since = ClockStatus.OVERDUE, today
            clock.save(update_fields=["status", "overdue_since"])
            record_event("clock.overdue", agency=clock.agency_id, obj=clock, case=clock.case_id,
                         details={"clock": clock.pk, "kind": clock.kind, "due_date": clock.due_date})
            _notify(clock, overdue=True)
            overdue += 1
        soon = list(Clock.objects.select_for_update(of=("self",))
                    .filter(status=ClockStatus.RUNNING, warned_on__isnull=True,
                            due_date__gte=today, due_date__lte=today + timedelta(days=warn_days))
                    .select_related("case", "person"))
        for clock in soon:
            clock.warned_on = today
            clock.save(update_fields=["warned_on"])
            record_event("clock.warning", agency=clock.agency_id, obj=clock, case=clock.case_id,
                         details={"clock": clock.pk, "kind": clock.kind, "due_date": clock.due_date})
            _notify(clock, overdue=False)
            warned += 1
    return {"overdue": overdue, "warned": warned}


def _notify(clock: Clock, *, overdue: bool) -> None:
    # msgid + parameters: each supervisor reads it in their own language (the kind too).
    who = f"（{clock.person.name}）" if clock.person_id else ""
    params = {"case": clock.case.title, "kind": ClockKind(clock.kind).label, "who": who, "due": clock.due_date}
    if overdue:
        title = message(gettext_noop("已超期：%(case)s %(kind)s%(who)s"), **params)
        body = message(gettext_noop("%(kind)s已于 %(due)s 届满，请立即处理。"), **params)
        key = f"clock:{clock.pk}:overdue:{clock.due_date}"
    else:
        title = message(gettext_noop("即将到期：%(case)s %(kind)s%(who)s"), **params)
        body = message(gettext_noop("%(kind)s将于 %(due)s 届满。"), **params)
        key = f"clock:{clock.pk}:warn:{clock.due_date}"
    notify(_supervisors(clock.agency_id), kind="clock", title=title, body=body, case=clock.case,
           url=reverse("clocks:case", args=[clock.case_id]), key=key)


@shared_task(name="casehub.clocks.tasks.check_clocks_task")
def check_clocks_task() -> dict[str, int]:
    return check_clocks()
