"""Issue #19: the plain upload form and the marking of a document's persons keep what the user
entered after a refusal: the page comes back with the error next to its field and every value
still filled in (only a file must be chosen again: no browser refills a file input), and the
corrected form then saves."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from casehub.cases.models import PersonRole
from casehub.cases.services import register_case
from casehub.dossier.models import Document, IngestJob
from tests.dossier import files

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _own_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"


def _pdf(name: str, data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data or files.text_pdf(1, name), content_type="application/pdf")


def _upload_form(page: str) -> str:
    match = re.search(r'<form method="post" enctype="multipart/form-data"[^>]*id="upload-form".*?</form>', page, re.S)
    assert match, "no upload form on the page"
    return match.group(0)


def _usable_submit(form: str) -> bool:
    button = re.search(r'<button[^>]*id="upload-button"[^>]*>', form)
    return bool(button) and "disabled" not in button.group(0)


def test_a_refused_plain_upload_keeps_the_input_and_then_saves(client, case, district, upload):
    earlier = upload(files.text_pdf(1, "first"), title="询问笔录（第一次）").document
    url = reverse("dossier:upload", args=[case.pk])
    client.force_login(district.investigator)
    typed = {"title": "", "category": "procedural", "part": "main", "doc_date": "2026-11-02",
             "supersedes": "", "reason": ""}

    # The form refuses a missing title.
    response = client.post(url, {**typed, "file": _pdf("a.pdf")})
    assert response.status_code == 400
    form = _upload_form(response.content.decode())
    assert 'id="id_title_error"' in form and 'aria-describedby="id_title_error"' in form
    assert '<option value="procedural" selected>' in form and 'value="2026-11-02"' in form
    assert 'id="file-input_again"' in form and _usable_submit(form)
    assert not IngestJob.objects.filter(title="").exists()

    # The service refuses a correction without a reason: the error stands by the reason, the
    # correction section is open with the chosen document.
    typed.update(title="询问笔录（补正）", supersedes=str(earlier.pk))
    response = client.post(url, {**typed, "file": _pdf("b.pdf")})
    assert response.status_code == 400
    form = _upload_form(response.content.decode())
    assert 'id="id_reason_error"' in form and "更正材料须说明理由" in form
    assert re.search(r"<details[^>]*\bopen\b", form) and f'<option value="{earlier.pk}" selected>' in form
    assert 'value="询问笔录（补正）"' in form and 'value="2026-11-02"' in form and _usable_submit(form)

    # The pipeline refuses the file (encrypted): the failed job is listed, the form keeps the rest.
    typed.update(reason="原笔录漏记询问时间")
    response = client.post(url, {**typed, "file": _pdf("locked.pdf", files.encrypted_pdf())})
    assert response.status_code == 200
    assert IngestJob.objects.get(original_filename="locked.pdf").status == "failed"
    form = _upload_form(response.content.decode())
    assert 'id="file-input_error"' in form and 'aria-invalid="true"' in form
    assert "原笔录漏记询问时间</textarea>" in form and 'value="询问笔录（补正）"' in form and _usable_submit(form)

    # Corrected: saved, and back to the dossier.
    response = client.post(url, {**typed, "file": _pdf("c.pdf")})
    assert response.status_code == 302
    correction = Document.objects.get(case=case, title="询问笔录（补正）")
    assert (correction.supersedes, correction.reason, correction.category) == (earlier, "原笔录漏记询问时间",
                                                                               "procedural")


def test_a_refused_marking_of_persons_keeps_the_ticks_and_then_saves(client, district, tmp_path):
    suspects = [{"role": PersonRole.SUSPECT, "name": name, "sex": "M"} for name in ("张三", "李四")]
    case = register_case(acting_user=district.investigator, title="张三等盗窃案", persons=suspects)
    other = register_case(acting_user=district.investigator, title="赵六盗窃案",
                          persons=[{"role": PersonRole.SUSPECT, "name": "赵六", "sex": "M"}])
    from casehub.dossier import services

    job = services.ingest_upload(case=case, acting_user=district.investigator, title="张三讯问笔录",
                                 category="evidence", uploaded_file_or_path=files.write(tmp_path, "z.pdf",
                                                                                        files.text_pdf(1, "z")))
    doc = job.document
    zhang, li = case.persons.get(name="张三"), case.persons.get(name="李四")
    zhao = other.persons.get()
    url = reverse("dossier:document_concerns", args=[doc.pk])
    client.force_login(district.investigator)

    # 赵六 was moved to another case while the page was open (a stale box): refused, the ticks stay.
    response = client.post(url, {"persons": [zhang.pk, zhao.pk]})
    assert response.status_code == 400
    page = response.content.decode()
    form = re.search(r'<form[^>]*id="concerns-form".*?</form>', page, re.S).group(0)
    assert 'id="concerns-error"' in form and "只能选择本案的涉案人员" in form
    assert re.search(rf'value="{zhang.pk}" id="concerns-{zhang.pk}" checked', form)
    assert not re.search(rf'value="{li.pk}" id="concerns-{li.pk}" checked', form)
    assert 'type="submit"' in form and "disabled" not in form
    assert not doc.concerns.exists()

    response = client.post(url, {"persons": [zhang.pk]})
    assert response.status_code == 302
    assert list(doc.concerns.all()) == [zhang]
