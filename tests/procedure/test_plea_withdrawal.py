"""A suspect withdraws the plea before the indictment (撤回认罪认罚, CPL art. 15): the record is kept
and marked withdrawn, per person; the case no longer counts as every suspect pleading, so a
fast-track review period goes back to one month counted from the original receipt (SPP Rules art.
273), the fast-track trial can no longer be proposed (art. 222) and the indictment does not state
the withdrawn plea (art. 176(2))."""

from __future__ import annotations

from datetime import date

import pytest

from casehub.cases.models import CustodyStatus, PersonRole
from tests.procedure.conftest import at, put_in_review
from tests.procedure.test_plea import record_statement, review_due
from workflows import engine, plea
from workflows.models import PleaRecord, TransitionLog

pytestmark = pytest.mark.time_machine(at("2026-11-02"))


@pytest.fixture
def two_suspects(new_case, district):
    case = new_case(persons=[
        {"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.NOT_DETAINED},
        {"role": PersonRole.SUSPECT, "name": "王五", "custody_status": CustodyStatus.NOT_DETAINED},
    ])
    return put_in_review(case, district, when=at("2026-11-02", 9))


def test_a_withdrawn_plea_ends_the_fast_track_review_back_to_one_month_from_receipt(
        two_suspects, district, fire, upload, time_machine):
    """SPP Rules art. 273: the 10-day period needs every suspect's plea; when one withdraws, the review
    goes back to one month from the receipt on 2 Nov — not from the withdrawal."""
    case = two_suspects
    li, wang = case.persons.order_by("id")
    record_statement(fire, case, upload)
    fire(case, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="yes", reason="符合速裁程序适用条件。")
    assert review_due(case) == date(2026, 11, 12)

    time_machine.move_to(at("2026-11-06"))
    fire(case, "withdraw_plea", "prosecutor", persons=[wang.pk], reason="王五翻供，否认参与盗窃。")
    assert review_due(case) == date(2026, 12, 2)
    withdrawn = PleaRecord.objects.get(person=wang)
    assert withdrawn.withdrawn_at is not None and withdrawn.withdrawn_by == district.prosecutor
    assert withdrawn.withdrawal_reason == "王五翻供，否认参与盗窃。" and not withdrawn.confirmed
    assert PleaRecord.objects.get(person=li).confirmed  # the other suspect's plea stands
    assert TransitionLog.objects.filter(case=case, transition="withdraw_plea").exists()
    assert not plea.all_plead(case)

    # The one-month review may again be extended by 15 days (art. 172(1)), and fast track is refused.
    fire(case, "extend_review", "prosecutor", decision="重大、复杂案件")
    assert review_due(case) == date(2026, 12, 17)
    with pytest.raises(engine.GuardFailed, match="每一名犯罪嫌疑人的认罪认罚"):
        fire(case, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="yes", reason="再次适用")


def test_a_withdrawal_without_fast_track_keeps_the_period_and_is_once_per_plea(two_suspects, district, fire, upload):
    """Art. 15: only a recorded, not yet withdrawn plea is withdrawn; the one-month period (art. 172)
    is untouched, even after its +15 days."""
    case = two_suspects
    li, wang = case.persons.order_by("id")
    record_statement(fire, case, upload, persons=[li.pk])
    fire(case, "extend_review", "prosecutor", decision="重大、复杂案件")
    with pytest.raises(engine.GuardFailed, match="王五没有可撤回的认罪认罚记录"):
        fire(case, "withdraw_plea", "prosecutor", persons=[wang.pk], reason="王五翻供")
    fire(case, "withdraw_plea", "prosecutor", persons=[li.pk], reason="李四翻供")
    assert review_due(case) == date(2026, 12, 17)
    with pytest.raises(engine.GuardFailed, match="李四没有可撤回的认罪认罚记录"):
        fire(case, "withdraw_plea", "prosecutor", persons=[li.pk], reason="再次")


def test_the_indictment_does_not_state_a_withdrawn_plea(two_suspects, district, fire, upload):
    """Art. 176(2), 222: no plea sentence for the suspect who withdrew, and no fast-track trial proposed."""
    case = two_suspects
    li, wang = case.persons.order_by("id")
    record_statement(fire, case, upload)
    fire(case, "withdraw_plea", "prosecutor", persons=[wang.pk], reason="王五翻供")
    lines = plea.indictment_lines(case, {"procedure": "ordinary"})
    assert any("被告人李四自愿认罪认罚" in line for line in lines)
    assert not any("王五" in line for line in lines)
    with pytest.raises(engine.GuardFailed, match="第二百二十二条"):
        fire(case, "indict", "prosecutor", facts="入室盗窃。", charges="盗窃罪", procedure="speedy")


def test_the_persons_position_shows_the_withdrawn_plea(two_suspects, district, fire, upload):
    """Art. 15: after the withdrawal the person is no longer shown as pleading; the other still is."""
    from workflows.positions import positions

    case = two_suspects
    li, wang = case.persons.order_by("id")
    record_statement(fire, case, upload)
    fire(case, "withdraw_plea", "prosecutor", persons=[wang.pk], reason="王五翻供")
    shown = positions(case)
    assert shown[wang.pk].plea is False and shown[wang.pk].plea_detail == "已撤回认罪认罚"
    assert shown[li.pk].plea is True


def test_a_plea_withdrawn_during_investigation_leaves_the_recommendation_per_person(new_case, district, fire):
    """Arts. 15, 162(2): the police recorded both suspects' pleas; one withdraws before the transfer for
    review. The record is kept and marked withdrawn, and the 起诉意见书 states only the other's plea."""
    from tests.workflow.test_generated_documents import text_of
    from workflows import documents
    from workflows.definition import get

    case = new_case(persons=[
        {"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.NOT_DETAINED},
        {"role": PersonRole.SUSPECT, "name": "王五", "custody_status": CustodyStatus.NOT_DETAINED}])
    li, wang = case.persons.order_by("id")
    fire(case, "record_plea", "investigator", statement="二人均表示愿意接受处罚。")
    with pytest.raises(engine.GuardFailed, match="没有公安机关记录的"):
        fire(case, "withdraw_police_plea", "investigator", persons=[li.pk, 999999], reason="x")
    fire(case, "withdraw_police_plea", "investigator", persons=[wang.pk], reason="王五翻供，否认参与盗窃。")
    record = PleaRecord.objects.get(person=wang)
    assert record.withdrawn_at is not None and record.withdrawn_by == district.investigator
    assert PleaRecord.objects.get(person=li).withdrawn_at is None
    log = TransitionLog.objects.get(case=case, transition="withdraw_police_plea")
    assert log.inputs["persons"] == [wang.pk] and log.actor == district.investigator
    with pytest.raises(engine.GuardFailed, match="王五没有公安机关记录的"):  # once per plea
        fire(case, "withdraw_police_plea", "investigator", persons=[wang.pk], reason="再次")

    drafts = documents.preview(case, get("transfer_for_review"), user=district.investigator,
                               inputs={"facts": "入室盗窃。", "evidence": "证人证言"})
    text = text_of(drafts[0].pdf)
    assert "犯罪嫌疑人李四自愿如实供述自己的罪行" in text
    assert "犯罪嫌疑人王五自愿如实供述" not in text

    fire(case, "record_plea", "investigator", persons=[wang.pk], statement="王五再次表示认罪认罚。")
    assert PleaRecord.objects.get(person=wang).withdrawn_at is None  # pleads again: counted again


def test_a_suspect_who_withdrew_may_plead_again_before_the_indictment(two_suspects, district, fire, upload):
    """Art. 15; SPP Rules art. 273: the withdrawal does not bar a new plea — recorded again with a new
    statement, the plea is in force, every suspect pleads again, and the indictment states it (art. 176(2))."""
    case = two_suspects
    li, wang = case.persons.order_by("id")
    record_statement(fire, case, upload)
    fire(case, "withdraw_plea", "prosecutor", persons=[wang.pk], reason="王五翻供")
    assert not plea.all_plead(case)
    record_statement(fire, case, upload, persons=[wang.pk], counsel_role="counsel", counsel_name="赵律师")
    again = PleaRecord.objects.get(person=wang)
    assert again.confirmed and again.withdrawn_at is None and again.counsel_name == "赵律师"
    assert plea.all_plead(case)
    fire(case, "adopt_fast_track_review", "prosecutor", sentence_up_to_three_years="yes", reason="符合速裁程序适用条件。")
    assert review_due(case) == date(2026, 11, 12)  # ten days, still from the receipt on 2 Nov
    assert any("被告人王五自愿认罪认罚，在辩护人赵律师见证下" in line for line in plea.indictment_lines(case, {}))
