"""Loading a year's holiday schedule from PyPI ``holidays`` (``holidays.China``).

``holidays.China`` lists statutory holidays and the rest days swapped to 调休, and its
``weekend_workdays`` lists the weekend days worked instead. For years after the last State
Council notice the library only *estimates* (no adjusted working days), so such a year is loaded
as not official and due dates that land in it are provisional until an administrator confirms
the schedule (Django admin, or ``load_holidays --official`` after checking the notice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction

from casehub.audit.services import record_event
from casehub.clocks.models import Holiday, HolidayYear


@dataclass
class LoadResult:
    year: int
    days_off: int
    working_days: int
    official: bool


def schedule_from_library(year: int) -> tuple[dict[date, str], dict[date, str]]:
    """(days off, adjusted working days) of ``year`` according to ``holidays.China``."""
    import holidays

    cn = holidays.China(years=year, language="zh_CN")
    days_off = {d: name for d, name in sorted(cn.items()) if d.year == year}
    working = {d: "调休上班" for d in sorted(getattr(cn, "weekend_workdays", ())) if d.year == year}
    return days_off, working


def load_year(year: int, *, official: bool | None = None, acting_user: Any = None) -> LoadResult:
    """Replace the stored schedule of ``year`` with the library's.

    ``official=None`` trusts the library when it has adjusted working days for the year (it only
    has them once the State Council notice is out); pass True/False to decide explicitly.
    """
    import holidays

    if not 1990 <= year <= 2100:
        raise ValueError(f"year out of range: {year}")
    days_off, working = schedule_from_library(year)
    if official is None:
        official = bool(working)
    with transaction.atomic():
        Holiday.objects.filter(year=year).delete()
        Holiday.objects.bulk_create(
            [Holiday(date=d, name=n[:100], is_working_day=False, year=year) for d, n in days_off.items()]
            + [Holiday(date=d, name=n, is_working_day=True, year=year) for d, n in working.items()]
        )
        HolidayYear.objects.update_or_create(
            year=year, defaults={"is_official": official, "source": f"holidays {holidays.__version__} (China)"}
        )
        record_event("holidays.loaded", actor=acting_user,
                     details={"year": year, "days_off": len(days_off), "working_days": len(working),
                              "official": official})
    return LoadResult(year=year, days_off=len(days_off), working_days=len(working), official=official)
