"""Recipient rules keep a case inside its jurisdiction; paper registrations never steer the engine;
an outage is a retryable 503, a bug a 500 with an incident id (THREAT_MODEL.md F18.9, F18.13)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from casehub.agencies.models import AgencyKind
from casehub.audit.models import AuditEvent
from casehub.cases.models import Case
from tests.fixtures.district import make_agency
from workflows import definition as d
from workflows.models import Transfer, TransferMode

pytestmark = pytest.mark.django_db

REVIEW_INPUTS = {"facts": "2026年1月入室盗窃。", "evidence": "证人证言\n现场勘验"}
def _paper() -> dict:
    """A valid paper registration, received yesterday by the test's clock (CASEHUB_TEST_NOW may pin it)."""
    return {"kind": "review_transfer", "received_on": (timezone.localdate() - timedelta(days=1)).isoformat(),
            "volumes": 2, "pages": 310, "reason": "纸质移送", "external_reference": "某案"}


@pytest.fixture
def beijing():
    """Agencies of another region (东城区, 110101) — a district the Shenzhen users must not reach."""
    return {
        "police": make_agency(AgencyKind.POLICE, "GA110101", "北京市公安局东城分局", abbreviation="京东", region="110101"),
        "procuratorate": make_agency(AgencyKind.PROCURATORATE, "JC110101", "北京市东城区人民检察院",
                                     abbreviation="京东", region="110101"),
    }


def _actions(case: Case) -> str:
    return f"/api/v1/cases/{case.pk}/actions/"


# --- F18.13: transitions keep to the jurisdiction -------------------------------------------------------------

@pytest.mark.parametrize("transition, inputs", [
    ("request_arrest", {"reason": "涉嫌盗窃，有逮捕必要"}),
    ("transfer_for_review", REVIEW_INPUTS),
])
def test_a_case_is_not_sent_to_another_districts_procuratorate(wf_case, district, beijing, api_as, transition,
                                                              inputs, settings):
    settings.CASEHUB_WORKFLOW_APPROVALS = {transition: False}
    investigator = api_as(district.investigator)
    events = AuditEvent.objects.count()
    response = investigator.post(
        f"{_actions(wf_case)}{transition}/", {**inputs, "to_agency": beijing["procuratorate"].pk}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "to_agency"
    wf_case.refresh_from_db()
    assert (wf_case.stage, wf_case.holder_agency) == (d.Stage.INVESTIGATION, district.police)
    assert not Transfer.objects.exists()
    assert AuditEvent.objects.count() == events
    # The same request to the district's own procuratorate goes through.
    ok = investigator.post(
        f"{_actions(wf_case)}{transition}/", {**inputs, "to_agency": district.procuratorate.pk}, format="json")
    assert ok.status_code == 200, ok.content
    assert Transfer.objects.get().to_agency == district.procuratorate


# --- F18.9: only the receiver registers a paper hand-over, from its own region, in a fitting direction -------

def test_an_investigator_cannot_fake_a_paper_transfer_from_another_district(district, beijing, api_as):
    response = api_as(district.investigator).post(
        "/api/v1/transfers/paper/", {**_paper(), "kind": "arrest_decision", "from_agency": beijing["procuratorate"].pk},
        format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "from_agency"
    assert not Transfer.objects.exists()


def test_a_paper_transfer_must_fit_the_direction_of_its_kind(district, api_as):
    # The police never receive an indictment; the court never receives an arrest request.
    wrong = api_as(district.investigator).post(
        "/api/v1/transfers/paper/", {**_paper(), "kind": "indictment", "from_agency": district.procuratorate.pk},
        format="json")
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "kind"
    wrong = api_as(district.court_clerk).post(
        "/api/v1/transfers/paper/", {**_paper(), "kind": "arrest_request", "from_agency": district.police.pk},
        format="json")
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "kind"
    assert not Transfer.objects.exists()
    # The receiving police register the procuratorate's paper arrest decision: fits, same region.
    ok = api_as(district.investigator).post(
        "/api/v1/transfers/paper/", {**_paper(), "kind": "arrest_decision", "from_agency": district.procuratorate.pk},
        format="json")
    assert ok.status_code == 201, ok.content
    assert Transfer.objects.get().to_agency == district.police


def test_a_paper_registration_never_decides_who_receives_the_case_back(wf_case, district, drive):
    """A later-dated paper hand-over "from" another police agency must not receive the supplementary return."""
    from workflows import engine

    other_police = make_agency(AgencyKind.POLICE, "GA440307B", "深圳市公安局龙岗分局交通警察大队", abbreviation="深龙交",
                               region="440307")
    drive.to_review(wf_case)
    online = Transfer.objects.get(case=wf_case)
    online.sent_at = timezone.now() - timedelta(days=3)
    online.save(update_fields=["sent_at"])
    paper = engine.register_paper_transfer(
        acting_user=district.prosecutor, from_agency=other_police, kind="review_transfer",
        received_on=timezone.localdate(), volumes=1, pages=5, reason="纸质补送材料", case=wf_case)
    assert paper.mode == TransferMode.PAPER and paper.sent_at > online.sent_at  # the paper one is later
    drive.fire(wf_case, "return_for_supplementary", "prosecutor", reason="补充证据")
    assert wf_case.holder_agency == district.police
    back = Transfer.objects.filter(case=wf_case, kind="supplementary_return").get()
    assert back.to_agency == district.police


# --- errors: outage 503 (retryable) vs bug 500 (incident) ------------------------------------------------------

def test_a_store_outage_is_a_retryable_503(wf_case, district, api_as, monkeypatch, settings):
    from storage import StorageUnavailable
    from workflows import packaging

    settings.CASEHUB_WORKFLOW_APPROVALS = {"transfer_for_review": False}

    def down(*args, **kwargs):
        raise StorageUnavailable("object store at http://127.0.0.1:9 is not answering")

    monkeypatch.setattr(packaging, "_sign", down)
    response = api_as(district.investigator).post(f"{_actions(wf_case)}transfer_for_review/", REVIEW_INPUTS,
                                                  format="json")
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "side_effect_failed"
    assert response["Retry-After"]
    wf_case.refresh_from_db()
    assert wf_case.stage == d.Stage.INVESTIGATION


def test_a_signing_device_that_does_not_answer_is_a_retryable_503(wf_case, district, api_as, monkeypatch, settings):
    from workflows import packaging

    settings.CASEHUB_WORKFLOW_APPROVALS = {"transfer_for_review": False}

    def unreachable(*args, **kwargs):
        raise ConnectionRefusedError("HSM at 10.0.0.5:1792 refused the connection")

    monkeypatch.setattr(packaging, "_sign", unreachable)
    response = api_as(district.investigator).post(f"{_actions(wf_case)}transfer_for_review/", REVIEW_INPUTS,
                                                  format="json")
    assert response.status_code == 503 and response.json()["code"] == "side_effect_failed"


def test_a_bug_is_a_500_with_an_incident_id_never_a_retry_invitation(wf_case, district, api_as, monkeypatch,
                                                                     settings, caplog):
    from workflows import effects

    settings.CASEHUB_WORKFLOW_APPROVALS = {"transfer_for_review": False}

    def buggy(ctx):
        return {}["no such key"]

    monkeypatch.setitem(effects.EFFECTS, "generate_prosecution_recommendation", buggy)
    with caplog.at_level(logging.ERROR):
        response = api_as(district.investigator).post(f"{_actions(wf_case)}transfer_for_review/", REVIEW_INPUTS,
                                                      format="json")
    assert response.status_code == 500, response.content
    body = response.json()
    assert body["code"] == "internal_error" and "Retry-After" not in response
    incident = body["incident"]
    assert len(incident) == 12 and incident in body["message"]
    assert any(incident in r.getMessage() and r.exc_info for r in caplog.records)
    failed = AuditEvent.objects.get(action="workflow.failed")
    assert failed.details["incident"] == incident
    wf_case.refresh_from_db()
    assert wf_case.stage == d.Stage.INVESTIGATION
