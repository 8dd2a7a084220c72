"""``manage.py load_holidays [--year Y ...] [--official|--estimate]``

Loads the State Council holiday schedule (节假日及调休) from PyPI ``holidays``. Without
``--year`` it loads the current and the next year (what a fresh installation and ``load_demo``
need). Afterwards it recounts the active clocks whose due dates changed.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from casehub.clocks.holidays_source import load_year
from casehub.clocks.services import recount_clocks


class Command(BaseCommand):
    help = "Load the holiday schedule of a year (default: this year and next) from holidays.China."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--year", type=int, action="append", dest="years", help="year to load (repeatable)")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--official", action="store_true", help="mark the schedule as checked against the notice")
        group.add_argument("--estimate", action="store_true", help="mark the schedule as an estimate (provisional)")

    def handle(self, *args, years=None, official=False, estimate=False, **options) -> None:
        this_year = timezone.localdate().year
        years = years or [this_year, this_year + 1]
        flag = True if official else False if estimate else None
        for year in years:
            try:
                result = load_year(year, official=flag)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                f"{result.year}: {result.days_off} days off, {result.working_days} adjusted working days, "
                + ("official" if result.official else "ESTIMATE - due dates in this year are provisional")
            )
        changed = recount_clocks()
        if changed:
            self.stdout.write(f"recounted {changed} clock(s)")
