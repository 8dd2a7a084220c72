"""Execution in the community (Community Correction Law art. 20; SPC Interpretation 2021 arts. 515,
519; CPL arts. 265, 269): when a judgment to probation takes effect the court has 5 days to notify the
justice bureau's community correction institution — a signed package — and 10 to send the documents;
where the court decided execution outside prison for a convict in custody, the detention centre has
10 days to hand the person over, and community correction's take-over ends the custody record."""

from __future__ import annotations

from datetime import date

import pytest

from casehub.cases.models import CaseStatus, CustodyStatus
from casehub.clocks.models import Clock, ClockStatus
from casehub.custody.models import CustodyNotice, CustodyRecord, RecordStatus
from tests.workflow.judged import OUTSIDE, PRISON, PROBATION, judged_and_effective
from workflows import engine
from workflows import judgment as judgments


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_probation_community_correction_is_notified_within_five_days_by_a_signed_package(
        case, drive, district, time_machine):
    judged_and_effective(case, drive, district, time_machine, PROBATION)
    notice = Clock.objects.get(case=case, kind="correction_notice")
    assert notice.agency == district.court and notice.period_days == 5 and notice.due_date == date(2026, 3, 18)
    handover = Clock.objects.get(case=case, kind="execution_handover")
    assert handover.period_days == 10

    time_machine.move_to("2026-03-16T10:00:00+08:00")
    drive.fire(case, "notify_community_correction", "court_clerk")
    package = case.transfers.get(kind="correction_notice")
    assert package.to_agency == district.justice and package.manifest_signature
    assert case.stage == "execution"  # the notice does not hand the case over
    notice.refresh_from_db()
    assert notice.status == ClockStatus.STOPPED
    blocked = dict((s.name, r) for s, r in engine.blocked_transitions(case, district.court_clerk))
    assert "已经通知" in blocked["notify_community_correction"][0]  # once

    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="justice")
    drive.fire(case, "accept_execution_correction", "correction_officer")
    assert case.status == CaseStatus.CLOSED


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_sending_the_documents_is_itself_the_notice(case, drive, district, time_machine):
    judged_and_effective(case, drive, district, time_machine, PROBATION)
    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="justice")
    assert Clock.objects.get(case=case, kind="correction_notice").status == ClockStatus.STOPPED


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_a_prison_sentence_has_no_community_correction_notice(case, drive, district, time_machine):
    judged_and_effective(case, drive, district, time_machine, PRISON)
    assert not Clock.objects.filter(case=case, kind="correction_notice").exists()
    with pytest.raises(engine.GuardFailed, match="无须通知社区矫正机构"):
        engine.fire(case, "notify_community_correction", acting_user=district.court_clerk, inputs={})


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_execution_outside_prison_the_detention_centre_hands_over_within_ten_days(
        case, drive, district, time_machine):
    judged_and_effective(case, drive, district, time_machine, OUTSIDE)
    person = case.persons.get()
    assert person.custody_status in (CustodyStatus.DETAINED, CustodyStatus.ARRESTED)  # not released on announcement
    clock = Clock.objects.get(case=case, kind="outside_prison_handover")
    assert clock.agency == district.detention and clock.person == person
    assert clock.period_days == 10 and clock.due_date == date(2026, 3, 23)
    assert Clock.objects.filter(case=case, kind="correction_notice").exists()  # art. 519 applies too

    with pytest.raises(engine.GuardFailed, match="社区矫正"):  # not the police: community correction (art. 269)
        engine.fire(case, "hand_over_for_execution", acting_user=district.court_clerk, inputs={"executor": "police"})
    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="justice")
    drive.fire(case, "accept_execution_correction", "correction_officer")
    clock.refresh_from_db()
    assert clock.status == ClockStatus.STOPPED
    record = CustodyRecord.objects.get(person=person)
    assert record.status == RecordStatus.EXECUTED
    assert CustodyNotice.objects.filter(record=record, kind="execution").exists()  # the detention centre sees it
    assert case.status == CaseStatus.CLOSED


def test_execution_outside_prison_is_only_for_imprisonment_without_probation(case, drive, district):
    from django.core.exceptions import ValidationError

    drive.to_court(case)
    with pytest.raises(ValidationError, match="第二百六十五条"):
        judgments.record_decision(case, case.persons.get(), acting_user=district.judge,
                                  **{**PROBATION, "outside_prison": True})


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_each_executing_authority_gets_its_own_hand_over_once_and_the_case_closes_after_the_last(
        case, drive, district, time_machine):
    """CPL arts. 264, 269: a prison sentence goes to the police, a probation to community correction —
    one hand-over each, never twice; custody ends only for the convict the accepting authority executes."""
    from casehub.cases.models import PersonRole
    from casehub.cases.persons import add_person

    add_person(case, acting_user=district.investigator,
               data={"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.NOT_DETAINED})
    drive.to_court(case)
    zhang, li = case.persons.get(name="张三"), case.persons.get(name="李四")
    judgments.record_decision(case, zhang, acting_user=district.judge, **PRISON)
    judgments.record_decision(case, li, acting_user=district.judge, **PROBATION)
    drive.fire(case, "announce_judgment", "judge", announced_on="2026-03-02", in_court="yes", verdict="见判决结果")
    drive.fire(case, "deliver_judgment", "court_clerk")
    time_machine.move_to("2026-03-13T10:00:00+08:00")
    drive.fire(case, "judgment_effective", "court_clerk")

    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="justice")
    available = {s.name for s in engine.available_transitions(case, district.correction_officer)}
    assert "accept_execution_correction_part" in available and "accept_execution_correction" not in available
    drive.fire(case, "accept_execution_correction_part", "correction_officer")
    assert case.stage == "execution" and case.status == CaseStatus.ACTIVE
    assert CustodyRecord.objects.get(person=zhang).status == RecordStatus.IN_CUSTODY  # not his authority
    assert Clock.objects.get(case=case, kind="execution_handover").status != ClockStatus.STOPPED  # counts on

    with pytest.raises(engine.GuardFailed, match="不重复交付"):
        engine.fire(case, "hand_over_for_execution", acting_user=district.court_clerk, inputs={"executor": "justice"})
    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="police")
    drive.fire(case, "accept_execution", "investigator")
    assert case.status == CaseStatus.CLOSED
    assert CustodyRecord.objects.get(person=zhang).status == RecordStatus.EXECUTED
    packages = case.transfers.filter(kind="execution").order_by("id")
    assert [t.to_agency for t in packages] == [district.justice, district.police]
