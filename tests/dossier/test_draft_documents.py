"""Draft documents before sealing: the uploader's agency retitles, re-dates, re-categorises or
withdraws them (a recorded withdrawal: the row, the bytes and the trail stay); once a volume is
sealed — at the latest when the case is sent — nothing of it changes any more. Ordering works
with the ↑/↓ buttons without JavaScript, and saving says so."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from casehub.audit.models import AuditEvent
from casehub.dossier import services
from casehub.dossier.models import Document
from tests.dossier import files


@pytest.fixture(autouse=True)
def _own_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


@pytest.fixture
def draft(upload):
    job = upload(files.text_pdf(2, "manual"), title="使用手册", category="evidence")
    assert job.status == "done", job.message
    return job.document


def test_the_uploader_retitles_redates_and_recategorises_a_draft(client, case, district, draft):
    client.force_login(district.investigator)
    page = client.get(reverse("dossier:case", args=[case.pk])).content.decode()
    assert reverse("dossier:document_edit", args=[draft.pk]) in page
    assert "移送案件时，待组卷材料将自动封卷并组卷" in page

    form = client.get(reverse("dossier:document_edit", args=[draft.pk]))
    assert form.status_code == 200 and 'value="使用手册"' in form.content.decode()
    response = client.post(reverse("dossier:document_edit", args=[draft.pk]),
                           {"title": "现场勘验笔录", "category": "procedural", "doc_date": "2026-11-02"})
    assert response.status_code == 302 and response["Location"].endswith(f"#doc-{draft.pk}")
    draft.refresh_from_db()
    assert (draft.title, draft.category, draft.doc_date) == ("现场勘验笔录", "procedural", datetime.date(2026, 11, 2))
    event = AuditEvent.objects.filter(action="document.edited").get()
    assert event.actor_id == district.investigator.pk and event.object_id == str(draft.pk)
    assert event.details["changes"] == {"title": ["使用手册", "现场勘验笔录"], "category": ["evidence", "procedural"],
                                        "doc_date": [None, "2026-11-02"]}
    followed = client.get(response["Location"]).content.decode()
    assert "已保存材料“现场勘验笔录”的信息" in followed


def test_an_invalid_edit_keeps_what_was_typed(client, district, draft):
    client.force_login(district.investigator)
    response = client.post(reverse("dossier:document_edit", args=[draft.pk]),
                           {"title": "  ", "category": "evidence", "doc_date": "2026-13-40"})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'value="2026-13-40"' in body and "text-danger" in body
    draft.refresh_from_db()
    assert draft.title == "使用手册" and not AuditEvent.objects.filter(action="document.edited").exists()


def test_withdrawing_a_draft_takes_it_out_of_the_volume_and_keeps_the_record(client, case, district, draft, upload):
    other = upload(files.text_pdf(1, "kept"), title="讯问笔录").document
    client.force_login(district.investigator)
    url = reverse("dossier:document_withdraw", args=[draft.pk])
    assert client.post(url, {"reason": ""}).status_code == 400  # a reason is required
    response = client.post(url, {"reason": "误传的使用手册"})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert not draft.is_current and draft.volume is None and draft.withdrawn_by == district.investigator
    assert draft.withdrawal_reason == "误传的使用手册"
    assert Document.objects.filter(pk=draft.pk).exists()  # nothing destroyed
    event = AuditEvent.objects.filter(action="document.withdrawn").get()
    assert event.details["sha256"] == draft.sha256 and event.details["reason"] == "误传的使用手册"

    page = client.get(reverse("dossier:case", args=[case.pk])).content.decode()
    assert 'id="withdrawals"' in page and "误传的使用手册" in page
    assert list(services.main_file_documents(case)) == [other]
    # Sealing binds what is left: the withdrawn draft never reaches a volume.
    sealed = services.seal_volumes(case, part="main", agency=district.police, acting_user=district.investigator)
    assert [d.pk for d in sealed[0].documents.all()] == [other.pk]


def test_withdrawing_a_correction_restores_the_corrected_version_in_its_place(client, district, draft, upload):
    first = upload(files.text_pdf(1, "first"), title="讯问笔录").document
    correction = upload(files.text_pdf(1, "fixed"), title="讯问笔录（更正）", supersedes=first, reason="页码缺失").document
    position = correction.position
    client.force_login(district.investigator)
    assert client.post(reverse("dossier:document_withdraw", args=[correction.pk]), {"reason": "更正错了"}).status_code == 302
    first.refresh_from_db()
    assert first.is_current and first.volume_id == correction.volume_id and first.position == position


def test_sealed_documents_and_other_agencies_cannot_change_them(client, case, district, draft, upload):
    generated = services.add_generated_document(case=case, acting_user=district.investigator, title="立案决定书",
                                                category="procedural", pdf_bytes=files.text_pdf(1, "g"))
    client.force_login(district.police_supervisor)  # reads the dossier, may not upload
    assert client.get(reverse("dossier:document_edit", args=[draft.pk])).status_code == 403
    client.force_login(district.investigator)
    assert client.get(reverse("dossier:document_edit", args=[generated.pk])).status_code == 403
    services.seal_volumes(case, part="main", agency=district.police, acting_user=district.investigator)
    assert client.get(reverse("dossier:document_edit", args=[draft.pk])).status_code == 403
    response = client.post(reverse("dossier:document_withdraw", args=[draft.pk]), {"reason": "太晚了"})
    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.is_current and draft.withdrawn_at is None
    assert not AuditEvent.objects.filter(action__in=["document.edited", "document.withdrawn"]).exists()


def test_the_arrow_buttons_reorder_without_javascript_and_saving_confirms(client, case, district, upload):
    a, b, c = (upload(files.text_pdf(1, t), title=t).document for t in ("甲", "乙", "丙"))
    volume = a.volume
    client.force_login(district.investigator)
    page = client.get(reverse("dossier:case", args=[case.pk])).content.decode()
    assert 'aria-label="上移“乙”"' in page and 'aria-label="下移“乙”"' in page
    url = reverse("dossier:reorder", args=[volume.pk])
    response = client.post(url, {"order": [a.pk, b.pk, c.pk], "move": f"{c.pk}:up"})
    assert response.status_code == 302 and response["Location"].endswith(f"#doc-{c.pk}")
    assert list(volume.documents.order_by("position").values_list("title", flat=True)) == ["甲", "丙", "乙"]
    assert "已保存卷内顺序（3 份材料）" in client.get(response["Location"]).content.decode()
    client.post(url, {"order": [a.pk, c.pk, b.pk], "move": f"{a.pk}:up"})  # the top stays the top
    assert list(volume.documents.order_by("position").values_list("title", flat=True)) == ["甲", "丙", "乙"]


def test_a_failed_upload_stays_listed_until_cleared_and_says_how_to_go_on(client, case, district, upload):
    failed = upload(b"this is not a pdf", title="坏文件", name="bad.pdf")
    assert failed.status == "failed"
    client.force_login(district.investigator)
    jobs = client.get(reverse("dossier:jobs", args=[case.pk])).content.decode()
    assert "bad.pdf" in jobs and "修正后重新上传" in jobs and 'name="job"' in jobs
    response = client.post(reverse("dossier:clear_jobs", args=[case.pk]), {"job": str(failed.pk)})
    assert response.status_code == 302
    assert "bad.pdf" not in client.get(reverse("dossier:jobs", args=[case.pk])).content.decode()
    failed.refresh_from_db()
    assert failed.dismissed_at is not None and failed.status == "failed"  # the row stays
