"""``manage.py simulate --cases N --start DATE --days D [--seed S] [--paper-share F]``, or
``manage.py simulate --profile PROFILE.toml [--scale F] [--workers N]``.

With ``--profile``, replays a district's reported period (:mod:`casehub.metrics.profile`,
:mod:`casehub.metrics.replay`): the profile's targets are solved into the model's parameters, the
planned cases run through the engine (in ``--workers`` processes), and the period's figures are
counted from the database and printed beside the targets.

Drives N cases through the real workflow engine on a simulated calendar (see
:mod:`casehub.metrics.simulation`), in the simulation district's agencies (created on first run,
codes starting with ``--prefix``). Deterministic for a seed on an empty simulation district.

Refuses ``CASEHUB_ENV=production``, and a database that holds cases no simulation made unless
``--into-existing`` is given: the simulated events would join the append-only audit trail for good.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, timedelta
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
        parser.add_argument("--cases", type=int)
        parser.add_argument("--start", type=_date, help="first simulated day, YYYY-MM-DD")
        parser.add_argument("--days", type=int, help="length of the simulated period")
        parser.add_argument("--profile", help="replay a district profile (TOML) instead of --cases/--start/--days")
        parser.add_argument("--scale", type=float, default=1.0, help="with --profile: fraction of its volume")
        parser.add_argument("--workers", type=int, default=1, help="with --profile: worker processes")
        parser.add_argument("--solve", action="store_true",
                            help="with --profile: solve its parameters again from its targets (and print them)")
        parser.add_argument("--dry-run", action="store_true",
                            help="with --profile: plan and count only, run nothing through the engine")
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
        if o["profile"]:
            self._replay(o)
            return
        if o["cases"] is None or o["start"] is None or o["days"] is None:
            raise CommandError("give --cases, --start and --days, or --profile")
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

    def _replay(self, o: dict[str, Any]) -> None:
        from casehub.celery import app
        from casehub.metrics import profile as pr
        from casehub.metrics import replay
        from casehub.metrics.simulation import SimulationError

        try:
            profile = pr.load_profile(o["profile"])
            if o["scale"] != 1:
                profile = profile.scaled(o["scale"])
        except pr.ProfileError as exc:
            raise CommandError(str(exc)) from exc
        if not 1 <= o["workers"] <= 64:
            raise CommandError("--workers must be between 1 and 64")
        from django.conf import settings

        started = time.perf_counter()
        start_at = pr.period_start(profile, settings.TIME_ZONE)
        cal = pr.prepare(profile, start_at, solve=o["solve"])
        solved = time.perf_counter() - started
        shape = pr.summary(cal.plans, start_at)
        self.stdout.write(f"profile {profile.name} at scale {profile.scale:g}: planned in {solved:.1f} s "
                          f"({cal.iterations} dry runs, seed {cal.seed}); {shape['cases']} cases ({shape['backlog_cases']} "
                          f"registered before the period), {shape['steps']} steps ({shape['steps_before']} "
                          f"before the period)")
        if profile.city is not None:
            self.stdout.write(f"  city level: {shape['sent_up']} cases sent up to the city procuratorate, "
                              f"{shape['appeals']} appeals to the intermediate court")
        self.stdout.write("  parameters: " + ", ".join(f"{k}={v:.4g}" for k, v in vars(cal.params).items()))
        if o["solve"]:
            self.stdout.write(pr.solved_table(cal.params))
        if o["dry_run"]:
            for key in (*pr.VOLUMES, *pr.RATES):
                self.stdout.write(f"  {key}: target {profile.targets[key]:g}, planned {cal.figures[key]:g}")
            return
        eager = app.conf.task_always_eager
        app.conf.task_always_eager = True
        try:
            with override_settings(CELERY_TASK_ALWAYS_EAGER=True):
                district = replay.ensure_districts(profile, cal.plans)
                outcome = replay.run(profile, district, cal.plans, workers=o["workers"])
        except SimulationError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            app.conf.task_always_eager = eager
        self.stdout.write(f"ran {outcome.steps} steps in {outcome.seconds:.1f} s with {o['workers']} worker(s): "
                          f"{outcome.steps / max(outcome.seconds, 1e-9):.2f} steps/s; {outcome.retries} retried, "
                          f"{len(outcome.errors)} failed")
        cpu = outcome.cpu + outcome.db_cpu
        self.stdout.write(f"cpu: {outcome.cpu:.1f} s Python + {outcome.db_cpu:.1f} s PostgreSQL = "
                          f"{cpu / max(outcome.steps, 1) * 1000:.0f} ms per step")
        for error in outcome.errors[:20]:
            self.stderr.write(f"  {error}")
        got = replay.figures(profile, district)
        self.stdout.write(f"{'figure':<26}{'target':>10}{'planned':>10}{'database':>10}")
        for key in (*pr.VOLUMES, *pr.RATES):
            fmt = (lambda v: f"{v * 100:.1f}%") if key in pr.RATES else (lambda v: f"{v:g}")
            self.stdout.write(f"{key:<26}{fmt(profile.targets[key]):>10}{fmt(cal.figures[key]):>10}{fmt(got[key]):>10}")
        small = profile.scale < 1
        missed = pr.lands(got, profile.targets, at_least=1.0 if small else 0.0,
                          rate_points=pr.rate_slack(cal.plans, start_at, start_at + timedelta(days=profile.days))
                          if small else 1.0)
        self.stdout.write("all figures land on their targets" if not missed else "missed: " + "; ".join(missed))
