"""Plea and leniency (认罪认罚从宽), per person, and the review period it may shorten.

CPL art. 15 (the principle), art. 120(2) and 162(2) (the police record the plea; the 起诉意见书 says
so), arts. 173-174 (counsel or duty lawyer present, the signed 认罪认罚具结书, the minor's legal
representative, the three cases of art. 174(2) without one), art. 176(2) and SPP Rules art. 274 (the
sentencing recommendation in the 起诉书 or a separate 量刑建议书), art. 172(1) and SPP Rules art. 273
(10 days when the case fits the fast-track trial, 15 when the sentence may exceed one year; a plea
case that does not fit keeps one month).
"""

from __future__ import annotations

from datetime import date

import pytest

from casehub.cases.models import CustodyStatus, PersonRole
from tests.procedure.conftest import at, put_in_review
from workflows import engine, plea
from workflows.models import PleaRecord, TransitionLog

pytestmark = pytest.mark.time_machine(at("2026-11-02"))  # a Monday; no holiday before mid-December


def review_due(case) -> date:
    return plea.review_clock(case).due_date


@pytest.fixture
def in_review(new_case, district):
    return put_in_review(new_case(), district, when=at("2026-11-02", 9))


def record_statement(fire, case, upload, **overrides):
    statement = upload(case, "认罪认罚具结书")
    inputs = dict(counsel_role="duty_lawyer", counsel_name="王律师", statement_document=statement.pk,
                  sentencing="判处有期徒刑八个月，并处罚金人民币二千元")
    inputs.update(overrides)
    return fire(case, "record_plea_statement", "prosecutor", **inputs)


def test_police_record_the_plea_per_person_and_the_log_names_who(new_case, district, fire):
    """Art. 120(2), 162(2): the plea of each suspect is recorded in the investigation."""
    case = new_case(persons=[
        {"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.NOT_DETAINED},
        {"role": PersonRole.SUSPECT, "name": "王五", "custody_status": CustodyStatus.NOT_DETAINED},
    ])
    li, wang = case.persons.order_by("id")
    fire(case, "record_plea", "investigator", persons=[li.pk], statement="如实供述，愿意接受处罚。")
    assert PleaRecord.objects.get(person=li).police_statement == "如实供述，愿意接受处罚。"
    assert not PleaRecord.objects.filter(person=wang).exists()  # the co-suspect did not plead
    assert TransitionLog.objects.get(case=case, transition="record_plea").inputs["persons"] == [li.pk]
    assert case.stage == "investigation"
    lines = plea.recommendation_lines(case)
    assert len(lines) == 1 and "犯罪嫌疑人李四自愿如实供述自己的罪行" in lines[0]


def test_the_procuratorate_records_counsel_statement_and_recommendation(in_review, district, fire, upload):
    """Arts. 173-174(1): signed in the presence of the duty lawyer; the statement is an uploaded document."""
    record_statement(fire, in_review, upload)
    record = PleaRecord.objects.get(case=in_review)
    assert record.confirmed and record.counsel_name == "王律师" and record.get_counsel_role_display() == "值班律师"
    assert record.statement.title == "认罪认罚具结书" and record.sentencing.startswith("判处有期徒刑八个月")
    assert list(record.statement.concerns.all()) == [record.person]


def test_a_plea_without_a_statement_needs_an_art_174_2_ground(in_review, district, fire):
    """Art. 174(1): the statement is required ...; art. 174(2): except in its three cases (plea still recorded)."""
    with pytest.raises(engine.GuardFailed, match="具结书"):
        fire(in_review, "record_plea_statement", "prosecutor", counsel_role="counsel", counsel_name="赵律师",
             sentencing="判处拘役四个月")
    fire(in_review, "record_plea_statement", "prosecutor", counsel_role="counsel", counsel_name="赵律师",
         sentencing="判处拘役四个月", exemption="174_2_1")
    record = PleaRecord.objects.get(case=in_review)
    assert record.confirmed and record.statement is None and record.exemption == "174_2_1"
    assert "不需要签署认罪认罚具结书" in plea.indictment_lines(in_review, {})[0]


def test_a_minor_signs_with_the_legal_representative_present(new_case, district, fire, upload):
    """Art. 174(1): for a minor the legal representative is present; art. 174(2)(2) only for minors."""
    case = put_in_review(new_case("少年甲涉嫌盗窃案", persons=[{
        "role": PersonRole.SUSPECT, "name": "少年甲", "birth_date": date(2010, 5, 1),
        "custody_status": CustodyStatus.NOT_DETAINED}]), district, when=at("2026-11-02", 9))
    with pytest.raises(engine.GuardFailed, match="法定代理人应当到场"):
        record_statement(fire, case, upload)
    record_statement(fire, case, upload, guardian_name="甲父")
    assert "值班律师王律师及法定代理人甲父见证下签署" in plea.indictment_lines(case, {})[0]


def test_a_statement_must_be_a_document_of_the_procuratorates_own_dossier(new_case, district, fire, upload):
    case = new_case()
    police_upload = upload(case, "询问笔录", "investigator")
    case = put_in_review(case, district, when=at("2026-11-02", 9))
    with pytest.raises(engine.GuardFailed, match="找不到本院卷宗"):
        fire(case, "record_plea_statement", "prosecutor", counsel_role="duty_lawyer", counsel_name="王律师",
             statement_document=police_upload.pk, sentencing="判处拘役四个月")


def test_fast_track_review_ends_on_day_ten(in_review, district, fire, upload):
    """Art. 172(1): a plea case fitting the fast-track trial is decided within ten days of receipt."""
    assert review_due(in_review) == date(2026, 12, 2)  # one month (art. 172)
    with pytest.raises(engine.GuardFailed, match="认罪认罚均已记录"):
        fire(in_review, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="yes", reason="事实清楚，可能判处三年以下有期徒刑。")
    record_statement(fire, in_review, upload)
    fire(in_review, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="yes", reason="事实清楚，可能判处三年以下有期徒刑。")
    assert review_due(in_review) == date(2026, 11, 12)  # received 2 Nov: day 10 (art. 105: first day not counted)
    with pytest.raises(engine.GuardFailed, match="只能延长至十五日"):  # not the +15 days of the one-month review
        fire(in_review, "extend_review", "prosecutor", decision="案情复杂")


def test_fast_track_review_extended_to_day_fifteen(in_review, district, fire, upload):
    """Art. 172(1): ... extended to fifteen days when the possible sentence exceeds one year; once."""
    record_statement(fire, in_review, upload)
    fire(in_review, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="yes", reason="符合速裁程序适用条件。")
    fire(in_review, "extend_fast_track_review", "prosecutor", decision="可能判处一年六个月有期徒刑。")
    assert review_due(in_review) == date(2026, 11, 17)
    assert TransitionLog.objects.filter(case=in_review, transition="extend_fast_track_review").get().approved_by
    with pytest.raises(engine.GuardFailed, match="只有适用十日速裁审查期限"):
        fire(in_review, "extend_fast_track_review", "prosecutor", decision="再次延长")


def test_a_plea_case_that_does_not_fit_fast_track_keeps_one_month(in_review, district, fire, upload):
    """SPP Rules art. 273: a plea case not fitting the fast track is decided in the period of art. 351
    (one month, +15 days); the fast-track choice reverts to one month from the original receipt."""
    record_statement(fire, in_review, upload)
    assert review_due(in_review) == date(2026, 12, 2)  # a plea alone shortens nothing
    fire(in_review, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="yes", reason="符合速裁程序适用条件。")
    fire(in_review, "revert_fast_track_review", "prosecutor", reason="被告人对量刑建议有异议，不再符合速裁条件。")
    assert review_due(in_review) == date(2026, 12, 2)  # from the receipt on 2 Nov, not from the reversal
    fire(in_review, "extend_review", "prosecutor", decision="重大、复杂案件")
    assert review_due(in_review) == date(2026, 12, 17)


def test_the_fast_track_period_cannot_be_chosen_after_day_ten(in_review, district, fire, upload, time_machine):
    record_statement(fire, in_review, upload)
    time_machine.move_to(at("2026-11-13"))
    with pytest.raises(engine.GuardFailed, match="已超过十日"):
        fire(in_review, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="yes", reason="符合速裁程序适用条件。")


def test_fast_track_trial_is_proposed_only_when_every_defendant_pleads(in_review, district, fire):
    """Art. 222: the fast-track trial needs the defendant's plea."""
    from workflows.definition import get
    from workflows.guards import GuardContext, failing

    spec = get("indict")
    reasons = failing(("procedure_fits_plea",), GuardContext(in_review, spec, district.prosecutor,
                                                             {"procedure": "speedy"}))
    assert reasons and "第二百二十二条" in reasons[0]
    assert not failing(("procedure_fits_plea",), GuardContext(in_review, spec, district.prosecutor,
                                                              {"procedure": "summary"}))


def test_fast_track_only_when_the_case_fits_arts_222_223(in_review, new_case, district, fire, upload):
    """Art. 222: at most three years; art. 223(1)-(2): not for a blind, deaf or mute defendant (the plea of
    art. 174(2)(1)) nor a minor — such plea cases keep one month (SPP Rules art. 273), and the indictment
    cannot propose the fast track (nor, art. 215(1), the summary procedure for art. 174(2)(1))."""
    from workflows.definition import get
    from workflows.guards import GuardContext, failing

    record_statement(fire, in_review, upload)
    with pytest.raises(engine.GuardFailed, match="三年有期徒刑以下"):
        fire(in_review, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="no", reason="认罪认罚")
    fire(in_review, "record_plea_statement", "prosecutor", counsel_role="counsel", counsel_name="赵律师",
         sentencing="判处拘役四个月", exemption="174_2_1")
    with pytest.raises(engine.GuardFailed, match="第二百二十三条第一项"):
        fire(in_review, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="yes", reason="认罪认罚")
    assert review_due(in_review) == date(2026, 12, 2)
    indict = get("indict")
    for procedure, article in (("speedy", "第二百二十三条第一项"), ("summary", "第二百一十五条第一项")):
        reasons = failing(("procedure_fits_plea",), GuardContext(in_review, indict, district.prosecutor,
                                                                 {"procedure": procedure}))
        assert reasons and article in reasons[0]

    minor = put_in_review(new_case("少年甲涉嫌盗窃案", persons=[{
        "role": PersonRole.SUSPECT, "name": "少年甲", "birth_date": date(2010, 5, 1),
        "custody_status": CustodyStatus.NOT_DETAINED}]), district, when=at("2026-11-02", 9))
    record_statement(fire, minor, upload, guardian_name="甲父")
    with pytest.raises(engine.GuardFailed, match="少年甲是未成年人"):
        fire(minor, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="yes", reason="认罪认罚")
