"""Decisions that go out of an agency carry a document number (文书编号) of their own series, per
agency and year, like the 起诉书 and the 不起诉决定书: the police's 撤销案件决定书 (CPL art. 163; MPS
Provisions art. 186(1)) and 终止侦查决定书 (one per person, MPS Provisions art. 186(2)), the
procuratorate's 退回补充侦查决定书 (CPL art. 175(2)), 附条件不起诉决定书 (CPL art. 282) and 撤销附条件不起诉
决定书 (art. 284), and the documents of the police's challenge of a non-prosecution (art. 179; MPS
Provisions art. 294; SPP Rules arts. 379-380), each from the series of the agency that issues it. The number is
the one the engine records (``CaseNumber``) and printed on the signed document; the preview reads
「文号待编」 because nothing is numbered before the decision."""

from __future__ import annotations

from datetime import date

import pytest

from casehub.cases.models import CaseNumber, CustodyStatus, NumberKind, Offence, PersonRole
from casehub.dossier.models import Document
from casehub.objectstore.services import read_bytes
from tests.procedure.conftest import at, put_in_review, put_in_supplementary
from tests.workflow.test_generated_documents import text_of
from workflows import documents
from workflows.definition import get

pytestmark = pytest.mark.time_machine(at("2026-11-02"))


def texts(case, title: str) -> list[str]:
    return [text_of(read_bytes(d.stored))
            for d in Document.objects.filter(case=case, generated=True, title__startswith=title).order_by("id")]


def test_a_withdrawal_during_supplementary_investigation_is_numbered_by_the_police(new_case, district, fire):
    """CPL art. 163; MPS Provisions art. 186(1): 深龙公（刑）撤案字〔2026〕001号, the next one 002."""
    case = put_in_supplementary(new_case(), district, when=at("2026-10-20"))
    fire(case, "withdraw_case", "investigator", ground="no_crime", reason="补充侦查查明财物系李四本人所有")
    number = CaseNumber.objects.get(case=case, kind=NumberKind.CASE_WITHDRAWAL)
    assert number.number == "深龙公（刑）撤案字〔2026〕001号" and number.agency == district.police
    (text,) = texts(case, "撤销案件决定书")
    assert "深龙公（刑）撤案字〔2026〕001号" in text

    other = put_in_supplementary(new_case("王五涉嫌盗窃案"), district, when=at("2026-10-21"))
    fire(other, "withdraw_case", "investigator", ground="no_crime", reason="查无实据")
    assert "深龙公（刑）撤案字〔2026〕002号" in texts(other, "撤销案件决定书")[0]


def test_each_terminated_suspect_gets_a_decision_with_its_own_number(new_case, district, fire):
    """MPS Provisions art. 186(2): one 终止侦查决定书 per person, each numbered."""
    case = new_case("三人盗窃案", persons=[
        {"role": PersonRole.SUSPECT, "name": name, "custody_status": CustodyStatus.NOT_DETAINED}
        for name in ("李四", "王五", "赵六")])
    li, wang, zhao = case.persons.order_by("id")
    fire(case, "terminate_investigation", "investigator", persons=[wang.pk, zhao.pk], ground="not_the_offender",
         reason="监控显示案发时二人不在现场")
    numbers = dict(CaseNumber.objects.filter(case=case, kind=NumberKind.INVESTIGATION_TERMINATION)
                   .values_list("person__name", "number"))
    assert numbers == {"王五": "深龙公（刑）终止侦查字〔2026〕001号", "赵六": "深龙公（刑）终止侦查字〔2026〕002号"}
    wang_text, zhao_text = texts(case, "终止侦查决定书")
    assert "终止侦查字〔2026〕001号" in wang_text and "犯罪嫌疑人王五终止侦查" in wang_text
    assert "终止侦查字〔2026〕002号" in zhao_text and "犯罪嫌疑人赵六终止侦查" in zhao_text
    assert "001号" not in zhao_text


def test_a_return_for_supplementary_investigation_is_numbered_by_the_procuratorate(new_case, district, fire):
    """CPL art. 175(2): the 退回补充侦查决定书 carries 深龙检刑退查〔2026〕1号; the outline goes with it."""
    case = put_in_review(new_case(), district, when=at("2026-11-02", 9))
    fire(case, "return_for_supplementary", "prosecutor", reason="查明被盗财物价值")
    number = CaseNumber.objects.get(case=case, kind=NumberKind.SUPPLEMENTARY_RETURN)
    assert number.number == "深龙检刑退查〔2026〕1号" and number.agency == district.procuratorate
    assert "深龙检刑退查〔2026〕1号" in texts(case, "退回补充侦查决定书")[0]


def test_a_conditional_non_prosecution_is_numbered_and_its_preview_is_not(new_case, district, fire, time_machine):
    """CPL art. 282: 附条件不起诉决定书 深龙检刑附条件不诉〔2026〕1号; before the decision the preview shows
    that the number is still to be given."""
    case = new_case("少年乙涉嫌盗窃案", persons=[{
        "role": PersonRole.SUSPECT, "name": "少年乙", "birth_date": date(2010, 3, 1),
        "custody_status": CustodyStatus.NOT_DETAINED}])
    theft, _ = Offence.objects.get_or_create(code="0202", defaults={"name": "盗窃罪", "article": "刑法第264条"})
    case.offences.add(theft)
    case = put_in_review(case, district, when=at("2026-11-02", 9))
    inputs = dict(facts="少年乙初次盗窃，退赔并真诚悔罪。", probation_months=8, sentence_up_to_one_year="yes",
                  heard="公安机关、被害人王某的意见")
    preview = documents.preview(case, get("decide_conditional_non_prosecution"), user=district.prosecutor,
                                inputs=inputs)
    assert "文号待编" in text_of(preview[0].pdf)
    fire(case, "decide_conditional_non_prosecution", "prosecutor", **inputs)
    assert CaseNumber.objects.get(case=case, kind=NumberKind.CONDITIONAL_NON_PROSECUTION).number == \
        "深龙检刑附条件不诉〔2026〕1号"
    assert "深龙检刑附条件不诉〔2026〕1号" in texts(case, "附条件不起诉决定书")[0]

    time_machine.move_to(at("2027-01-10"))  # art. 284(1): revoked within the probation, numbered in 2027
    fire(case, "revoke_conditional_non_prosecution", "prosecutor", ground="new_crime", reason="2027年1月再次盗窃")
    assert "深龙检刑撤附条件不诉〔2027〕1号" in texts(case, "撤销附条件不起诉决定书")[0]


def test_each_document_of_a_contested_non_prosecution_is_numbered_by_its_issuer(
        new_case, district, fire, city_procuratorate, time_machine):
    """Art. 179; MPS Provisions art. 294: the police's 要求复议意见书 and 提请复核意见书 from the police's
    series; SPP Rules arts. 379-380: the 复议决定书 from the deciding procuratorate's, the 复核决定书 from
    the next-higher procuratorate's."""
    case = put_in_review(new_case(), district, when=at("2026-11-02", 9))
    fire(case, "decide_non_prosecution", "prosecutor", facts="李四于2026年10月拿走他人财物。", legal_basis="依据法律规定",
         kind="discretionary")
    time_machine.move_to(at("2026-11-06"))
    fire(case, "request_np_reconsideration", "investigator", reason="李四系累犯，不属于犯罪情节轻微。")
    fire(case, "keep_non_prosecution", "prosecutor", reason="累犯情节不影响犯罪情节轻微的认定。")
    time_machine.move_to(at("2026-11-12"))
    fire(case, "request_np_review", "investigator", reason="复议决定仍有错误。")
    fire(case, "keep_non_prosecution_on_review", "city_prosecutor", reason="原决定正确。")

    issued = {(n.kind, n.agency_id): n.number for n in CaseNumber.objects.filter(case=case)}
    assert issued[(NumberKind.NP_RECONSIDERATION_REQUEST, district.police.pk)] == "深龙公（刑）要复字〔2026〕001号"
    assert issued[(NumberKind.NP_RECONSIDERATION_DECISION, district.procuratorate.pk)] == "深龙检刑复议〔2026〕1号"
    assert issued[(NumberKind.NP_REVIEW_REQUEST, district.police.pk)] == "深龙公（刑）提复字〔2026〕001号"
    assert issued[(NumberKind.NP_REVIEW_DECISION, city_procuratorate.pk)] == "深检刑复核〔2026〕1号"
    for title, number in (("要求复议意见书", "要复字〔2026〕001号"), ("复议决定书", "深龙检刑复议〔2026〕1号"),
                          ("提请复核意见书", "提复字〔2026〕001号"), ("复核决定书", "深检刑复核〔2026〕1号")):
        (text,) = texts(case, title)
        assert number in text, title


def test_the_review_extension_and_each_release_certificate_carry_their_own_number(new_case, district, fire):
    """Art. 172(1): the 延长审查起诉期限决定书 is numbered from the procuratorate's own series (深龙检刑延),
    no longer typed in; art. 163, MPS Provisions art. 187(2): each 释放证明书 of a police closing from the
    police's series (深龙公（刑）释字), one per released person."""
    from tests.procedure.conftest import arrested

    case = put_in_review(new_case(), district, when=at("2026-11-02", 9))
    fire(case, "extend_review", "prosecutor", decision="案情重大、复杂，需要核实多名证人证言")
    number = CaseNumber.objects.get(case=case, kind=NumberKind.REVIEW_EXTENSION)
    assert number.number == "深龙检刑延〔2026〕1号" and number.agency == district.procuratorate
    assert "深龙检刑延〔2026〕1号" in texts(case, "延长审查起诉期限决定书")[0]

    other = new_case("二人盗窃案", persons=[
        {"role": PersonRole.SUSPECT, "name": name, "custody_status": CustodyStatus.NOT_DETAINED}
        for name in ("王五", "赵六")])
    for person in other.persons.order_by("id"):
        arrested(person, district, since=at("2026-10-20"))
    fire(other, "withdraw_case", "investigator", ground="no_crime", reason="查明财物系二人所有")
    numbers = dict(CaseNumber.objects.filter(case=other, kind=NumberKind.RELEASE_CERTIFICATE)
                   .values_list("person__name", "number"))
    assert numbers == {"王五": "深龙公（刑）释字〔2026〕001号", "赵六": "深龙公（刑）释字〔2026〕002号"}
    wang, zhao = texts(other, "释放证明书")
    assert "释字〔2026〕001号" in wang and "兹有王五" in wang
    assert "释字〔2026〕002号" in zhao and "兹有赵六" in zhao
