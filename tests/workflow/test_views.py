"""The transfer pages as the users meet them: fire a transition from its form, approve it, verify
and accept a package, download the signed manifest, register paper, see the process."""

from __future__ import annotations

import subprocess

import pytest
from django.urls import reverse
from django.utils import timezone

from casehub.audit.models import AuditEvent
from casehub.pki.services import export_trust_pem
from casehub.web.inboxes import inboxes_for
from tests.fixtures.clock import on_test_clock
from workflows import definition as d
from workflows.models import ApprovalRequest, Transfer


def fire_url(case, name):
    return reverse("transfers:fire", args=[case.pk, name])


def test_investigator_prepares_transfer_supervisor_approves_prosecutor_accepts(
        case, district, client, django_capture_on_commit_callbacks):
    client.force_login(district.investigator)
    form = client.get(fire_url(case, "transfer_for_review"))
    assert form.status_code == 200 and "经依法侦查查明的犯罪事实" in form.content.decode()
    response = client.post(fire_url(case, "transfer_for_review"), {
        "version": case.version, "facts": "入室盗窃", "evidence": "被害人陈述"})
    assert response.status_code == 302
    approval = ApprovalRequest.objects.get()

    client.force_login(district.police_supervisor)
    home = client.get(reverse("home")).content.decode()
    assert "待审批" in home and case.title in home
    assert client.get(reverse("transfers:approval", args=[approval.pk])).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("transfers:approval", args=[approval.pk]), {"action": "approve",
                                                                                   "comment": "同意移送"})
    assert response.status_code == 302
    transfer = Transfer.objects.get()

    client.force_login(district.prosecutor)
    inbox = client.get(reverse("transfers:inbox")).content.decode()
    assert f'data-transfer="{transfer.pk}"' in inbox
    assert any(i.key == "transfers-incoming" and i.items for i in inboxes_for(district.prosecutor))
    detail = client.get(reverse("transfers:detail", args=[transfer.pk])).content.decode()
    assert 'data-status="passed"' in detail and "accept_review_transfer" in detail
    partial = client.get(reverse("transfers:verification", args=[transfer.pk])).content.decode()
    assert "校验通过" in partial
    case.refresh_from_db()
    response = client.post(fire_url(case, "accept_review_transfer"), {"version": case.version})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.stage == d.Stage.PROSECUTION_REVIEW

    client.force_login(district.investigator)  # the sender sees the signed receipt
    detail = client.get(reverse("transfers:detail", args=[transfer.pk])).content.decode()
    assert 'id="receipt-verified"' in detail


def test_stale_form_is_told_the_case_changed(case, district, client, drive):
    client.force_login(district.investigator)
    stale = case.version
    drive.fire(case, "request_arrest", "investigator", reason="需要逮捕")
    drive.fire(case, "withdraw_arrest_request", "investigator", reason="撤回")
    response = client.post(fire_url(case, "request_arrest"), {"version": stale, "reason": "再次提请"})
    assert response.status_code == 409 and "案件已被他人更新" in response.content.decode()
    assert not ApprovalRequest.objects.filter(status="pending").exists()


def test_missing_input_is_shown_on_the_form_and_nothing_happens(case, district, client):
    client.force_login(district.investigator)
    response = client.post(fire_url(case, "request_arrest"), {"version": case.version, "reason": ""})
    assert response.status_code == 200 and "invalid-feedback" in response.content.decode()
    assert not ApprovalRequest.objects.exists()


def test_blocked_transition_shows_the_reason(case, district, client, drive):
    drive.to_review(case)
    for n in (1, 2):
        drive.fire(case, "return_for_supplementary", "prosecutor", reason=str(n))
        drive.fire(case, "resubmit_for_review", "investigator", reason="已补充")
        drive.fire(case, "accept_review_transfer", "prosecutor")
    client.force_login(district.prosecutor)
    page = client.get(fire_url(case, "return_for_supplementary")).content.decode()
    assert "补充侦查以二次为限" in page and "disabled" in page


@pytest.mark.needs_openssl
def test_download_signed_manifest_verifies_with_openssl(case, district, client, drive, tmp_path):
    drive.fire(case, "transfer_for_review", "investigator", facts="入室盗窃", evidence="被害人陈述")
    transfer = Transfer.objects.get()
    client.force_login(district.prosecutor)
    manifest = client.get(reverse("transfers:download", args=[transfer.pk, "manifest.json"]))
    signature = client.get(reverse("transfers:download", args=[transfer.pk, "manifest.p7s"]))
    assert manifest.status_code == signature.status_code == 200
    assert AuditEvent.objects.filter(action="transfer.downloaded").count() == 2
    (tmp_path / "m.json").write_bytes(manifest.content)
    (tmp_path / "m.p7s").write_bytes(signature.content)
    (tmp_path / "trust.pem").write_bytes(export_trust_pem())
    done = subprocess.run(on_test_clock(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "m.p7s",
                                         "-content", tmp_path / "m.json", "-CAfile", tmp_path / "trust.pem",
                                         "-purpose", "any", "-out", "/dev/null"]), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert client.get(reverse("transfers:download", args=[transfer.pk, "receipt.json"])).status_code == 404


def test_paper_registration_page(district, client):
    client.force_login(district.court_clerk)
    assert client.get(reverse("transfers:paper_register")).status_code == 200
    response = client.post(reverse("transfers:paper_register"), {
        "kind": "indictment", "from_agency": district.procuratorate.pk, "external_reference": "深龙检刑诉〔2026〕3号",
        "received_on": timezone.localdate().isoformat(), "volumes": 2, "pages": 180, "reason": "平台故障期间纸质移送"})
    assert response.status_code == 302
    t = Transfer.objects.get()
    assert (t.mode, t.to_agency, t.from_agency) == ("paper", district.court, district.procuratorate)
    # A page with no object to hide: 403 to a role that registers no paper hand-overs (the one rule,
    # casehub.agencies.doors; as the API's POST /transfers/paper/).
    client.force_login(district.auditor)
    assert client.get(reverse("transfers:paper_register")).status_code == 403


def test_process_page_shows_every_transition(district, client):
    client.force_login(district.investigator)
    page = client.get(reverse("transfers:process")).content.decode()
    for t in d.TRANSITIONS:
        assert f'data-transition="{t.name}"' in page


@pytest.mark.parametrize("url_name", ["transfers:inbox", "transfers:process", "transfers:paper_register"])
def test_pages_need_login(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_supervisors_are_notified_and_the_requester_hears_the_decision(case, district, drive):
    from casehub.notifications.models import Notification

    with drive.capture(execute=True):
        result = engine_fire(case, "request_arrest", district.investigator, reason="需要逮捕")
    note = Notification.objects.get(recipient=district.police_supervisor)
    assert case.title in note.title and note.url == reverse("transfers:approval", args=[result.approval.pk])
    with drive.capture(execute=True):
        from workflows import engine

        engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True, comment="同意")
    assert Notification.objects.filter(recipient=district.investigator, kind="workflow.approval").exists()
    # The receiving agency's reviewers hear that a package arrived.
    assert Notification.objects.filter(recipient=district.prosecutor, kind="workflow.transfer").exists()


def test_incoming_inbox_shows_the_receivers_running_clock(case, district, drive):
    drive.fire(case, "request_arrest", "investigator", reason="需要逮捕")
    inbox = next(i for i in inboxes_for(district.prosecutor) if i.key == "transfers-incoming")
    assert inbox.total == 1 and inbox.items[0].due is not None  # art. 91: the 7 days already run
    assert "提请批准逮捕" in inbox.items[0].title


def test_paper_transfer_page_shows_the_registration(district, client):
    from casehub.transfers.services import register_paper_transfer

    t = register_paper_transfer(acting_user=district.prosecutor, from_agency=district.police, kind="review_transfer",
                                received_on=timezone.localdate(), volumes=2, pages=150, reason="纸质移送",
                                external_reference="深龙公（刑）诉字〔2026〕9号")
    client.force_login(district.prosecutor)
    page = client.get(reverse("transfers:detail", args=[t.pk])).content.decode()
    assert "深龙公（刑）诉字〔2026〕9号" in page and "纸质移送" in page and "150" in page


def engine_fire(case, name, user, **inputs):
    from workflows import engine

    return engine.fire(case, name, acting_user=user, inputs=inputs)


def _paper(district, n):
    from casehub.transfers.services import register_paper_transfer

    for i in range(n):
        register_paper_transfer(acting_user=district.prosecutor, from_agency=district.police, kind="review_transfer",
                                received_on=timezone.localdate(), volumes=1, pages=10, reason="纸质",
                                external_reference=f"案{i}")


def test_inbox_query_count_does_not_grow_with_rows(district, client, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(district.prosecutor)
    _paper(district, 1)
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse("transfers:inbox")).status_code == 200
    _paper(district, 12)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(reverse("transfers:inbox")).status_code == 200
