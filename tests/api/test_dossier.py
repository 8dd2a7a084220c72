"""Documents and volumes through the API: upload (whole and chunked with resume), versions,
download with audit, assembly as long work, and who may do what."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from casehub.audit.models import AuditEvent
from casehub.dossier.models import Document
from tests.dossier import files

pytestmark = pytest.mark.django_db


def upload(client, case, data: bytes, *, title: str = "现场勘验笔录", name: str = "a.pdf", **extra):
    return client.post(f"/api/v1/cases/{case.pk}/documents/", {
        "file": SimpleUploadedFile(name, data, content_type="application/pdf"), "title": title,
        "category": "evidence", **extra,
    }, format="multipart")


def test_upload_is_202_with_a_task_that_ends_with_the_document(theft_case, district, api_as):
    client = api_as(district.investigator)
    pdf = files.text_pdf(3, "scan")
    started = upload(client, theft_case, pdf)
    assert started.status_code == 202, started.content
    task = client.get(started["Location"]).json()
    assert task["kind"] == "dossier.ingest" and task["status"] == "succeeded", task
    doc = Document.objects.get(pk=task["result"]["document"])
    assert doc.page_count == 3 and doc.case_id == theft_case.pk

    listed = client.get(f"/api/v1/cases/{theft_case.pk}/documents/").json()["results"]
    assert [d["id"] for d in listed] == [doc.pk]
    assert listed[0]["sha256"] == doc.sha256


def test_a_refused_file_ends_as_a_failed_task_with_the_reason_and_nothing_stored(theft_case, district, api_as):
    client = api_as(district.investigator)
    started = upload(client, theft_case, files.javascript_pdf(), name="js.pdf")
    assert started.status_code == 202
    task = client.get(started["Location"]).json()
    assert task["status"] == "failed" and task["error"]["code"] == "rejected" and task["error"]["message"]
    assert not Document.objects.exists()


def test_metadata_errors_name_the_field_before_anything_is_staged(theft_case, district, api_as):
    response = upload(api_as(district.investigator), theft_case, files.text_pdf(1), category="bogus")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "category"


def test_only_the_holder_uploads_and_other_agencies_get_404(theft_case, district, other_district, api_as):
    pdf = files.text_pdf(1)
    assert upload(api_as(other_district.investigator), theft_case, pdf).status_code == 404
    denied = upload(api_as(district.police_supervisor), theft_case, pdf)  # sees the case, may not upload
    assert denied.status_code == 403 and denied.json()["message"]
    assert not Document.objects.exists()


def test_chunked_upload_resumes_from_what_arrived(theft_case, district, api_as):
    client = api_as(district.investigator)
    pdf = files.text_pdf(4, "big")
    started = client.post(f"/api/v1/cases/{theft_case.pk}/documents/uploads/",
                          {"filename": "卷一.pdf", "size": len(pdf)}, format="json")
    assert started.status_code == 201, started.content
    upload_id = started.json()["id"]
    url = f"/api/v1/uploads/{upload_id}/"
    half = len(pdf) // 2

    first = client.put(f"{url}?offset=0", pdf[:half], content_type="application/octet-stream")
    assert first.status_code == 200 and first.json()["received"] == half
    # The connection dropped; the client asks where to resume and sends a wrong offset first.
    assert client.get(url).json()["received"] == half
    wrong = client.put(f"{url}?offset=0", pdf[half:], content_type="application/octet-stream")
    assert wrong.status_code == 409 and wrong.json()["code"] == "offset_mismatch"
    early = client.post(f"{url}complete/", {"title": "卷一", "category": "procedural"}, format="json")
    assert early.status_code == 409 and early.json()["code"] == "upload_incomplete"
    rest = client.put(f"{url}?offset={half}", pdf[half:], content_type="application/octet-stream")
    assert rest.json()["received"] == len(pdf)

    done = client.post(f"{url}complete/", {"title": "卷一", "category": "procedural"}, format="json")
    assert done.status_code == 202, done.content
    task = client.get(done["Location"]).json()
    assert task["status"] == "succeeded", task
    doc = Document.objects.get(pk=task["result"]["document"])
    assert doc.original_filename == "卷一.pdf"
    assert doc.page_count == 4
    # Finished uploads are gone; someone else's upload never existed.
    assert client.get(url).status_code == 404


def test_someone_elses_chunked_upload_is_404(theft_case, district, make_user, api_as):
    from casehub.agencies.models import Role

    mine = api_as(district.investigator).post(f"/api/v1/cases/{theft_case.pk}/documents/uploads/",
                                              {"filename": "x.pdf", "size": 10}, format="json").json()
    colleague = api_as(make_user(district.police, [Role.INVESTIGATOR]))
    assert colleague.get(f"/api/v1/uploads/{mine['id']}/").status_code == 404
    assert colleague.put(f"/api/v1/uploads/{mine['id']}/?offset=0", b"0123456789",
                         content_type="application/octet-stream").status_code == 404


def test_declared_size_over_the_limit_is_refused_up_front(theft_case, district, api_as, settings):
    settings.CASEHUB_UPLOAD_MAX_BYTES = 1000
    response = api_as(district.investigator).post(f"/api/v1/cases/{theft_case.pk}/documents/uploads/",
                                                  {"filename": "huge.pdf", "size": 5000}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "size"


def test_a_correction_is_a_new_version_and_both_are_listed(theft_case, district, api_as):
    client = api_as(district.investigator)
    first = client.get(upload(client, theft_case, files.text_pdf(1, "v1"))["Location"]).json()["result"]["document"]
    no_reason = upload(client, theft_case, files.text_pdf(1, "v2"), supersedes=first)
    assert no_reason.status_code == 400 and no_reason.json()["errors"][0]["field"] == "reason"
    second_task = upload(client, theft_case, files.text_pdf(1, "v2"), supersedes=first, reason="页码错误")
    second = client.get(second_task["Location"]).json()["result"]["document"]
    versions = client.get(f"/api/v1/documents/{first}/versions/").json()
    assert [v["id"] for v in versions] == [second, first]
    assert [v["is_current"] for v in versions] == [True, False]
    current = client.get(f"/api/v1/cases/{theft_case.pk}/documents/?current=true").json()["results"]
    assert [d["id"] for d in current] == [second]


def test_download_is_audited_and_the_bytes_match_the_hash(theft_case, district, api_as):
    client = api_as(district.investigator)
    pdf = files.text_pdf(2, "read")
    doc_id = client.get(upload(client, theft_case, pdf)["Location"]).json()["result"]["document"]
    link = client.get(f"/api/v1/documents/{doc_id}/link/").json()
    assert link["url"].endswith(f"/api/v1/documents/{doc_id}/file/") and link["expires_in"] > 0
    response = client.get(link["url"])
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == link["sha256"]
    actions = set(AuditEvent.objects.filter(object_id=str(doc_id)).values_list("action", flat=True))
    assert {"document.link_issued", "document.downloaded"} <= actions
    # Auditors see metadata, not contents: no dossier reading.
    assert api_as(district.auditor).get(f"/api/v1/documents/{doc_id}/file/").status_code == 404


def test_assembly_is_long_work_and_the_volume_can_be_read(theft_case, district, api_as):
    client = api_as(district.investigator)
    for i in range(2):
        upload(client, theft_case, files.text_pdf(2, f"doc{i}"), title=f"证据{i}")
    started = client.post(f"/api/v1/cases/{theft_case.pk}/volumes/assemble/", {"part": "main"}, format="json")
    assert started.status_code == 202, started.content
    task = client.get(started["Location"]).json()
    assert task["status"] == "succeeded", task
    volume_id = task["result"]["volumes"][0]
    volume = client.get(f"/api/v1/volumes/{volume_id}/").json()
    assert volume["status"] == "assembled" and len(volume["documents"]) == 2
    assert volume["page_count"] >= 4
    assert client.get(f"/api/v1/volumes/{volume_id}/file/").status_code == 200
    assert api_as(district.police_supervisor).post(
        f"/api/v1/cases/{theft_case.pk}/volumes/assemble/", {}, format="json").status_code == 403


def test_document_list_query_count_does_not_grow_with_rows(theft_case, district, api_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_as(district.investigator)
    upload(client, theft_case, files.text_pdf(1, "first"))
    url = f"/api/v1/cases/{theft_case.pk}/documents/"
    client.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for i in range(4):
        upload(client, theft_case, files.text_pdf(1, f"more{i}"), title=f"材料{i}")
    assert len(client.get(url).json()["results"]) == 5
    assert count() == few


def test_a_download_of_damaged_bytes_is_recorded_as_failed_not_as_a_download(theft_case, district, api_as,
                                                                            settings):
    """The store's bytes no longer match their hash. Up to CASEHUB_VERIFY_BEFORE_SEND_BYTES the
    download is refused before the first byte (503 object_corrupt); above it the verifying reader
    stops the stream before its last chunk. Either way the trail says the download failed."""
    from casehub.objectstore.services import get_store
    from storage.base import key_for

    client = api_as(district.investigator)
    doc_id = client.get(upload(client, theft_case, files.text_pdf(3, "broken"))["Location"]).json()["result"]["document"]
    document = Document.objects.get(pk=doc_id)
    path = get_store().root / key_for(document.sha256)
    path.chmod(0o600)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))

    refused = client.get(f"/api/v1/documents/{doc_id}/file/")
    assert refused.status_code == 503 and refused.json()["code"] == "object_corrupt"

    settings.CASEHUB_VERIFY_BEFORE_SEND_BYTES = 0  # a "large" object: streamed, checked on its last read
    response = client.get(f"/api/v1/documents/{doc_id}/file/")
    assert response.status_code == 200  # the headers went out before the damage could be seen
    with pytest.raises(Exception, match="corrupt"):
        b"".join(response.streaming_content)

    actions = list(AuditEvent.objects.filter(object_id=str(doc_id), action__startswith="document.download")
                   .order_by("sequence").values_list("action", "details"))
    assert [a for a, _d in actions] == ["document.download_failed", "document.download_failed"]
    assert all("IntegrityError" in d["reason"] for _a, d in actions)


def test_a_stalled_task_says_so_and_can_be_retried_through_the_api(theft_case, district, api_as):
    from datetime import timedelta

    from django.utils import timezone

    from casehub.dossier.models import AssemblyJob

    client = api_as(district.investigator)
    upload(client, theft_case, files.text_pdf(2, "stalled"), title="证据")
    started = client.post(f"/api/v1/cases/{theft_case.pk}/volumes/assemble/", {"part": "main"}, format="json")
    task_url = started["Location"]
    assert client.get(task_url).json()["stalled"] is False
    assert client.post(f"{task_url}retry/").json()["code"] == "not_stalled"  # finished work is not retried

    # A job whose message was lost: "running 53 %" with no sign of life since long before any redelivery.
    job = AssemblyJob.objects.create(case=theft_case, agency=district.police, created_by=district.investigator,
                                     part="main", status="running", step="volume 1", progress=53)
    AssemblyJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    from casehub.api import tasks

    stuck = tasks.track("dossier.assembly", owner=district.investigator, params={"job": str(job.pk)})
    url = f"/api/v1/tasks/{stuck.pk}/"
    state = client.get(url).json()
    assert state["status"] == "running" and state["progress"] == 53 and state["stalled"] is True
    assert api_as(district.police_supervisor).post(f"{url}retry/").status_code == 404  # not their task

    retried = client.post(f"{url}retry/")
    assert retried.status_code == 200, retried.content
    assert retried.json()["status"] == "succeeded" and retried.json()["stalled"] is False
    job.refresh_from_db()
    assert job.is_finished and client.get(url).json()["stalled"] is False
