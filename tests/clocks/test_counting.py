"""Counting periods (CPL art. 105) against the 2026 State Council schedule."""

from __future__ import annotations

from datetime import date

import pytest

from casehub.clocks.calendar import DatabaseCalendar, StaticCalendar
from casehub.clocks.counting import add_months, due_date
from casehub.clocks.holidays_source import load_year
from casehub.clocks.models import HolidayYear
from tests.clocks.conftest import at

pytestmark = pytest.mark.django_db


def test_start_day_not_counted_whatever_the_hour(schedule_2026):
    # Detained Monday 2 March 2026 at 23:50: the 3-day period ends on Thursday 5 March.
    assert due_date(at(2026, 3, 2, 23, 50), days=3).date == date(2026, 3, 5)
    assert due_date(at(2026, 3, 2, 0, 5), days=3).date == date(2026, 3, 5)


def test_start_counted_in_the_platform_time_zone(schedule_2026):
    from datetime import UTC, datetime

    # 17:00 UTC on 1 March is 01:00 on 2 March in Shanghai: the period starts on 2 March.
    assert due_date(datetime(2026, 3, 1, 17, 0, tzinfo=UTC), days=3).date == date(2026, 3, 5)


def test_last_day_on_a_weekend_moves_to_monday(schedule_2026):
    due = due_date(at(2026, 3, 5), days=3)  # Sunday 8 March
    assert (due.last_day, due.date, due.moved_for_holiday) == (date(2026, 3, 8), date(2026, 3, 9), True)


def test_last_day_in_spring_festival_moves_past_the_whole_break(schedule_2026):
    # 16 Feb 2026 is New Year's Eve; 16-23 Feb are all days off (23 Feb swapped for Sat 28 Feb).
    due = due_date(at(2026, 2, 13), days=3)
    assert due.date == date(2026, 2, 24)
    assert not due.provisional


def test_custody_period_is_never_extended_for_a_holiday(schedule_2026):
    due = due_date(at(2026, 2, 13), days=3, custody=True)
    assert due.date == date(2026, 2, 16)
    assert not due.moved_for_holiday and not due.provisional


def test_adjusted_working_saturday_is_a_working_day(schedule_2026):
    # Saturday 28 Feb 2026 is an adjusted working day 调休: a period ending on it ends on it.
    assert due_date(at(2026, 2, 25), days=3).date == date(2026, 2, 28)
    # Sunday 20 Sep is a working day too; Sat 19 Sep is not.
    assert due_date(at(2026, 9, 16), days=4).date == date(2026, 9, 20)
    assert due_date(at(2026, 9, 15), days=4).date == date(2026, 9, 20)


def test_national_day_break_with_swapped_rest_days(schedule_2026):
    # 1-7 Oct 2026 off (6 and 7 Oct are rest days swapped from 20 Sep and 10 Oct); 8 Oct works.
    assert due_date(at(2026, 9, 3), months=1).date == date(2026, 10, 8)
    assert due_date(at(2026, 9, 3), months=1, custody=True).date == date(2026, 10, 3)


def test_months_run_to_the_same_day_or_the_month_end():
    assert add_months(date(2026, 1, 15), 1) == date(2026, 2, 15)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 4, 30), 1) == date(2026, 5, 31)  # from a month end to a month end
    assert add_months(date(2026, 2, 28), 1) == date(2026, 3, 31)
    assert add_months(date(2026, 11, 30), 2) == date(2027, 1, 31)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)


def test_one_month_from_31_january_ends_on_the_last_day_of_february(schedule_2026):
    # 28 Feb 2026 is a (调休) working Saturday, so no holiday move either.
    assert due_date(at(2026, 1, 31), months=1).date == date(2026, 2, 28)
    assert due_date(at(2026, 1, 31), months=1, custody=True).date == date(2026, 2, 28)


def test_two_month_custody_ending_on_a_sunday_is_not_moved(schedule_2026):
    # Arrested 31 Mar 2026; 2 months -> 31 May 2026, a Sunday: custody ends that day.
    assert due_date(at(2026, 3, 31), months=2, custody=True).date == date(2026, 5, 31)
    assert due_date(at(2026, 3, 31), months=2).date == date(2026, 6, 1)


def test_month_then_days_for_an_extended_review(schedule_2026):
    # Review from 10 Mar 2026: 1 month -> 10 Apr, +15 days -> 25 Apr (Saturday) -> Mon 27 Apr.
    assert due_date(at(2026, 3, 10), months=1, days=15).date == date(2026, 4, 27)


def test_year_without_official_schedule_is_provisional(schedule_2026):
    # Nothing loaded for 2028: the date is counted on weekends only and marked provisional.
    due = due_date(at(2028, 3, 1), days=3)
    assert due.date == date(2028, 3, 6) and due.provisional  # Sat 4 -> Mon 6


def test_estimated_year_is_provisional_until_confirmed(schedule_2026):
    result = load_year(2027)  # the library only estimates 2027 (no adjusted working days yet)
    assert result.official is False
    assert due_date(at(2027, 3, 1), days=3).provisional
    HolidayYear.objects.filter(year=2027).update(is_official=True)
    assert not due_date(at(2027, 3, 1), days=3).provisional


def test_crossing_into_an_unpublished_year_is_provisional(schedule_2026):
    # 31 Dec 2026 is a Thursday working day, but a period whose last day is Sat 2 Jan 2027
    # ends in 2027, whose schedule is not official.
    due = due_date(at(2026, 12, 30), days=3)
    assert due.provisional


def test_custody_period_is_never_provisional():
    assert due_date(at(2031, 1, 1), months=2, custody=True).provisional is False


def test_static_calendar_and_database_calendar_agree(schedule_2026):
    db = DatabaseCalendar()
    static = StaticCalendar(days_off={date(2026, 2, 16)}, working_days={date(2026, 2, 28)})
    for day in (date(2026, 2, 16), date(2026, 2, 28), date(2026, 3, 2)):
        assert db.is_working_day(day) == static.is_working_day(day)


@pytest.mark.parametrize("kwargs", [{"days": -1}, {"months": -1}, {}])
def test_bad_periods_are_refused(kwargs):
    with pytest.raises(ValueError, match="period"):
        due_date(at(2026, 3, 1), calendar=StaticCalendar(), **kwargs)


def test_calendar_marking_every_day_off_is_reported():
    everything_off = StaticCalendar(days_off={date(2026, 3, 1).fromordinal(date(2026, 3, 1).toordinal() + i)
                                              for i in range(100)})
    with pytest.raises(ValueError, match="holiday calendar"):
        due_date(at(2026, 2, 27), days=3, calendar=everything_off)
