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
2. requests/s and the p50/p99 latency of the case page (``cases:detail``, which records
   ``case.viewed``) by N client threads, idle (for ``--seconds``) and while another process runs
   ``--sends`` sending transitions of 200-page cases back to back (until they are done); target:
   throughput ≤ 10 % lower, p99 ≤ 1.2 × idle.

``--approvals`` makes the stream what it is in production: the officer asks for approval
(``transfer_for_review`` needs it) and the supervisor's ``decide_approval`` runs the transition;
the lock times are then those of each approval. For every timed transition the benchmark reports
how long it held the audit chain's head lock (first append → end of COMMIT) and the case row's lock
(``SELECT … FOR UPDATE`` → end of COMMIT). ``--rounds N`` repeats the idle/busy pair N times and
reports medians (the machine is shared: single runs are noisy); the load average is printed.

The engine rehearses a transition's apply phase (rolled back) before it applies it; the case row's
lock in the rehearsal is reported separately. Because the development machine is shared, the
benchmark also reports CPU seconds of its own processes — per send, per view request, and while the
sender held the audit lock and the case row — which other jobs on the machine do not inflate.

``--no-defer`` measures the engine as it was before the audit events were batched (every event
appended when it is recorded).

    .venv/bin/python bench/engine.py [--database-url postgresql://postgres@127.0.0.1:5432/casehub_bench_engine]
        [--pages 200] [--views-threads 2] [--seconds 20] [--rounds 3] [--approvals] [--no-defer]
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
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/casehub_bench_engine",
                    help="a PostgreSQL database that this benchmark creates and drops")
    ap.add_argument("--pages", type=int, default=200, help="pages of each sent dossier")
    ap.add_argument("--sends", type=int, default=2,
                    help="sending transitions per round (the busy views run until they are done)")
    ap.add_argument("--views-threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=20.0, help="duration of each throughput run")
    ap.add_argument("--no-defer", action="store_true", help="append audit events as they are recorded (old engine)")
    ap.add_argument("--approvals", action="store_true",
                    help="send through approval: the supervisor's decide_approval runs each transition")
    ap.add_argument("--rounds", type=int, default=1, help="idle/busy pairs of throughput runs (medians reported)")
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
batch_sizes: list[int] = []  # events appended by each step
# Each case page's own append (``case.viewed``, in its own short transaction): waiting for the head's
# lock, the statements and the COMMIT — what a view can lose to a sender holding the lock.
view_appends: list[float] = []
locked_statements: list[int] = []  # SQL statements run while the audit lock was held (per transaction)
case_holds: list[float] = []  # the case row's lock: SELECT … FOR UPDATE in the engine → end of COMMIT
rehearsal_holds: list[float] = []  # the same lock in the engine's rehearsal (SELECT … FOR UPDATE → ROLLBACK)
send_cpu: list[float] = []  # CPU seconds of the sending process per timed transition (load-independent)
# CPU seconds the sending process spent while it held each lock (load-independent; the database
# server's own time is not in it): audit chain, case row in the transaction, case row in the rehearsal.
audit_cpu: list[float] = []
case_cpu: list[float] = []
rehearsal_cpu: list[float] = []


def instrument_audit_lock() -> None:
    """Time from the first append inside a transaction (the head row's lock; including any wait
    for it) to the end of that transaction's COMMIT, which releases the lock."""
    from django.db import connection, connections

    from casehub.audit import services as audit

    original_append = audit._locked_append
    wrapper_class = type(connections["default"])
    original_commit = wrapper_class.commit

    def count_statements(execute, sql, params, many, context):
        if getattr(connection, "_bench_lock_at", None):
            connection._bench_statements += 1
        return execute(sql, params, many, context)

    connection.execute_wrappers.append(count_statements)

    def _locked_append(items, prepared):
        inside = connection.in_atomic_block
        if inside and not getattr(connection, "_bench_lock_at", None):
            connection._bench_lock_at = time.perf_counter()
            connection._bench_lock_cpu = time.process_time()
            connection._bench_statements = 0
        started = time.perf_counter()
        try:
            return original_append(items, prepared)
        finally:
            if inside:  # appends of the measured transaction (not those of after-commit work)
                appends.append(time.perf_counter() - started)
                batch_sizes.append(len(items))
            else:  # a transaction of its own: a page view's (the lock wait, the append and the COMMIT)
                view_appends.append(time.perf_counter() - started)

    def commit(self):
        original_commit(self)
        started = getattr(self, "_bench_lock_at", None)
        if started:
            holds.append(time.perf_counter() - started)
            locked_statements.append(self._bench_statements)
            audit_cpu.append(time.process_time() - self._bench_lock_cpu)
            self._bench_lock_at = None
        case_locked = getattr(self, "_bench_case_lock_at", None)
        if case_locked:
            case_holds.append(time.perf_counter() - case_locked)
            case_cpu.append(time.process_time() - self._bench_case_lock_cpu)
            self._bench_case_lock_at = None

    def rollback(self):
        original_rollback(self)
        case_locked = getattr(self, "_bench_case_lock_at", None)
        if case_locked:
            rehearsal_holds.append(time.perf_counter() - case_locked)
            rehearsal_cpu.append(time.process_time() - self._bench_case_lock_cpu)
        self._bench_lock_at = self._bench_case_lock_at = None

    from workflows import engine

    original_lock = engine._lock
    original_rollback = wrapper_class.rollback

    def _lock(case):
        if not getattr(connection, "_bench_case_lock_at", None):
            connection._bench_case_lock_at = time.perf_counter()
            connection._bench_case_lock_cpu = time.process_time()
        return original_lock(case)

    audit._locked_append = _locked_append
    wrapper_class.commit = commit
    wrapper_class.rollback = rollback
    engine._lock = _lock


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


def send(case, district, *, approvals: bool = False) -> float:
    """One sending transition; with ``approvals`` the officer asks and the supervisor's approval
    (timed) runs it. Returns the seconds of the timed call."""
    from django.conf import settings

    from workflows import engine, packaging

    packaging._start_verification = lambda pk: None  # verification is a worker's job, not timed here
    settings.CASEHUB_WORKFLOW_APPROVALS = {"transfer_for_review": approvals}
    inputs = {"facts": "基准测试", "evidence": "证人证言\n现场勘验"}
    if approvals:
        asked = engine.fire(case, "transfer_for_review", acting_user=district.investigator, inputs=inputs)
        holds.clear()
        appends.clear()
        batch_sizes.clear()
        locked_statements.clear()
        case_holds.clear()
        rehearsal_holds.clear()
        for cpu_list in (audit_cpu, case_cpu, rehearsal_cpu):
            cpu_list.clear()
        cpu = time.process_time()
        start = time.perf_counter()
        result = engine.decide_approval(asked.approval, acting_user=district.police_supervisor, approve=True)
        took = time.perf_counter() - start
        send_cpu.append(time.process_time() - cpu)
        assert result is not None and result.transfer is not None
        return took
    holds.clear()
    appends.clear()
    batch_sizes.clear()
    locked_statements.clear()
    case_holds.clear()
    rehearsal_holds.clear()
    for cpu_list in (audit_cpu, case_cpu, rehearsal_cpu):
        cpu_list.clear()
    cpu = time.process_time()
    start = time.perf_counter()
    engine.fire(case, "transfer_for_review", acting_user=district.investigator, inputs=inputs)
    send_cpu.append(time.process_time() - cpu)
    return time.perf_counter() - start


def views(url: str, users: list, seconds: float, until: Any = None) -> list[float]:
    """Case page requests by one client per user, for ``seconds`` (with ``until``: at least that long
    and then until ``until()`` is true); returns each answered request's latency in seconds."""
    from django.db import connection
    from django.test import Client

    latencies: list[list[float]] = [[] for _ in users]

    def run(i: int, user) -> None:
        client = Client()
        client.force_login(user)
        deadline = time.perf_counter() + seconds
        while (started := time.perf_counter()) < deadline or (until is not None and not until()):
            response = client.get(url)
            assert response.status_code == 200, response.status_code
            latencies[i].append(time.perf_counter() - started)
        connection.close()

    threads = [threading.Thread(target=run, args=(i, u)) for i, u in enumerate(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [x for per_thread in latencies for x in per_thread]


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0


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
            took = send(Case.objects.get(pk=pk), district, approvals=args.approvals)
            print(f"sent {took:.3f} {max(holds, default=0):.4f} {max(case_holds, default=0):.4f} "
                  f"{max(rehearsal_holds, default=0):.4f} {send_cpu[-1]:.3f} {max(audit_cpu, default=0):.4f} "
                  f"{max(case_cpu, default=0):.4f} {max(rehearsal_cpu, default=0):.4f}", flush=True)


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
    what = "approvals (decide_approval runs transfer_for_review)" if args.approvals else "transfer_for_review"
    print(f"engine: {'audit events appended as recorded (--no-defer)' if args.no_defer else 'audit events deferred'}"
          f", database: {connection.vendor}, timed: {what}, load average {os.getloadavg()[0]:.1f}", flush=True)
    streams = args.rounds
    print(f"preparing {1 + args.sends * streams} cases of {args.pages} pages …", flush=True)
    first = prepare_case(district, "基准0", args.pages)
    batches = [[prepare_case(district, f"基准{r}-{i}", args.pages) for i in range(args.sends)] for r in range(streams)]
    viewed = prepare_case(district, "被浏览的案件", 10)
    url = reverse("cases:detail", args=[viewed.pk])

    with mode:
        took = send(first, district, approvals=args.approvals)
    print(f"\n1. one {what} of a {args.pages}-page dossier, no other load on the chain: {took * 1000:.0f} ms in "
          f"total; audit lock held {max(holds, default=0) * 1000:.1f} ms (target ≤ 20 ms): {len(appends)} append "
          f"step(s) of {batch_sizes} events taking {sum(appends) * 1000:.1f} ms, the rest until the end of COMMIT; "
          f"{max(locked_statements, default=0)} SQL statements under the lock; case row locked "
          f"{max(case_holds, default=0) * 1000:.1f} ms (and {max(rehearsal_holds, default=0) * 1000:.1f} ms by the "
          f"rehearsal); {send_cpu[-1]:.2f} s CPU in all. CPU of this process while it held the audit lock "
          f"{max(audit_cpu, default=0) * 1000:.1f} ms, the case row {max(case_cpu, default=0) * 1000:.1f} ms "
          f"(rehearsal {max(rehearsal_cpu, default=0) * 1000:.1f} ms)", flush=True)

    # Readers of the police's own case (the viewed case is never sent).
    users = ([district.investigator, district.police_supervisor] * args.views_threads)[:args.views_threads]
    rounds = []
    for batch in batches:
        load_before = os.getloadavg()[0]
        cpu = time.process_time()
        view_appends.clear()
        idle = views(url, users, args.seconds)
        idle_cpu = (time.process_time() - cpu) / max(len(idle), 1)
        idle_appends = list(view_appends)
        command = [sys.executable, __file__, "--database-url", args.database_url, "--workdir", str(workdir),
                   "--sender", *[str(c.pk) for c in batch]] + (["--no-defer"] if args.no_defer else []) + (
                   ["--approvals"] if args.approvals else [])
        errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - read after the sender ends
        sender = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,  # noqa: S603
                                  stderr=errors, text=True)
        assert sender.stdout.readline().strip() == "ready"
        sender.stdin.write("go\n")
        sender.stdin.flush()
        started, cpu = time.perf_counter(), time.process_time()
        view_appends.clear()
        busy = views(url, users, args.seconds, until=lambda s=sender: s.poll() is not None)
        busy_appends = list(view_appends)
        busy_seconds = time.perf_counter() - started
        busy_cpu = (time.process_time() - cpu) / max(len(busy), 1)
        out, _err = sender.communicate(timeout=120)
        errors.seek(0)
        err = errors.read()
        sends = [line.split() for line in out.splitlines() if line.startswith("sent ")]
        if not sends:
            print("the sending process completed no send:", err[-3000:])
        rounds.append({
            "idle": len(idle) / args.seconds, "busy": len(busy) / busy_seconds,
            "idle_p50": statistics.median(idle), "busy_p50": statistics.median(busy),
            "idle_p99": p99(idle), "busy_p99": p99(busy), "sends": len(sends),
            "send_s": statistics.median([float(x[1]) for x in sends]) if sends else 0.0,
            "audit_max": max((float(x[2]) for x in sends), default=0.0),
            "audit_med": statistics.median([float(x[2]) for x in sends]) if sends else 0.0,
            "case_max": max((float(x[3]) for x in sends), default=0.0),
            "case_med": statistics.median([float(x[3]) for x in sends]) if sends else 0.0,
            "load": (load_before + os.getloadavg()[0]) / 2,
            "idle_cpu": idle_cpu, "busy_cpu": busy_cpu,
            "rehearsal_max": max((float(x[4]) for x in sends), default=0.0),
            "send_cpu": statistics.median([float(x[5]) for x in sends]) if sends else 0.0,
            "audit_cpu": statistics.median([float(x[6]) for x in sends]) if sends else 0.0,
            "case_cpu": statistics.median([float(x[7]) for x in sends]) if sends else 0.0,
            "rehearsal_cpu": statistics.median([float(x[8]) for x in sends]) if sends else 0.0,
            "idle_append": statistics.median(idle_appends) if idle_appends else 0.0,
            "busy_append": statistics.median(busy_appends) if busy_appends else 0.0,
            "idle_append_p99": p99(idle_appends), "busy_append_p99": p99(busy_appends),
            # the share of the views' time spent in their own append (lock wait included)
            "idle_append_share": sum(idle_appends) / max(sum(idle), 1e-9),
            "busy_append_share": sum(busy_appends) / max(sum(busy), 1e-9),
        })
        r = rounds[-1]
        print(f"   round {len(rounds)}: idle {r['idle']:.1f} req/s p99 {r['idle_p99'] * 1000:.0f} ms; busy "
              f"{r['busy']:.1f} req/s p99 {r['busy_p99'] * 1000:.0f} ms; {r['sends']} sends (median "
              f"{r['send_s']:.2f} s), audit lock median/max {r['audit_med'] * 1000:.1f}/{r['audit_max'] * 1000:.1f} "
              f"ms, case lock median/max {r['case_med'] * 1000:.0f}/{r['case_max'] * 1000:.0f} ms (rehearsal max "
              f"{r['rehearsal_max'] * 1000:.0f} ms), {r['send_cpu']:.2f} s CPU per send; view CPU per request idle/"
              f"busy {r['idle_cpu'] * 1000:.0f}/{r['busy_cpu'] * 1000:.0f} ms; the views' own audit append (lock wait + "
              f"COMMIT) median idle/busy {r['idle_append'] * 1000:.1f}/{r['busy_append'] * 1000:.1f} ms, p99 "
              f"{r['idle_append_p99'] * 1000:.1f}/{r['busy_append_p99'] * 1000:.1f} ms, "
              f"{100 * r['idle_append_share']:.1f}/{100 * r['busy_append_share']:.1f} % of the views' time; "
              f"load {r['load']:.1f}", flush=True)

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    print(f"2. case page, {args.views_threads} client threads, {args.seconds:.0f} s per run, median of "
          f"{len(rounds)} round(s), load average {med('load'):.1f}:")
    print(f"   idle:                        {med('idle'):7.1f} req/s  p50 {med('idle_p50') * 1000:5.0f} ms  "
          f"p99 {med('idle_p99') * 1000:5.0f} ms")
    print(f"   with sending transitions:    {med('busy'):7.1f} req/s  p50 {med('busy_p50') * 1000:5.0f} ms  "
          f"p99 {med('busy_p99') * 1000:5.0f} ms  ({what} in another process, median {med('send_s'):.2f} s each)")
    print(f"   their audit-lock holds: median {med('audit_med') * 1000:.1f} ms, max {med('audit_max') * 1000:.1f} ms "
          f"(target ≤ 20 ms); case-row lock: median {med('case_med') * 1000:.0f} ms, max "
          f"{med('case_max') * 1000:.0f} ms")
    print(f"   the views' own audit append (waiting for the lock, appending, COMMIT): median "
          f"{med('idle_append') * 1000:.1f} ms idle, {med('busy_append') * 1000:.1f} ms during sends (p99 "
          f"{med('idle_append_p99') * 1000:.1f} / {med('busy_append_p99') * 1000:.1f} ms); "
          f"{100 * med('idle_append_share'):.1f} % / {100 * med('busy_append_share'):.1f} % of the views' time")
    print(f"   views lose {100 * (1 - med('busy') / med('idle')):.1f} % (target ≤ 10 %); p99 "
          f"{med('busy_p99') / med('idle_p99'):.2f} × idle (target ≤ 1.2 ×)")
    best = max(rounds, key=lambda r: r["busy"] / r["idle"] if r["idle"] else 0)
    print(f"   fastest round: idle {max(r['idle'] for r in rounds):.1f} req/s, busy {max(r['busy'] for r in rounds):.1f} "
          f"req/s; least loss in one round {100 * (1 - best['busy'] / best['idle']):.1f} % (load {best['load']:.1f}); "
          f"lowest audit-lock max {min(r['audit_max'] for r in rounds) * 1000:.1f} ms")
    print(f"   CPU per case-page request (the viewing process, load-independent): idle "
          f"{med('idle_cpu') * 1000:.0f} ms, during sends {med('busy_cpu') * 1000:.0f} ms; CPU per send "
          f"{med('send_cpu'):.2f} s; CPU while holding the audit lock {med('audit_cpu') * 1000:.1f} ms, the case row "
          f"{med('case_cpu') * 1000:.1f} ms (rehearsal {med('rehearsal_cpu') * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
