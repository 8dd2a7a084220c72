"""Opening, extending, pausing, restarting and stopping clocks, each audited."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from casehub.audit.models import AuditEvent
from casehub.clocks.kinds import SPECS, ClockKind
from casehub.clocks.models import Clock, ClockStatus
from casehub.clocks.services import (
    extend_clock,
    open_clock,
    pause_clock,
    restart_clock,
    resume_clock,
    stop_clocks,
)
from tests.clocks.conftest import at

pytestmark = pytest.mark.django_db


def test_every_kind_declares_period_custody_and_article():
    assert set(SPECS) == set(ClockKind.values)
    assert ClockKind.INVESTIGATION_CUSTODY.custody and ClockKind.DETENTION.custody
    assert not ClockKind.REVIEW_PROSECUTION.custody
    assert ClockKind.REVIEW_PROSECUTION.period.months == 1 and ClockKind.REVIEW_PROSECUTION.article == "172"
    assert ClockKind.ARREST_DECISION.period.days == 7


def test_open_review_clock_counts_one_month_and_is_audited(schedule_2026, case, district):
    clock = open_clock(case, ClockKind.REVIEW_PROSECUTION, agency=district.procuratorate, start=at(2026, 3, 10),
                       decision="受理审查起诉")
    assert (clock.due_date, clock.provisional, clock.status) == (date(2026, 4, 10), False, ClockStatus.RUNNING)
    assert clock.remaining_days(date(2026, 4, 7)) == 3
    event = AuditEvent.objects.get(action="clock.opened", object_id=str(clock.pk))
    assert event.case_id == case.pk and event.details["article"] == "172"


def test_custody_clock_per_person_ignores_holidays(schedule_2026, case, district):
    person = case.persons.get()
    clock = open_clock(case, ClockKind.DETENTION, agency=district.police, start=at(2026, 1, 17), person=person)
    assert clock.custody and clock.due_date == date(2026, 2, 16)  # New Year's Eve, not moved


def test_person_of_another_case_is_refused(schedule_2026, case, district):
    from casehub.cases.services import register_case

    other = register_case(acting_user=district.investigator, title="另案", persons=[{"name": "李四"}])
    with pytest.raises(ValidationError):
        open_clock(case, ClockKind.DETENTION, agency=district.police, start=at(2026, 1, 1),
                   person=other.persons.get())
    assert not Clock.objects.exists()


def test_unknown_kind_is_refused(case, district):
    with pytest.raises(ValidationError):
        open_clock(case, "coffee_break", agency=district.police, start=at(2026, 1, 1))


def test_extend_review_by_15_days_with_a_decision(schedule_2026, free_case, district):
    clock = open_clock(free_case, ClockKind.REVIEW_PROSECUTION, agency=district.procuratorate, start=at(2026, 3, 10))
    clock = extend_clock(clock, days=15, decision="深龙检延〔2026〕3号", acting_user=district.prosecutor)
    assert clock.due_date == date(2026, 4, 27)  # 25 Apr is a Saturday
    assert clock.extended_by == "深龙检延〔2026〕3号"
    ext = clock.extensions.get()
    assert (ext.previous_due_date, ext.new_due_date, ext.decided_by) == (
        date(2026, 4, 10), date(2026, 4, 27), district.prosecutor)
    assert AuditEvent.objects.filter(action="clock.extended", object_id=str(clock.pk)).count() == 1


def test_extension_without_decision_or_beyond_the_law_changes_nothing(schedule_2026, free_case, district):
    clock = open_clock(free_case, ClockKind.REVIEW_PROSECUTION, agency=district.procuratorate, start=at(2026, 3, 10))
    with pytest.raises(ValidationError):
        extend_clock(clock, days=15, decision="  ")
    extend_clock(clock, days=15, decision="第一次延长")
    with pytest.raises(ValidationError, match="172"):
        extend_clock(clock, days=1, decision="第二次延长")  # art. 172 allows 15 days once
    clock.refresh_from_db()
    assert clock.due_date == date(2026, 4, 27) and clock.extensions.count() == 1


def test_arrest_decision_clock_cannot_be_extended(schedule_2026, case, district):
    clock = open_clock(case, ClockKind.ARREST_DECISION, agency=district.procuratorate, start=at(2026, 3, 2))
    with pytest.raises(ValidationError):
        extend_clock(clock, days=1, decision="x")


def test_pause_and_resume_shift_the_due_date_by_the_paused_days(schedule_2026, free_case, district):
    clock = open_clock(free_case, ClockKind.TRIAL, agency=district.court, start=at(2026, 3, 2))
    assert clock.due_date == date(2026, 5, 6)  # 2 May is a holiday weekend; 3-5 May off
    clock = pause_clock(clock, at=at(2026, 3, 20), reason="精神病鉴定")
    assert clock.remaining_days(date(2026, 4, 30)) == (date(2026, 5, 6) - date(2026, 3, 20)).days
    with pytest.raises(ValidationError):
        pause_clock(clock, at=at(2026, 3, 21))
    clock = resume_clock(clock, at=at(2026, 3, 30))
    assert clock.paused_days == 10 and clock.status == ClockStatus.RUNNING
    assert clock.due_date == date(2026, 5, 12)  # 2 May + 10 days


def test_restart_stops_the_old_clock_and_starts_a_full_period(schedule_2026, case, district):
    first = open_clock(case, ClockKind.REVIEW_PROSECUTION, agency=district.procuratorate, start=at(2026, 3, 10))
    second = restart_clock(case, ClockKind.REVIEW_PROSECUTION, agency=district.procuratorate,
                           start=at(2026, 5, 11))
    first.refresh_from_db()
    assert first.status == ClockStatus.STOPPED and first.stopped_at == at(2026, 5, 11)
    assert second.status == ClockStatus.RUNNING and second.due_date == date(2026, 6, 11)


def test_stop_clocks_by_kind(schedule_2026, case, district):
    review = open_clock(case, ClockKind.REVIEW_PROSECUTION, agency=district.procuratorate, start=at(2026, 3, 10))
    detention = open_clock(case, ClockKind.DETENTION, agency=district.police, start=at(2026, 3, 1),
                           person=case.persons.get())
    stopped = stop_clocks(case, [ClockKind.REVIEW_PROSECUTION], at=at(2026, 3, 20))
    assert [c.pk for c in stopped] == [review.pk]
    detention.refresh_from_db()
    assert detention.status == ClockStatus.RUNNING
    assert stop_clocks(case, [ClockKind.REVIEW_PROSECUTION], at=at(2026, 3, 21)) == []
    assert len(stop_clocks(case, at=at(2026, 3, 22))) == 1
    review.refresh_from_db()
    assert review.remaining_days(date(2026, 3, 25)) is None


def test_nearest_clock_per_case_for_inbox_countdowns(schedule_2026, case, district):
    from casehub.cases.services import register_case
    from casehub.clocks.selectors import nearest_clocks

    other = register_case(acting_user=district.investigator, title="另案")
    review = open_clock(case, ClockKind.REVIEW_PROSECUTION, agency=district.procuratorate, start=at(2026, 3, 10))
    arrest = open_clock(case, ClockKind.ARREST_DECISION, agency=district.procuratorate, start=at(2026, 3, 10))
    police = open_clock(case, ClockKind.SUPPLEMENTARY_INVESTIGATION, agency=district.police, start=at(2026, 3, 1))
    stop_clocks(case, [ClockKind.ARREST_DECISION], at=at(2026, 3, 11))
    assert nearest_clocks([case.pk, other.pk]) == {case.pk: police}
    assert nearest_clocks([case.pk], agency=district.procuratorate) == {case.pk: review}
    assert arrest.pk not in {c.pk for c in nearest_clocks([case.pk]).values()}
