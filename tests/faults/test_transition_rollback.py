"""A transition whose side effect fails rolls back entirely — stage, holder, permissions, clocks,
numbers, custody, transfers, audit — and says why (THREAT_MODEL.md T5).

The failure is injected where it really happens: the agency key signing the manifest (sending)
or the receipt (accepting) raises, as an unreachable HSM or a revoked key would; or an effect
after a number was issued raises, so the issued number must be given back.
"""

from __future__ import annotations

import io

import pikepdf
import pytest
from django.urls import reverse

from casehub.audit.models import AuditEvent
from casehub.cases.models import Case, CaseGroupObjectPermission, CaseNumber, CustodyStatus, NumberSequence
from casehub.cases.services import register_case
from casehub.clocks.models import Clock
from workflows import engine
from workflows.models import ApprovalRequest, Transfer, TransitionLog

pytestmark = pytest.mark.django_db


class HSMUnavailable(ConnectionError):  # a signing device that does not answer: an outage
    pass


def _pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


@pytest.fixture
def case(district, tmp_path):
    from casehub.dossier import services as dossier

    case = register_case(acting_user=district.investigator, title="回滚测试案", persons=[{
        "name": "王五", "sex": "M", "custody_status": CustodyStatus.DETAINED,
        "custody_since": "2026-01-01T08:00:00+08:00", "detention_centre": district.detention}])
    (tmp_path / "a.pdf").write_bytes(_pdf())
    job = dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=tmp_path / "a.pdf",
                                title="证据", category="evidence")
    assert job.status == "done", job.message
    return case


def _agency_keys_issued(*agencies) -> None:
    """Issue the agencies' signing certificates before the snapshot. The prepare phase signs before
    the transition's transaction, so an agency's first signature issues its certificate there (PKI
    state of the agency, committed on its own, not part of any transition); the transition itself
    must leave nothing behind."""
    from casehub.pki import services as pki

    for agency in agencies:
        pki.signer_for(agency)


def snapshot(case: Case) -> dict:
    """Everything a transition touches, as plain values."""
    from casehub.custody.models import CustodyCertificate, CustodyRecord

    def rows(qs, *exclude):
        return sorted(tuple(sorted((k, str(v)) for k, v in r.items() if k not in exclude)) for r in qs.values())

    return {
        "case": rows(Case.objects.filter(pk=case.pk), "updated_at"),
        "persons": rows(case.persons.all()),
        "permissions": rows(CaseGroupObjectPermission.objects.filter(content_object=case)),
        "clocks": rows(Clock.objects.filter(case=case)),
        "numbers": rows(CaseNumber.objects.filter(case=case)),
        "sequences": rows(NumberSequence.objects.all()),
        "transfers": rows(Transfer.objects.filter(case=case)),
        "log": rows(TransitionLog.objects.filter(case=case)),
        "approvals": rows(ApprovalRequest.objects.filter(case=case)),
        "custody": rows(CustodyRecord.objects.filter(case=case)) + rows(CustodyCertificate.objects.filter(case=case)),
        # The engine may record the failed attempt in a transaction of its own (workflow.failed):
        # that is the audit trail saying why, not a leftover of the rolled-back transition.
        "audit": sorted(AuditEvent.objects.exclude(action="workflow.failed").values_list("sequence", "action")),
    }


def _raised(info, cause: type) -> BaseException:
    """The error raised, whether the engine re-raised ``cause`` or wrapped it (raise … from cause)."""
    err = info.value
    assert isinstance(err, cause) or isinstance(err.__cause__, cause), repr(err)
    assert str(err), "the error says nothing"
    return err


def _failing_sign(monkeypatch, *, on: str):
    from workflows import packaging

    real = packaging._sign

    def sign(agency, data):
        if (on == "manifest" and agency.kind == "police") or (on == "receipt" and agency.kind == "procuratorate"):
            raise HSMUnavailable("签名设备不可用 (HSM unreachable)")
        return real(agency, data)

    monkeypatch.setattr(packaging, "_sign", sign)


def test_signing_failure_while_sending_rolls_back_everything(case, district, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    result = engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                         inputs={"facts": "事实", "evidence": "证据一"})
    assert result.awaiting_approval
    _agency_keys_issued(district.police, district.procuratorate, district.court)
    before = snapshot(case)
    _failing_sign(monkeypatch, on="manifest")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Exception) as info:  # noqa: PT011 - checked by _raised
            engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True,
                                   comment="同意")
    _raised(info, HSMUnavailable)
    assert callbacks == []  # nothing was queued for after a commit that never happened
    assert snapshot(case) == before
    # The approval is still pending: the supervisor can approve again once signing works.
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        engine.decide_approval(ApprovalRequest.objects.get(pk=result.approval.pk),
                               acting_user=district.police_supervisor, approve=True, comment="同意")
    case.refresh_from_db()
    assert case.stage == "review_requested"
    # The recommendation number that the failed attempt had issued was given back: no gap.
    number = CaseNumber.objects.get(case=case, kind="prosecution_recommendation")
    assert number.sequence == 1


def test_signing_failure_while_accepting_rolls_back_everything(case, district, monkeypatch,
                                                               django_capture_on_commit_callbacks):
    result = engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                         inputs={"facts": "事实", "evidence": "证据一"})
    with django_capture_on_commit_callbacks(execute=True):
        engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True, comment="同意")
    case.refresh_from_db()
    _agency_keys_issued(district.police, district.procuratorate, district.court)
    before = snapshot(case)
    _failing_sign(monkeypatch, on="receipt")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Exception) as info:  # noqa: PT011 - checked by _raised
            engine.fire(case, "accept_review_transfer", acting_user=district.prosecutor)
    _raised(info, HSMUnavailable)
    assert callbacks == []
    assert snapshot(case) == before
    case.refresh_from_db()
    assert case.holder_agency == district.police and case.stage == "review_requested"


def test_a_failing_effect_after_a_number_was_issued_gives_the_number_back(case, district, monkeypatch,
                                                                          django_capture_on_commit_callbacks):
    from workflows import effects

    def broken(ctx):
        raise RuntimeError("PDF generation failed: font missing")

    result = engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                         inputs={"facts": "事实", "evidence": "证据一"})
    _agency_keys_issued(district.police, district.procuratorate, district.court)
    before = snapshot(case)
    monkeypatch.setitem(effects.EFFECTS, "generate_prosecution_recommendation", broken)
    with pytest.raises(Exception) as info:  # noqa: PT011 - checked by _raised
        engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True, comment="同意")
    _raised(info, RuntimeError)
    assert snapshot(case) == before


def test_the_user_is_told_why_when_signing_fails(case, district, client, monkeypatch,
                                                 django_capture_on_commit_callbacks):
    """Through the approval page: no half state, and an answer that says what went wrong."""
    result = engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                         inputs={"facts": "事实", "evidence": "证据一"})
    client.raise_request_exception = False
    client.force_login(district.police_supervisor)  # (records auth.login)
    _agency_keys_issued(district.police, district.procuratorate, district.court)
    before = snapshot(case)
    _failing_sign(monkeypatch, on="manifest")
    response = client.post(reverse("transfers:approval", args=[result.approval.pk]),
                           {"action": "approve", "comment": "同意"}, follow=True)
    assert snapshot(case) == before
    assert response.status_code < 500, "a signing failure must be reported to the user, not a server error page"
    body = response.content.decode()
    assert "签名" in body, "the page must say that signing failed"
