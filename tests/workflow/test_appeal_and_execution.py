"""After the first-instance judgment (issue #17): each defendant's appeal window (CPL art. 230); an
appeal by one of two defendants in a joint crime sends the whole case, with custody, through the
first-instance court to the intermediate court after the window expired (arts. 231, 233(2); SPC
Interpretation arts. 381, 389); the second instance (art. 243, file review not counted art. 235) ends
in a final judgment (art. 244) or a remand that restarts the first-instance period (art. 241; SPC
Interpretation art. 377); with no appeal the judgment takes effect (art. 259) and is handed over for
execution within 10 days (arts. 264, 269) — custody ends and the case closes."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from casehub.cases.models import CaseNumber, CaseStatus, CustodyStatus, PersonRole
from casehub.cases.persons import add_person
from casehub.clocks.counting import local_day
from casehub.clocks.models import Clock, ClockStatus
from casehub.custody.models import CustodyRecord, RecordStatus
from workflows import engine, trial
from workflows import judgment as judgments


def _judged(drive, district, case, *, procedure="ordinary", decisions=None):
    drive.to_review(case)
    drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪")
    drive.fire(case, "docket_case", "court_clerk", procedure=procedure)
    for person in case.persons.filter(role=PersonRole.SUSPECT):
        decision = (decisions or {}).get(person.name) or {"outcome": "guilty", "charge": "盗窃罪",
                                                           "penalty": "fixed_term", "term": "二年"}
        judgments.record_decision(case, person, acting_user=district.judge, **decision)
    drive.fire(case, "announce_judgment", "judge", announced_on=timezone.localdate().isoformat(),
               in_court="yes", verdict="见判决结果")
    drive.fire(case, "deliver_judgment", "court_clerk")
    return case


def _two_defendants(case, district):
    add_person(case, acting_user=district.investigator,
               data={"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.NOT_DETAINED})
    return case


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_each_defendant_has_ten_days_from_the_day_after_receipt(case, drive, district, time_machine):
    _two_defendants(case, district)
    _judged(drive, district, case)
    assert case.stage == "appeal_period" and case.status == CaseStatus.ACTIVE
    windows = Clock.objects.filter(case=case, kind="appeal_period").order_by("person_id")
    assert [w.person.name for w in windows] == ["张三", "李四"]
    assert all(w.period_days == 10 and w.due_date == date(2026, 3, 12) for w in windows)
    # Inside the window the judgment neither takes effect nor goes up.
    blocked = dict((s.name, r) for s, r in engine.blocked_transitions(case, district.court_clerk))
    assert "期满后" in blocked["judgment_effective"][0]


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_one_defendants_appeal_sends_the_whole_joint_case_up_with_custody(case, drive, district, city,
                                                                         time_machine, django_capture_on_commit_callbacks):
    _two_defendants(case, district)
    _judged(drive, district, case)
    zhang = case.persons.get(name="张三")
    time_machine.move_to("2026-03-05T10:00:00+08:00")
    drive.fire(case, "record_appeal", "court_clerk", persons=[zhang.pk], reason="量刑过重")
    forward = Clock.objects.get(case=case, kind="appeal_forward")
    # 3 days after 12 March; a Sunday, but a defendant is in custody (art. 105(4))
    assert forward.agency == district.court and forward.due_date == date(2026, 3, 15)
    with pytest.raises(engine.GuardFailed, match="期满后"):  # not before the window expired
        engine.fire(case, "forward_appeal", acting_user=district.court_clerk, inputs={})

    time_machine.move_to("2026-03-13T10:00:00+08:00")
    with pytest.raises(engine.GuardFailed):  # no appeal by the time the window passed: too late now
        engine.fire(case, "record_appeal", acting_user=district.court_clerk,
                    inputs={"persons": [case.persons.get(name="李四").pk], "reason": "迟到的上诉"})
    assert "judgment_effective" not in {s.name for s in engine.available_transitions(case, district.court_clerk)}
    drive.fire(case, "forward_appeal", "court_clerk")
    assert case.stage == "appeal_filed"
    transfer = case.transfers.get(kind="appeal")
    assert transfer.to_agency == city.court and transfer.requires_acceptance
    assert Clock.objects.get(pk=forward.pk).status == ClockStatus.STOPPED

    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "docket_appeal", acting_user=city.intermediate_clerk, inputs={})
    case.refresh_from_db()
    assert case.stage == "second_instance" and case.holder_agency == city.court
    assert CaseNumber.objects.get(case=case, agency=city.court).number.endswith("粤03刑终1号")
    record = CustodyRecord.objects.get(person=zhang)
    assert record.responsible_agency == city.court  # custody moved with the case (换押)
    second = Clock.objects.get(case=case, kind="second_instance")
    assert second.agency == city.court and second.period_months == 2
    # Both defendants are before the second-instance court: one case, one decision for all.
    assert set(case.persons.filter(role=PersonRole.SUSPECT).values_list("name", flat=True)) == {"张三", "李四"}


def _to_second_instance(case, drive, district, city, time_machine, capture, *, procedure="ordinary"):
    time_machine.move_to("2026-03-02T10:00:00+08:00")
    _judged(drive, district, case, procedure=procedure)
    drive.fire(case, "record_appeal", "court_clerk", persons=[case.persons.get().pk], reason="不服")
    time_machine.move_to("2026-03-13T10:00:00+08:00")
    drive.fire(case, "forward_appeal", "court_clerk")
    with capture(execute=True):
        engine.fire(case, "docket_appeal", acting_user=city.intermediate_clerk, inputs={})
    case.refresh_from_db()
    return case


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_file_review_is_not_counted_and_the_final_judgment_goes_to_execution(
        case, drive, district, city, time_machine, django_capture_on_commit_callbacks):
    _to_second_instance(case, drive, district, city, time_machine, django_capture_on_commit_callbacks)
    judge = city.intermediate_judge
    second = Clock.objects.get(case=case, kind="second_instance")
    due = second.due_date
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "start_file_review", acting_user=judge, inputs={})
    time_machine.move_to("2026-03-23T10:00:00+08:00")
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "end_file_review", acting_user=judge, inputs={})
    second.refresh_from_db()
    assert second.paused_days == 10 and second.due_date > due  # art. 235: not counted
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "decide_second_instance", acting_user=judge,
                    inputs={"result": "upheld", "verdict": "驳回上诉，维持原判。"})
    case.refresh_from_db()
    assert case.stage == "execution" and case.holder_agency == district.court
    handover = Clock.objects.get(case=case, kind="execution_handover")
    assert handover.agency == district.court and handover.period_days == 10


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_a_remand_restarts_the_first_instance_period_and_a_speedy_case_is_retried_as_ordinary(
        case, drive, district, city, time_machine, django_capture_on_commit_callbacks):
    _to_second_instance(case, drive, district, city, time_machine, django_capture_on_commit_callbacks,
                        procedure="speedy")
    time_machine.move_to("2026-03-20T10:00:00+08:00")
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "remand", acting_user=city.intermediate_judge, inputs={"reason": "事实不清、证据不足"})
    case.refresh_from_db()
    assert case.stage == "trial" and case.holder_agency == district.court
    assert trial.procedure(case) == trial.ORDINARY  # SPC Interpretation art. 377
    clock = trial.trial_clock(case)
    assert clock.kind == "trial" and local_day(clock.started_at) == date(2026, 3, 20)
    assert CustodyRecord.objects.get(person=case.persons.get()).responsible_agency == district.court


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_without_appeal_the_judgment_takes_effect_and_execution_ends_custody_and_closes_the_case(
        case, drive, district, time_machine, django_capture_on_commit_callbacks):
    _judged(drive, district, case)
    time_machine.move_to("2026-03-13T10:00:00+08:00")
    drive.fire(case, "judgment_effective", "court_clerk")
    assert case.stage == "execution"
    assert Clock.objects.get(case=case, kind="execution_handover").due_date >= date(2026, 3, 23)
    with pytest.raises(engine.GuardFailed, match="社区矫正"):
        engine.fire(case, "hand_over_for_execution", acting_user=district.court_clerk, inputs={"executor": "justice"})
    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="police")
    transfer = case.transfers.get(kind="execution")
    assert transfer.to_agency == district.police and transfer.manifest_signature
    assert case.status == CaseStatus.ACTIVE  # closes only when the executing authority signed for it
    drive.fire(case, "accept_execution", "investigator")
    transfer.refresh_from_db()
    assert transfer.receipt_signature and transfer.status == "accepted"
    assert case.stage == "closed" and case.status == CaseStatus.CLOSED
    person = case.persons.get()
    assert person.custody_status == CustodyStatus.EXECUTED
    assert CustodyRecord.objects.get(person=person).status == RecordStatus.EXECUTED


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_probation_goes_to_community_correction(case, drive, district, time_machine):
    _judged(drive, district, case, decisions={"张三": {"outcome": "guilty", "charge": "盗窃罪",
                                                     "penalty": "fixed_term", "term": "一年", "probation": True}})
    time_machine.move_to("2026-03-13T10:00:00+08:00")
    drive.fire(case, "judgment_effective", "court_clerk")
    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="justice")
    assert case.transfers.get(kind="execution").to_agency == district.justice
    drive.fire(case, "accept_execution_correction", "correction_officer")
    assert case.status == CaseStatus.CLOSED


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_an_acquittal_closes_once_effective_without_execution(case, drive, district, time_machine):
    """Arts. 259-260: nothing to execute — the effective acquittal closes the case; no hand-over."""
    _judged(drive, district, case, decisions={"张三": {"outcome": "acquitted"}})
    assert case.persons.get().custody_status == CustodyStatus.RELEASED  # released on announcement
    time_machine.move_to("2026-03-13T10:00:00+08:00")
    drive.fire(case, "judgment_effective", "court_clerk")
    with pytest.raises(engine.GuardFailed, match="没有需要交付执行"):
        engine.fire(case, "hand_over_for_execution", acting_user=district.court_clerk, inputs={"executor": "police"})
    drive.fire(case, "close_without_execution", "court_clerk")
    assert case.status == CaseStatus.CLOSED
