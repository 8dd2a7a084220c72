"""Counting statutory periods (CPL art. 105).

- Art. 105 para. 2: the hour or day on which a period starts is not counted, so a 3-day period
  that starts on 1 March (at any hour) ends at the end of 4 March.
- Months run by the calendar (SPC interpretation of the CPL on counting periods): from a day of
  one month to the same day of the target month; when the target month has no such day, or the
  period starts on the last day of a month, it ends on the last day of the target month
  (31 Jan + 1 month = 28/29 Feb; 30 Apr + 1 month = 31 May).
- Art. 105 para. 4: if the last day is a holiday the period ends on the next working day —
  except a custody period (a suspect or defendant held in custody), which ends on its last day
  regardless.
"""

from __future__ import annotations

import calendar as _cal
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from casehub.clocks.calendar import DatabaseCalendar, WorkingCalendar


@dataclass(frozen=True)
class DueDate:
    date: date
    provisional: bool
    last_day: date  # the last day before any holiday adjustment

    @property
    def moved_for_holiday(self) -> bool:
        return self.date != self.last_day

    def __str__(self) -> str:
        return self.date.isoformat() + (" (provisional)" if self.provisional else "")


def local_day(moment: datetime | date) -> date:
    """The calendar day (in the platform's time zone) on which ``moment`` falls."""
    if isinstance(moment, datetime):
        if timezone.is_aware(moment):
            return timezone.localtime(moment).date()
        return moment.date()
    return moment


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later; the last day of the month when there is no such day or ``day``
    is itself the last day of its month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = _cal.monthrange(year, month)[1]
    if day.day == _cal.monthrange(day.year, day.month)[1]:
        return date(year, month, last)
    return date(year, month, min(day.day, last))


def due_date(
    start: datetime | date,
    *,
    days: int = 0,
    months: int = 0,
    custody: bool = False,
    calendar: WorkingCalendar | None = None,
) -> DueDate:
    """The last day of a period of ``months`` and ``days`` that starts at ``start`` (CPL art. 105).

    Months are applied first, then days (a 1-month period extended by 15 days). ``provisional``
    is True when the result depends on a year whose official holiday schedule is not loaded;
    a custody period never depends on the calendar, so it is never provisional.
    """
    if days < 0 or months < 0:
        raise ValueError("a period cannot be negative")
    if not days and not months:
        raise ValueError("a period needs a number of days or months")
    last_day = add_months(local_day(start), months) + timedelta(days=days)
    if custody:
        return DueDate(date=last_day, provisional=False, last_day=last_day)
    calendar = calendar or DatabaseCalendar()
    end = last_day
    # The longest run of consecutive days off in China is 8-9 days; 60 is a safe stop against a
    # mis-entered calendar marking every day off.
    for _attempt in range(60):
        if calendar.is_working_day(end):
            break
        end += timedelta(days=1)
    else:
        raise ValueError(f"no working day within 60 days after {last_day}: check the holiday calendar")
    provisional = any(not calendar.has_official_schedule(y) for y in range(last_day.year, end.year + 1))
    return DueDate(date=end, provisional=provisional, last_day=last_day)
