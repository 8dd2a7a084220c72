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


def test_a_lapsed_measure_shows_as_lapsed_not_as_an_ordinary_release(new_case, district):
    """Art. 79: 王五's bail (decided at registration) and 李四's bail (detained, then changed to bail
    by the police's notice, art. 91(3)) run out without a new decision; 张三 was released by a decision.
    (12 months end on Sunday 10 January 2027, moved to Monday: bail is not custody, art. 105(4) a
    contrario.) The case page, the custody page, the API and the timeline say "取保候审期满解除" for the first
    two and "已释放" for 张三."""
    from django.test import Client
    from django.urls import reverse
    from rest_framework.test import APIClient

    from casehub.custody.models import CustodyRecord
    from casehub.custody.services import issue_notice_by_user, register_custody

    case = new_case("王五等诈骗案", persons=[
        {"role": PersonRole.SUSPECT, "name": name, "sex": "M", "birth_date": date(1990, 1, 1),
         "custody_status": CustodyStatus.BAIL if name == "王五" else CustodyStatus.NOT_DETAINED}
        for name in ("张三", "李四", "王五")])
    for name in ("张三", "李四"):
        register_custody(case.persons.get(name=name), detention_centre=district.detention, measure="detained",
                         since=at("2026-01-09"), acting_user=district.investigator)
    issue_notice_by_user(CustodyRecord.objects.get(person__name="张三"), kind="release", reason="不需要逮捕，予以释放",
                         acting_user=district.investigator)
    issue_notice_by_user(CustodyRecord.objects.get(person__name="李四"), kind="bail", reason="变更为取保候审",
                         acting_user=district.investigator)
    with time_machine.travel(at("2027-01-12"), tick=False):
        assert measures.lapse_expired() == 2
        page = Client()
        page.force_login(district.investigator)
        html = page.get(reverse("cases:detail", args=[case.pk])).content.decode()
        custody_page = page.get(reverse("custody:case", args=[case.pk])).content.decode()
        api = APIClient()
        api.force_authenticate(district.investigator)
        persons = {p["name"]: p for p in api.get(f"/api/v1/cases/{case.pk}/").json()["persons"]}
        drawn = {tl.person.name: [s.text for s in tl.measures] for tl in timeline.build(case).persons}
    assert html.count("data-lapsed=") == 2 and custody_page.count(">取保候审期满解除<") == 2
    assert ">已释放" in html and ">已释放<" in custody_page
    assert persons["张三"]["custody_status"] == "released" and persons["张三"]["measure_lapsed"] is None
    for name in ("李四", "王五"):
        lapse = persons[name]["measure_lapsed"]
        assert persons[name]["custody_status"] == "released" and lapse["measure"] == "bail"
        assert lapse["label"] == "取保候审期满解除" and (lapse["due_date"], lapse["lapsed_on"]) == ("2027-01-11", "2027-01-12")
        assert drawn[name][-1] == "取保候审期满解除（刑事诉讼法第七十九条）", drawn
    assert drawn["张三"][-1] == "已释放"
