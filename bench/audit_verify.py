#!/usr/bin/env python
"""Benchmark: ``verify_audit`` throughput (events/s), beside what reading and hashing the rows cost.

PostgreSQL only. Creates (and drops afterwards) its own database, migrates it and COPYs a chain of
generated events into ``audit_auditevent`` (a third of them with a small ``details`` object, the
rest ``{}``, Chinese actor labels), continuing the chain the migrations started. Then, in one run:

* **fetch** — the verifier's own SELECT over every row in keyset batches, nothing else (one
  connection): the database's share;
* **sha256** — ``hashlib.sha256(...).hexdigest()`` of every row's canonical bytes, prepared in
  memory beforehand: the hashing itself, on one core;
* **verify, 1 process** — ``verify_chain(workers=1)`` (read-ahead connection, one core hashing);
* **verify, N processes** — ``verify_chain(workers=N)``, as ``manage.py verify_audit`` runs it.

For each: wall time and events/s, and the CPU time per event of casehub (this process and its
worker processes) and of the PostgreSQL backends (sampled from /proc), so that a run on the shared,
loaded development machine still says what the work costs: cores / (CPU per event) is the rate the
machine would reach if those cores were free and the work split perfectly (an upper bound).

Each verify run must report the chain intact. Goal (issue #21): ≥ 300,000 events/s.

    .venv/bin/python bench/audit_verify.py [--events 1000000] [--workers 2] [--rounds 3] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _pg  # noqa: E402 - bench/ is the script's directory; after ROOT for Django

TICK = os.sysconf("SC_CLK_TCK")
ACTIONS = ["workflow.transfer_for_review", "workflow.accept_review_transfer", "dossier.document_viewed",
           "auth.login", "custody.taken_over", "dossier.document_downloaded"]


def generate(events: int) -> list[bytes]:
    """COPY ``events`` chained rows; return every row's canonical bytes (for the hashing baseline)."""
    from django.db import connection

    from casehub.audit.chain import GENESIS_HASH, canonical
    from casehub.audit.models import AuditHead

    head = AuditHead.objects.filter(pk=1).first()
    first = (head.sequence if head else 0) + 1
    previous = head.hash if head else GENESIS_HASH
    at = datetime(2025, 1, 1, tzinfo=UTC)
    bodies: list[bytes] = []
    columns = ("sequence, occurred_at, actor_id, actor_label, agency_id, action, object_type, object_id, "
               "case_id, details, previous_hash, hash")
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, \
            cursor.copy(f"COPY audit_auditevent ({columns}) FROM STDIN") as copy:  # noqa: S608
        for seq in range(first, first + events):
            at += timedelta(microseconds=(seq * 7919) % 5_000_000 + 1)
            case = seq % 40_000 + 1
            details = {"case": case, "note": f"第{seq % 97}号", "n": seq % 13} if seq % 3 == 0 else {}
            body = canonical({"seq": seq, "at": at.isoformat(timespec="microseconds"), "actor": None,
                              "actor_label": "基准 bench", "agency": seq % 40 + 1, "action": ACTIONS[seq % 6],
                              "object": ["cases.case", str(case)], "case": case, "details": details,
                              "prev": previous})
            bodies.append(body)
            digest = hashlib.sha256(body).hexdigest()
            copy.write_row((seq, at, None, "基准 bench", seq % 40 + 1, ACTIONS[seq % 6], "cases.case", str(case),
                            case, json.dumps(details, ensure_ascii=False), previous, digest))
            previous = digest
    AuditHead.objects.update_or_create(pk=1, defaults={"sequence": first + events - 1, "hash": previous})
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE audit_auditevent")
    return bodies


class ServerCpu:
    """CPU seconds used by the PostgreSQL backends serving ``database`` while it runs (sampled every
    20 ms from /proc: the server runs on this machine; a backend that ends loses ≤ 20 ms)."""

    def __init__(self, database: str) -> None:
        self.marker = f" {database} ".encode()
        self.seen: dict[int, float] = {}
        self.start: dict[int, float] = {}
        self.stop = threading.Event()
        self.own = 0.0  # the sampler thread's own CPU, to subtract from this process's

    @staticmethod
    def _cpu(pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / TICK

    def _backends(self) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if self.marker in Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ") + b" ":
                        pids.append(int(entry))
                except OSError:
                    pass
        return pids

    def _sample(self, first: bool = False) -> None:
        for pid in self._backends():
            cpu = self._cpu(pid)
            if cpu is not None:
                if pid not in self.seen:
                    self.start[pid] = cpu if first else 0.0
                self.seen[pid] = cpu

    def __enter__(self) -> ServerCpu:
        self._sample(first=True)

        def run() -> None:
            while not self.stop.wait(0.02):
                self._sample()
            self.own = time.thread_time()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def seconds(self) -> float:
        return sum(cpu - self.start[pid] for pid, cpu in self.seen.items())


def measured(database: str, run) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds of this process and its children, CPU seconds of the server."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu, wall = time.process_time(), time.perf_counter()
    with ServerCpu(database) as server:
        run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu - server.own
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return wall, cpu, server.seconds


def fetch_only(batch_size: int) -> tuple[float, int]:
    from django.db import connection

    from casehub.audit.verify import _batches

    started, n = time.perf_counter(), 0
    for batch in _batches(connection, batch_size):
        n += len(batch)
    return time.perf_counter() - started, n


def sha256_only(bodies: list[bytes]) -> float:
    sha = hashlib.sha256
    started = time.perf_counter()
    for body in bodies:
        sha(body).hexdigest()
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="runs of each measurement (interleaved); median")
    ap.add_argument("--database", default="casehub_bench_audit_verify")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    _pg.fresh_database(args.database)
    try:
        started = time.perf_counter()
        bodies = generate(args.events)
        print(f"generated {len(bodies):,} events in {time.perf_counter() - started:.1f} s; "
              f"load average {os.getloadavg()[0]:.2f}")
        from casehub.audit.verify import verify_chain

        runs: dict[str, list[tuple[float, float, float]]] = {"fetch": [], "verify1": [], "verifyN": []}
        sha: list[float] = []
        total = len(bodies)

        def verify(workers: int) -> None:
            report = verify_chain(workers=workers)
            assert report.ok, report.findings[:5]
            assert report.events_checked >= total, (report.events_checked, total)

        for _round in range(args.rounds):
            runs["fetch"].append(measured(args.database, lambda: fetch_only(20_000)))
            sha.append(sha256_only(bodies))
            runs["verify1"].append(measured(args.database, lambda: verify(1)))
            runs["verifyN"].append(measured(args.database, lambda: verify(args.workers)))
        load = os.getloadavg()
        print(f"{total:,} events, median of {args.rounds} interleaved rounds; load average now "
              f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min) on {os.cpu_count()} cores")
        print(f"  sha256 of every row's canonical bytes (in memory, one core): "
              f"{total / statistics.median(sha):>11,.0f} events/s")
        labels = {"fetch": "fetch only (the verifier's SELECT)", "verify1": "verify_chain, 1 process",
                  "verifyN": f"verify_chain, {args.workers} processes"}
        print(f"  {'':<36} {'wall':>7} {'events/s':>10}   CPU µs/event: casehub + server = total"
              f" → events/s on {os.cpu_count()} idle cores")
        capacity = {}
        for key, label in labels.items():
            wall = statistics.median(r[0] for r in runs[key])
            cpu = statistics.median(r[1] for r in runs[key]) / total * 1e6
            server = statistics.median(r[2] for r in runs[key]) / total * 1e6
            capacity[key] = (os.cpu_count() or 1) / (cpu + server) * 1e6
            print(f"  {label:<36} {wall:6.2f}s {total / wall:>10,.0f}   {cpu:5.2f} + {server:5.2f} = "
                  f"{cpu + server:5.2f}  → {capacity[key]:>9,.0f}")
        best = total / statistics.median(r[0] for r in runs["verifyN"])
        print(f"verify_audit with {args.workers} processes: {best:,.0f} events/s measured under this load; "
              f"≈ {capacity['verifyN']:,.0f} events/s from its CPU cost if both cores were free "
              f"(goal ≥ 300,000: {'met' if best >= 300_000 else 'not met as measured'})")
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _pg.admin(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
