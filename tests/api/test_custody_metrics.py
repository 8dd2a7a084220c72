"""Custody transfers (acknowledged by the detention centre) and the auditors' metrics, through the API."""

from __future__ import annotations

import pytest

from casehub.audit.models import AuditEvent
from casehub.custody.models import CustodyCertificate

pytestmark = pytest.mark.django_db


def test_detention_officer_acknowledges_the_custody_transfer_of_a_transferred_case(wf_case, district, drive,
                                                                                    api_as):
    drive.to_review(wf_case)
    officer = api_as(district.detention_officer)
    pending = officer.get("/api/v1/custody/certificates/?pending=true").json()["results"]
    assert len(pending) == 1
    cert = pending[0]
    assert cert["from_agency"]["code"] == "GA440307" and cert["to_agency"]["code"] == "JC440307"
    # The centre matches the certificate to the person it holds: full number (casehub.cases.identity).
    person = wf_case.persons.get(name="张三")
    assert cert["person"]["name"] == "张三" and cert["person"]["id_number"] == person.id_number

    done = officer.post(f"/api/v1/custody/certificates/{cert['id']}/acknowledge/")
    assert done.status_code == 200 and done.json()["acknowledged"] is True
    again = officer.post(f"/api/v1/custody/certificates/{cert['id']}/acknowledge/")
    assert again.json()["acknowledged"] is False  # harmless
    assert officer.get("/api/v1/custody/certificates/?pending=true").json()["results"] == []
    assert CustodyCertificate.objects.get(pk=cert["id"]).acknowledged_by == district.detention_officer
    assert AuditEvent.objects.filter(action="custody.acknowledged").count() == 1

    detainees = officer.get("/api/v1/custody/detainees/").json()["results"]
    assert [d["person"]["name"] for d in detainees] == ["张三"]
    assert detainees[0]["responsible_agency"]["code"] == "JC440307"


def test_only_the_centre_acknowledges(wf_case, district, other_district, drive, api_as):
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="入室盗窃。", evidence="证言",
               to_agency=district.procuratorate.pk)  # two procuratorates share the region now
    drive.fire(wf_case, "accept_review_transfer", "prosecutor")
    cert = CustodyCertificate.objects.get(case=wf_case)
    # The procuratorate sees the certificate it received but may not acknowledge it.
    prosecutor = api_as(district.prosecutor)
    assert [c["id"] for c in prosecutor.get("/api/v1/custody/certificates/").json()["results"]] == [cert.pk]
    denied = prosecutor.post(f"/api/v1/custody/certificates/{cert.pk}/acknowledge/")
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    # Another district's centre: no such certificate.
    assert api_as(other_district.detention_officer).post(
        f"/api/v1/custody/certificates/{cert.pk}/acknowledge/").status_code == 404
    assert api_as(district.prosecutor).get("/api/v1/custody/detainees/").status_code == 403
    assert CustodyCertificate.objects.get(pk=cert.pk).acknowledged_at is None


def test_auditor_reads_the_three_rates_for_a_period(wf_case, district, drive, api_as):
    drive.to_review(wf_case)
    auditor = api_as(district.auditor)
    response = auditor.get("/api/v1/metrics/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["totals"]["online"] == {"numerator": 1, "denominator": 1, "value": 1.0}
    assert body["totals"]["custody"]["numerator"] == 1
    assert {t["key"] for t in body["tables"]} >= {"rates", "custody"}
    assert district.police.pk in body["agencies"]
    assert AuditEvent.objects.filter(action="metrics.exported", actor=district.auditor).exists()

    bad = auditor.get("/api/v1/metrics/?date_from=2026-05-01&date_to=2026-01-01")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "non_field_errors"
    assert auditor.get("/api/v1/metrics/?date_from=yesterday").json()["errors"][0]["field"] == "date_from"
    denied = api_as(district.prosecutor).get("/api/v1/metrics/")
    assert denied.status_code == 403 and denied.json()["message"] == "只有督察考核人员可以查看考核统计。"


def test_the_responsible_agency_issues_a_change_notice_and_the_centre_acknowledges(wf_case, district, drive,
                                                                                   api_as):
    drive.to_review(wf_case)
    prosecutor = api_as(district.prosecutor)
    records = prosecutor.get(f"/api/v1/cases/{wf_case.pk}/custody/").json()["results"]
    assert len(records) == 1 and records[0]["responsible_agency"]["code"] == "JC440307"
    url = f"/api/v1/cases/{wf_case.pk}/custody/{records[0]['id']}/notices/"

    # The police sent the case on: no longer responsible for the custody.
    denied = api_as(district.investigator).post(url, {"kind": "extension", "reason": "x"}, format="json")
    assert denied.status_code == 403
    missing = prosecutor.post(url, {"kind": "extension"}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "reason"

    issued = prosecutor.post(url, {"kind": "arrest", "reason": "深龙检批捕〔2026〕1号"}, format="json")
    assert issued.status_code == 201, issued.content
    notice = issued.json()
    officer = api_as(district.detention_officer)
    pending = officer.get("/api/v1/custody/notices/?pending=true").json()["results"]
    assert [n["id"] for n in pending] == [notice["id"]]
    assert officer.post(f"/api/v1/custody/notices/{notice['id']}/acknowledge/").json()["acknowledged"] is True
    assert api_as(district.court_clerk).get(
        f"/api/v1/cases/{wf_case.pk}/custody/").status_code == 404
