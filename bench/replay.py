#!/usr/bin/env python
"""Seed replay bench: a district profile replayed through the real engine, with 1 and 2 workers.

For each worker count: a fresh PostgreSQL database (copied from a migrated template), a fresh
object store, then ``manage.py simulate --profile PROFILE --workers N`` — real documents, real
signatures, real clocks. Prints steps, wall time, steps/s, CPU per step (the replay's Python
processes plus their PostgreSQL backends: what the steps cost whatever else the machine does), the
machine's load average before and after (the machine may be shared: read the rates with it),
database and object-store size, the dashboard's response for the period, and the figures against
the profile's targets.

    python bench/replay.py                                       # the seed district, scale 1, workers 1 and 2
    python bench/replay.py --scale 0.1 --workers 1 2
    python bench/replay.py --profile profiles/city-2021.toml --scale 0.01 --workers 2

Needs PostgreSQL (trust auth) on 127.0.0.1 — the CI/dev service. Creates and drops its own
databases (``--database`` and ``<name>_tpl``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default=str(ROOT / "profiles" / "longgang-2020.toml"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/casehub_bench_replay")
    ap.add_argument("--keep", action="store_true", help="keep the last database and data directory")
    return ap.parse_args()


def _admin(url: str, *statements: str) -> None:
    import psycopg

    base = url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        for s in statements:
            conn.execute(s)


def _size(url: str) -> int:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        return conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()[0]


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _env(url: str, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "CASEHUB_DATA_DIR": str(data_dir),
            "CASEHUB_STORAGE_URL": (data_dir / "objects").as_uri(), "PYTHONUNBUFFERED": "1"}


DASHBOARD = """
import time
from django.test import Client
from django.urls import reverse
from casehub.agencies.models import Agency, Role
from casehub.accounts.services import create_user
from casehub.metrics import profile as pr
p = pr.load_profile({profile!r})
params = {{"date_from": p.start.isoformat(), "date_to": (p.end - pr.timedelta(days=1)).isoformat()}}
boards = [("one district", p.prefix + ("0" if p.districts > 1 else "") + "ZFW")]
if p.city is not None:
    boards.append(("city-wide", p.prefix + "CZFW"))
for label, code in boards:
    user = create_user(username=f"bench_auditor_{{code.lower()}}", agency=Agency.objects.get(code=code),
                       roles=[Role.AUDITOR], password=None)
    c = Client(HTTP_HOST="localhost")
    c.force_login(user)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        r = c.get(reverse("metrics:dashboard"), params)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, r.status_code
    print(f"dashboard ({{label}}, the period): " + " / ".join(f"{{x * 1000:.0f}} ms" for x in times))
"""


def main() -> int:
    args = parse_args()
    python = sys.executable
    name = args.database.rsplit("/", 1)[1]
    template = f"{args.database}_tpl"
    tpl_dir = Path(tempfile.mkdtemp(prefix="casehub-replay-tpl-"))
    _admin(args.database, f'DROP DATABASE IF EXISTS "{name}_tpl" WITH (FORCE)', f'CREATE DATABASE "{name}_tpl"')
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=_env(template, tpl_dir), check=True)
    shutil.rmtree(tpl_dir, ignore_errors=True)
    rows = []
    data_dir = None
    try:
        for workers in args.workers:
            _admin(args.database, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                   f'CREATE DATABASE "{name}" TEMPLATE "{name}_tpl"')
            if data_dir is not None:
                shutil.rmtree(data_dir, ignore_errors=True)
            data_dir = Path(tempfile.mkdtemp(prefix="casehub-replay-"))
            before = os.getloadavg()
            started = time.perf_counter()
            out = subprocess.run(
                [python, "manage.py", "simulate", "--profile", args.profile, "--scale", str(args.scale),
                 "--workers", str(workers)], cwd=ROOT, env=_env(args.database, data_dir), capture_output=True,
                text=True)
            wall = time.perf_counter() - started
            after = os.getloadavg()
            print(out.stdout, end="")
            failed = [line for line in out.stderr.splitlines() if line.startswith("  case ")]
            if failed:
                print("failed steps:\n" + "\n".join(failed))
            if out.returncode:
                print(out.stderr[-3000:], file=sys.stderr)
                return out.returncode
            ran = re.search(r"ran (\d+) steps in ([\d.]+) s", out.stdout)
            steps, seconds = int(ran.group(1)), float(ran.group(2))
            per_step = int(re.search(r"= (\d+) ms per step", out.stdout).group(1))
            rows.append((workers, steps, seconds, steps / seconds, per_step, wall, before, after,
                         _size(args.database), _du(data_dir / "objects")))
            board = subprocess.run([python, "manage.py", "shell", "-c", DASHBOARD.format(profile=args.profile)],
                                   cwd=ROOT, env=_env(args.database, data_dir), capture_output=True, text=True)
            print(board.stdout.strip() or board.stderr[-2000:])
    finally:
        if not args.keep:
            _admin(args.database, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if data_dir is not None:
                shutil.rmtree(data_dir, ignore_errors=True)
        _admin(args.database, f'DROP DATABASE IF EXISTS "{name}_tpl" WITH (FORCE)')
    print(f"\nprofile {args.profile} at scale {args.scale:g} on {os.cpu_count()} cores")
    print(f"{'workers':>7} {'steps':>6} {'engine s':>9} {'steps/s':>8} {'cpu ms/step':>11} {'command s':>10} "
          f"{'load before':>16} {'load after':>16} {'db MB':>7} {'objects MB':>10}")
    for w, steps, seconds, rate, per_step, wall, before, after, db, objects in rows:
        print(f"{w:>7} {steps:>6} {seconds:>9.1f} {rate:>8.2f} {per_step:>11} {wall:>10.1f} "
              f"{'/'.join(f'{x:.1f}' for x in before):>16} {'/'.join(f'{x:.1f}' for x in after):>16} "
              f"{db / 1e6:>7.1f} {objects / 1e6:>10.1f}")
    if args.keep and data_dir is not None:
        print(f"kept: {args.database} and {data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
