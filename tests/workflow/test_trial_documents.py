"""The documents of the trial's later steps are generated and PAdES-signed by the agency that issues
them, checked by pyHanko's validator and by poppler's pdfsig (docs/pki.md): the trial court's own
extension (CPL art. 208) and the higher court's approval (SPC Interpretation art. 210); the
procuratorate's 刑事抗诉书 (art. 228); the second-instance ruling (arts. 236, 244) and the remand ruling
(arts. 236(1)(3), 238); the 执行通知书 that goes with the hand-over for execution (art. 264), its term
counted from the first day in custody (Criminal Law art. 47)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from casehub.cases.models import PersonRole
from casehub.objectstore.services import read_bytes
from tests.workflow.test_generated_documents import assert_signed_by, generated, text_of
from workflows import engine
from workflows import judgment as judgments

pytestmark = pytest.mark.needs_poppler


def _judged(drive, district, case, **decision):
    drive.to_court(case)
    for person in case.persons.filter(role=PersonRole.SUSPECT):
        judgments.record_decision(case, person, acting_user=district.judge, **(decision or {
            "outcome": "guilty", "charge": "盗窃罪", "penalty": "fixed_term", "term": "二年"}))
    drive.fire(case, "announce_judgment", "judge", announced_on=timezone.localdate().isoformat(), in_court="yes",
               verdict="见判决结果")
    drive.fire(case, "deliver_judgment", "court_clerk")
    return case


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_the_trial_courts_extension_and_the_higher_courts_approval_are_signed_by_each(case, drive, district, city):
    drive.to_court(case)
    drive.fire(case, "extend_trial", "judge", decision="案情复杂，可能判处三年以上有期徒刑。")
    data = read_bytes(generated(case, "延长审理期限决定书").stored)
    assert_signed_by(data, district.court)
    text = text_of(data)
    assert "适用普通程序审理" in text and "第二百零八条第一款" in text and "延长至三个月" in text
    assert "案情复杂" in text and district.procuratorate.name in text

    drive.fire(case, "request_higher_extension", "judge", ground="civil", reason="附带民事诉讼，需要延长。")
    with django_capture(drive):
        engine.fire(case, "approve_higher_extension", acting_user=city.intermediate_judge,
                    inputs={"decision": "（2026）粤03刑他1号"})
    data = read_bytes(generated(case, "批准延长审理期限决定书").stored)
    assert_signed_by(data, city.court)
    text = text_of(data)
    assert district.court.name in text and "附带民事诉讼" in text and "延长三个月" in text
    assert "（2026）粤03刑他1号" in text


def django_capture(drive):
    return drive.capture(execute=True)


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_the_protest_and_the_second_instance_ruling_are_signed_by_the_procuratorate_and_the_court_above(
        case, drive, district, city, time_machine):
    _judged(drive, district, case)
    person = case.persons.get()
    time_machine.move_to("2026-03-05T10:00:00+08:00")
    drive.fire(case, "protest", "prosecutor", persons=[person.pk], reason="量刑畸轻\n适用法律错误")
    data = read_bytes(generated(case, "刑事抗诉书").stored)
    assert_signed_by(data, district.procuratorate)
    text = text_of(data)
    assert "原审被告人张三" in text and "第二百二十八条" in text and "特提出抗诉" in text
    assert "1. 量刑畸轻" in text and "2. 适用法律错误" in text
    assert city.court.name in text  # addressed to the court one level above, through the trial court
    assert "粤0307刑初" in text

    time_machine.move_to("2026-03-13T10:00:00+08:00")
    drive.fire(case, "forward_appeal", "court_clerk")
    with django_capture(drive):
        engine.fire(case, "docket_appeal", acting_user=city.intermediate_clerk, inputs={})
        engine.fire(case, "decide_second_instance", acting_user=city.intermediate_judge,
                    inputs={"result": "upheld", "verdict": "驳回抗诉，维持原判。"})
    data = read_bytes(generated(case, "刑事裁定书（第二审）").stored)
    assert_signed_by(data, city.court)
    text = text_of(data)
    assert f"抗诉机关{district.procuratorate.name}" in text and "原审被告人张三" in text
    assert "第二百三十六条第一款第一项" in text and "驳回抗诉，维持原判" in text and "本裁定为终审裁定" in text
    assert "粤03刑终" in text and "粤0307刑初" in text


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_the_remand_ruling_sets_the_judgment_aside_and_sends_the_case_back(case, drive, district, city, time_machine):
    _judged(drive, district, case)
    drive.fire(case, "record_appeal", "court_clerk", persons=[case.persons.get().pk], reason="事实不清")
    time_machine.move_to("2026-03-13T10:00:00+08:00")
    drive.fire(case, "forward_appeal", "court_clerk")
    with django_capture(drive):
        engine.fire(case, "docket_appeal", acting_user=city.intermediate_clerk, inputs={})
        engine.fire(case, "remand", acting_user=city.intermediate_judge, inputs={"reason": "原判事实不清、证据不足"})
    data = read_bytes(generated(case, "刑事裁定书（发回重审）").stored)
    assert_signed_by(data, city.court)
    text = text_of(data)
    assert "上诉人（原审被告人）张三" in text and "原判事实不清、证据不足" in text
    assert f"撤销{district.court.name}" in text and f"发回{district.court.name}重新审判" in text
    assert "第二百三十八条" in text and "粤0307刑初1号" in text
    # Art. 241: the retrial is a new first-instance case with its own number.
    from casehub.cases.models import CaseNumber

    numbers = list(CaseNumber.objects.filter(case=case, agency=district.court).order_by("issued_at", "id")
                   .values_list("number", flat=True))
    assert [n[-8:] for n in numbers] == ["0307刑初1号", "0307刑初2号"]


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_the_execution_notice_travels_with_the_hand_over_and_counts_the_term_from_custody(
        case, drive, district, time_machine):
    _judged(drive, district, case)  # 张三 detained since 28 February, two years
    time_machine.move_to("2026-03-13T10:00:00+08:00")
    drive.fire(case, "judgment_effective", "court_clerk")
    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="police")
    notice = generated(case, "执行通知书")
    data = read_bytes(notice.stored)
    assert_signed_by(data, district.court)
    text = text_of(data)
    assert district.police.name in text and "罪犯张三" in text and "第二百六十四条" in text
    assert "刑期自2026年2月28日起至2028年2月27日止" in text
    assert "该判决已于2026年3月13日发生法律效力" in text
    transfer = case.transfers.get(kind="execution")
    assert notice in transfer.documents.all()
