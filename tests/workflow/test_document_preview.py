"""Nobody sends a legal document blind: the officer previews the documents a transition will generate
from what is typed so far, and the supervisor previews them with the list of what will be sent before
approving. A preview is rendered on request, watermarked 草稿, never stored, numbered or signed."""

from __future__ import annotations

import io

import pypdf
from django.urls import reverse

from casehub.dossier.models import Document
from workflows import engine


def text_of(data: bytes) -> str:
    text = "".join(page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    return text.replace("\n", "").replace("\u3000", "")


def test_the_officer_previews_the_recommendation_from_the_typed_inputs(case, district, client):
    client.force_login(district.investigator)
    page = client.get(reverse("transfers:fire", args=[case.pk, "transfer_for_review"])).content.decode()
    url = reverse("transfers:fire_preview", args=[case.pk, "transfer_for_review"])
    assert f'formaction="{url}"' in page
    before = Document.objects.filter(case=case).count()

    response = client.post(url, {"facts": "经依法侦查查明：经依法侦查查明：张三入室盗窃。", "evidence": "证人证言\n现场勘验笔录",
                                 "version": case.version})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "no-store"
    text = text_of(response.content)
    assert "起诉意见书" in text and "草稿" in text and "文号待编" in text
    assert "经依法侦查查明：张三入室盗窃" in text and "经依法侦查查明：经依法侦查查明" not in text
    assert "1. 证人证言" in text and district.procuratorate.name in text  # the default recipient
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    assert "/AcroForm" not in reader.trailer["/Root"]  # not signed
    assert Document.objects.filter(case=case).count() == before  # not stored
    assert case.numbers.filter(kind="prosecution_recommendation").count() == 0  # not numbered


def test_the_supervisor_previews_the_documents_and_sees_what_will_be_sent(case, district, client,
                                                                           django_capture_on_commit_callbacks):
    result = engine.fire(case, "request_arrest", acting_user=district.investigator, inputs={"reason": "多次入室盗窃"})
    assert result.awaiting_approval
    client.force_login(district.police_supervisor)
    page = client.get(reverse("transfers:approval", args=[result.approval.pk])).content.decode()
    url = reverse("transfers:approval_preview", args=[result.approval.pk])
    preview = page[page.index('id="package-preview"'):]
    assert url in preview and "提请批准逮捕书" in preview
    assert district.procuratorate.name in preview[preview.index('id="package-recipients"'):]
    for doc in case.documents.filter(is_current=True, part="main"):
        assert doc.title in preview  # the list of what will be sent

    response = client.get(url)
    assert response.status_code == 200
    text = text_of(response.content)
    assert "提请批准逮捕书" in text and "草稿" in text and "犯罪嫌疑人张三" in text and "多次入室盗窃" in text

    with django_capture_on_commit_callbacks(execute=True):
        engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True, comment="同意")
    assert client.get(url).status_code == 404  # decided: nothing left to preview


def test_a_stay_transition_names_and_previews_its_decision(case, district, client, drive):
    drive.to_review(case)
    client.force_login(district.prosecutor)
    page = client.get(reverse("transfers:fire", args=[case.pk, "extend_review"])).content.decode()
    assert "延长审查起诉期限决定书" in page and "transition-preview" in page
    response = client.post(reverse("transfers:fire_preview", args=[case.pk, "extend_review"]),
                           {"decision": "案情重大复杂", "version": case.version})
    assert "延长十五日" in text_of(response.content)
