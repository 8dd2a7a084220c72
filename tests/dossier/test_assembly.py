"""Sealing and assembling volumes: contents page, stamped page numbers read back from the PDF,
bookmarks, splitting at document boundaries, the agency signature, idempotence."""

from __future__ import annotations

import io

import pikepdf
import pypdf
import pytest
from django.core.exceptions import ValidationError

from casehub.audit.models import AuditEvent
from casehub.dossier import services
from casehub.dossier.assembly import pack
from casehub.dossier.models import Document, Volume, VolumeStatus
from casehub.objectstore.services import read_bytes
from tests.dossier import files


@pytest.fixture(autouse=True)
def _own_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


def page_texts(data: bytes) -> list[str]:
    # Text set in the full CFF font (rare characters) carries an embedded encoding CMap that pypdf
    # reads as one byte per code, interleaving NULs (poppler reads it cleanly): drop them.
    reader = pypdf.PdfReader(io.BytesIO(data))
    return [(page.extract_text() or "").replace("\x00", "") for page in reader.pages]


def stamped_number(text: str) -> str:
    """The volume page number: the stamp is drawn last, so it is the last line of the page text."""
    return text.strip().splitlines()[-1].strip()


def test_upload_then_assemble_gives_a_numbered_signed_volume(upload, case, district):
    upload(files.text_pdf(2, "statement"), title="讯问笔录", category="procedural")
    upload(files.text_pdf(3, "evidence"), title="物证照片", category="evidence")
    upload(files.image("JPEG"), title="现场照片", category="evidence", name="scene.jpg")

    volumes = services.seal_and_assemble_main_volumes(case, acting_user=district.investigator)

    assert len(volumes) == 1
    volume = volumes[0]
    assert volume.status == VolumeStatus.ASSEMBLED and volume.page_count == 6
    data = read_bytes(volume.assembled)
    assert volume.sha256 == volume.assembled.sha256
    texts = page_texts(data)
    contents = volume.contents_page_count
    assert contents >= 1 and len(texts) == contents + 6
    assert "卷内目录" in texts[0] and "讯问笔录" in texts[0] and "物证照片" in texts[0]
    assert "1-2" in texts[0] and "3-5" in texts[0]  # page ranges in the contents table
    # Every document page carries its volume page number top right; the contents page does not.
    assert [stamped_number(t) for t in texts[contents:]] == ["1", "2", "3", "4", "5", "6"]
    assert "statement p1" in texts[contents] and "evidence p3" in texts[contents + 4]
    with pikepdf.open(io.BytesIO(data)) as pdf:
        titles = [item.title for item in pdf.open_outline().root]
    assert titles[0] == "卷内目录" and titles[1].startswith("1. 讯问笔录") and len(titles) == 4

    status = services.volume_signature_status(volume)
    assert status.valid, status.details
    assert district.police.name in status.summary
    docs = list(volume.documents.order_by("position"))
    assert [(d.first_page, d.page_range) for d in docs] == [(1, "1-2"), (3, "3-5"), (6, "6")]
    assert AuditEvent.objects.filter(action="volume.assembled", case_id=case.pk).count() == 1


def test_the_stamp_sits_top_right_as_displayed_even_on_rotated_pages(upload, case, district):
    upload(files.text_pdf(1, "landscape", size=(842, 595)), title="横向", category="procedural")
    upload(files.text_pdf(1, "rotated", rotate=90), title="旋转", category="procedural")
    volume = services.seal_and_assemble_main_volumes(case, acting_user=district.investigator)[0]
    data = read_bytes(volume.assembled)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for index, expected in ((volume.contents_page_count, "1"), (volume.contents_page_count + 1, "2")):
            page = pdf.pages[index]
            texts = page_texts(data)
            assert stamped_number(texts[index]) == expected
            # The stamp's transformation maps display coordinates: rotated pages get a rotated matrix.
            last = bytes(page.obj.Contents[-1].read_bytes()) if isinstance(page.obj.Contents, pikepdf.Array) else b""
            if int(page.obj.get("/Rotate", 0)) == 90:
                assert b"0 1 -1 0" in last


def test_a_large_dossier_is_split_into_volumes_at_document_boundaries(upload, case, district, settings):
    settings.CASEHUB_VOLUME_MAX_PAGES = 5
    for pages, title in ((3, "甲"), (2, "乙"), (2, "丙"), (4, "丁")):
        upload(files.text_pdf(pages, title), title=title, category="procedural")

    volumes = services.seal_and_assemble_main_volumes(case, acting_user=district.investigator)

    assert [v.number for v in volumes] == [1, 2, 3]
    assert [v.page_count for v in volumes] == [5, 2, 4]
    layout = [[d.title for d in v.documents.order_by("position")] for v in volumes]
    assert layout == [["甲", "乙"], ["丙"], ["丁"]]
    for volume in volumes:  # each volume is paginated from 1
        texts = page_texts(read_bytes(volume.assembled))
        numbers = [stamped_number(t) for t in texts[volume.contents_page_count:]]
        assert numbers == [str(i) for i in range(1, volume.page_count + 1)]


def test_pack_never_cuts_a_document():
    assert pack([3, 2, 2, 4], 5) == [[0, 1], [2], [3]]
    assert pack([7, 1], 5) == [[0], [1]]  # an oversized document gets a volume of its own
    assert pack([], 5) == []


def test_assembling_an_unchanged_dossier_again_changes_nothing(upload, case, district):
    upload(files.text_pdf(2), title="起诉意见书", category="procedural")
    first = services.seal_and_assemble_main_volumes(case, acting_user=district.investigator)
    events = AuditEvent.objects.count()
    second = services.seal_and_assemble_main_volumes(case, acting_user=district.investigator)
    assert [v.pk for v in first] == [v.pk for v in second]
    assert [v.sha256 for v in first] == [v.sha256 for v in second]
    assert AuditEvent.objects.count() == events
    assert not Volume.objects.filter(case=case, status=VolumeStatus.DRAFT).exclude(documents=None).exists()


def test_reassembly_gives_the_same_page_mapping_and_pages(upload, case, district, tmp_path):
    from casehub.dossier.assembly import Entry, build_volume_pdf
    from casehub.pdfgen import ContentsRow

    paths = []
    for i, pages in enumerate((2, 1, 3)):
        path = tmp_path / f"d{i}.pdf"
        path.write_bytes(files.text_pdf(pages, f"d{i}"))
        paths.append((path, pages))
    from datetime import UTC, datetime

    def build(out):
        entries, first = [], 1
        for n, (path, pages) in enumerate(paths, start=1):
            entries.append(Entry(path=path, page_count=pages, first_page=first,
                                 row=ContentsRow(n, f"文书{n}", "某机关", "2026-01-01", f"{first}-{first + pages - 1}")))
            first += pages
        return build_volume_pdf(heading="卷内目录", subtitle_lines=["案"], entries=entries, out_path=out,
                                creation_date=datetime(2026, 1, 1, tzinfo=UTC))

    assert build(tmp_path / "a.pdf") == build(tmp_path / "b.pdf") == (6, 1)
    a, b = (tmp_path / "a.pdf").read_bytes(), (tmp_path / "b.pdf").read_bytes()
    assert page_texts(a) == page_texts(b)
    with pikepdf.open(io.BytesIO(a)) as pa, pikepdf.open(io.BytesIO(b)) as pb:
        for page_a, page_b in zip(pa.pages, pb.pages, strict=True):
            assert [bytes(s.read_bytes()) for s in _streams(page_a)] == [bytes(s.read_bytes()) for s in _streams(page_b)]


def _streams(page):
    contents = page.obj.Contents
    return list(contents) if isinstance(contents, pikepdf.Array) else [contents]


def test_documents_added_after_sealing_go_into_a_new_volume(upload, case, district):
    upload(files.text_pdf(1), title="立案决定书", category="procedural")
    services.seal_and_assemble_main_volumes(case, acting_user=district.investigator)
    later = upload(files.text_pdf(1), title="补充证据", category="evidence").document
    assert later.volume.number == 2 and later.volume.status == VolumeStatus.DRAFT
    volumes = services.seal_and_assemble_main_volumes(case, acting_user=district.investigator)
    assert [v.number for v in volumes] == [1, 2]


def test_reorder_until_sealed(upload, case, district):
    a = upload(files.text_pdf(1), title="甲", category="procedural").document
    b = upload(files.text_pdf(1), title="乙", category="procedural").document
    volume = a.volume
    services.reorder_documents(volume=volume, acting_user=district.investigator, ordered_ids=[b.pk, a.pk])
    assert list(volume.documents.order_by("position").values_list("title", flat=True)) == ["乙", "甲"]
    with pytest.raises(ValidationError):  # a list that does not match the volume is refused
        services.reorder_documents(volume=volume, acting_user=district.investigator, ordered_ids=[a.pk])

    sealed = services.seal_and_assemble_main_volumes(case, acting_user=district.investigator)[0]
    assert [d.title for d in sealed.documents.order_by("position")] == ["乙", "甲"]
    with pytest.raises(ValidationError):
        services.reorder_documents(volume=sealed, acting_user=district.investigator, ordered_ids=[a.pk, b.pk])


def test_the_work_file_never_enters_the_main_volumes(upload, case, district):
    upload(files.text_pdf(1), title="起诉意见书", category="procedural")
    upload(files.text_pdf(1), title="侦查工作计划", category="other", part="work")
    volumes = services.seal_and_assemble_main_volumes(case, acting_user=district.investigator)
    titles = {d.title for v in volumes for d in v.documents.all()}
    assert titles == {"起诉意见书"}
    assert list(services.main_file_documents(case).values_list("title", flat=True)) == ["起诉意见书"]


def test_a_generated_document_is_filed_synchronously(case, district):
    from casehub.pdfgen import render_form

    pdf = render_form("换押证", number="深龙公换字〔2026〕1号", fields=[("姓名", "张三")])
    doc = services.add_generated_document(case=case, acting_user=district.investigator, title="换押证",
                                          category="procedural", pdf_bytes=pdf)
    assert doc.generated and doc.page_count == 1 and doc.volume.status == VolumeStatus.DRAFT
    stored = read_bytes(doc.stored)
    # Filed signed by the issuing agency: the signature is an incremental update after the rendered bytes.
    assert stored.startswith(pdf) and len(stored) > len(pdf) and b"/ByteRange" in stored[len(pdf):]
    assert AuditEvent.objects.filter(action="document.generated", object_id=str(doc.pk)).exists()
    with pytest.raises(ValidationError):
        services.add_generated_document(case=case, acting_user=district.investigator, title="坏",
                                        category="procedural", pdf_bytes=b"not a pdf")
    assert Document.objects.filter(case=case).count() == 1


def test_a_tampered_volume_reads_as_invalid(upload, case, district):
    from django.core.cache import cache

    upload(files.text_pdf(1), title="起诉意见书", category="procedural")
    volume = services.seal_and_assemble_main_volumes(case, acting_user=district.investigator)[0]
    cache.clear()
    # Pretend the database row was altered to point at other bytes: the recorded hash no longer matches.
    Volume.objects.filter(pk=volume.pk).update(sha256="0" * 64)
    volume.refresh_from_db()
    status = services.volume_signature_status(volume)
    assert not status.valid and "differs from the stored original" in status.summary


def test_main_file_documents_lists_sealed_volumes_first_then_the_draft(upload, case, district):
    upload(files.text_pdf(1), title="立案决定书", category="procedural")
    services.seal_and_assemble_main_volumes(case, acting_user=district.investigator)
    upload(files.text_pdf(1), title="补充证据", category="evidence")
    upload(files.text_pdf(1), title="补充笔录", category="procedural")
    titles = list(services.main_file_documents(case).values_list("title", flat=True))
    assert titles == ["立案决定书", "补充笔录", "补充证据"]


def test_a_document_signed_by_an_agency_shows_its_own_valid_signature(case, district):
    from casehub.pdfgen import render_form
    from casehub.pki.services import signer_for
    from signing.pades import sign_pdf

    signed = sign_pdf(render_form("鉴定意见书", fields=[("鉴定事项", "指纹比对")]), signer_for(district.police),
                      reason="鉴定", stamp_text=district.police.name)
    doc = services.add_generated_document(case=case, acting_user=district.investigator, title="鉴定意见书",
                                          category="expert", pdf_bytes=signed)
    status = services.document_signature_status(doc)
    assert status.signed and status.valid, status.details
    assert district.police.name in status.summary
