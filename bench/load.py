#!/usr/bin/env python
"""Load test: casehub under gunicorn with PostgreSQL, Redis and a Celery worker on this machine.

Many users of several agencies in two districts, for a fixed time, with a plain asyncio + httpx
driver (no locust):

* readers (investigators, supervisors, prosecutors, court clerks of both districts) open their
  home inbox, the case list, a case page, the transfers inbox, and download dossier documents;
* one police investigator + supervisor pair per district drives transitions through the REST API
  on its own cases: transfer for review (needs approval) → supervisor approves (the package is
  sealed, signed and queued for verification) → withdraw → … .

Report: requests/s, p50/p95/p99 latency per operation, errors, and — checked against the
transition log after the run — lost transitions (the client got 200 but no log row) and
duplicated ones (more log rows than successful requests). The bar is zero errors and zero lost
or duplicated transitions.

    python bench/load.py                         # 20 s, 24 users (what `make bench` runs)
    python bench/load.py --duration 60 --users 40 --gunicorn-workers 4

Needs PostgreSQL (trust auth) and Redis on 127.0.0.1 — the CI/dev services. Creates and drops
its own database (``--database``) and uses Redis databases 10 and 11.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    ap.add_argument("--users", type=int, default=24, help="concurrent reading users (default 24)")
    ap.add_argument("--cases", type=int, default=15, help="cases per district (default 15)")
    ap.add_argument("--gunicorn-workers", type=int, default=3)
    ap.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/casehub_bench_load")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379")
    ap.add_argument("--keep", action="store_true", help="keep the database and data directory")
    return ap.parse_args()


# --- environment and set-up --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _recreate_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop_database(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pdf(label: str, pages: int = 2) -> bytes:
    import io

    import pikepdf

    doc = pikepdf.new()
    for _ in range(pages):
        doc.add_blank_page(page_size=(595, 842))
    doc.docinfo["/Title"] = label
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def populate(args: argparse.Namespace, data_dir: Path) -> dict:
    """Migrate, create two districts with cases and documents; return ids, cookies and tokens."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from casehub.agencies.models import Agency
    from casehub.api.credentials import issue_personal_token
    from casehub.cases.services import register_case
    from casehub.dossier import services as dossier
    from casehub.dossier.models import Document
    from tests.fixtures.district import build_district

    districts = {"A": build_district(""), "B": build_district("B")}
    for i, (_key, d) in enumerate(districts.items()):
        Agency.objects.filter(pk__in=[a.pk for a in (d.police, d.procuratorate, d.court, d.detention,
                                                     d.committee)]).update(region=f"44030{7 + i}")
    out: dict = {"sessions": {}, "tokens": {}, "cases": {}, "documents": {}, "actor_cases": {}}
    for key, d in districts.items():
        for role, user in d.users.items():
            s = SessionStore()
            s[SESSION_KEY], s[BACKEND_SESSION_KEY] = str(user.pk), settings.AUTHENTICATION_BACKENDS[1]
            s[HASH_SESSION_KEY] = user.get_session_auth_hash()
            s.create()
            out["sessions"][f"{key}:{role}"] = s.session_key
        for role in ("investigator", "police_supervisor"):
            out["tokens"][f"{key}:{role}"] = issue_personal_token(acting_user=d.users[role], name="bench").token
        ids = []
        for n in range(args.cases):
            case = register_case(acting_user=d.investigator, title=f"{key}区压测案件{n:03d}", persons=[
                {"name": f"压测嫌疑人{n}", "sex": "M"}])
            path = data_dir / f"{key}-{n}.pdf"
            path.write_bytes(_pdf(f"{key}-{n}"))
            job = dossier.ingest_upload(case=case, acting_user=d.investigator, uploaded_file_or_path=path,
                                        title="询问笔录", category="evidence")
            assert job.status == "done", job.message
            ids.append(case.pk)
        out["cases"][key] = ids
        out["documents"][key] = list(Document.objects.filter(case_id__in=ids).values_list("pk", flat=True))
        out["actor_cases"][key] = ids[: max(2, args.cases // 3)]  # the pair's own cases
    return out


def start_services(args: argparse.Namespace, env: dict, port: int, log_dir: Path) -> list[subprocess.Popen]:
    procs = []
    worker_log = (log_dir / "worker.log").open("wb")
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "casehub", "worker", "--pool=solo", "--without-gossip",
         "--without-mingle", "--loglevel=WARNING"], cwd=ROOT, env=env, stdout=worker_log, stderr=subprocess.STDOUT,
        start_new_session=True))
    web_log = (log_dir / "gunicorn.log").open("wb")
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "casehub.wsgi", "-b", f"127.0.0.1:{port}",
         "--workers", str(args.gunicorn_workers), "--timeout", "120", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=web_log, stderr=subprocess.STDOUT, start_new_session=True))
    return procs


def stop_services(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


# --- the driver ------------------------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, Counter] = defaultdict(Counter)
        self.errors: list[str] = []
        self.transitions: Counter = Counter()  # (case_id, transition) -> successful requests
        self.conflicts = 0

    def record(self, op: str, started: float, status: int, ok: bool, note: str = "") -> None:
        self.latency[op].append(time.perf_counter() - started)
        self.status[op][status] += 1
        if not ok:
            self.errors.append(f"{op}: {status} {note}"[:300])


POLICE_READERS = {"investigator", "police_supervisor"}


async def reader(client, stats: Stats, plan: dict, key: str, role: str, deadline: float,
                 rng: random.Random) -> None:
    """A user's working loop. The police read their cases and documents; the procuratorate and
    the court (who do not hold these cases) work from their inboxes and case lists."""
    if role in POLICE_READERS:
        ops = [("home", 30), ("case_list", 15), ("case_detail", 25), ("download", 20), ("transfers_inbox", 10)]
    else:
        ops = [("home", 50), ("case_list", 25), ("transfers_inbox", 25)]
    names, weights = zip(*ops, strict=True)
    while time.monotonic() < deadline:
        op = rng.choices(names, weights)[0]
        if op == "home":
            url = "/"
        elif op == "case_list":
            url = "/cases/"
        elif op == "case_detail":
            url = f"/cases/{rng.choice(plan['cases'][key])}/"
        elif op == "download":
            url = f"/dossier/document/{rng.choice(plan['documents'][key])}/file/?download=1"
        else:
            url = "/transfers/inbox/"
        started = time.perf_counter()
        try:
            r = await client.get(url)
            await r.aread()
            stats.record(op, started, r.status_code, r.status_code == 200, url)
        except Exception as exc:  # noqa: BLE001 - a failed request is an error to report
            stats.record(op, started, 0, False, f"{url} {type(exc).__name__}: {exc}")


async def transition_pair(investigator, supervisor, stats: Stats, cases: list[int], deadline: float) -> None:
    """transfer_for_review → approve → withdraw, round-robin over the pair's own cases."""
    i = 0
    while time.monotonic() < deadline:
        case = cases[i % len(cases)]
        i += 1
        started = time.perf_counter()
        r = await investigator.post(f"/api/v1/cases/{case}/actions/transfer_for_review/",
                                    json={"facts": "经侦查查明……", "evidence": "证人证言\n现场勘验"})
        ok = r.status_code == 200
        stats.record("transfer_for_review", started, r.status_code, ok, r.text[:200])
        if not ok:
            continue
        approval = r.json()["approval"]
        started = time.perf_counter()
        r = await supervisor.post(f"/api/v1/approvals/{approval}/decide/", json={"approve": True, "comment": "同意"})
        ok = r.status_code == 200
        stats.record("approve (seal+sign+send)", started, r.status_code, ok, r.text[:200])
        if not ok:
            continue
        stats.transitions[(case, "transfer_for_review")] += 1
        started = time.perf_counter()
        r = await investigator.post(f"/api/v1/cases/{case}/actions/withdraw_review_transfer/",
                                    json={"reason": "压测撤回"})
        ok = r.status_code == 200
        stats.record("withdraw_review_transfer", started, r.status_code, ok, r.text[:200])
        if ok:
            stats.transitions[(case, "withdraw_review_transfer")] += 1


async def drive(args: argparse.Namespace, base_url: str, plan: dict) -> tuple[Stats, float]:
    import httpx

    stats = Stats()
    limits = httpx.Limits(max_connections=args.users + 8)
    reader_roles = ["investigator", "prosecutor", "police_supervisor", "court_clerk", "procuratorate_supervisor",
                    "judge"]
    clients, tasks = [], []
    deadline = time.monotonic() + args.duration
    started = time.monotonic()
    for n in range(args.users):
        key = "A" if n % 2 == 0 else "B"
        role = reader_roles[(n // 2) % len(reader_roles)]
        c = httpx.AsyncClient(base_url=base_url, cookies={"sessionid": plan["sessions"][f"{key}:{role}"]},
                              timeout=120, limits=limits)
        clients.append(c)
        tasks.append(reader(c, stats, plan, key, role, deadline, random.Random(n)))
    for key in ("A", "B"):
        inv = httpx.AsyncClient(base_url=base_url, timeout=120,
                                headers={"Authorization": f"Bearer {plan['tokens'][f'{key}:investigator']}"})
        sup = httpx.AsyncClient(base_url=base_url, timeout=120,
                                headers={"Authorization": f"Bearer {plan['tokens'][f'{key}:police_supervisor']}"})
        clients += [inv, sup]
        tasks.append(transition_pair(inv, sup, stats, plan["actor_cases"][key], deadline))
    await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    for c in clients:
        await c.aclose()
    return stats, elapsed


def check_transitions(stats: Stats, plan: dict) -> tuple[int, int, int]:
    """(checked, lost, duplicated) against the transition log written during the run."""
    from django.db import connections

    from workflows.models import TransitionLog

    connections.close_all()
    cases = [c for key in ("A", "B") for c in plan["actor_cases"][key]]
    logged = Counter((row[0], row[1]) for row in TransitionLog.objects.filter(
        case_id__in=cases, transition__in=["transfer_for_review", "withdraw_review_transfer"]
    ).values_list("case_id", "transition"))
    lost = sum(max(0, n - logged.get(k, 0)) for k, n in stats.transitions.items())
    duplicated = sum(max(0, n - stats.transitions.get(k, 0)) for k, n in logged.items())
    return sum(stats.transitions.values()), lost, duplicated


def report(stats: Stats, elapsed: float, checked: int, lost: int, duplicated: int, args: argparse.Namespace) -> None:
    def pct(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else (
            values[0] * 1000 if values else 0.0)

    total = sum(len(v) for v in stats.latency.values())
    print(f"\ncasehub load: {elapsed:.1f} s, {args.users} reading users + 2 transition pairs, "
          f"gunicorn {args.gunicorn_workers} workers, PostgreSQL, Redis, 1 Celery worker")
    print(f"{'operation':<28}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for op in sorted(stats.latency):
        values = stats.latency[op]
        errors = sum(n for status, n in stats.status[op].items() if status != 200)
        print(f"{op:<28}{len(values):>9}{len(values) / elapsed:>8.1f}{pct(values, 50):>9.0f}"
              f"{pct(values, 95):>9.0f}{pct(values, 99):>9.0f}{errors:>8}")
    every = [x for v in stats.latency.values() for x in v]
    print(f"{'all':<28}{total:>9}{total / elapsed:>8.1f}{pct(every, 50):>9.0f}{pct(every, 95):>9.0f}"
          f"{pct(every, 99):>9.0f}{len(stats.errors):>8}")
    print(f"transitions: {checked} succeeded; lost {lost}, duplicated {duplicated} (checked against the log)")
    for line in stats.errors[:10]:
        print(f"  error: {line}")


def main() -> int:
    args = parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="casehub-load-"))
    secret, kek = secrets.token_urlsafe(64), base64.b64encode(secrets.token_bytes(32)).decode()
    common = {
        "DJANGO_SETTINGS_MODULE": "casehub.settings", "DATABASE_URL": args.database,
        "CASEHUB_STORAGE_URL": (data_dir / "objects").as_uri(), "CASEHUB_DATA_DIR": str(data_dir),
        "SECRET_KEY": secret, "CASEHUB_KEY_ENCRYPTION_KEY": kek, "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    # Set-up runs in this process with tasks eager (no broker); the services get Redis.
    os.environ.update(common)
    os.environ.pop("CELERY_BROKER_URL", None)
    print(f"set-up: database {args.database.rsplit('/', 1)[-1]}, {args.cases} cases per district …", flush=True)
    t0 = time.monotonic()
    _recreate_database(args.database)
    plan = populate(args, data_dir)
    print(f"set-up: {time.monotonic() - t0:.0f} s", flush=True)
    service_env = dict(os.environ, **common, CELERY_BROKER_URL=f"{args.redis}/10",
                       CASEHUB_CACHE_URL=f"{args.redis}/11")
    port = _free_port()
    procs = start_services(args, service_env, port, data_dir)
    try:
        import httpx

        for _ in range(120):  # wait for gunicorn
            try:
                if httpx.get(f"http://127.0.0.1:{port}/login/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            print((data_dir / "gunicorn.log").read_text(errors="replace")[-3000:])
            return 2
        stats, elapsed = asyncio.run(drive(args, f"http://127.0.0.1:{port}", plan))
    finally:
        stop_services(procs)
    checked, lost, duplicated = check_transitions(stats, plan)
    report(stats, elapsed, checked, lost, duplicated, args)
    if not args.keep:
        from django.db import connections

        connections.close_all()
        _drop_database(args.database)
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        print(f"kept: {args.database} and {data_dir}")
    return 0 if not stats.errors and not lost and not duplicated else 1


if __name__ == "__main__":
    sys.exit(main())
