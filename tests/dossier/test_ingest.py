"""Ingest: each kind of unacceptable file is refused with its own message and leaves nothing
behind; acceptable PDFs are stored byte for byte and images become counted PDF pages."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pikepdf
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from casehub.audit.models import AuditEvent
from casehub.cases import access
from casehub.dossier import services
from casehub.dossier.models import Document, IngestJob, JobStatus
from casehub.objectstore.models import StoredObject
from casehub.objectstore.services import read_bytes
from tests.dossier import files


def staged_files(settings) -> list[Path]:
    base = Path(settings.DATA_DIR) / "ingest"
    return [p for p in base.rglob("*") if p.is_file()] if base.exists() else []


@pytest.fixture(autouse=True)
def _own_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


def assert_rejected(job: IngestJob, fragment: str, settings) -> None:
    assert job.status == JobStatus.FAILED, job.message
    assert fragment in job.message
    assert job.document is None
    assert not Document.objects.exists()
    assert not StoredObject.objects.exists(), "a rejected file must not reach the object store"
    assert staged_files(settings) == [], "the staged upload must be removed"
    event = AuditEvent.objects.filter(action="document.rejected").last()
    assert event is not None and event.details["reason"] == job.message


def test_a_clean_pdf_is_stored_byte_for_byte_and_counted(upload, case, district):
    data = files.text_pdf(3, "statement")
    job = upload(data, title="讯问笔录", category="procedural", name="讯问笔录.pdf")

    assert job.status == JobStatus.DONE, job.message
    doc = job.document
    assert (doc.title, doc.category, doc.page_count, doc.size) == ("讯问笔录", "procedural", 3, len(data))
    assert doc.sha256 == hashlib.sha256(data).hexdigest() == doc.original_sha256
    assert read_bytes(doc.stored) == data
    assert doc.original_filename.endswith("讯问笔录.pdf")
    assert doc.uploaded_by == district.investigator and doc.author_agency == district.police
    assert doc.volume is not None and doc.volume.status == "draft" and doc.is_current
    event = AuditEvent.objects.get(action="document.uploaded")
    assert event.case_id == case.pk and event.details["sha256"] == doc.sha256


@pytest.mark.parametrize("fmt,mode", [("JPEG", "RGB"), ("PNG", "RGBA"), ("TIFF", "L")])
def test_an_image_is_converted_to_a_pdf_page_and_counted(upload, fmt, mode):
    data = files.image(fmt, mode=mode)
    job = upload(data, name=f"scan.{fmt.lower()}")

    assert job.status == JobStatus.DONE, job.message
    doc = job.document
    assert doc.converted and doc.page_count == 1
    assert doc.original_sha256 == hashlib.sha256(data).hexdigest() != doc.sha256
    with pikepdf.open(io.BytesIO(read_bytes(doc.stored))) as pdf:
        assert len(pdf.pages) == 1
        # Fitted into A4 portrait (595 × 842 pt), as a paper dossier page.
        box = [float(v) for v in pdf.pages[0].mediabox]
        assert round(box[2]) <= 596 and round(box[3]) <= 843


def test_a_multipage_tiff_becomes_one_page_per_frame(upload):
    job = upload(files.image("TIFF", frames=3), name="scan.tif")
    assert job.status == JobStatus.DONE, job.message
    assert job.document.page_count == 3


def test_not_a_pdf_or_image_is_refused(upload, settings):
    job = upload(b"PK\x03\x04 this is a word document really", name="案情.docx")
    assert_rejected(job, "不支持的文件类型", settings)


def test_an_encrypted_pdf_is_refused(upload, settings):
    assert_rejected(upload(files.encrypted_pdf()), "已加密", settings)


def test_a_pdf_with_javascript_is_refused(upload, settings):
    assert_rejected(upload(files.javascript_pdf()), "JavaScript", settings)


def test_a_pdf_with_a_javascript_link_is_refused(upload, settings):
    assert_rejected(upload(files.javascript_link_pdf()), "JavaScript", settings)


def test_an_ordinary_web_link_is_accepted(upload):
    def add(pdf):
        link = pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 100, 100],
                                  A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://www.spp.gov.cn/")))
        pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))
    assert upload(files._modified(files.text_pdf(1), add)).status == JobStatus.DONE


def test_a_pdf_with_a_launch_action_is_refused(upload, settings):
    assert_rejected(upload(files.launch_pdf()), "Launch", settings)


def test_a_pdf_with_an_embedded_file_is_refused(upload, settings):
    assert_rejected(upload(files.embedded_file_pdf()), "嵌入的附件", settings)


@pytest.mark.parametrize("make", [files.truncated_pdf, files.garbage_pdf])
def test_a_malformed_pdf_is_refused(upload, settings, make):
    assert_rejected(upload(make()), "已损坏", settings)


def test_a_decompression_bomb_is_refused(upload, settings):
    settings.CASEHUB_PDF_MAX_STREAM_BYTES = 8 * 1024**2
    data = files.bomb_pdf(40 * 1024**2)  # 40 MB of zeros in a ~40 KB file
    assert len(data) < 100_000
    assert_rejected(upload(data), "压缩炸弹", settings)


def test_too_many_pages_is_refused_as_a_bomb(upload, settings):
    settings.CASEHUB_PDF_MAX_PAGES = 5
    assert_rejected(upload(files.text_pdf(6)), "超过单个文件 5 页的上限", settings)


def test_an_image_over_the_pixel_limit_is_refused(upload, settings):
    settings.CASEHUB_IMAGE_MAX_PIXELS = 1_000_000
    assert_rejected(upload(files.image("PNG", (1200, 1000)), name="big.png"), "像素", settings)


def test_a_pdf_declaring_a_giant_image_is_refused(upload, settings):
    data = files.huge_image_pdf(50_000, 50_000)  # 2.5 billion pixels in a 2 KB file
    assert len(data) < 5_000
    assert_rejected(upload(data), "像素", settings)


def test_a_truncated_image_is_refused(upload, settings):
    assert_rejected(upload(files.truncated_jpeg(), name="scan.jpg"), "图像文件已损坏", settings)


def test_a_file_over_the_size_limit_is_refused(upload, settings):
    settings.CASEHUB_UPLOAD_MAX_BYTES = 2000
    assert_rejected(upload(files.text_pdf(40)), "超过允许的上限", settings)


def test_a_correction_supersedes_and_both_versions_stay(upload, district):
    first = upload(files.text_pdf(1, "v1"), title="现场勘验笔录").document
    second = upload(files.text_pdf(2, "v2"), title="现场勘验笔录（更正）", supersedes=first,
                    reason="原笔录漏记物证编号").document

    first.refresh_from_db()
    assert not first.is_current and second.is_current
    assert second.supersedes == first and second.reason == "原笔录漏记物证编号"
    # The correction takes the corrected document's place in the draft volume.
    assert second.volume is not None and first.volume is None
    assert list(services.main_file_documents(second.case)) == [second]


def test_a_correction_needs_a_reason(upload):
    first = upload(files.text_pdf(1)).document
    with pytest.raises(ValidationError):
        upload(files.text_pdf(1), supersedes=first, reason="  ")


def test_only_the_holder_agency_may_upload(upload, district, settings):
    with pytest.raises(PermissionDenied):
        upload(files.text_pdf(1), user=district.prosecutor)
    with pytest.raises(PermissionDenied):
        upload(files.text_pdf(1), user=district.police_supervisor)  # no upload capability
    assert not IngestJob.objects.exists() and staged_files(settings) == []


def test_the_work_file_is_for_the_police_only(upload, case, district, settings):
    job = upload(files.text_pdf(1), part="work", title="侦查计划")
    assert job.status == JobStatus.DONE and job.document.part == "work"
    # The case reaches the procuratorate, which may now add to the main file but never keep a
    # work file 副卷 of its own: the refusal names the reason, and nothing is staged or stored.
    access.grant(case, district.procuratorate, act=True)
    before = (IngestJob.objects.count(), Document.objects.count(), StoredObject.objects.count())
    with pytest.raises(PermissionDenied) as refused:
        upload(files.text_pdf(1), part="work", title="审查笔记", user=district.prosecutor)
    assert "副卷" in str(refused.value)
    assert (IngestJob.objects.count(), Document.objects.count(), StoredObject.objects.count()) == before
    assert staged_files(settings) == []
    main = upload(files.text_pdf(1), title="审查意见", user=district.prosecutor)
    assert main.status == JobStatus.DONE and main.document.part == "main"


def test_default_order_puts_procedural_documents_before_evidence(upload):
    evidence = upload(files.text_pdf(1), category="evidence", title="物证照片").document
    procedural = upload(files.text_pdf(1), category="procedural", title="立案决定书").document
    other = upload(files.text_pdf(1), category="other", title="其他").document
    evidence.refresh_from_db()
    order = list(evidence.volume.documents.order_by("position").values_list("title", flat=True))
    assert order == [procedural.title, evidence.title, other.title]


@pytest.mark.parametrize("make,name", [
    (lambda: b"MZ\x90\x00 not a document", "tool.exe"),  # refused on its type, before any other check
    (files.javascript_pdf, "active.pdf"),  # refused by the PDF inspection
    (files.truncated_jpeg, "scan.jpg"),  # refused by the image inspection
], ids=["unsupported", "javascript", "broken-image"])
def test_the_rejection_event_carries_the_sha256_of_the_refused_bytes(upload, settings, make, name):
    """The bytes are not kept; their fingerprint in the trail proves later which file was refused."""
    data = make()
    job = upload(data, name=name)
    assert job.status == JobStatus.FAILED
    event = AuditEvent.objects.get(action="document.rejected")
    assert event.details["sha256"] == hashlib.sha256(data).hexdigest()
    assert event.details["size"] == len(data)
