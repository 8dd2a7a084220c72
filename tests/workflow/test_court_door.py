"""At the court's door and before judgment (issue #15): the court's request for missing material
(SPC Interpretation 2021 art. 219(1)(4)) and the withdrawal of the prosecution after docketing
(SPP Rules 2019 arts. 424, 426; SPC Interpretation art. 296). Each does what the law says and
nothing more: no period restarts that the law does not restart, and only the authority then holding
the case signs for the custody."""

from __future__ import annotations

from datetime import date

import pytest

from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import Clock, ClockStatus
from casehub.custody.models import CustodyRecord
from casehub.objectstore.services import read_bytes
from tests.workflow.test_generated_documents import assert_signed_by, generated, text_of
from workflows import engine
from workflows.models import Transfer, TransferKind

pytestmark = pytest.mark.time_machine("2026-11-02T10:00:00+08:00")  # a Monday


def running(case, kind: str) -> Clock | None:
    return Clock.objects.filter(case=case, kind=kind).exclude(status=ClockStatus.STOPPED).first()


def test_the_court_asks_for_missing_material_and_the_acceptance_review_is_not_restarted(case, drive, district):
    drive.to_review(case)
    drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪")
    acceptance = running(case, ClockKind.COURT_ACCEPTANCE)
    due = acceptance.due_date

    drive.fire(case, "request_court_material", "court_clerk", material="被告人认罪认罚具结书、量刑建议书")
    assert case.stage == "court_filing" and case.holder_agency == district.procuratorate  # still at the door
    material = running(case, ClockKind.COURT_MATERIAL)
    assert material.agency == district.procuratorate and material.due_date == date(2026, 11, 5)  # 3 days
    with pytest.raises(engine.GuardFailed, match="尚未补送"):
        drive.fire(case, "request_court_material", "court_clerk", material="再次")
    # Only the court the case was sent to asks; only the sending procuratorate supplies.
    with pytest.raises(engine.NotAllowed):
        drive.fire(case, "supply_court_material", "investigator", supplied="公安机关补送")

    drive.fire(case, "supply_court_material", "prosecutor", supplied="已上传认罪认罚具结书、量刑建议书")
    assert running(case, ClockKind.COURT_MATERIAL) is None
    acceptance.refresh_from_db()
    assert acceptance.status != ClockStatus.STOPPED and acceptance.due_date == due  # not restarted
    with pytest.raises(engine.GuardFailed, match="没有要求补送"):
        drive.fire(case, "supply_court_material", "prosecutor", supplied="又一次")
    drive.fire(case, "docket_case", "court_clerk")
    assert case.stage == "trial"


@pytest.mark.needs_poppler
def test_a_permitted_withdrawal_sends_the_case_and_custody_back_and_prosecuting_again_needs_new_grounds(
        case, drive, district):
    drive.to_court(case)
    person = case.persons.get()
    assert running(case, ClockKind.TRIAL) is not None

    result = drive.fire(case, "request_prosecution_withdrawal", "prosecutor", ground="evidence",
                        reason="关键证人改变证言，现有证据不能证明张三实施了盗窃")
    assert result.log.approved_by == district.procuratorate_supervisor  # SPP Rules 424: the chief procurator approves
    assert case.stage == "trial"  # the court has not ruled yet
    decision = read_bytes(generated(case, "撤回起诉决定书").stored)
    assert_signed_by(decision, district.procuratorate)
    assert "决定撤回起诉" in text_of(decision) and "第四百二十四条" in text_of(decision)
    with pytest.raises(engine.GuardFailed, match="尚待人民法院裁定"):
        drive.fire(case, "request_prosecution_withdrawal", "prosecutor", ground="other", reason="再次")

    drive.fire(case, "permit_prosecution_withdrawal", "judge")
    assert case.stage == "prosecution_review" and case.holder_agency == district.procuratorate
    assert running(case, ClockKind.TRIAL) is None
    deadline = running(case, ClockKind.WITHDRAWN_PROSECUTION)
    assert deadline.agency == district.procuratorate and deadline.due_date == date(2026, 12, 2)  # 30 days
    assert running(case, ClockKind.REVIEW_PROSECUTION) is None  # no new review period (art. 424 gives none)
    ruling = read_bytes(generated(case, "刑事裁定书（撤回起诉）").stored)
    assert_signed_by(ruling, district.court)
    assert "准许" in text_of(ruling) and "第二百九十六条" in text_of(ruling)
    package = Transfer.objects.get(case=case, kind=TransferKind.PROSECUTION_WITHDRAWAL)
    assert package.from_agency == district.court and package.to_agency == district.procuratorate
    assert CustodyRecord.objects.get(person=person).responsible_agency == district.procuratorate  # 换押

    with pytest.raises(engine.GuardFailed, match="新的事实或者新的证据"):
        drive.fire(case, "indict", "prosecutor", facts="同前", charges="盗窃罪")
    drive.fire(case, "indict", "prosecutor", facts="经补充调取监控录像……", charges="盗窃罪",
               new_grounds="撤回起诉后调取的案发时段监控录像，足以证明原指控的犯罪事实")
    assert case.stage == "court_filing"
    assert Clock.objects.get(pk=deadline.pk).status == ClockStatus.STOPPED


def test_a_permitted_withdrawal_ends_in_non_prosecution_within_thirty_days(case, drive, district):
    drive.to_court(case)
    drive.fire(case, "request_prosecution_withdrawal", "prosecutor", ground="no_crime", reason="查明财物系张三本人所有。")
    text = text_of(read_bytes(generated(case, "撤回起诉决定书").stored))
    assert "查明财物系张三本人所有。经检察长批准" in text and "。。" not in text  # the user's full stop, once
    drive.fire(case, "permit_prosecution_withdrawal", "judge")
    deadline = running(case, ClockKind.WITHDRAWN_PROSECUTION)
    drive.fire(case, "decide_non_prosecution", "prosecutor", facts="查明财物系张三本人所有。",
               legal_basis="刑事诉讼法第一百七十七条第一款", kind="statutory")
    assert case.stage == "closed"
    assert Clock.objects.get(pk=deadline.pk).status == ClockStatus.STOPPED


def test_a_refused_withdrawal_keeps_the_trial_and_its_period_running(case, drive, district):
    drive.to_court(case)
    trial_due = running(case, ClockKind.TRIAL).due_date
    with pytest.raises(engine.GuardFailed, match="没有要求撤回起诉"):
        drive.fire(case, "permit_prosecution_withdrawal", "judge")
    drive.fire(case, "request_prosecution_withdrawal", "prosecutor", ground="other", reason="另案处理更为适宜")
    drive.fire(case, "refuse_prosecution_withdrawal", "judge", reason="开庭审理后没有新的事实和理由，")
    assert case.stage == "trial" and case.holder_agency == district.court
    assert running(case, ClockKind.TRIAL).due_date == trial_due
    assert generated(case, "刑事裁定书（撤回起诉）") is not None
    with pytest.raises(engine.GuardFailed, match="没有要求撤回起诉"):  # a ruling answers one request
        drive.fire(case, "permit_prosecution_withdrawal", "judge")


def test_only_the_prosecuting_procuratorate_withdraws_and_only_before_judgment(case, drive, district):
    drive.to_court(case)
    with pytest.raises(engine.NotAllowed):
        drive.fire(case, "request_prosecution_withdrawal", "investigator", ground="other", reason="公安机关无权撤回")
    assert "request_prosecution_withdrawal" not in {s.name for s in engine.available_transitions(case, district.judge)}
    assert "request_prosecution_withdrawal" in {s.name for s in engine.available_transitions(case, district.prosecutor)}


def test_two_documents_cannot_share_an_effect_name():
    """The withdrawal of a prosecution (撤回起诉决定书) and the police's withdrawal of a case
    (撤销案件决定书) are different documents: a second builder under a taken name is refused, not
    silently swapped in for the first."""
    from workflows import documents

    with pytest.raises(ValueError, match="already built"):
        documents.builder("generate_withdrawal_decision", "另一份文书")(lambda ctx: [])
    assert documents.TITLES["generate_withdrawal_decision"][0] == "撤销案件决定书"


def test_a_permitted_withdrawal_moves_only_the_detained_defendants_custody(case, drive, district):
    """SPP Rules art. 424; SPC Interpretation art. 296: with 张三 detained and 李四 not detained, the
    withdrawal moves 张三's custody to the procuratorate (one certificate) and leaves 李四's measure
    as it was; the 30-day clock bounds only 张三's custody term."""
    from casehub.cases.models import CustodyStatus, PersonRole
    from casehub.cases.persons import add_person
    from casehub.custody.models import CustodyCertificate

    li = add_person(case, acting_user=district.investigator,
                    data={"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.NOT_DETAINED})
    drive.to_court(case)
    zhang = case.persons.get(name="张三")
    drive.fire(case, "request_prosecution_withdrawal", "prosecutor", ground="evidence", reason="证据发生变化")
    drive.fire(case, "permit_prosecution_withdrawal", "judge")
    package = Transfer.objects.get(case=case, kind=TransferKind.PROSECUTION_WITHDRAWAL)
    assert CustodyRecord.objects.get(person=zhang).responsible_agency == district.procuratorate
    assert list(CustodyCertificate.objects.filter(transfer=package).values_list("person__name", flat=True)) == ["张三"]
    li.refresh_from_db()
    assert li.custody_status == CustodyStatus.NOT_DETAINED and not CustodyRecord.objects.filter(person=li).exists()
    assert running(case, ClockKind.WITHDRAWN_PROSECUTION).due_date == date(2026, 12, 2)
