"""Workflow actions through the API: generated from the process definition, fired through the
engine, with the permission rows of the workflow (holder, receiver, other agencies, roles)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casehub.audit.models import AuditEvent
from workflows import definition as d
from workflows.models import ApprovalRequest, Transfer, TransitionLog

pytestmark = pytest.mark.django_db

REVIEW_INPUTS = {"facts": "2026年1月入室盗窃。", "evidence": "证人证言\n现场勘验"}


def actions_url(case) -> str:
    return f"/api/v1/cases/{case.pk}/actions/"


def names(listing: dict, key: str = "available") -> set[str]:
    return {t["name"] for t in listing[key]}


def test_every_transition_of_the_definition_is_a_typed_operation_in_the_schema(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    operations = {op["operationId"]: (path, op) for path, item in schema["paths"].items()
                  for op in item.values()}
    expected = {f"cases_actions_{t.name}" for t in d.TRANSITIONS if t.name != d.REGISTER}
    assert expected <= set(operations)
    path, op = operations["cases_actions_transfer_for_review"]
    assert path == "/api/v1/cases/{case_pk}/actions/transfer_for_review/"
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    body = schema["components"]["schemas"][ref]
    assert {"facts", "evidence", "to_agency", "expected_version"} <= set(body["properties"])
    assert set(body["required"]) == {"facts", "evidence"}
    assert "Idempotency-Key" in {p["name"] for p in op["parameters"]}


def test_holder_sees_what_it_may_fire_with_inputs(wf_case, district, api_as):
    listing = api_as(district.investigator).get(actions_url(wf_case)).json()
    assert listing["stage"] == "investigation" and listing["version"] == wf_case.version
    assert {"request_arrest", "transfer_for_review"} <= names(listing)
    review = next(t for t in listing["available"] if t["name"] == "transfer_for_review")
    assert review["needs_approval"] is True
    assert review["article"] == "刑事诉讼法第一百六十二条"
    assert [i["name"] for i in review["inputs"]] == ["facts", "evidence", "legal_basis", "to_agency"]
    assert review["url"].endswith(f"/api/v1/cases/{wf_case.pk}/actions/transfer_for_review/")
    # A supervisor of the same agency prepares nothing: no actions, but the case is visible.
    assert api_as(district.police_supervisor).get(actions_url(wf_case)).json()["available"] == []


def test_transfer_for_review_approval_and_acceptance_through_the_api(wf_case, district, api_as,
                                                                    django_capture_on_commit_callbacks):
    investigator, supervisor, prosecutor = (api_as(district.investigator), api_as(district.police_supervisor),
                                            api_as(district.prosecutor))
    fired = investigator.post(f"{actions_url(wf_case)}transfer_for_review/", REVIEW_INPUTS, format="json")
    assert fired.status_code == 200, fired.content
    assert fired.json()["outcome"] == "awaiting_approval"
    assert fired.json()["case"]["stage"] == "investigation"

    pending = supervisor.get("/api/v1/approvals/?status=pending").json()["results"]
    assert [a["transition"] for a in pending] == ["transfer_for_review"]
    # The officer cannot approve their own request.
    assert investigator.post(f"/api/v1/approvals/{pending[0]['id']}/decide/", {"approve": True},
                             format="json").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        decided = supervisor.post(f"/api/v1/approvals/{pending[0]['id']}/decide/",
                                  {"approve": True, "comment": "同意移送"}, format="json")
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "approved"
    wf_case.refresh_from_db()
    assert wf_case.stage == d.Stage.REVIEW_REQUESTED

    # The procuratorate sees the incoming package and, before accepting, the case's actions.
    incoming = prosecutor.get("/api/v1/transfers/?direction=incoming").json()["results"]
    assert len(incoming) == 1 and incoming[0]["verification_status"] == "passed"
    assert incoming[0]["direction"] == "incoming"
    assert prosecutor.get(f"/api/v1/cases/{wf_case.pk}/").status_code == 404  # not yet its case
    listing = prosecutor.get(actions_url(wf_case)).json()
    assert names(listing) == {"accept_review_transfer", "reject_review_transfer"}

    accepted = prosecutor.post(f"{actions_url(wf_case)}accept_review_transfer/",
                               {"expected_version": listing["version"]}, format="json")
    assert accepted.status_code == 200, accepted.content
    body = accepted.json()
    assert body["outcome"] == "executed" and body["target"] == "prosecution_review"
    assert body["case"]["holder_agency"]["code"] == "JC440307" and body["case"]["can_act"] is True
    assert prosecutor.get(f"/api/v1/cases/{wf_case.pk}/").status_code == 200
    assert AuditEvent.objects.filter(action="workflow.accept_review_transfer", actor=district.prosecutor).exists()

    transfer = Transfer.objects.get(pk=incoming[0]["id"])
    receipt = prosecutor.get(f"/api/v1/transfers/{transfer.pk}/receipt/").json()
    assert receipt["sha256"] == transfer.receipt_sha256 and receipt["signature_base64"]
    sender_view = investigator.get(f"/api/v1/transfers/{transfer.pk}/").json()
    assert sender_view["status"] == "accepted" and sender_view["direction"] == "outgoing"
    assert AuditEvent.objects.filter(action="transfer.receipt_downloaded").count() == 1


def test_a_signing_failure_on_approval_is_a_503_and_nothing_moves(wf_case, district, api_as, monkeypatch):
    from signing import SigningError
    from workflows import packaging

    investigator, supervisor = api_as(district.investigator), api_as(district.police_supervisor)
    assert investigator.post(f"{actions_url(wf_case)}transfer_for_review/", REVIEW_INPUTS,
                             format="json").status_code == 200
    pending = supervisor.get("/api/v1/approvals/?status=pending").json()["results"]

    def broken(agency, data):
        raise SigningError("signing device unreachable")

    monkeypatch.setattr(packaging, "_sign", broken)
    decided = supervisor.post(f"/api/v1/approvals/{pending[0]['id']}/decide/", {"approve": True}, format="json")
    assert decided.status_code == 503, decided.content
    assert decided.json()["code"] == "side_effect_failed"
    wf_case.refresh_from_db()
    assert wf_case.stage == d.Stage.INVESTIGATION
    assert supervisor.get("/api/v1/approvals/?status=pending").json()["results"][0]["id"] == pending[0]["id"]


def test_permission_rows_of_a_pending_package(wf_case, district, other_district, drive, api_as):
    # Two procuratorates share the region now, so the investigator names the receiver.
    drive.fire(wf_case, "transfer_for_review", "investigator", **REVIEW_INPUTS, to_agency=district.procuratorate.pk)
    url = f"{actions_url(wf_case)}accept_review_transfer/"
    # The sender's agency sees the case but may not accept its own package: 403 with why.
    own = api_as(district.investigator).post(url, {}, format="json")
    assert own.status_code == 403 and own.json()["message"]
    # The court of the same district and another district's procuratorate: the case does not exist.
    assert api_as(district.court_clerk).post(url, {}, format="json").status_code == 404
    assert api_as(other_district.prosecutor).post(url, {}, format="json").status_code == 404
    assert api_as(other_district.prosecutor).get(actions_url(wf_case)).status_code == 404
    # A procuratorate supervisor lacks review_incoming.
    assert api_as(district.procuratorate_supervisor).post(url, {}, format="json").status_code == 403
    wf_case.refresh_from_db()
    assert wf_case.stage == d.Stage.REVIEW_REQUESTED


def test_inputs_are_checked_field_by_field_and_nothing_moves(wf_case, district, api_as):
    url = f"{actions_url(wf_case)}transfer_for_review/"
    client = api_as(district.investigator)
    missing = client.post(url, {"facts": "只有事实"}, format="json")
    assert missing.status_code == 400
    assert [e["field"] for e in missing.json()["errors"]] == ["evidence"]
    unknown = client.post(url, {**REVIEW_INPUTS, "verdict": "x"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "verdict"
    wrong_kind = client.post(url, {**REVIEW_INPUTS, "to_agency": district.court.pk}, format="json")
    assert wrong_kind.status_code == 400 and wrong_kind.json()["errors"][0]["field"] == "to_agency"
    assert not ApprovalRequest.objects.exists()


def test_a_stale_expected_version_is_409_case_changed(wf_case, district, api_as):
    response = api_as(district.investigator).post(
        f"{actions_url(wf_case)}transfer_for_review/", {**REVIEW_INPUTS, "expected_version": wf_case.version + 5},
        format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "case_changed"


def test_a_transition_from_another_stage_is_409(wf_case, district, api_as):
    response = api_as(district.investigator).post(f"{actions_url(wf_case)}resubmit_for_review/",
                                                  {"reason": "x"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "case_changed"


def test_third_return_for_supplementary_investigation_is_refused_by_the_guard(wf_case, district, drive, api_as):
    drive.to_review(wf_case)
    for _ in range(2):
        drive.fire(wf_case, "return_for_supplementary", "prosecutor", reason="补充侦查")
        drive.fire(wf_case, "resubmit_for_review", "investigator", reason="已补充")
        drive.fire(wf_case, "accept_review_transfer", "prosecutor")
    prosecutor = api_as(district.prosecutor)
    listing = prosecutor.get(actions_url(wf_case)).json()
    blocked = {t["name"]: t["blocked_by"] for t in listing["blocked"]}
    assert "return_for_supplementary" in blocked and blocked["return_for_supplementary"]
    response = prosecutor.post(f"{actions_url(wf_case)}return_for_supplementary/", {"reason": "第三次"},
                               format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "guard_failed" and body["errors"][0]["code"] == "guard_failed"
    assert TransitionLog.objects.filter(case=wf_case, transition="return_for_supplementary").count() == 2


def test_firing_with_an_idempotency_key_twice_fires_once(wf_case, district, drive, api_as):
    drive.to_review(wf_case)
    prosecutor = api_as(district.prosecutor)
    url = f"{actions_url(wf_case)}extend_review/"
    first = prosecutor.post(url, {"decision": "案情复杂，延长十五日"}, format="json", HTTP_IDEMPOTENCY_KEY="ext-1")
    again = prosecutor.post(url, {"decision": "案情复杂，延长十五日"}, format="json", HTTP_IDEMPOTENCY_KEY="ext-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert ApprovalRequest.objects.filter(case=wf_case, transition="extend_review").count() == 1


def test_receiver_reverifies_a_pending_package_as_long_work(wf_case, district, drive, api_as,
                                                            django_capture_on_commit_callbacks):
    drive.fire(wf_case, "transfer_for_review", "investigator", **REVIEW_INPUTS)
    transfer = Transfer.objects.get(case=wf_case, kind="review_transfer")
    prosecutor = api_as(district.prosecutor)
    with django_capture_on_commit_callbacks(execute=True):
        started = prosecutor.post(f"/api/v1/transfers/{transfer.pk}/verifications/")
    assert started.status_code == 202, started.content
    task = prosecutor.get(started["Location"]).json()
    assert task["kind"] == "transfer.verify"
    assert task["status"] == "succeeded" and task["result"]["ok"] is True
    assert task["result"]["manifest_sha256"] == transfer.manifest_sha256
    # The sender may not ask for the receiver's verification.
    assert api_as(district.investigator).post(f"/api/v1/transfers/{transfer.pk}/verifications/").status_code == 403
    manifest = prosecutor.get(f"/api/v1/transfers/{transfer.pk}/manifest/").json()
    assert manifest["sha256"] == transfer.manifest_sha256


def test_paper_hand_over_is_registered_by_the_receiving_clerk(district, api_as):
    from django.utils import timezone

    clerk = api_as(district.court_clerk)
    # Received yesterday (a receipt date may not lie in the future, whatever today is).
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = clerk.post("/api/v1/transfers/paper/", {
        "from_agency": district.procuratorate.pk, "kind": "indictment", "received_on": yesterday,
        "volumes": 2, "pages": 310, "reason": "系统维护期间纸质移送", "external_reference": "深龙检刑诉〔2026〕1号",
    }, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["mode"] == "paper" and response.json()["electronic"] is False
    bad = clerk.post("/api/v1/transfers/paper/", {
        "from_agency": district.court.pk, "kind": "indictment", "received_on": yesterday, "volumes": 2,
        "pages": 310, "reason": "x", "external_reference": "y"}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "from_agency"
    assert api_as(district.auditor).post("/api/v1/transfers/paper/", {}, format="json").status_code == 403


def test_document_rows_of_the_permission_table(wf_case, district, drive, api_as, tmp_path):
    """The police work file never leaves the police; the receiver reads the dossier only once it accepted."""
    from casehub.dossier import services as dossier
    from tests.dossier import files

    path = files.write(tmp_path, "work.pdf", files.text_pdf(1, "work"))
    job = dossier.ingest_upload(case=wf_case, acting_user=district.investigator, uploaded_file_or_path=path,
                                title="侦查工作记录", category="other", part="work")
    work_doc = job.document_id
    drive.fire(wf_case, "transfer_for_review", "investigator", **REVIEW_INPUTS)
    prosecutor = api_as(district.prosecutor)
    # Pending: the manifest yes (transfer detail), the documents no.
    transfer = prosecutor.get("/api/v1/transfers/?direction=incoming").json()["results"][0]
    assert prosecutor.get(f"/api/v1/transfers/{transfer['id']}/").json()["manifest"]
    assert prosecutor.get(f"/api/v1/cases/{wf_case.pk}/documents/").status_code == 404
    drive.fire(wf_case, "accept_review_transfer", "prosecutor")
    listed = prosecutor.get(f"/api/v1/cases/{wf_case.pk}/documents/").json()["results"]
    assert listed and work_doc not in {d["id"] for d in listed}
    assert all(d["part"] == "main" for d in listed)
    assert prosecutor.get(f"/api/v1/documents/{work_doc}/").status_code == 404
    assert prosecutor.get(f"/api/v1/documents/{work_doc}/file/").status_code == 404
    police_listed = api_as(district.investigator).get(f"/api/v1/cases/{wf_case.pk}/documents/?part=work").json()
    assert [d["id"] for d in police_listed["results"]] == [work_doc]
