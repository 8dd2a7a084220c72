"""A package can be accepted only when its signature, chain, revocation and every hash verify;
any failure blocks acceptance and names the document."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from casehub.metrics import rollup
from casehub.objectstore import services as objects
from casehub.pki import services as pki
from casehub.transfers.tasks import verify_transfer
from signing.cms import sign_detached
from workflows import engine
from workflows.models import Transfer, TransferStatus, VerificationStatus

FACTS = {"facts": "入室盗窃", "evidence": "被害人陈述"}


@pytest.fixture
def sent(case, drive):
    drive.fire(case, "transfer_for_review", "investigator", **FACTS)
    transfer = case.transfers.get()
    assert transfer.verification_status == VerificationStatus.PASSED
    return transfer


def _overwrite(sha256: str, data: bytes) -> None:
    path = objects.get_store().path_for(sha256)
    os.chmod(path, 0o644)
    path.write_bytes(data)


def _reverify(transfer: Transfer) -> Transfer:
    verify_transfer.apply(args=[transfer.pk])
    transfer.refresh_from_db()
    return transfer


def test_a_tampered_document_blocks_acceptance_and_is_named(case, sent, district):
    victim = sent.manifest["documents"][1]
    original = objects.read_bytes(victim["sha256"])
    flipped = original[:200] + bytes([original[200] ^ 0x01]) + original[201:]  # one bit
    _overwrite(victim["sha256"], flipped)
    transfer = _reverify(sent)
    assert transfer.verification_status == VerificationStatus.FAILED
    assert len(transfer.verification_errors) == 1
    assert victim["title"] in transfer.verification_errors[0]["message"]
    assert transfer.verification_errors[0]["id"] == victim["id"]
    with pytest.raises(engine.GuardFailed, match=victim["title"]):
        engine.fire(case, "accept_review_transfer", acting_user=district.prosecutor, inputs={})
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.SENT  # still pending; the sender can withdraw and resend


def test_a_missing_object_blocks_acceptance(sent):
    victim = sent.manifest["volumes"][0]
    os.remove(objects.get_store().path_for(victim["sha256"]))
    transfer = _reverify(sent)
    assert transfer.verification_status == VerificationStatus.FAILED
    assert "不存在" in transfer.verification_errors[0]["message"]


def test_an_edited_manifest_fails_its_signature(sent):
    manifest = bytes(sent.manifest_bytes).replace("证据材料1".encode(), "证据材料X".encode())
    Transfer.objects.filter(pk=sent.pk).update(manifest_bytes=manifest)
    transfer = _reverify(sent)
    codes = {e["code"] for e in transfer.verification_errors}
    assert {"manifest_hash", "signature"} <= codes


def test_a_manifest_signed_by_another_agency_is_refused(sent, district):
    signature = sign_detached(bytes(sent.manifest_bytes), pki.signer_for(district.court))
    Transfer.objects.filter(pk=sent.pk).update(manifest_signature=signature)
    transfer = _reverify(sent)
    assert [e["code"] for e in transfer.verification_errors] == ["signer"]


def test_a_signature_made_after_revocation_is_refused(sent, district):
    old_signer = pki.signer_for(district.police)
    pki.revoke_certificate(district.police, reason="keyCompromise", note="测试：密钥泄露")
    later = timezone.now() + timedelta(seconds=2)
    signature = sign_detached(bytes(sent.manifest_bytes), old_signer)
    with rollup.bulk_change(Transfer, [sent.pk]):  # sent_at feeds the dashboard: keep it in step
        Transfer.objects.filter(pk=sent.pk).update(manifest_signature=signature, sent_at=later)
    transfer = _reverify(sent)
    assert transfer.verification_status == VerificationStatus.FAILED
    assert transfer.verification_errors[0]["code"] == "signature"


def test_verification_passes_again_once_storage_is_repaired(sent, district):
    victim = sent.manifest["documents"][0]
    original = objects.read_bytes(victim["sha256"])
    _overwrite(victim["sha256"], b"%PDF-1.4 garbage")
    assert _reverify(sent).verification_status == VerificationStatus.FAILED
    _overwrite(victim["sha256"], original)
    transfer = _reverify(sent)
    assert transfer.verification_status == VerificationStatus.PASSED and transfer.verification_progress == 100
    assert transfer.verification_report["objects_checked"] == len(sent.manifest["documents"]) + len(
        sent.manifest["volumes"])


def test_objects_read_on_several_threads_are_reported_as_one_thread_reports_them(sent, monkeypatch):
    """Issue #21: every object is re-read and hashed on one thread per core; the findings are the
    same, in the same order, and worded in the caller's language (translation is per thread)."""
    from django.utils import translation

    from workflows import packaging

    entries = sent.manifest["documents"] + sent.manifest["volumes"]
    assert len(entries) >= 3
    for victim in (entries[0], entries[-1]):
        original = objects.read_bytes(victim["sha256"])
        _overwrite(victim["sha256"], original[:100] + bytes([original[100] ^ 0x01]) + original[101:])
    reports = {}
    for threads in (1, 3):
        monkeypatch.setattr(packaging, "_hashing_threads", lambda n=threads: n)
        with translation.override("en"):
            reports[threads] = packaging.verify_package(sent)
    assert reports[3]["errors"] == reports[1]["errors"]
    assert sorted(e["id"] for e in reports[3]["errors"]) == sorted({entries[0]["id"], entries[-1]["id"]})
    assert all("(altered)" in e["message"] for e in reports[3]["errors"]), reports[3]["errors"]
    assert reports[3]["objects_checked"] == len(entries)
