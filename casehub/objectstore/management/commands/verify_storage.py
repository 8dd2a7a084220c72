"""``manage.py verify_storage [--all]``: re-hash stored objects, report problems, exit non-zero on any.

Exit status: 0 all objects intact; 1 some object missing or corrupt; 2 the store was unreachable.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from casehub.objectstore.models import StorageSweep
from casehub.objectstore.sweep import UNREFERENCED, Problem, run_sweep
from storage import StorageUnavailable


class Command(BaseCommand):
    help = (
        "Re-hash every object referenced by the database (with --all: every object in the store) and "
        "report each missing or corrupt object with the records that own it. Exits 1 if any, 2 if the "
        "store is unreachable."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true",
                            help="also verify objects in the store that no database record references")
        parser.add_argument("--show-unreferenced", action="store_true",
                            help="list unreferenced objects (with --all; they are not an error)")

    def handle(self, *args: Any, **options: Any) -> None:
        scope = StorageSweep.Scope.ALL if options["all"] else StorageSweep.Scope.REFERENCED

        def report(problem: Problem) -> None:
            if problem.problem != UNREFERENCED or options["show_unreferenced"]:
                self.stderr.write(problem.line())

        started = time.perf_counter()
        try:
            sweep = run_sweep(scope=scope, trigger="command", on_problem=report)
        except StorageUnavailable as exc:
            raise CommandError(f"storage unavailable: {exc}", returncode=2) from exc
        seconds = time.perf_counter() - started
        rate = sweep.bytes_checked / seconds / 1e6 if seconds > 0 else 0.0
        summary = (
            f"verified {sweep.objects_checked} objects ({sweep.bytes_checked / 1e6:.1f} MB, {rate:.0f} MB/s) "
            f"in {sweep.store}: {sweep.missing_count} missing, {sweep.corrupt_count} corrupt"
            + (f", {sweep.unreferenced_count} unreferenced" if scope == StorageSweep.Scope.ALL else "")
        )
        if sweep.missing_count or sweep.corrupt_count:
            raise CommandError(summary, returncode=1)
        self.stdout.write(summary)
