"""``manage.py simulate --cases N --start DATE --days D [--seed S] [--paper-share F]``.

Drives N cases through the real workflow engine on a simulated calendar (see
:mod:`casehub.metrics.simulation`), in the simulation district's agencies (created on first run,
codes starting with ``--prefix``). Deterministic for a seed on an empty simulation district.

Refuses ``CASEHUB_ENV=production``, and a database that holds cases no simulation made unless
``--into-existing`` is given: the simulated events would join the append-only audit trail for good.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.test import override_settings


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--start must be a date like 2026-01-01, not {value!r}") from exc


class Command(BaseCommand):
    help = "Simulate realistic case traffic through the real workflow engine."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--cases", type=int, required=True)
        parser.add_argument("--start", type=_date, required=True, help="first simulated day, YYYY-MM-DD")
        parser.add_argument("--days", type=int, required=True, help="length of the simulated period")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--paper-share", type=float, default=0.15,
                            help="share of hand-overs done on paper and only registered (0-1)")
        parser.add_argument("--detained-share", type=float, default=0.6)
        parser.add_argument("--prefix", default="SIM", help="agency-code prefix of the simulation district")
        parser.add_argument("--into-existing", action="store_true",
                            help="simulate even though the database holds real cases (never in production)")

    def handle(self, *args: Any, **o: Any) -> None:
        from casehub.celery import app
        from casehub.metrics.simulation import (
            Options,
            SimulationError,
            ensure_actors,
            refuse_unsafe_target,
            simulate,
        )

        try:
            refuse_unsafe_target(into_existing=o["into_existing"])
        except SimulationError as exc:
            raise CommandError(str(exc)) from exc
        if o["cases"] < 1 or o["cases"] > 100_000:
            raise CommandError("--cases must be between 1 and 100000")
        if o["days"] < 1 or o["days"] > 3660:
            raise CommandError("--days must be between 1 and 3660")
        if not 0 <= o["paper_share"] <= 1 or not 0 <= o["detained_share"] <= 1:
            raise CommandError("--paper-share and --detained-share are fractions between 0 and 1")
        options = Options(cases=o["cases"], start=o["start"], days=o["days"], seed=o["seed"],
                          paper_share=o["paper_share"], detained_share=o["detained_share"])
        started = time.perf_counter()
        # Package verification and document ingest run in-process, in order, as in the embedded default.
        eager = app.conf.task_always_eager
        app.conf.task_always_eager = True
        try:
            with override_settings(CELERY_TASK_ALWAYS_EAGER=True):
                ledger = simulate(options, actors=ensure_actors(o["prefix"]))
        finally:
            app.conf.task_always_eager = eager
        kinds = Counter(f"{t.kind}/{t.mode}" for t in ledger.transfers)
        self.stdout.write(
            f"simulated {len(ledger.cases)} cases, {ledger.steps} steps, {len(ledger.transfers)} transfers, "
            f"{len(ledger.custody)} custody transfers in {time.perf_counter() - started:.1f} s"
        )
        for key, n in sorted(kinds.items()):
            self.stdout.write(f"  {key}: {n}")
