"""Benchmark: how long a sending transition holds the audit chain's lock, and what a stream of
sending transitions costs the read-only case pages (issue #14).

Every audited action of the platform appends to one hash chain whose head row is locked until the
appending transaction commits; a case page view appends ``case.viewed``. So the time a transition
holds that lock is time every page view anywhere may wait. The engine collects a transition's
audit events and appends them at the end of its transaction (``casehub.audit.services.deferred``).

Measured on PostgreSQL (a throw-away database, dropped afterwards) and a throw-away object
directory:

1. the audit-lock hold time of ``transfer_for_review`` of a case whose dossier is 200 pages (the
   send seals, assembles, stamps and signs the volume, generates the 起诉意见书, signs the manifest
   and the custody certificate) — from the first append to the commit; target ≤ 20 ms;
2. requests/s of the case page (``cases:detail``, which records ``case.viewed``) by N client threads,
   alone and while one more thread sends 200-page cases back to back; target: ≤ 10 % fewer.

``--no-defer`` measures the engine as it was before (every event appended when it is recorded).

    .venv/bin/python bench/engine.py [--database-url postgresql://postgres@127.0.0.1:5432/casehub_bench_engine]
        [--pages 200] [--views-threads 4] [--seconds 20] [--no-defer]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/casehub_bench_engine",
                    help="a PostgreSQL database that this benchmark creates and drops")
    ap.add_argument("--pages", type=int, default=200, help="pages of each sent dossier")
    ap.add_argument("--sends", type=int, default=6, help="200-page cases prepared for the stream of sends")
    ap.add_argument("--views-threads", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of each throughput run")
    ap.add_argument("--no-defer", action="store_true", help="append audit events as they are recorded (old engine)")
    ap.add_argument("--sender", nargs="*", type=int, help=argparse.SUPPRESS)  # internal: the sending process
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    return ap.parse_args()


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.startswith("casehub_"):
        raise SystemExit(f"refusing to drop {name!r}: the benchmark database name must start with casehub_")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def setup_django(url: str, workdir: Path, *, migrate: bool = True) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["CASEHUB_DATA_DIR"] = str(workdir)
    os.environ["CASEHUB_STORAGE_URL"] = (workdir / "objects").as_uri()
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    if migrate:
        call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = ["*"]
    settings.CASEHUB_WORKFLOW_APPROVALS = {"transfer_for_review": False}


# --- the audit lock: from the first append of a transaction to its commit -------------------------

holds: list[float] = []
appends: list[float] = []  # time inside the appending step itself (lock wait + inserts)


def instrument_audit_lock() -> None:
    """Time from the first append inside a transaction (the head row's lock; including any wait
    for it) to the end of that transaction's COMMIT, which releases the lock."""
    from django.db import connection, connections

    from casehub.audit import services as audit

    original_chain = audit._chain
    wrapper_class = type(connections["default"])
    original_commit = wrapper_class.commit

    def _chain(events):
        inside = connection.in_atomic_block
        if inside and not getattr(connection, "_bench_lock_at", None):
            connection._bench_lock_at = time.perf_counter()
        started = time.perf_counter()
        try:
            return original_chain(events)
        finally:
            if inside:  # appends of the measured transaction (not those of after-commit work)
                appends.append(time.perf_counter() - started)

    def commit(self):
        original_commit(self)
        started = getattr(self, "_bench_lock_at", None)
        if started:
            holds.append(time.perf_counter() - started)
            self._bench_lock_at = None

    audit._chain = _chain
    wrapper_class.commit = commit


@contextmanager
def not_deferred():
    """The old engine: every event appended (and the head locked) as soon as it is recorded."""
    from casehub.audit import services as audit

    original = audit.deferred
    audit.deferred = lambda: nullcontext()
    try:
        yield
    finally:
        audit.deferred = original


def prepare_case(district, title: str, pages: int):
    from transfer import make_pdf

    from casehub.cases.models import CustodyStatus, PersonRole
    from casehub.cases.services import register_case
    from casehub.dossier import services as dossier

    case = register_case(acting_user=district.investigator, title=title, persons=[{
        "role": PersonRole.SUSPECT, "name": "甲", "custody_status": CustodyStatus.DETAINED,
        "custody_since": "2026-11-01T08:00:00+08:00", "detention_centre": district.detention}])
    for n in range(0, pages, 20):  # documents of 20 pages (scans), one volume of ≤ 200 pages
        dossier.add_generated_document(case=case, acting_user=district.investigator, title=f"证据{n // 20 + 1}",
                                       category="evidence", pdf_bytes=make_pdf(min(20, pages - n), 20 * 1024, n))
    return case


def send(case, district) -> float:
    from workflows import engine, packaging

    packaging._start_verification = lambda pk: None  # verification is a worker's job, not timed here
    start = time.perf_counter()
    engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                inputs={"facts": "基准测试", "evidence": "证人证言\n现场勘验"})
    return time.perf_counter() - start


def views(url: str, users: list, seconds: float) -> int:
    """Case page requests by one client per user, for ``seconds``; returns the number answered."""
    from django.db import connection
    from django.test import Client

    count = [0] * len(users)

    def run(i: int, user) -> None:
        client = Client()
        client.force_login(user)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            response = client.get(url)
            assert response.status_code == 200, response.status_code
            count[i] += 1
        connection.close()

    threads = [threading.Thread(target=run, args=(i, u)) for i, u in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(count)


def sender_process(args: argparse.Namespace) -> None:
    """The stream of sending transitions, in a process of its own (as another web worker would be)."""
    setup_django(args.database_url, Path(args.workdir), migrate=False)
    from casehub.cases.models import Case
    from tests.fixtures.district import build_district

    district = build_district()
    instrument_audit_lock()
    print("ready", flush=True)
    sys.stdin.readline()
    with not_deferred() if args.no_defer else nullcontext():
        for pk in args.sender:
            before = len(holds)
            took = send(Case.objects.get(pk=pk), district)
            print(f"sent {took:.3f} {max(holds[before:], default=0):.4f}", flush=True)


def main() -> None:
    args = parse()
    if args.sender is not None:
        sender_process(args)
        return
    recreate_database(args.database_url)
    try:
        with tempfile.TemporaryDirectory(prefix="casehub-bench-engine-") as tmp:
            setup_django(args.database_url, Path(tmp))
            run(args, Path(tmp))
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(args.database_url)


def run(args: argparse.Namespace, workdir: Path) -> None:
    import subprocess

    from django.db import connection
    from django.urls import reverse

    from tests.fixtures.district import build_district

    district = build_district()
    instrument_audit_lock()
    mode = not_deferred() if args.no_defer else nullcontext()
    print(f"engine: {'audit events appended as recorded (--no-defer)' if args.no_defer else 'audit events deferred'}"
          f", database: {connection.vendor}", flush=True)
    print(f"preparing {args.sends + 1} cases of {args.pages} pages …", flush=True)
    cases = [prepare_case(district, f"基准{i}", args.pages) for i in range(args.sends + 1)]
    viewed = prepare_case(district, "被浏览的案件", 10)
    url = reverse("cases:detail", args=[viewed.pk])

    with mode:
        holds.clear()
        appends.clear()
        took = send(cases[0], district)
    print(f"\n1. one sending transition of a {args.pages}-page dossier: {took * 1000:.0f} ms in total; "
          f"audit lock held {holds[-1] * 1000:.1f} ms (target ≤ 20 ms): {len(appends)} append step(s) taking "
          f"{sum(appends) * 1000:.1f} ms, the rest until the end of COMMIT", flush=True)

    # Readers of the police's own case (the viewed case is never sent).
    users = ([district.investigator, district.police_supervisor] * args.views_threads)[:args.views_threads]
    alone = views(url, users, args.seconds)

    command = [sys.executable, __file__, "--database-url", args.database_url, "--workdir", str(workdir),
               "--sender", *[str(c.pk) for c in cases[1:]]] + (["--no-defer"] if args.no_defer else [])
    sender = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # noqa: S603
                              text=True)
    assert sender.stdout.readline().strip() == "ready"
    sender.stdin.write("go\n")
    sender.stdin.flush()
    busy = views(url, users, args.seconds)
    sender.terminate()
    out, err = sender.communicate(timeout=60)
    sends = [line.split() for line in out.splitlines() if line.startswith("sent ")]
    if not sends:
        print("the sending process completed no send:", err[-3000:])
    send_times = [float(x[1]) for x in sends]
    lock_holds = [float(x[2]) for x in sends]
    rate_alone, rate_busy = alone / args.seconds, busy / args.seconds
    print(f"2. case page, {args.views_threads} client threads, {args.seconds:.0f} s each:")
    print(f"   alone:                       {rate_alone:7.1f} req/s")
    print(f"   with sending transitions:    {rate_busy:7.1f} req/s  ({len(sends)} sends of {args.pages} pages in "
          f"another process, median {statistics.median(send_times) if send_times else 0:.2f} s each; their "
          f"audit-lock holds: max {max(lock_holds, default=0) * 1000:.1f} ms)")
    print(f"   views lose {100 * (1 - rate_busy / rate_alone):.1f} % (target ≤ 10 %)")


if __name__ == "__main__":
    main()
