"""The documents a plea changes: the 起诉意见书 states the plea (CPL art. 162(2)); the 起诉书 states
each defendant's plea and statement, the recommendation and the proposed trial procedure, and a
separate 量刑建议书 goes with it (art. 176(2); SPP Rules art. 274) — signed by the procuratorate and
verified by pyHanko and by poppler's pdfsig against the exported trust anchor."""

from __future__ import annotations

import pytest

from casehub.cases.models import Offence
from casehub.dossier.models import Document
from casehub.objectstore.services import read_bytes
from tests.procedure.conftest import at, put_in_review
from tests.workflow.test_generated_documents import assert_signed_by, text_of
from workflows import documents
from workflows.definition import get

pytestmark = [pytest.mark.needs_poppler, pytest.mark.time_machine(at("2026-11-02"))]


def test_the_recommendation_to_prosecute_states_the_plea(new_case, district, fire):
    """Art. 162(2): 犯罪嫌疑人自愿认罪的……在起诉意见书中写明有关情况 (the preview renders the same builder)."""
    case = new_case()
    fire(case, "record_plea", "investigator", statement="已告知认罪认罚的法律规定，李四表示愿意接受处罚。")
    drafts = documents.preview(case, get("transfer_for_review"), user=district.investigator,
                               inputs={"facts": "入室盗窃。", "evidence": "证人证言"})
    text = text_of(drafts[0].pdf)
    assert "犯罪嫌疑人李四自愿如实供述自己的罪行，承认指控的犯罪事实，愿意接受处罚" in text
    assert "李四表示愿意接受处罚" in text


def test_the_indictment_and_the_separate_sentencing_recommendation_are_signed(new_case, district, fire, upload):
    case = new_case()
    offence, _ = Offence.objects.get_or_create(code="0501", defaults={"name": "盗窃罪", "article": "刑法第264条"})
    case.offences.add(offence)
    case = put_in_review(case, district, when=at("2026-11-02", 9))
    statement = upload(case, "认罪认罚具结书")
    fire(case, "record_plea_statement", "prosecutor", counsel_role="duty_lawyer", counsel_name="王律师",
         statement_document=statement.pk, sentencing="判处有期徒刑八个月，并处罚金人民币二千元")
    fire(case, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="yes", reason="符合速裁程序适用条件。")
    fire(case, "indict", "prosecutor", facts="2026年10月入室盗窃。", charges="盗窃罪", sentencing_form="separate",
         procedure="speedy")

    indictment = Document.objects.filter(case=case, generated=True, title="起诉书").latest("id")
    data = read_bytes(indictment.stored)
    assert_signed_by(data, district.procuratorate)
    text = text_of(data)
    assert "被告人李四自愿认罪认罚，在值班律师王律师见证下签署了认罪认罚具结书" in text
    assert "建议人民法院适用速裁程序审理" in text and "认罪认罚具结书" in text.split("附：")[-1]
    assert "判处有期徒刑八个月" not in text  # written into the separate recommendation instead

    recommendation = Document.objects.filter(case=case, generated=True, title="量刑建议书").get()
    data = read_bytes(recommendation.stored)
    assert_signed_by(data, district.procuratorate)
    text = text_of(data)
    assert "对被告人李四：判处有期徒刑八个月，并处罚金人民币二千元" in text and "第一百七十六条第二款" in text
