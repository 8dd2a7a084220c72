"""Load the demo district, its users, reference data and a handful of living cases. Idempotent."""

from __future__ import annotations

from io import StringIO

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from casehub.accounts.demo import DEMO_PASSWORD, ensure_demo_district
from casehub.cases.reference import load_offences


class Command(BaseCommand):
    help = "Create the demo district (agencies, one user per role, demo cases). Safe to run twice."

    def handle(self, *args, **options) -> None:
        if getattr(settings, "PRODUCTION", False):
            raise CommandError("load_demo refuses to run with CASEHUB_ENV=production.")
        agencies, users, created = ensure_demo_district()
        load_offences()
        from casehub.clocks.models import HolidayYear

        this_year = timezone.localdate().year
        for year in (this_year, this_year + 1):
            if not HolidayYear.objects.filter(year=year).exists():
                call_command("load_holidays", year=[year], stdout=StringIO())
        try:
            from casehub.transfers.demo import create_demo_cases
        except ImportError:  # the workflow app provides demo cases once it is installed
            create_demo_cases = None
        if create_demo_cases is not None:
            create_demo_cases(users)
            from casehub.transfers.demo_procedure import create_procedure_demo_cases

            create_procedure_demo_cases(users)  # a plea case, a non-prosecution and a withdrawal
        self.stdout.write(self.style.SUCCESS(
            f"demo district ready ({created} new records); users: {', '.join(sorted(users))}, admin; "
            f"password: {DEMO_PASSWORD}"
        ))
