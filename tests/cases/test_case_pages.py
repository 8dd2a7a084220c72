"""Registering a case and finding it again: the investigator's first steps."""

from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from casehub.cases.models import Case, CustodyStatus, NumberKind, Offence
from casehub.cases.reference import load_offences
from casehub.cases.services import register_case
from casehub.cases.validators import id_number_check_digit

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def valid_id(prefix17: str = "44030719900101123") -> str:
    return prefix17 + id_number_check_digit(prefix17)


def register(user, title="张某盗窃案", offence="盗窃罪", **kw):
    if not Offence.objects.exists():  # the starter charge list, once per test (58 rows, a query each)
        load_offences()
    return register_case(acting_user=user, title=title, offences=Offence.objects.filter(name=offence), **kw)


def person_form(prefix="persons", **values):
    data = {f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "50"}
    for key, value in values.items():
        data[f"{prefix}-0-{key}"] = value
    return data


def test_investigator_registers_a_case_with_a_detained_suspect_through_the_form(client, district):
    load_offences()
    client.force_login(district.investigator)
    theft = Offence.objects.get(name="盗窃罪")
    data = {"title": "王某盗窃案", "summary": "2026年11月在龙岗区盗窃电动车", "occurred_on": "2026-11-01",
            "occurred_place": "龙岗区布吉街道", "offences": [theft.pk]}
    data |= person_form(role="suspect", name="王某", sex="M", id_number=valid_id(), birth_date="1990-01-01",
                        custody_status=CustodyStatus.DETAINED, custody_since="2026-11-02T10:00",
                        detention_centre=district.detention.pk)
    response = client.post(reverse("cases:register"), data)
    assert response.status_code == 302
    case = Case.objects.get(title="王某盗窃案")
    assert case.holder_agency == district.police and case.origin_agency == district.police
    number = case.numbers.get()
    assert number.kind == NumberKind.POLICE_FILING
    assert number.number == f"深龙公（刑）立字〔{number.year}〕001号"
    suspect = case.persons.get()
    assert suspect.is_detained and suspect.detention_centre == district.detention
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    assert "王某" in detail.content.decode() and valid_id() in detail.content.decode()


def test_detained_suspect_without_detention_centre_is_refused_and_nothing_is_saved(client, district):
    client.force_login(district.investigator)
    data = {"title": "无羁押场所案"} | person_form(role="suspect", name="李某", custody_status=CustodyStatus.DETAINED,
                                                 custody_since="2026-11-02T10:00")
    response = client.post(reverse("cases:register"), data)
    assert response.status_code == 200
    assert "须填写羁押场所" in response.content.decode()
    assert not Case.objects.filter(title="无羁押场所案").exists()


def test_an_id_number_with_a_wrong_check_digit_is_refused(client, district):
    client.force_login(district.investigator)
    bad = valid_id()[:17] + ("0" if valid_id()[17] != "0" else "1")
    data = {"title": "校验位案"} | person_form(role="suspect", name="赵某", id_number=bad,
                                             custody_status=CustodyStatus.NOT_DETAINED)
    response = client.post(reverse("cases:register"), data)
    assert "校验位不正确" in response.content.decode()
    assert not Case.objects.filter(title="校验位案").exists()


def test_filing_numbers_are_consecutive_per_agency_and_year(district):
    first, second = register(district.investigator, "甲案"), register(district.investigator, "乙案")
    n1, n2 = first.numbers.get(), second.numbers.get()
    assert n2.sequence == n1.sequence + 1


def test_another_agency_gets_404_on_a_case_it_never_received(client, district, other_district):
    case = register(district.investigator)
    for user in (district.prosecutor, other_district.investigator, district.court_clerk):
        client.force_login(user)
        assert client.get(reverse("cases:detail", args=[case.pk])).status_code == 404
        assert case.title not in client.get(reverse("cases:list")).content.decode()


@pytest.mark.parametrize("query_of", [
    lambda case: case.numbers.get().number,
    lambda case: "刘某某",
    lambda case: valid_id("44030719850505123"),
    lambda case: "盗窃",
])
def test_search_finds_the_case_by_number_name_id_or_offence(client, district, query_of):
    case = register(district.investigator, "刘某某盗窃案", persons=[{
        "name": "刘某某", "id_number": valid_id("44030719850505123"), "custody_status": CustodyStatus.BAIL}])
    register(district.investigator, "无关案件", offence="诈骗罪")
    client.force_login(district.investigator)
    response = client.get(reverse("cases:list"), {"q": query_of(case)})
    titles = [c.title for c in response.context["page"].object_list]
    assert titles == ["刘某某盗窃案"]


def test_supervisor_sees_identity_numbers_masked(client, district):
    case = register(district.investigator, persons=[{"name": "陈某", "id_number": valid_id()}])
    client.force_login(district.police_supervisor)
    body = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert valid_id() not in body
    assert valid_id()[:6] + "********" + valid_id()[-4:] in body


def test_list_query_count_does_not_grow_with_rows(client, district):
    client.force_login(district.investigator)
    register(district.investigator, "案0", persons=[{"name": "甲"}, {"name": "乙"}])
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("cases:list"))
    for i in range(1, 20):
        register(district.investigator, f"案{i}", persons=[{"name": "甲"}, {"name": "乙"}])
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("cases:list"))
    assert len(response.context["page"].object_list) == 20
    assert len(many.captured_queries) == len(few.captured_queries)


def test_list_is_paginated(client, district):
    for i in range(30):
        register(district.investigator, f"分页案{i}")
    client.force_login(district.investigator)
    page1 = client.get(reverse("cases:list"))
    page2 = client.get(reverse("cases:list"), {"page": 2})
    assert len(page1.context["page"].object_list) == 25
    assert len(page2.context["page"].object_list) == 5


def test_case_title_is_escaped(client, district):
    case = register(district.investigator, '<script>alert("x")</script>')
    client.force_login(district.investigator)
    body = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert '<script>alert("x")</script>' not in body
    assert "&lt;script&gt;" in body


def test_holder_adds_a_person_and_it_is_audited(client, district):
    from casehub.audit.models import AuditEvent

    case = register(district.investigator)
    client.force_login(district.investigator)
    response = client.post(reverse("cases:person_add", args=[case.pk]), {
        "role": "victim", "name": "被害人甲", "custody_status": CustodyStatus.NOT_DETAINED})
    assert response.status_code == 302
    assert case.persons.filter(name="被害人甲").exists()
    assert AuditEvent.objects.filter(action="person.added", case_id=case.pk).exists()
