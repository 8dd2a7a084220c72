"""Changes within a stage through the engine (arrest approval → notices) and the officers' pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from casehub.clocks.counting import due_date
from casehub.clocks.models import Clock, ClockStatus
from casehub.custody.models import CustodyNotice, CustodyRecord, Measure, NoticeKind

pytestmark = pytest.mark.django_db


def test_arrest_approval_turns_detention_into_arrest_by_signed_notice(gang_case, drive, district):
    drive.fire(gang_case, "request_arrest", "investigator", reason="有证据证明有犯罪事实，可能判处徒刑以上刑罚")
    drive.fire(gang_case, "accept_arrest_request", "prosecutor")
    drive.fire(gang_case, "approve_arrest", "prosecutor", reason="批准逮捕")
    # The request brought each detainee's end forward to the procuratorate's decision day (police
    # notices); the approval turns detention into arrest (the procuratorate's notices).
    notices = list(CustodyNotice.objects.filter(case=gang_case, kind=NoticeKind.ARREST).order_by("id"))
    assert [(n.person.name, n.kind, n.agency) for n in notices] == [
        ("张三", NoticeKind.ARREST, district.procuratorate), ("李四", NoticeKind.ARREST, district.procuratorate)]
    assert set(CustodyNotice.objects.exclude(kind=NoticeKind.ARREST).values_list("kind", "agency")) == {
        (NoticeKind.RECALCULATION, district.police.pk)}
    for notice in notices:
        record = CustodyRecord.objects.get(person=notice.person)
        custody = Clock.objects.get(person=notice.person, kind="investigation_custody", status=ClockStatus.RUNNING)
        assert record.measure == Measure.ARREST and record.responsible_agency == district.police
        assert record.period_end == notice.new_end == due_date(custody.started_at, months=2, custody=True).date
        assert {c.status for c in Clock.objects.filter(person=notice.person).exclude(pk=custody.pk)} == {
            ClockStatus.STOPPED}
    # No transfer of custody happened: arrest review does not move the detainee.
    assert not gang_case.custody_certificates.exists()


def test_case_custody_page_registers_a_detainee(client, gang_case, district, other_district):
    wang = gang_case.persons.get(name="王五")
    url = reverse("custody:case", args=[gang_case.pk])
    client.force_login(district.investigator)
    page = client.get(url).content.decode()
    assert f'data-person="{wang.pk}"' in page and "登记羁押" in page
    since = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(url, {"action": "register", "person": wang.pk, "detention_centre": district.detention.pk,
                                 "measure": Measure.DETENTION, "since": since})
    assert response.status_code == 302
    assert CustodyRecord.objects.get(person=wang).responsible_agency == district.police
    # Bad input: a clear message, nothing changes.
    response = client.post(url, {"action": "register", "person": wang.pk, "detention_centre": district.detention.pk,
                                 "measure": Measure.DETENTION, "since": since}, follow=True)
    assert "已有羁押记录" in response.content.decode()
    assert CustodyRecord.objects.filter(person=wang).count() == 1

    for outsider in (other_district.investigator, district.detention_officer):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
        assert client.post(url, {"action": "register"}).status_code == 404


def test_prosecutor_cannot_act_on_custody_of_a_case_it_does_not_hold(client, gang_case, district):
    from casehub.cases import access

    access.grant(gang_case, district.procuratorate, act=False)  # read access only
    client.force_login(district.prosecutor)
    url = reverse("custody:case", args=[gang_case.pk])
    assert "登记羁押" not in client.get(url).content.decode()
    record = CustodyRecord.objects.get(person__name="张三")
    client.post(url, {"action": "notice", "record": record.pk, "kind": NoticeKind.EXTENSION, "reason": "x"})
    assert not CustodyNotice.objects.exists()


def test_detention_officer_home_inbox_and_nav(client, gang_case, district):
    from casehub.custody import services

    record = CustodyRecord.objects.get(person__name="张三")
    services.issue_notice(record, kind=NoticeKind.RECALCULATION, reason="重新计算", agency=district.police)
    client.force_login(district.detention_officer)
    home = client.get(reverse("home")).content.decode()
    assert 'data-inbox="custody"' in home and "羁押期限变更：张三" in home
    assert 'data-nav="custody:inbox"' in home and 'data-nav="clocks:list"' not in home
    listing = client.get(reverse("custody:detainees")).content.decode()
    assert listing.count("data-record=") == 2


def test_detainee_list_query_count_does_not_grow_with_rows(client, gang_case, district, django_assert_max_num_queries):
    from casehub.cases.models import PersonRole
    from casehub.custody.services import register_custody

    client.force_login(district.detention_officer)
    url = reverse("custody:detainees")
    client.get(url)
    with django_assert_max_num_queries(12) as few:
        assert client.get(url).content.decode().count("data-record=") == 2
    for i in range(6):
        person = gang_case.persons.create(role=PersonRole.SUSPECT, name=f"嫌疑人{i}")
        register_custody(person, detention_centre=district.detention, measure=Measure.DETENTION,
                         since=timezone.now() - timedelta(days=1), acting_user=district.investigator)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).content.decode().count("data-record=") == 8
    page = client.get(reverse("custody:detainee", args=[CustodyRecord.objects.first().pk])).content.decode()
    assert "侦查" in page  # the stage by its name, not its code


def test_review_extension_reaches_the_detention_centre_as_a_notice(gang_case, drive, district):
    drive.fire(gang_case, "transfer_for_review", "investigator", facts="……", evidence="证据")
    drive.fire(gang_case, "accept_review_transfer", "prosecutor")
    before = CustodyRecord.objects.get(person__name="张三").period_end
    drive.fire(gang_case, "extend_review", "prosecutor", decision="深龙检延审〔2026〕1号 案情重大复杂")
    review = Clock.objects.get(case=gang_case, kind="review_prosecution", status=ClockStatus.RUNNING)
    expected = due_date(review.started_at, months=1, days=15, custody=True).date
    notices = list(CustodyNotice.objects.filter(case=gang_case).order_by("id"))
    assert [(n.person.name, n.kind, n.agency, n.previous_end, n.new_end) for n in notices] == [
        ("张三", NoticeKind.EXTENSION, district.procuratorate, before, expected),
        ("李四", NoticeKind.EXTENSION, district.procuratorate, before, expected),
    ]
    assert CustodyRecord.objects.get(person__name="李四").period_end == expected
