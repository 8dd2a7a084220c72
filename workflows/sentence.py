"""How much of a sentence the time in custody before the judgment has already served.

Criminal Law arts. 41, 44, 47: custody before the judgment is executed counts against the sentence —
one day of custody for one day of 拘役 or 有期徒刑, one day for two days of 管制. SPC Interpretation
2021 art. 170(3): a defendant in custody whose time in custody has reached the sentence is released
at once on the announcement. The platform computes it from the custody record (the day the person
was first detained for the case) and the term the judge recorded (“一年六个月”, “三个月”, “1年6个月”),
not from a box the judge ticks.

A sentence of N months served from day D ends the day before the corresponding day N months later
(the last day of that month when it has none); the day of detention is the first day of the term, as
the 执行通知书 writes “刑期自……起至……止”.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.utils.translation import gettext as _

from casehub.clocks.counting import local_day

_NUMERALS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER = r"[零一二两三四五六七八九十百\d]+"
_TERM = re.compile(rf"^(?:({_NUMBER})年)?(?:({_NUMBER})个?月)?(?:({_NUMBER})[日天])?")


def parse_number(text: str) -> int | None:
    """``"十五"`` → 15, ``"二十"`` → 20, ``"一百"`` → 100, ``"18"`` → 18."""
    if not text:
        return None
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for char in text:
        if char in _NUMERALS:
            current = _NUMERALS[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


@dataclass(frozen=True)
class Term:
    months: int  # years are counted as 12 months (Criminal Law art. 47 counts by calendar)
    days: int

    def end(self, first_day: date) -> date:
        """The last day of the term served from ``first_day`` (that day included): the day before the
        corresponding day of the last month, or that month's last day when it has no such day."""
        index = first_day.year * 12 + first_day.month - 1 + self.months
        year, month = divmod(index, 12)
        last = calendar.monthrange(year, month + 1)[1]
        if first_day.day > last:
            end = date(year, month + 1, last)
        else:
            end = date(year, month + 1, first_day.day) - timedelta(days=1)
        return end + timedelta(days=self.days)

    @property
    def text(self) -> str:
        years, months = divmod(self.months, 12)
        parts = [_("%(n)s年") % {"n": years} if years else "", _("%(n)s个月") % {"n": months} if months else "",
                 _("%(n)s日") % {"n": self.days} if self.days else ""]
        return "".join(parts)


def parse_term(text: str) -> Term | None:
    """The length of the main penalty from the recorded term: its first clause (“一年六个月，并处罚金……”
    is one year six months); None when it names no length in years, months or days."""
    head = re.split(r"[，,；;（(。\s]", (text or "").strip(), maxsplit=1)[0]
    head = head.removeprefix("有期徒刑").removeprefix("拘役").removeprefix("管制")
    match = _TERM.match(head)
    if match is None or not any(match.groups()):
        return None
    years, months, days = (parse_number(g) if g else 0 for g in match.groups())
    if None in (years, months, days):
        return None
    term = Term(months=int(years or 0) * 12 + int(months or 0), days=int(days or 0))
    return term if term.months or term.days else None


def custody_start(person: Any) -> date | None:
    """The day the person was first held in custody for the case: the custody record's first day, else
    the person's own custody date (a person never detained has none)."""
    try:
        record = person.custody_record
    except Exception:  # noqa: BLE001 - no custody record
        record = None
    if record is not None and record.detained_at is not None:
        return local_day(record.detained_at)
    if getattr(person, "custody_since", None) is not None:
        return local_day(person.custody_since)
    return None


# Days of the sentence one day of custody counts for (Criminal Law arts. 41, 44, 47).
CUSTODY_DAY_COUNTS = {"fixed_term": 1, "criminal_detention": 1, "public_surveillance": 2}


@dataclass(frozen=True)
class Served:
    start: date  # first day in custody
    on: date  # the day compared (the announcement)
    days_in_custody: int
    term: Term
    term_end: date  # the last day of the sentence counted from the first day in custody

    @property
    def reached(self) -> bool:
        return self.term_end <= self.on

    @property
    def text(self) -> str:
        return _("自%(start)s起羁押%(days)s日，判处的刑期%(term)s折抵至%(end)s届满") % {
            "start": _day(self.start), "days": self.days_in_custody, "term": self.term.text, "end": _day(self.term_end)}


def _day(value: date) -> str:
    from django.utils.formats import date_format

    return date_format(value, "DATE_FORMAT")


def served(decision: Any, on: date) -> Served | None:
    """What custody up to ``on`` has served of ``decision``'s sentence (None when the sentence is not a
    term custody counts against, its length cannot be read, or the person was never in custody)."""
    factor = CUSTODY_DAY_COUNTS.get(decision.penalty)
    term = parse_term(decision.term) if factor else None
    start = custody_start(decision.person) if term is not None else None
    if term is None or start is None or start > on:
        return None
    days = (on - start).days + 1
    # 管制: one day in custody serves two days of the sentence.
    if factor == 1:
        end = term.end(start)
    else:
        end = start + timedelta(days=-(-((term.end(start) - start).days + 1) // factor) - 1)
    return Served(start=start, on=on, days_in_custody=days, term=term, term_end=end)


def custody_reached_term(decision: Any, on: date) -> bool:
    """SPC Interpretation art. 170(3): the time in custody up to ``on`` has reached the sentence."""
    result = served(decision, on)
    return result is not None and result.reached
