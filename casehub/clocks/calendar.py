"""The working-day calendar due dates are counted against (节假日及调休).

A day is a working day unless it is a weekend day or a holiday row says it is a day off; an
adjusted working day 调休 (``Holiday.is_working_day=True``) makes a weekend day a working day.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol


class WorkingCalendar(Protocol):
    def is_working_day(self, day: date) -> bool: ...

    def has_official_schedule(self, year: int) -> bool: ...


class DatabaseCalendar:
    """Reads the administrator-maintained ``Holiday``/``HolidayYear`` tables, one query per year."""

    def __init__(self) -> None:
        self._years: dict[int, dict[date, bool]] = {}
        self._official: set[int] | None = None

    def _year(self, year: int) -> dict[date, bool]:
        if year not in self._years:
            from casehub.clocks.models import Holiday

            self._years[year] = dict(Holiday.objects.filter(year=year).values_list("date", "is_working_day"))
        return self._years[year]

    def is_working_day(self, day: date) -> bool:
        override = self._year(day.year).get(day)
        if override is not None:
            return override
        return day.weekday() < 5

    def has_official_schedule(self, year: int) -> bool:
        if self._official is None:
            from casehub.clocks.models import HolidayYear

            self._official = set(HolidayYear.objects.filter(is_official=True).values_list("year", flat=True))
        return year in self._official


class StaticCalendar:
    """An in-memory calendar (tests, previews): ``days_off`` and ``working_days`` override weekends."""

    def __init__(
        self, *, days_off: set[date] = frozenset(), working_days: set[date] = frozenset(),
        official_years: set[int] = frozenset(),
    ) -> None:
        self.days_off = set(days_off)
        self.working_days = set(working_days)
        self.official_years = set(official_years)

    def is_working_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        if day in self.days_off:
            return False
        return day.weekday() < 5

    def has_official_schedule(self, year: int) -> bool:
        return year in self.official_years
