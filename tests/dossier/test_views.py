"""The dossier pages as a user meets them: upload through the browser endpoints (plain and
chunked), assemble, read a volume and a document; every read is audited; another agency gets 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from casehub.audit.models import AuditEvent
from casehub.cases import access
from casehub.dossier import services, views
from casehub.dossier.models import ChunkedUpload, Document, IngestJob, Volume
from tests.dossier import files


@pytest.fixture(autouse=True)
def _own_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


def login(client, user):
    client.force_login(user)
    return client


def chunked_upload(client, case, data: bytes, *, name="笔录.pdf", title="询问笔录", chunk=1000, **meta):
    start = client.post(reverse("dossier:chunked_start", args=[case.pk]), {"filename": name, "size": len(data)})
    assert start.status_code == 200, start.content
    info = start.json()
    offset = 0
    while offset < len(data):
        piece = data[offset:offset + chunk]
        res = client.post(f"{info['chunk_url']}?offset={offset}", piece, content_type="application/octet-stream")
        assert res.status_code == 200, res.content
        offset = res.json()["received"]
    form = {"title": title, "category": "evidence", "part": "main", **meta}
    return client.post(info["complete_url"], form)


def hand_to_procuratorate(case, district):
    """What an accepted transfer for review leaves behind: the procuratorate holds the case and
    may read the main-file documents and volumes that travelled (docs/workflow.md)."""
    from workflows.models import Transfer, TransferKind, TransferStatus

    transfer = Transfer.objects.create(
        case=case, kind=TransferKind.REVIEW_TRANSFER, from_agency=district.police, to_agency=district.procuratorate,
        status=TransferStatus.ACCEPTED,
    )
    transfer.documents.set(Document.objects.filter(case=case, part="main"))
    transfer.volumes.set(Volume.objects.filter(case=case, part="main"))
    access.grant(case, district.procuratorate, act=True)


def test_upload_assemble_and_read_through_the_pages(client, case, district):
    login(client, district.investigator)
    page = client.get(reverse("dossier:case", args=[case.pk]))
    assert page.status_code == 200 and 'id="upload-form"' in page.content.decode()

    data = files.text_pdf(3, "statement")
    done = chunked_upload(client, case, data)  # 1000-byte pieces: several requests
    assert done.status_code == 200 and done.json()["status"] == "done", done.content
    plain = client.post(reverse("dossier:upload", args=[case.pk]), {
        "title": "现场照片", "category": "evidence", "part": "main",
        "file": _upload_file("scene.png", files.image("PNG")),
    })
    assert plain.status_code == 302
    assert Document.objects.filter(case=case).count() == 2

    page = client.get(reverse("dossier:case", args=[case.pk])).content.decode()
    assert "询问笔录" in page and "现场照片" in page and "封卷并组卷" in page

    res = client.post(reverse("dossier:assemble", args=[case.pk]), {"part": "main"})
    assert res.status_code == 302
    volume = Volume.objects.get(case=case, status="assembled")
    assert volume.page_count == 4

    # A prosecutor of the receiving agency reads it once the case reaches them.
    hand_to_procuratorate(case, district)
    login(client, district.prosecutor)
    reading = client.get(reverse("dossier:volume", args=[volume.pk]))
    body = reading.content.decode()
    assert reading.status_code == 200
    assert "签名有效" in body and 'data-valid="true"' in body
    assert "询问笔录" in body and "#page=" in body
    pdf = client.get(reverse("dossier:volume_file", args=[volume.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"].startswith("inline")
    assert pdf["X-Frame-Options"] == "SAMEORIGIN"  # the reader page frames it
    assert b"".join(pdf.streaming_content)[:5] == b"%PDF-"

    doc = Document.objects.get(title="询问笔录")
    doc_page = client.get(reverse("dossier:document", args=[doc.pk])).content.decode()
    assert "文件本身未签名" in doc_page and 'data-signed="false"' in doc_page
    assert 'id="volume-signature"' in doc_page and "签名有效" in doc_page
    download = client.get(reverse("dossier:document_file", args=[doc.pk]) + "?download=1")
    assert download["Content-Disposition"].startswith("attachment")
    assert b"".join(download.streaming_content) == data

    actions = list(AuditEvent.objects.filter(actor_id=district.prosecutor.pk).exclude(action__startswith="auth.")
                   .order_by("sequence").values_list("action", flat=True))
    assert actions == ["volume.viewed", "volume.downloaded", "document.viewed", "document.downloaded"]


def _upload_file(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_a_rejected_chunked_upload_says_why_and_stores_nothing(client, case, district):
    login(client, district.investigator)
    res = chunked_upload(client, case, files.javascript_pdf(), name="恶意.pdf")
    assert res.status_code == 200
    assert res.json()["status"] == "failed" and "JavaScript" in res.json()["message"]
    assert not Document.objects.exists()
    jobs = client.get(reverse("dossier:jobs", args=[case.pk])).content.decode()
    assert "JavaScript" in jobs and 'data-status="failed"' in jobs


def test_an_upload_over_the_size_limit_is_refused_before_any_byte(client, case, district, settings):
    settings.CASEHUB_UPLOAD_MAX_BYTES = 1000
    login(client, district.investigator)
    res = client.post(reverse("dossier:chunked_start", args=[case.pk]), {"filename": "big.pdf", "size": 5000})
    assert res.status_code == 400 and "超过允许的上限" in res.json()["error"]
    assert not ChunkedUpload.objects.exists()


def test_chunks_must_arrive_in_order_and_can_resume(client, case, district):
    login(client, district.investigator)
    data = files.text_pdf(1)
    info = client.post(reverse("dossier:chunked_start", args=[case.pk]), {"filename": "a.pdf", "size": len(data)}).json()
    out_of_order = client.post(f"{info['chunk_url']}?offset=100", data[100:200], content_type="application/octet-stream")
    assert out_of_order.status_code == 409 and out_of_order.json()["received"] == 0
    client.post(f"{info['chunk_url']}?offset=0", data[:100], content_type="application/octet-stream")
    assert client.get(info["chunk_url"]).json() == {"received": 100}
    early = client.post(info["complete_url"], {"title": "x", "category": "evidence", "part": "main"})
    assert early.status_code == 400 and not IngestJob.objects.exists()


def test_someone_elses_chunked_upload_is_not_found(client, case, district, make_user):
    login(client, district.investigator)
    info = client.post(reverse("dossier:chunked_start", args=[case.pk]), {"filename": "a.pdf", "size": 10}).json()
    colleague = make_user(district.police, ["investigator"])
    login(client, colleague)
    assert client.post(f"{info['chunk_url']}?offset=0", b"0123456789",
                       content_type="application/octet-stream").status_code == 404


def test_reorder_through_the_page(client, case, district, upload):
    a = upload(files.text_pdf(1), title="甲", category="procedural").document
    b = upload(files.text_pdf(1), title="乙", category="procedural").document
    login(client, district.investigator)
    res = client.post(reverse("dossier:reorder", args=[a.volume_id]), {"order": [b.pk, a.pk]})
    assert res.status_code == 302
    assert list(Document.objects.order_by("position").values_list("title", flat=True)) == ["乙", "甲"]
    assert AuditEvent.objects.filter(action="volume.reordered").exists()


def test_another_agency_gets_404_on_the_case_its_documents_and_links(client, case, district, other_district, upload):
    doc = upload(files.text_pdf(1), title="起诉意见书", category="procedural").document
    work = upload(files.text_pdf(1), title="侦查计划", category="other", part="work").document
    volume = services.seal_and_assemble_main_volumes(case, acting_user=district.investigator)[0]
    urls = [
        reverse("dossier:case", args=[case.pk]), reverse("dossier:jobs", args=[case.pk]),
        reverse("dossier:document", args=[doc.pk]), reverse("dossier:document_file", args=[doc.pk]),
        reverse("dossier:volume", args=[volume.pk]), reverse("dossier:volume_file", args=[volume.pk]),
    ]
    # An unrelated district, and this district's procuratorate before the case reaches it.
    for outsider in (other_district.prosecutor, other_district.investigator, district.prosecutor):
        login(client, outsider)
        for url in urls:
            assert client.get(url).status_code == 404, (outsider, url)
        assert client.post(reverse("dossier:chunked_start", args=[case.pk]),
                           {"filename": "a.pdf", "size": 10}).status_code == 404
    # Once the procuratorate holds the case it reads the main file, but never the police work file.
    hand_to_procuratorate(case, district)
    login(client, district.prosecutor)
    assert client.get(reverse("dossier:document", args=[doc.pk])).status_code == 200
    assert client.get(reverse("dossier:document", args=[work.pk])).status_code == 404
    assert client.get(reverse("dossier:document_file", args=[work.pk])).status_code == 404
    assert "侦查计划" not in client.get(reverse("dossier:case", args=[case.pk])).content.decode()
    work_volume = services.seal_and_assemble(case, part="work", agency=district.police,
                                             acting_user=district.investigator)[0]
    assert client.get(reverse("dossier:volume", args=[work_volume.pk])).status_code == 404
    assert not AuditEvent.objects.filter(actor_id__in=[other_district.prosecutor.pk], action__startswith="document.").exists()


def test_a_reader_without_upload_rights_sees_no_upload_widget(client, case, district):
    access.grant(case, district.procuratorate, act=False)
    login(client, district.prosecutor)
    page = client.get(reverse("dossier:case", args=[case.pk])).content.decode()
    assert 'id="upload-form"' not in page
    assert client.post(reverse("dossier:chunked_start", args=[case.pk]),
                       {"filename": "a.pdf", "size": 10}).status_code == 403


def test_the_chunk_size_fits_under_the_request_limit(settings):
    assert views.CHUNK_BYTES < settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_abandoned_chunked_uploads_are_purged(client, case, district):
    from datetime import timedelta
    from pathlib import Path

    from django.utils import timezone

    login(client, district.investigator)
    info = client.post(reverse("dossier:chunked_start", args=[case.pk]), {"filename": "a.pdf", "size": 10}).json()
    upload = ChunkedUpload.objects.get(pk=info["id"])
    assert Path(upload.staged_path).exists()
    assert services.purge_stale_uploads() == 0  # a fresh upload is left alone
    ChunkedUpload.objects.filter(pk=upload.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert services.purge_stale_uploads() == 1
    assert not ChunkedUpload.objects.exists() and not Path(upload.staged_path).exists()


@pytest.mark.django_db
def test_working_copies_left_by_a_crashed_worker_are_purged_after_a_day(settings):
    """A worker killed mid-ingest or mid-assembly never reaches its cleanup: its plaintext copies
    of case documents stay under DATA_DIR/ingest/work/tmp*. The hourly purge removes them by age."""
    import os
    import time
    from pathlib import Path

    from casehub.dossier import ingest

    dead = ingest.make_workdir()
    (dead / "0001.pdf").write_bytes(files.text_pdf(1, "询问笔录"))
    live = ingest.make_workdir()
    (live / "0001.pdf").write_bytes(b"%PDF-1.7 being assembled right now")
    two_days_ago = time.time() - 2 * 86400
    for path in (dead, dead / "0001.pdf", live):
        os.utime(path, (two_days_ago, two_days_ago))  # the live run's file is fresh, its directory is not

    assert dead.parent == Path(settings.DATA_DIR) / "ingest" / "work"
    assert services.purge_stale_uploads() == 1
    assert not dead.exists()
    assert (live / "0001.pdf").exists()
    # Once the run is dead too (nothing written for a day), it goes as well.
    os.utime(live / "0001.pdf", (two_days_ago, two_days_ago))
    assert services.purge_stale_uploads() == 1 and not live.exists()


@pytest.mark.slow
def test_a_file_of_hundreds_of_megabytes_goes_through_in_pieces(client, case, district, tmp_path):
    """~200 MB through the same endpoints the browser uses, in the browser's piece size."""
    import hashlib

    path = tmp_path / "scan.pdf"
    files.big_scan_pdf(path, 200)
    size = path.stat().st_size
    assert size > 190 * 1024**2
    login(client, district.investigator)
    info = client.post(reverse("dossier:chunked_start", args=[case.pk]), {"filename": "卷宗扫描.pdf", "size": size}).json()
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        offset = 0
        while piece := fh.read(views.CHUNK_BYTES):
            digest.update(piece)
            res = client.post(f"{info['chunk_url']}?offset={offset}", piece, content_type="application/octet-stream")
            assert res.status_code == 200
            offset = res.json()["received"]
    done = client.post(info["complete_url"], {"title": "卷宗扫描", "category": "evidence", "part": "main"}).json()
    assert done["status"] == "done", done
    doc = Document.objects.get(pk=done["document"])
    assert doc.sha256 == digest.hexdigest() and doc.size == size and doc.page_count == 50


def _stalled_assembly(case, district):
    """An assembly whose task message was lost (the web process died before queueing it, or the
    broker lost it): "running", and silent for longer than the broker would ever take to redeliver."""
    from datetime import timedelta

    from django.utils import timezone

    from casehub.dossier.models import AssemblyJob

    job = AssemblyJob.objects.create(case=case, agency=district.police, created_by=district.investigator,
                                     part="main", status="running", step="volume 1", progress=53)
    AssemblyJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    return AssemblyJob.objects.get(pk=job.pk)


def test_a_stalled_assembly_is_shown_as_such_and_the_user_can_retry_it(client, case, district, settings):
    from datetime import timedelta

    from django.utils import timezone

    login(client, district.investigator)
    chunked_upload(client, case, files.text_pdf(2, "stall"), title="证据")
    job = _stalled_assembly(case, district)
    moving = _stalled_assembly(case, district)
    type(moving).objects.filter(pk=moving.pk).update(updated_at=timezone.now() - timedelta(seconds=10))
    assert job.stalled and not type(moving).objects.get(pk=moving.pk).stalled

    panel = client.get(reverse("dossier:jobs", args=[case.pk])).content.decode()
    retry_url = reverse("dossier:retry_job", args=["assembly", job.pk])
    assert panel.count("job-stalled") == 1 and retry_url in panel  # the moving one has no button

    # Another agency's user cannot retry it (404), nor can a job that is moving be retried.
    login(client, district.prosecutor)
    assert client.post(retry_url).status_code == 404
    login(client, district.investigator)
    client.post(reverse("dossier:retry_job", args=["assembly", moving.pk]), follow=True)
    assert type(moving).objects.get(pk=moving.pk).status == "running"

    response = client.post(retry_url, follow=True)
    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == "done", job.message  # eager here: the retried task ran at once
    assert Volume.objects.filter(case=case, status="assembled").count() == 1
    retried = AuditEvent.objects.get(case_id=case.pk, action="assembly.retried")
    assert retried.actor_id == district.investigator.pk and retried.details["progress"] == 53
