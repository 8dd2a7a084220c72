"""Non-prosecution of its kinds, conditional non-prosecution for minors, and the police's
reconsideration and review — each decision a signed document with its own notices.

CPL arts. 175(4), 177(1)-(2), 178 (a detained person is released), 179-181, 282-284; SPP Rules
arts. 350, 367, 379-380; MPS Provisions art. 294.
"""

from __future__ import annotations

from datetime import date

import pytest

from casehub.cases.models import CustodyStatus, Offence, PersonRole
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import Clock
from casehub.dossier.models import Document
from casehub.objectstore.services import read_bytes
from tests.procedure.conftest import at, put_in_review, record_returns
from tests.workflow.test_generated_documents import assert_signed_by, text_of
from workflows import engine

pytestmark = pytest.mark.time_machine(at("2026-11-02"))

VICTIM_PETITION = "七日以内向上一级人民检察院申诉"  # art. 180
PERSON_APPEAL = "被不起诉人如不服本决定，可以自收到本决定书后七日以内向本院申诉"  # art. 181
POLICE_RECONSIDERATION = "七日以内要求本院复议"  # art. 179


def decision_text(case, title: str = "不起诉决定书") -> str:
    doc = Document.objects.filter(case=case, generated=True, title=title).latest("id")
    return text_of(read_bytes(doc.stored))


@pytest.fixture
def in_review(new_case, district):
    return put_in_review(new_case(), district, when=at("2026-11-02", 9))


def decide(fire, case, kind: str, basis: str = "依据法律规定", **extra):
    return fire(case, "decide_non_prosecution", "prosecutor", facts="李四于2026年10月拿走他人财物。",
                legal_basis=basis, kind=kind, **extra)


def test_statutory_non_prosecution_names_177_1_and_gives_no_personal_appeal(in_review, district, fire):
    decide(fire, in_review, "statutory", "李四的行为情节显著轻微、危害不大，不认为是犯罪")
    text = decision_text(in_review)
    assert "第一百七十七条第一款" in text and "决定对李四不起诉" in text
    assert VICTIM_PETITION in text and POLICE_RECONSIDERATION in text
    assert PERSON_APPEAL not in text  # art. 181 is for 177(2) decisions only
    assert in_review.status == "closed"


@pytest.mark.needs_poppler
def test_discretionary_non_prosecution_gives_the_person_seven_days_to_appeal(in_review, district, fire):
    decide(fire, in_review, "discretionary")
    doc = Document.objects.filter(case=in_review, generated=True, title="不起诉决定书").get()
    data = read_bytes(doc.stored)
    assert_signed_by(data, district.procuratorate)
    text = text_of(data)
    assert "犯罪情节轻微，依照刑法规定不需要判处刑罚或者免除刑罚" in text and "第一百七十七条第二款" in text
    assert PERSON_APPEAL in text and VICTIM_PETITION in text and POLICE_RECONSIDERATION in text


def test_insufficient_evidence_needs_a_return_first(in_review, district, fire):
    """Art. 175(4); SPP Rules art. 367: not before any return for supplementary investigation."""
    with pytest.raises(engine.GuardFailed, match="尚未退回补充侦查"):
        decide(fire, in_review, "insufficient_evidence")


def test_insufficient_evidence_after_one_return_with_the_chief_procurators_approval(in_review, district, fire):
    """SPP Rules art. 367(2): after one return, with the chief procurator's approval (the supervisor's)."""
    record_returns(in_review, district, 1, when=at("2026-10-01"))
    result = decide(fire, in_review, "insufficient_evidence")
    assert result.log.approved_by == district.procuratorate_supervisor
    text = decision_text(in_review)
    assert "经一次退回补充侦查" in text and "经检察长批准" in text and "第一百七十五条第四款" in text
    assert PERSON_APPEAL not in text


def test_insufficient_evidence_after_two_returns_counted_across_a_change_of_jurisdiction(in_review, district, fire):
    """Art. 175(4): after two returns it is mandatory; SPP Rules art. 350: returns before and after a
    change of jurisdiction count together — no third return."""
    record_returns(in_review, district, 2, when=at("2026-10-01"))
    with pytest.raises(engine.GuardFailed, match="以二次为限"):
        fire(in_review, "return_for_supplementary", "prosecutor", reason="再查")
    decide(fire, in_review, "insufficient_evidence")
    assert "本院经二次退回补充侦查，仍然认为李四涉嫌犯罪的事实不清、证据不足" in decision_text(in_review)


def test_non_prosecution_releases_a_detained_person(new_case, district, fire):
    """Art. 178: a person in custody is released at once."""
    from casehub.custody.services import register_custody

    case = new_case(persons=[{"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.DETAINED,
                              "custody_since": at("2026-10-20"), "detention_centre": district.detention}])
    person = case.persons.get()
    register_custody(person, detention_centre=district.detention, measure="detained", since=person.custody_since,
                     acting_user=district.investigator)
    put_in_review(case, district, when=at("2026-11-02", 9))
    decide(fire, case, "statutory")
    person.refresh_from_db()
    assert person.custody_status == CustodyStatus.RELEASED


# --- conditional non-prosecution (arts. 282-284) ---------------------------------------------------


@pytest.fixture
def minor_case(new_case, district):
    case = new_case("少年乙涉嫌盗窃案", persons=[{
        "role": PersonRole.SUSPECT, "name": "少年乙", "birth_date": date(2010, 3, 1),
        "custody_status": CustodyStatus.NOT_DETAINED}])
    theft, _ = Offence.objects.get_or_create(code="0202", defaults={"name": "盗窃罪", "article": "刑法第264条"})
    case.offences.add(theft)
    return put_in_review(case, district, when=at("2026-11-02", 9))


CONDITIONAL = dict(facts="少年乙初次盗窃，退赔并真诚悔罪。", probation_months=8, sentence_up_to_one_year="yes",
                   heard="公安机关、被害人王某的意见")


def test_conditional_non_prosecution_runs_a_probation_of_the_decided_months(minor_case, district, fire):
    """Art. 282(1), 283(2): 6-12 months, counted from the decision."""
    with pytest.raises(engine.GuardFailed, match="六个月以上一年以下"):
        fire(minor_case, "decide_conditional_non_prosecution", "prosecutor", **{**CONDITIONAL, "probation_months": 13})
    with pytest.raises(engine.GuardFailed, match="一年有期徒刑以下"):
        fire(minor_case, "decide_conditional_non_prosecution", "prosecutor",
             **{**CONDITIONAL, "sentence_up_to_one_year": "no"})
    fire(minor_case, "decide_conditional_non_prosecution", "prosecutor", **CONDITIONAL)
    assert minor_case.stage == "conditional_non_prosecution"
    probation = Clock.objects.get(case=minor_case, kind=ClockKind.CONDITIONAL_PROBATION)
    assert probation.due_date == date(2027, 7, 2)  # 8 months from 2 Nov 2026
    assert not Clock.objects.filter(case=minor_case, kind=ClockKind.REVIEW_PROSECUTION, status="running").exists()
    text = decision_text(minor_case, "附条件不起诉决定书")
    assert "考验期为八个月" in text and "第二百八十二条第三款" in text and POLICE_RECONSIDERATION in text


def test_conditional_non_prosecution_is_only_for_minors_and_chapters_four_to_six(in_review, minor_case, district,
                                                                                 fire):
    with pytest.raises(engine.GuardFailed, match="只适用于未成年犯罪嫌疑人"):
        fire(in_review, "decide_conditional_non_prosecution", "prosecutor", **CONDITIONAL)
    driving, _ = Offence.objects.get_or_create(code="0150", defaults={"name": "危险驾驶罪", "article": "刑法第133条之一"})
    minor_case.offences.add(driving)  # Criminal Law chapter 2: public security
    with pytest.raises(engine.GuardFailed, match="第四章、第五章、第六章"):
        fire(minor_case, "decide_conditional_non_prosecution", "prosecutor", **CONDITIONAL)


def test_an_objection_of_the_minor_means_prosecution(minor_case, district, fire):
    """Art. 282(3): the minor or the legal representative objects → the procuratorate prosecutes."""
    fire(minor_case, "decide_conditional_non_prosecution", "prosecutor", **CONDITIONAL)
    fire(minor_case, "prosecute_on_objection", "prosecutor", reason="法定代理人对附条件不起诉有异议。")
    assert minor_case.stage == "prosecution_review"
    assert not Clock.objects.filter(case=minor_case, kind=ClockKind.CONDITIONAL_PROBATION, status="running").exists()
    assert Clock.objects.filter(case=minor_case, kind=ClockKind.REVIEW_PROSECUTION, status="running").exists()


def test_revocation_on_an_art_284_ground_during_probation(minor_case, district, fire, time_machine):
    fire(minor_case, "decide_conditional_non_prosecution", "prosecutor", **CONDITIONAL)
    time_machine.move_to(at("2027-01-10"))
    fire(minor_case, "revoke_conditional_non_prosecution", "prosecutor", ground="new_crime",
         reason="2027年1月再次盗窃")
    assert minor_case.stage == "prosecution_review"
    text = decision_text(minor_case, "撤销附条件不起诉决定书")
    assert "在考验期内实施新的犯罪" in text and "第二百八十四条第一款" in text


def test_final_non_prosecution_only_when_the_probation_is_over(minor_case, district, fire, time_machine):
    """Art. 284(2). NPCSC Interpretation of CPL art. 271(2) (2014, today 282(2)): against the conditional
    decision and the final non-prosecution the victim petitions the higher procuratorate but cannot sue."""
    fire(minor_case, "decide_conditional_non_prosecution", "prosecutor", **CONDITIONAL)
    conditional = decision_text(minor_case, "附条件不起诉决定书")
    assert VICTIM_PETITION in conditional and "直接向人民法院起诉" not in conditional
    assert "不适用刑事诉讼法第一百八十条关于被害人可以向人民法院起诉的规定" in conditional
    time_machine.move_to(at("2027-07-02"))
    with pytest.raises(engine.GuardFailed, match="考验期尚未届满"):
        fire(minor_case, "decide_final_non_prosecution", "prosecutor", facts="遵守规定。")
    time_machine.move_to(at("2027-07-03"))
    fire(minor_case, "decide_final_non_prosecution", "prosecutor", facts="遵守监督管理规定，完成矫治教育。")
    assert minor_case.status == "closed"
    text = decision_text(minor_case)
    assert "第二百八十四条第二款" in text and "决定对少年乙不起诉" in text and PERSON_APPEAL not in text
    assert VICTIM_PETITION in text and "直接向人民法院起诉" not in text
    from workflows.definition import get
    from workflows.guards import GuardContext, failing

    assert "不能向人民法院起诉" in failing(("victim_may_sue",), GuardContext(minor_case, get("end_petition_review"),
                                                                          district.prosecutor, {}))[0]


# --- reconsideration and review (art. 179) ------------------------------------------------------


def test_reconsideration_kept_then_review_revokes_the_decision(in_review, district, fire, city_procuratorate,
                                                               time_machine):
    """Art. 179; MPS Provisions art. 294: 7 days to ask each; SPP Rules arts. 379-380: 30 days to decide."""
    decide(fire, in_review, "discretionary")
    time_machine.move_to(at("2026-11-06"))
    fire(in_review, "request_np_reconsideration", "investigator", reason="理由如下：李四系累犯，不属于犯罪情节轻微。")
    clock = Clock.objects.get(case=in_review, kind=ClockKind.NP_RECONSIDERATION)
    assert clock.agency == district.procuratorate and clock.due_date == date(2026, 12, 7)  # 30 days (6 Dec a Sunday)
    request = decision_text(in_review, "要求复议意见书")
    assert "要求你院复议" in request and "理由如下：李四系累犯，不属于犯罪情节轻微。根据" in request
    assert "。。" not in request  # the user's own full stop and the template's phrase are not doubled
    with pytest.raises(engine.GuardFailed, match="已就该不起诉决定要求过复议"):
        fire(in_review, "request_np_reconsideration", "investigator", reason="再次")

    fire(in_review, "keep_non_prosecution", "prosecutor", reason="累犯情节不影响犯罪情节轻微的认定。")
    assert in_review.status == "closed"
    assert "决定维持本院的不起诉决定" in decision_text(in_review, "复议决定书")

    time_machine.move_to(at("2026-11-12"))
    fire(in_review, "request_np_review", "investigator", reason="复议决定仍有错误。")
    review = Clock.objects.get(case=in_review, kind=ClockKind.NP_REVIEW)
    assert review.agency == city_procuratorate
    with pytest.raises(engine.NotAllowed):  # the procuratorate below does not decide its own review
        fire(in_review, "revoke_non_prosecution_on_review", "prosecutor", reason="x")
    fire(in_review, "revoke_non_prosecution_on_review", "city_prosecutor", reason="李四系累犯，应当提起公诉。")
    in_review.refresh_from_db()
    assert in_review.status == "active" and in_review.stage == "prosecution_review"
    assert in_review.holder_agency == district.procuratorate
    assert "indict" in {s.name for s in engine.available_transitions(in_review, district.prosecutor)}
    assert "撤销深圳市龙岗区人民检察院的不起诉决定" in decision_text(in_review, "复核决定书")


def test_reconsideration_revokes_the_decision_and_late_requests_are_refused(in_review, district, fire,
                                                                             time_machine):
    decide(fire, in_review, "statutory")
    time_machine.move_to(at("2026-11-10"))  # 8 days after the decision
    with pytest.raises(engine.GuardFailed, match="七日以内"):
        fire(in_review, "request_np_reconsideration", "investigator", reason="有错误")
    time_machine.move_to(at("2026-11-09"))
    fire(in_review, "request_np_reconsideration", "investigator", reason="有犯罪事实。")
    fire(in_review, "revoke_non_prosecution", "prosecutor", reason="经另行指派检察官审查，有犯罪事实。")
    assert in_review.stage == "prosecution_review" and in_review.status == "active"
    review = Clock.objects.filter(case=in_review, kind=ClockKind.REVIEW_PROSECUTION, status="running").get()
    assert review.due_date == date(2026, 12, 9)  # a new month from the revocation


def test_the_police_contest_a_conditional_non_prosecution_during_the_probation(minor_case, district, fire,
                                                                              city_procuratorate, time_machine):
    """Art. 282(2): art. 179 applies to the conditional decision — reconsideration within 7 days, kept;
    review by the higher procuratorate, which revokes it: the probation ends, the case is reviewed again."""
    fire(minor_case, "decide_conditional_non_prosecution", "prosecutor", **CONDITIONAL)
    time_machine.move_to(at("2026-11-06"))
    fire(minor_case, "request_np_reconsideration", "investigator", reason="少年乙多次盗窃，不宜附条件不起诉。")
    request = decision_text(minor_case, "要求复议意见书")
    assert "以深龙检刑附条件不诉〔2026〕1号附条件不起诉决定书决定对少年乙附条件不起诉。我局认为该决定有错误" in request
    fire(minor_case, "keep_non_prosecution", "prosecutor", reason="少年乙系初犯，有悔罪表现。")
    assert minor_case.stage == "conditional_non_prosecution"
    assert "决定维持本院的附条件不起诉决定" in decision_text(minor_case, "复议决定书")
    time_machine.move_to(at("2026-11-10"))
    fire(minor_case, "request_np_review", "investigator", reason="复议决定仍有错误。")
    fire(minor_case, "revoke_non_prosecution_on_review", "city_prosecutor", reason="少年乙盗窃三次，不符合条件。")
    minor_case.refresh_from_db()
    assert minor_case.stage == "prosecution_review" and minor_case.holder_agency == district.procuratorate
    assert Clock.objects.get(case=minor_case, kind=ClockKind.CONDITIONAL_PROBATION).status == "stopped"
    assert Clock.objects.get(case=minor_case, kind=ClockKind.REVIEW_PROSECUTION, status="running")
    assert "撤销深圳市龙岗区人民检察院的附条件不起诉决定" in decision_text(minor_case, "复核决定书")
