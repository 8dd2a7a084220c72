"""Every legal document a decision generates is in the official wording, filed into the dossier and
PAdES-signed by the issuing agency — checked by our verifier (pyHanko) and independently by poppler's
pdfsig against the exported trust anchor (docs/pki.md: every document an agency issues carries its
signature). CPL arts. 87, 90, 162, 172, 175, 176, 177; SPP Rules arts. 257, 358."""

from __future__ import annotations

import io

import pypdf
import pytest

from casehub.cases.models import Offence
from casehub.dossier.models import Document
from casehub.objectstore.services import read_bytes
from casehub.pki import services as pki
from signing.pades import verify_pdf
from tests.signing.pdfsig import pdfsig_verify
from workflows import documents

pytestmark = pytest.mark.needs_poppler


def text_of(data: bytes) -> str:
    # Lines wrap anywhere in Chinese text: compare without line breaks and indents.
    text = "".join(page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    return text.replace("\n", "").replace("\u3000", "")


def generated(case, title: str) -> Document:
    return Document.objects.filter(case=case, generated=True, title__startswith=title).latest("id")


def assert_signed_by(data: bytes, agency) -> None:
    result = verify_pdf(data, pki.trust_store())
    assert result.valid, result
    assert any(agency.name in (sig.signer_name or "") for sig in result.signatures), result
    ok, output = pdfsig_verify(data, pki.export_trust_pem())
    assert ok, output


@pytest.fixture
def theft(make_case, district):
    case = make_case("张三涉嫌盗窃案")
    offence, _ = Offence.objects.get_or_create(code="0501", defaults={"name": "盗窃罪", "article": "刑法第264条"})
    case.offences.add(offence)
    from casehub.custody.services import register_custody

    person = case.persons.get()
    register_custody(person, detention_centre=district.detention, measure="detained", since=person.custody_since,
                     acting_user=district.investigator)
    return case


def test_the_police_documents_up_to_the_transfer_are_signed_and_worded(theft, drive, district):
    drive.fire(theft, "request_arrest", "investigator", reason="经依法侦查查明：经依法侦查查明：张三多次入室盗窃。")
    request = generated(theft, "提请批准逮捕书")
    data = read_bytes(request.stored)
    assert_signed_by(data, district.police)
    text = text_of(data)
    assert "经依法侦查查明：张三多次入室盗窃" in text and "经依法侦查查明：经依法侦查查明" not in text
    assert "犯罪嫌疑人张三" in text and "被告人" not in text
    assert "《中华人民共和国刑法》第二百六十四条" in text and "特提请批准逮捕" in text
    assert district.procuratorate.name in text  # 此致 the same-level procuratorate (art. 87)

    drive.fire(theft, "accept_arrest_request", "prosecutor")
    drive.fire(theft, "approve_arrest", "prosecutor")
    approval = generated(theft, "批准逮捕决定书")
    data = read_bytes(approval.stored)
    assert_signed_by(data, district.procuratorate)
    text = text_of(data)
    assert "决定批准逮捕犯罪嫌疑人张三" in text and "第八十一条" in text and "三日以内通知本院" in text
    assert approval.author_agency == district.procuratorate

    drive.fire(theft, "transfer_for_review", "investigator", facts="经依法侦查查明：经依法侦查查明：2026年1月入室盗窃。",
               evidence="证人证言\n现场勘验笔录")
    recommendation = generated(theft, "起诉意见书")
    data = read_bytes(recommendation.stored)
    assert_signed_by(data, district.police)
    text = text_of(data)
    assert "经依法侦查查明：2026年1月入室盗窃" in text and "经依法侦查查明：经依法侦查查明" not in text
    assert "被刑事拘留" in text and "被逮捕" in text  # dates of detention and arrest
    assert f"现羁押于{district.detention.name}" in text  # place of custody
    assert "犯罪嫌疑人张三" in text and "被告人" not in text


def test_the_procuratorate_documents_are_signed_and_the_indictment_names_a_defendant(theft, drive, district):
    drive.to_review(theft)
    drive.fire(theft, "extend_review", "prosecutor", decision="案情重大复杂")
    extension = generated(theft, "延长审查起诉期限决定书")
    assert_signed_by(read_bytes(extension.stored), district.procuratorate)
    assert "延长十五日" in text_of(read_bytes(extension.stored))

    drive.fire(theft, "return_for_supplementary", "prosecutor", reason="调取案发现场监控录像\n询问证人李四")
    decision, outline = generated(theft, "退回补充侦查决定书"), generated(theft, "补充侦查提纲")
    for doc in (decision, outline):
        assert_signed_by(read_bytes(doc.stored), district.procuratorate)
    assert "第一百七十五条第二款" in text_of(read_bytes(decision.stored))
    outline_text = text_of(read_bytes(outline.stored))
    assert "1. 调取案发现场监控录像" in outline_text and "2. 询问证人李四" in outline_text

    drive.fire(theft, "resubmit_for_review", "investigator", reason="已补充监控录像")
    drive.fire(theft, "accept_review_transfer", "prosecutor")
    drive.fire(theft, "indict", "prosecutor", facts="经审查查明：张三入室盗窃。", charges="被告人张三以非法占有为目的。",
               sentencing="建议判处有期徒刑一年，并处罚金")
    indictment = generated(theft, "起诉书")
    data = read_bytes(indictment.stored)
    assert_signed_by(data, district.procuratorate)
    text = text_of(data)
    assert "被告人张三" in text and "犯罪嫌疑人" not in text
    assert "《中华人民共和国刑法》第二百六十四条" in text
    assert "量刑建议：建议判处有期徒刑一年" in text
    assert "附：" in text and f"被告人张三现羁押于{district.detention.name}" in text
    assert "经依法审查查明：张三入室盗窃" in text and "经审查查明：张三" not in text


def test_a_refused_arrest_and_a_non_prosecution_are_signed_decisions(make_case, drive, district):
    case = make_case("王五涉嫌盗窃案")
    drive.fire(case, "request_arrest", "investigator", reason="涉嫌盗窃")
    drive.fire(case, "accept_arrest_request", "prosecutor")
    drive.fire(case, "refuse_arrest", "prosecutor", reason="现有证据不足以证明有犯罪事实")
    refusal = generated(case, "不批准逮捕决定书")
    data = read_bytes(refusal.stored)
    assert_signed_by(data, district.procuratorate)
    text = text_of(data)
    assert "决定不批准逮捕犯罪嫌疑人张三" in text and "应当立即释放" in text

    drive.to_review(case)
    drive.fire(case, "decide_non_prosecution", "prosecutor", facts="经审查查明：证据不足。",
               legal_basis="张三犯罪情节轻微，依照《中华人民共和国刑事诉讼法》第一百七十七条第二款的规定，")
    decision = generated(case, "不起诉决定书")
    data = read_bytes(decision.stored)
    assert_signed_by(data, district.procuratorate)
    text = text_of(data)
    assert "被不起诉人张三" in text and "七日以内向本院申诉" in text  # art. 181: 177(2) only
    assert "七日以内向上一级人民检察院申诉" in text  # art. 180


def test_a_volume_binding_signed_documents_verifies_with_both_tools(theft, drive, district):
    """The generated documents keep their own signature as stored objects; bound into a volume their
    pages carry no stale signature field that would make the volume's check fail."""
    drive.fire(theft, "transfer_for_review", "investigator", facts="入室盗窃。", evidence="证人证言")
    transfer = theft.transfers.latest("id") if hasattr(theft, "transfers") else None
    from casehub.dossier.models import Volume

    volume = Volume.objects.filter(case=theft, status="assembled").latest("id")
    data = read_bytes(volume.assembled)
    result = verify_pdf(data, pki.trust_store())
    assert result.valid and len(result.signatures) == 1, result
    ok, output = pdfsig_verify(data, pki.export_trust_pem())
    assert ok, output
    assert transfer is None or transfer.document_count >= 1


def test_strip_leading_and_article_helpers():
    assert documents.strip_leading("经依法侦查查明：经依法侦查查明，张三……", "经依法侦查查明") == "张三……"
    assert documents.criminal_law_article("刑法第264条") == "《中华人民共和国刑法》第二百六十四条"
    assert documents.criminal_law_article("刑法第133条之一") == "《中华人民共和国刑法》第一百三十三条之一"
    assert [documents.chinese_number(n) for n in (10, 15, 105, 232, 1000)] == ["十", "十五", "一百零五", "二百三十二",
                                                                               "一千"]
