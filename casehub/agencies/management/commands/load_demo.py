"""Load the demo district, its users, reference data and a handful of living cases. Idempotent."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from casehub.agencies.demo import DEMO_PASSWORD, ensure_demo_district
from casehub.cases.reference import load_offences


class Command(BaseCommand):
    help = "Create the demo district (agencies, one user per role, demo cases). Safe to run twice."

    def handle(self, *args, **options) -> None:
        if getattr(settings, "PRODUCTION", False):
            raise CommandError("load_demo refuses to run with CASEHUB_ENV=production.")
        agencies, users, created = ensure_demo_district()
        load_offences()
        if "load_holidays" in get_commands():
            year = timezone.localdate().year
            for y in (year, year + 1):
                call_command("load_holidays", year=y, verbosity=0)
        try:
            from casehub.transfers.demo import create_demo_cases
        except ImportError:  # the workflow app provides demo cases once it is installed
            create_demo_cases = None
        if create_demo_cases is not None:
            create_demo_cases(users)
        self.stdout.write(self.style.SUCCESS(
            f"demo district ready ({created} new records); users: {', '.join(sorted(users))}, admin; "
            f"password: {DEMO_PASSWORD}"
        ))
