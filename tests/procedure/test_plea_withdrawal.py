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
    fire(case, "adopt_fast_track_review", "prosecutor", reason="符合速裁程序适用条件。")
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
        fire(case, "adopt_fast_track_review", "prosecutor", reason="再次适用")


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
