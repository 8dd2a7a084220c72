"""Rebuild the dashboard's rollup tables from the base tables (after a bulk load, or to check them)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from casehub.metrics import rollup


class Command(BaseCommand):
    help = "Rebuild the metrics rollups from transfers, certificates, clocks and stage stays (--check: compare only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--check", action="store_true",
                            help="compare the maintained rollups with a rebuild, change nothing; exit 1 if they differ")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        started = time.perf_counter()
        if check:
            expected, actual = rollup.expected_snapshot(), rollup.snapshot()
            bad = {t: len(set(expected[t].items()) ^ set(actual[t].items())) for t in expected}
            if any(bad.values()):
                raise CommandError(f"rollups differ from the base tables (differing rows per table: {bad})")
            self.stdout.write(f"rollups match the base tables ({time.perf_counter() - started:.1f} s)")
            return
        counts = rollup.rebuild()
        self.stdout.write(f"rebuilt {counts} in {time.perf_counter() - started:.1f} s")
