"""Agencies, cases, persons, audit events and tasks through the API — with their permission rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from casehub.audit.models import AuditEvent
from casehub.cases.models import Case, Offence

pytestmark = pytest.mark.django_db


def test_any_signed_in_client_reads_the_agency_directory(district, api_as):
    client = api_as(district.detention_officer)
    courts = client.get("/api/v1/agencies/?kind=court").json()["results"]
    assert [a["code"] for a in courts] == ["FY440307"]
    assert courts[0]["court_code"] == "粤0307"
    one = client.get(f"/api/v1/agencies/{district.police.pk}/").json()
    assert one["kind_label"] == "公安机关"
    assert client.get("/api/v1/agencies/?kind=bakery").status_code == 400


def test_investigator_registers_a_case_with_persons_and_offences(district, api_as):
    theft = Offence.objects.create(code="0264", name="盗窃罪")
    response = api_as(district.investigator).post("/api/v1/cases/", {
        "title": "张三盗窃案", "occurred_on": "2026-11-18", "offences": ["0264"],
        "persons": [{"name": "张三", "sex": "M", "id_number": "440307199001011232", "custody_status": "detained",
                     "custody_since": "2026-11-20T10:00:00+08:00", "detention_centre": district.detention.pk}],
    }, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    case = Case.objects.get(pk=body["id"])
    assert response["Location"].endswith(f"/api/v1/cases/{case.pk}/")
    assert body["holder_agency"]["code"] == "GA440307"
    assert body["numbers"][0]["kind"] == "police_filing" and "公（刑）立字" in body["numbers"][0]["number"]
    assert body["offences"] == [{"code": "0264", "name": "盗窃罪"}]
    assert body["persons"][0]["id_number"] == "440307199001011232"  # investigators may see it in full
    assert body["persons"][0]["detention_centre"]["code"] == "KSS440307"
    assert body["can_act"] is True
    assert list(case.offences.all()) == [theft]
    assert AuditEvent.objects.filter(action="case.registered", case_id=case.pk, actor=district.investigator).exists()


def test_a_detained_person_needs_a_detention_centre_as_in_the_ui(district, api_as):
    response = api_as(district.investigator).post("/api/v1/cases/", {
        "title": "x", "persons": [{"name": "张三", "custody_status": "detained"}],
    }, format="json")
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"persons.0.detention_centre", "persons.0.custody_since"} <= fields
    assert Case.objects.count() == 0


def test_unknown_offence_code_is_refused_naming_the_field(district, api_as):
    response = api_as(district.investigator).post("/api/v1/cases/", {"title": "x", "offences": ["9999"]},
                                                  format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "offences"


@pytest.mark.parametrize("role", ["prosecutor", "court_clerk", "police_supervisor", "auditor", "detention_officer"])
def test_only_police_investigators_register_cases(district, api_as, role):
    response = api_as(district.users[role]).post("/api/v1/cases/", {"title": "越权立案"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert response.json()["message"]
    assert Case.objects.count() == 0


def test_another_agencys_case_is_404_in_detail_and_absent_from_lists(district, other_district, theft_case, api_as):
    stranger = api_as(other_district.investigator)
    assert stranger.get(f"/api/v1/cases/{theft_case.pk}/").status_code == 404
    assert stranger.get(f"/api/v1/cases/{theft_case.pk}/persons/").status_code == 404
    assert stranger.get("/api/v1/cases/").json()["results"] == []
    # The procuratorate of the same district has not received the case yet: also 404.
    assert api_as(district.prosecutor).get(f"/api/v1/cases/{theft_case.pk}/").status_code == 404


@pytest.mark.parametrize("role", ["auditor", "detention_officer"])
def test_roles_without_case_access_get_403_with_a_message(district, api_as, role):
    response = api_as(district.users[role]).get("/api/v1/cases/")
    assert response.status_code == 403
    assert response.json() == {"code": "permission_denied", "message": "您的角色无权查看案件。"}


def test_search_by_number_person_name_and_id_and_filter_by_status(district, theft_case, api_as):
    from casehub.cases.services import register_case

    register_case(acting_user=district.investigator, title="李四诈骗案", persons=[{"name": "李四"}])
    client = api_as(district.investigator)
    number = theft_case.numbers.get().number

    def titles(query: str) -> list[str]:
        return [c["title"] for c in client.get("/api/v1/cases/", {"q": query}).json()["results"]]

    assert titles(number) == ["张三盗窃案"]
    assert titles("李四") == ["李四诈骗案"]
    assert titles("440307199001011232") == ["张三盗窃案"]
    assert client.get("/api/v1/cases/?status=closed").json()["results"] == []
    assert len(client.get("/api/v1/cases/?can_act=true").json()["results"]) == 2


def test_id_numbers_are_masked_for_roles_without_the_right(district, theft_case, api_as):
    from casehub.agencies import permissions as p

    # Supervisors approve what leaves the agency; they do not need full identity numbers.
    assert p.VIEW_PERSON_ID not in p.ROLE_CAPABILITIES["supervisor"]
    url = f"/api/v1/cases/{theft_case.pk}/persons/"
    assert api_as(district.investigator).get(url).json()["results"][0]["id_number"] == "440307199001011232"
    assert api_as(district.police_supervisor).get(url).json()["results"][0]["id_number"] == "440307********1232"
    detail = api_as(district.police_supervisor).get(f"/api/v1/cases/{theft_case.pk}/").json()
    assert detail["persons"][0]["id_number"] == "440307********1232"


def test_case_list_query_count_does_not_grow_with_rows(district, api_as):
    from casehub.cases.services import register_case

    client = api_as(district.investigator)
    client.get("/api/v1/cases/")  # warm up: token last_used_at, content types

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/cases/").status_code == 200
        return len(ctx.captured_queries)

    register_case(acting_user=district.investigator, title="一")
    few = count_queries()
    for i in range(6):
        register_case(acting_user=district.investigator, title=f"多{i}", persons=[{"name": f"人{i}"}])
    assert count_queries() == few


def test_persons_added_through_the_service_that_checks_the_holder(district, theft_case, api_as):
    url = f"/api/v1/cases/{theft_case.pk}/persons/"
    created = api_as(district.investigator).post(url, {"name": "王五", "role": "victim"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["role"] == "victim"
    assert AuditEvent.objects.filter(action="person.added", case_id=theft_case.pk).exists()
    # The police supervisor sees the case but has no edit_case capability.
    denied = api_as(district.police_supervisor).post(url, {"name": "赵六"}, format="json")
    assert denied.status_code == 403
    assert theft_case.persons.count() == 2
    detail = api_as(district.investigator).get(f"{url}{created.json()['id']}/")
    assert detail.json()["name"] == "王五"


def test_auditors_read_audit_events_with_filters_and_others_get_403(district, theft_case, api_as):
    auditor = api_as(district.auditor)
    events = auditor.get(f"/api/v1/audit/events/?case={theft_case.pk}").json()["results"]
    assert "case.registered" in [e["action"] for e in events]
    assert all(e["case_id"] == theft_case.pk for e in events)
    assert [e["sequence"] for e in events] == sorted((e["sequence"] for e in events), reverse=True)
    one = auditor.get(f"/api/v1/audit/events/{events[0]['sequence']}/").json()
    assert one["hash"] == events[0]["hash"]
    only = auditor.get("/api/v1/audit/events/?action=case.registered").json()["results"]
    assert [e["action"] for e in only] == ["case.registered"]
    assert auditor.get("/api/v1/audit/events/?action=nothing.like.this").json()["results"] == []
    denied = api_as(district.investigator).get("/api/v1/audit/events/")
    assert denied.status_code == 403
    assert denied.json()["message"] == "只有督察考核人员可以查看审计日志。"


def test_chain_verification_is_long_work_answered_202_with_a_task_to_poll(
    district, theft_case, api_as, django_capture_on_commit_callbacks
):
    auditor = api_as(district.auditor)
    with django_capture_on_commit_callbacks(execute=True):
        started = auditor.post("/api/v1/audit/verifications/", format="json")
    assert started.status_code == 202
    assert started["Location"].endswith(f"/api/v1/tasks/{started.json()['id']}/")
    task = auditor.get(started["Location"]).json()
    assert task["status"] == "succeeded", task
    assert task["progress"] == 100
    assert task["result"]["ok"] is True and task["result"]["events_checked"] >= 1
    assert AuditEvent.objects.filter(action="audit.verified", actor=district.auditor).exists()
    # Someone else's task does not exist for you.
    assert api_as(other := district.users["investigator"]).get(started["Location"]).status_code == 404
    assert other.username == "investigator"
    assert api_as(district.investigator).post("/api/v1/audit/verifications/").status_code == 403
