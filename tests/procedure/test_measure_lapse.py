"""Bail (取保候审, 12 months) and residential surveillance (监视居住, 6 months) end when the period of
their deciding authority runs out without a new decision (CPL art. 79): the measure is recorded as
lifted, the deciding authority is told, the person's timeline shows the lapse — and a co-suspect's
measure with time left runs on."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine

from casehub.audit.models import AuditEvent
from casehub.cases.models import CustodyStatus, PersonRole
from casehub.clocks.counting import local_day
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import Clock, ClockStatus
from casehub.custody import timeline
from casehub.notifications.models import Notification
from tests.procedure.conftest import at
from workflows import measures

pytestmark = pytest.mark.time_machine(at("2026-01-10"))


def test_surveillance_lapses_at_six_months_while_the_co_suspects_bail_runs_on(new_case, district,
                                                                           django_capture_on_commit_callbacks):
    """Art. 79: 赵六's residential surveillance decided by the police on 10 January 2026 ends after its
    six months — the day after its last day it is recorded as lifted (已释放, since that day), its
    clock stops, the police officers are notified, the timeline shows "监视居住期满解除"; 王五's bail
    (12 months) is untouched until its own period runs out. Running the check again changes nothing."""
    case = new_case("王五等诈骗案", persons=[
        {"role": PersonRole.SUSPECT, "name": "王五", "sex": "F", "custody_status": CustodyStatus.BAIL,
         "birth_date": date(1993, 3, 3)},
        {"role": PersonRole.SUSPECT, "name": "赵六", "sex": "M", "birth_date": date(1991, 1, 1),
         "custody_status": CustodyStatus.RESIDENTIAL_SURVEILLANCE},
    ])
    wang, zhao = case.persons.get(name="王五"), case.persons.get(name="赵六")
    bail = Clock.objects.get(person=wang, kind=ClockKind.BAIL)
    watch = Clock.objects.get(person=zhao, kind=ClockKind.RESIDENTIAL_SURVEILLANCE)
    assert watch.agency == district.police and watch.due_date < bail.due_date

    with time_machine.travel(at(watch.due_date.isoformat(), 20), tick=False):
        assert measures.lapse_expired() == 0  # its last day still counts
    day_after = watch.due_date + timedelta(days=1)
    with time_machine.travel(at(day_after.isoformat(), 1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert measures.lapse_expired() == 1
        assert measures.lapse_expired() == 0
        drawn = timeline.build(case)
    zhao.refresh_from_db()
    wang.refresh_from_db()
    watch.refresh_from_db()
    assert zhao.custody_status == CustodyStatus.RELEASED and local_day(zhao.measure_since) == day_after
    assert zhao.measure_authority == district.police
    assert watch.status == ClockStatus.STOPPED and measures.lapsed_on(watch) == day_after
    assert wang.custody_status == CustodyStatus.BAIL
    assert Clock.objects.get(pk=bail.pk).status == ClockStatus.RUNNING
    event = AuditEvent.objects.get(action="custody.measure_lapsed")
    assert event.details["person"] == zhao.pk and event.details["article"] == "刑事诉讼法第七十九条"
    assert Notification.objects.filter(recipient=district.investigator, key=f"measure-lapsed:{watch.pk}").exists()
    rows = {tl.person.name: [s.text for s in tl.measures] for tl in drawn.persons}
    assert rows["赵六"] == ["监视居住", "监视居住期满解除（刑事诉讼法第七十九条）"]
    assert rows["王五"] == ["取保候审"]

    with time_machine.travel(at((bail.due_date + timedelta(days=1)).isoformat(), 1), tick=False):
        assert measures.lapse_expired() == 1
    wang.refresh_from_db()
    assert wang.custody_status == CustodyStatus.RELEASED


def test_the_lapse_runs_hourly_from_celery_beat():
    """Not a statute: the beat schedule names the registered task (like the clocks' own check)."""
    from django.conf import settings

    from casehub.celery import app

    app.loader.import_default_modules()
    assert settings.CELERY_BEAT_SCHEDULE["measures-lapse"]["task"] in app.tasks
