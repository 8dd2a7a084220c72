"""The object store goes down (moto's S3 server stopped) during an upload and during a transfer
verification (THREAT_MODEL.md D2, ASVS 16.5.2).

The bar: the user gets a clear error, the database holds no row pointing at a missing object,
the audit trail records the failure, and the same action succeeds once the store is back.
"""

from __future__ import annotations

import io

import pikepdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from casehub.audit.models import AuditEvent
from casehub.cases.models import CustodyStatus
from casehub.cases.services import register_case
from casehub.dossier.models import Document, IngestJob
from casehub.objectstore.models import StoredObject
from casehub.objectstore.services import get_store, read_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.s3]


def _pdf(label: str) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.docinfo["/Title"] = label  # distinct bytes per label
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _case(district, title="存储故障测试案"):
    return register_case(acting_user=district.investigator, title=title, persons=[
        {"name": "李四", "sex": "M", "custody_status": CustodyStatus.NOT_DETAINED}])


def _no_dangling_rows() -> list[str]:
    """Every StoredObject row names an object that exists in the store."""
    store = get_store()
    return [o.sha256 for o in StoredObject.objects.all() if not store.exists(o.sha256)]


def _upload(client, case, data: bytes, name: str = "笔录.pdf"):
    return client.post(reverse("dossier:upload", args=[case.pk]), {
        "title": "询问笔录", "category": "evidence", "part": "main",
        "file": SimpleUploadedFile(name, data, content_type="application/pdf"),
    }, follow=True)


def test_upload_while_the_store_is_down_fails_cleanly_and_the_retry_succeeds(
        client, district, s3_settings, s3_available):
    case = _case(district)
    client.force_login(district.investigator)
    data = _pdf("upload-outage")
    objects_before = StoredObject.objects.count()

    s3_available.stop()
    try:
        response = _upload(client, case, data)
    finally:
        s3_available.start()

    assert response.status_code == 200
    job = IngestJob.objects.get(case=case)
    assert job.status == "failed"
    # Clear error: the user is told the storage was unavailable, not just "internal error".
    shown = " ".join(str(m) for m in response.context["messages"])
    assert job.message and job.message in shown
    assert "存储" in job.message, f"the message does not say the store was unavailable: {job.message!r}"
    # Nothing points at a missing object.
    assert not Document.objects.filter(case=case).exists()
    assert StoredObject.objects.count() == objects_before
    assert _no_dangling_rows() == []
    # The failure is in the audit trail.
    failure = AuditEvent.objects.filter(case_id=case.pk, action="document.rejected").get()
    assert failure.details["filename"] == "笔录.pdf"

    # Retry after the store is back: the same file goes in.
    _upload(client, case, data)
    document = Document.objects.filter(case=case).get()
    assert read_bytes(document.stored) == data
    assert _no_dangling_rows() == []


def test_verification_while_the_store_is_down_blocks_acceptance_then_reverify_passes(
        tmp_path, district, s3_settings, s3_available, django_capture_on_commit_callbacks):
    from casehub.dossier import services as dossier
    from workflows import engine
    from workflows.models import VerificationStatus

    case = _case(district, "移送校验故障测试案")
    (tmp_path / "a.pdf").write_bytes(_pdf("verify-outage"))
    job = dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=tmp_path / "a.pdf",
                                title="证据", category="evidence")
    assert job.status == "done", job.message
    result = engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                         inputs={"facts": "事实", "evidence": "证据一"})

    # The package is sealed and signed while the store is up; it goes down before verification runs.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True, comment="同意")
    case.refresh_from_db()
    transfer = case.transfers.get()
    s3_available.stop()
    try:
        for callback in callbacks:
            callback()
    finally:
        s3_available.start()
    transfer.refresh_from_db()
    # Fail closed, and say why: every object is reported unreadable (not "tampered").
    assert transfer.verification_status == VerificationStatus.FAILED
    event = AuditEvent.objects.filter(action="transfer.verified", case_id=case.pk).latest("sequence")
    assert event.details["ok"] is False
    errors = str(event.details["errors"])
    assert "读取失败" in errors and "StorageUnavailable" in errors, errors
    assert "篡改" not in errors  # an outage is not evidence of tampering

    # The receiver cannot accept an unverified package ...
    with pytest.raises(engine.TransitionError):
        engine.fire(case, "accept_review_transfer", acting_user=district.prosecutor)
    # ... and after the store is back, re-verifying passes and acceptance works.
    from casehub.transfers import services as transfers

    with django_capture_on_commit_callbacks(execute=True):
        transfers.reverify(transfer, acting_user=district.prosecutor)
    transfer.refresh_from_db()
    assert transfer.verification_status == VerificationStatus.PASSED
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "accept_review_transfer", acting_user=district.prosecutor)
    case.refresh_from_db()
    assert case.holder_agency == district.procuratorate


def test_downloads_while_the_store_is_down_answer_503_and_record_no_download(
        client, district, s3_settings, s3_available):
    """The API answers 503 in its JSON error shape (document and volume files share the helper), the
    dossier page a plain 503; the audit trail records a failed download, not a download."""
    from rest_framework.test import APIClient

    from casehub.api.credentials import issue_personal_token
    from casehub.dossier import services as dossier

    case = _case(district, "下载故障测试案")
    job = dossier.ingest_upload(case=case, acting_user=district.investigator, title="证据", category="evidence",
                                uploaded_file_or_path=SimpleUploadedFile("a.pdf", _pdf("download-outage")))
    assert job.status == "done", job.message
    doc = job.document
    volume = dossier.seal_and_assemble_main_volumes(case, acting_user=district.investigator)[0]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_personal_token(acting_user=district.investigator, name='t').token}")
    client.force_login(district.investigator)

    s3_available.stop()
    try:
        answers = [api.get(f"/api/v1/documents/{doc.pk}/file/"), api.get(f"/api/v1/volumes/{volume.pk}/file/")]
        page = client.get(reverse("dossier:document_file", args=[doc.pk]))
    finally:
        s3_available.start()
    for answer in answers:
        assert answer.status_code == 503, answer.content[:300]
        assert answer["Content-Type"] == "application/json"
        assert answer.json()["code"] == "storage_unavailable" and answer.json()["message"]
        assert int(answer["Retry-After"]) > 0
    assert page.status_code == 503 and "存储" in page.content.decode()
    actions = list(AuditEvent.objects.filter(case_id=case.pk, action__contains="download").values_list("action", flat=True))
    assert sorted(actions) == ["document.download_failed", "document.download_failed", "volume.download_failed"]

    # Back up: the same request delivers, and only then is the download recorded.
    response = api.get(f"/api/v1/documents/{doc.pk}/file/")
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(case_id=case.pk, action="document.downloaded").exists()
    assert b"".join(response.streaming_content) == read_bytes(doc.stored)
    assert AuditEvent.objects.filter(case_id=case.pk, action="document.downloaded").count() == 1
