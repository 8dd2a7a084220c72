#!/usr/bin/env python
"""Benchmark: the auditors' dashboard on 1,000,000 cases, and ``verify_audit`` on 5,000,000 events.

PostgreSQL only. Creates (and by default drops afterwards) its own database, migrates it, and fills
it with a bulk generator that COPYs rows straight into the tables — for this benchmark only; real
data only ever enters through the workflow engine (``manage.py simulate`` drives that). Cases are
spread over two years; the dashboard is built for the second year and all agencies, as an auditor
with no region limit sees it. Reported:

* the time ``manage.py rebuild_metrics`` takes to fill the dashboard's rollup tables from the
  generated rows (COPY sends no signals, so the rollups are rebuilt as after any bulk load);
* the whole dashboard (every table the page shows, the same code) — cold and warm timings;
* each SQL statement it ran, with its time and the indexes its plan used (EXPLAIN ANALYZE);
* ``verify_chain`` throughput in events per second over the whole generated chain.

Usage: ``bench/metrics.py [--cases 1000000] [--events 5000000] [--keep]``; ``--cases 20000
--events 100000`` for a smoke run. Results go to stdout and var/bench/metrics.json.
Runs the session with ``work_mem=64MB`` (PostgreSQL's 4 MB default sends the percentile sorts to
disk; a production server is tuned far above both).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _pg  # noqa: E402 - bench/ is the script's directory; after ROOT for Django

START = datetime(2024, 1, 1, tzinfo=UTC)
YEARS = 2
WORK_MEM = "64MB"


# --- bulk generator ----------------------------------------------------------------------------------

class Copier:
    """COPY rows of a model, filling every column the generator does not set with the field default."""

    def __init__(self, model, given: list[str]) -> None:
        self.model = model
        fields = [f for f in model._meta.concrete_fields]
        self.given = given
        self.extra = [f for f in fields if f.attname not in given and not f.primary_key]
        self.columns = [model._meta.get_field(n).column if not n.endswith("_id") else n for n in given] + \
            [f.column for f in self.extra]
        self.defaults = tuple(self._default(f) for f in self.extra)

    @staticmethod
    def _default(field):
        from django.db import models

        value = field.get_default()
        if isinstance(field, models.JSONField):
            return json.dumps(value)
        if isinstance(field, models.DateTimeField) and (value is None or callable(field.default)):
            return None if field.null else datetime.now(UTC)
        if value is None and not field.null:
            if isinstance(field, models.BinaryField):
                return b""
            if isinstance(field, models.CharField | models.TextField):
                return ""
            if isinstance(field, models.IntegerField | models.BigIntegerField | models.PositiveIntegerField):
                return 0
        return value

    def copy(self, rows) -> int:
        from django.db import connection

        n = 0
        sql = f'COPY {self.model._meta.db_table} ({", ".join(self.columns)}) FROM STDIN'
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row + self.defaults)
                n += 1
        return n


def generate(cases: int, events: int, seed: int) -> dict[str, int]:
    from django.db import connection, transaction

    from casehub.agencies.models import Agency, AgencyKind, User
    from casehub.audit.chain import GENESIS_HASH, fast_event_hash
    from casehub.audit.models import AuditEvent, AuditHead
    from casehub.cases.models import Case, Person
    from casehub.clocks.models import Clock
    from casehub.custody.models import CustodyCertificate, CustodyRecord
    from casehub.metrics.models import StageStay
    from workflows.models import Transfer

    rng = random.Random(seed)
    counts: dict[str, int] = {}
    # A city: 10 districts, each with police, procuratorate, court and detention centre.
    districts = []
    for d in range(10):
        region = f"4403{d:02d}"
        make = lambda kind, code, name, region=region: Agency.objects.create(  # noqa: E731
            kind=kind, code=f"{code}{region}", name=name, region=region)
        districts.append({
            "police": make(AgencyKind.POLICE, "GA", f"公安分局{d}"),
            "procuratorate": make(AgencyKind.PROCURATORATE, "JC", f"检察院{d}"),
            "court": make(AgencyKind.COURT, "FY", f"法院{d}"),
            "detention": make(AgencyKind.DETENTION_CENTRE, "KSS", f"看守所{d}"),
        })
    creator = User.objects.create(username="bench", agency=districts[0]["police"])

    span = YEARS * 365 * 86400
    case_rows, person_rows, transfer_rows, stay_rows, clock_rows, record_rows, cert_rows = [], [], [], [], [], [], []
    person_id = 0
    cert_no = 0

    def transfer(case_id, kind, frm, to, at, mode, requires, answered=None, status="delivered"):
        complete = mode == "online" or rng.random() < 0.6
        transfer_rows.append((case_id if mode == "online" else None, kind, mode, requires, frm.pk, to.pk, status, at,
                              complete, mode == "online", answered))

    for case_id in range(1, cases + 1):
        dist = districts[rng.randrange(10)]
        police, proc, court, centre = dist["police"], dist["procuratorate"], dist["court"], dist["detention"]
        t = START + timedelta(seconds=rng.uniform(0, span * 0.95))
        case_rows.append((case_id, f"案件{case_id}", police.pk, police.pk, "investigation", "active", creator.pk, t, t))
        detained = rng.random() < 0.55
        persons = []
        for _n in range(rng.choice((1, 1, 1, 2, 2, 3))):
            person_id += 1
            persons.append(person_id)
            person_rows.append((person_id, case_id, "suspect", f"嫌疑人{person_id}", "detained" if detained else
                                "not_detained", centre.pk if detained else None))
        stage, holder, entered, entered_by = "investigation", police, t, "register_case"

        def move(new_stage, new_holder, at, by, case_id=case_id):
            nonlocal stage, holder, entered, entered_by
            stay_rows.append((case_id, stage, holder.pk, entered, entered_by, at, by,
                              int((at - entered).total_seconds())))
            stage, holder, entered, entered_by = new_stage, new_holder, at, by

        t += timedelta(days=rng.uniform(10, 60))
        paper = rng.random() < 0.12
        transfer(case_id, "review_transfer", police, proc, t, "paper" if paper else "online", not paper,
                 None if paper else t + timedelta(hours=rng.uniform(1, 60)), "accepted")
        if paper:
            stay_rows.append((case_id, stage, holder.pk, entered, entered_by, None, "", None))
            continue
        move("review_requested", police, t, "transfer_for_review")
        t += timedelta(hours=rng.uniform(1, 60))
        move("prosecution_review", proc, t, "accept_review_transfer")
        review_start = t
        if detained:
            for p in persons:
                cert_no += 1
                cert_rows.append((f"HY{cert_no}", "online" if rng.random() < 0.93 else "paper", p, case_id, p,
                                  centre.pk, police.pk, proc.pk, "taken_over", t))
        t += timedelta(days=rng.uniform(5, 40))
        clock_rows.append((case_id, "review_prosecution", proc.pk, review_start, 1, 0, 0,
                           (review_start + timedelta(days=30)).date(), "stopped", t))
        if rng.random() < 0.25:
            transfer(case_id, "supplementary_return", proc, police, t, "online", False)
            move("supplementary_investigation", police, t, "return_for_supplementary")
            t += timedelta(days=rng.uniform(10, 35))
            transfer(case_id, "review_transfer", police, proc, t, "online", True, t + timedelta(hours=5), "accepted")
            move("prosecution_review", proc, t, "accept_review_transfer")
            t += timedelta(days=rng.uniform(5, 30))
        if rng.random() < 0.1:
            transfer(case_id, "non_prosecution", proc, police, t, "online", False)
            move("closed", proc, t, "decide_non_prosecution")
            continue
        if t > START + timedelta(seconds=span):
            stay_rows.append((case_id, stage, holder.pk, entered, entered_by, None, "", None))
            clock_rows.append((case_id, "review_prosecution", proc.pk, t, 1, 0, 0, (t + timedelta(days=30)).date(),
                               "running", None))
            continue
        paper = rng.random() < 0.1
        transfer(case_id, "indictment", proc, court, t, "paper" if paper else "online", not paper,
                 None if paper else t + timedelta(hours=rng.uniform(1, 72)), "accepted")
        if paper:
            stay_rows.append((case_id, stage, holder.pk, entered, entered_by, None, "", None))
            continue
        move("court_filing", proc, t, "indict")
        t += timedelta(hours=rng.uniform(1, 72))
        move("trial", court, t, "docket_case")
        trial_start = t
        t += timedelta(days=rng.uniform(20, 80))
        clock_rows.append((case_id, "trial", court.pk, trial_start, 2, 0, 0, (trial_start + timedelta(days=61)).date(),
                           "stopped", t))
        move("judgment_delivery", court, t, "announce_judgment")
        t += timedelta(days=rng.uniform(1, 6))
        transfer(case_id, "judgment", court, proc, t, "online", False)
        transfer(case_id, "judgment", court, police, t, "online", False)
        move("closed", court, t, "deliver_judgment")

    with transaction.atomic():
        started = time.perf_counter()
        counts["cases"] = Copier(Case, ["id", "title", "origin_agency_id", "holder_agency_id", "stage", "status",
                                        "created_by_id", "created_at", "updated_at"]).copy(iter(case_rows))
        counts["persons"] = Copier(Person, ["id", "case_id", "role", "name", "custody_status",
                                            "detention_centre_id"]).copy(iter(person_rows))
        counts["transfers"] = Copier(Transfer, ["case_id", "kind", "mode", "requires_acceptance", "from_agency_id",
                                                "to_agency_id", "status", "sent_at", "dossier_complete", "electronic",
                                                "decided_at"]).copy(iter(transfer_rows))
        counts["stage_stays"] = Copier(StageStay, ["case_id", "stage", "agency_id", "entered_at", "entered_by",
                                                   "left_at", "left_by", "seconds"]).copy(iter(stay_rows))
        counts["clocks"] = Copier(Clock, ["case_id", "kind", "agency_id", "started_at", "period_months",
                                          "period_days", "paused_days", "due_date", "status", "stopped_at"]
                                  ).copy(iter(clock_rows))
        detained_people = {r[2] for r in cert_rows}
        record_rows = [(p, r[3], r[5], "arrested", "in_custody", r[7], "prosecution_review", r[9], r[9].date())
                       for r in cert_rows for p in (r[2],) if p in detained_people]
        counts["custody_records"] = Copier(CustodyRecord, ["person_id", "case_id", "detention_centre_id", "measure",
                                                           "status", "responsible_agency_id", "stage", "detained_at",
                                                           "period_start"]).copy(iter(record_rows))
        with connection.cursor() as cursor:
            cursor.execute("SELECT person_id, id FROM custody_custodyrecord")
            record_of = dict(cursor.fetchall())
        counts["custody_certificates"] = Copier(CustodyCertificate, [
            "number", "channel", "record_id", "case_id", "person_id", "detention_centre_id", "from_agency_id",
            "to_agency_id", "status", "issued_at"]).copy(
            (r[0], r[1], record_of[r[2]], *r[3:]) for r in cert_rows)
        counts["copy_seconds_cases"] = round(time.perf_counter() - started, 1)

        started = time.perf_counter()
        agency_ids = [a.pk for d in districts for a in d.values()]
        actions = ["workflow.transfer_for_review", "workflow.accept_review_transfer", "dossier.document_viewed",
                   "auth.login", "custody.taken_over", "dossier.document_downloaded"]

        # Continue the chain the migrations started (role set-up is audited too).
        existing = AuditHead.objects.filter(pk=1).first()
        first_seq = (existing.sequence if existing else 0) + 1
        head = {"hash": existing.hash if existing else GENESIS_HASH}

        def audit_rows():
            previous = head["hash"]
            at = START
            for seq in range(first_seq, first_seq + events):
                at += timedelta(microseconds=rng.randint(1, 12_000_000))
                agency = agency_ids[seq % len(agency_ids)]
                case = rng.randint(1, cases)
                action = actions[seq % len(actions)]
                details = {"case": case, "n": seq % 97} if seq % 3 else {}
                iso = at.isoformat(timespec="microseconds")
                digest = fast_event_hash(seq, iso, creator.pk, "bench", agency, action, "cases.case", str(case), case,
                                         details, previous)
                yield (seq, at, creator.pk, "bench", agency, action, "cases.case", str(case), case,
                       json.dumps(details, ensure_ascii=False), previous, digest)
                previous = digest
            head["hash"] = previous

        counts["audit_events"] = Copier(AuditEvent, ["sequence", "occurred_at", "actor_id", "actor_label",
                                                     "agency_id", "action", "object_type", "object_id", "case_id",
                                                     "details", "previous_hash", "hash"]).copy(audit_rows())
        AuditHead.objects.update_or_create(pk=1, defaults={"sequence": first_seq + events - 1, "hash": head["hash"]})
        counts["copy_seconds_audit"] = round(time.perf_counter() - started, 1)
        with connection.cursor() as cursor:
            for table in ("cases_case", "cases_person"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return counts


# --- measuring -----------------------------------------------------------------------------------------

def _indexes(plan: dict) -> list[str]:
    found = []
    node = plan
    stack = [node]
    while stack:
        node = stack.pop()
        if "Index Name" in node:
            found.append(f'{node["Node Type"]}:{node["Index Name"]}')
        elif node.get("Node Type") == "Seq Scan":
            found.append(f'Seq Scan:{node.get("Relation Name")}')
        stack.extend(node.get("Plans", []))
    return sorted(set(found))


def measure_dashboard(runs: int = 3) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from casehub.agencies.models import Agency
    from casehub.metrics import dashboard, queries

    period = queries.Period(date(2025, 1, 1), date(2025, 12, 31))
    scope = queries.Scope(list(Agency.objects.values_list("pk", flat=True)))
    with connection.cursor() as cursor:
        cursor.execute(f"SET work_mem = '{WORK_MEM}'")
    timings = []
    for _i in range(runs):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            board = dashboard.build(period, scope, today=date(2026, 1, 15))
        timings.append(time.perf_counter() - started)
    statements = []
    with connection.cursor() as cursor:
        for q in captured.captured_queries:
            sql = q["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            plan = cursor.fetchone()[0][0]
            statements.append({"ms": round(plan["Execution Time"], 1), "indexes": _indexes(plan["Plan"]),
                               "sql": sql[:300]})
    return {
        "period": [str(period.start), str(period.end)], "agencies": len(scope.agency_ids),
        "seconds": [round(t, 3) for t in timings], "median_seconds": round(statistics.median(timings), 3),
        "transfers_in_period": board.totals["online"].denominator, "online_rate": board.totals["online"].percent,
        "statements": sorted(statements, key=lambda s: -s["ms"]),
    }


# Indexes on tables other apps own, which the dashboard would use; measured separately so the
# report shows what they are worth before anyone adds them (see docs/audit.md).
SUGGESTED_INDEXES = (
    "CREATE INDEX bench_transfer_facts ON transfers_transfer (sent_at) INCLUDE "
    "(from_agency_id, to_agency_id, kind, mode, electronic, dossier_complete, status, case_id)",
    "CREATE INDEX bench_certificate_facts ON custody_custodycertificate (issued_at) INCLUDE "
    "(from_agency_id, to_agency_id, channel, status, person_id, transfer_id)",
)


def add_suggested_indexes() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in SUGGESTED_INDEXES:
            cursor.execute(sql)
        cursor.execute("VACUUM ANALYZE transfers_transfer")
        cursor.execute("VACUUM ANALYZE custody_custodycertificate")


def rebuild_rollups() -> dict:
    """``manage.py rebuild_metrics``, as after any bulk load, then ANALYZE the rollups."""
    from django.core.management import call_command
    from django.db import connection

    from casehub.metrics import rollup

    started = time.perf_counter()
    call_command("rebuild_metrics")
    seconds = time.perf_counter() - started
    rows = {}
    with connection.cursor() as cursor:
        for table, (model, _keys, _vals) in rollup.SPECS.items():
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
            rows[table] = model.objects.count()
    return {"seconds": round(seconds, 1), "rows": rows}


def measure_verify() -> dict:
    from casehub.audit.verify import verify_chain

    cpu = time.process_time()
    report = verify_chain()
    cpu = time.process_time() - cpu
    return {"events": report.events_checked, "seconds": round(report.seconds, 2), "ok": report.ok,
            "events_per_second": round(report.events_per_second),
            "python_cpu_events_per_second": round(report.events_checked / cpu) if cpu else None,
            "load_average": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database", default="casehub_bench_metrics")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument("--suggested-indexes", action="store_true",
                        help="afterwards, add the covering indexes docs/audit.md suggests and measure again")
    args = parser.parse_args()

    started = time.perf_counter()
    _pg.fresh_database(args.database)
    result = {"cases": args.cases, "events": args.events, "work_mem": WORK_MEM}
    try:
        result["generated"] = generate(args.cases, args.events, args.seed)
        result["generate_seconds"] = round(time.perf_counter() - started, 1)
        result["rebuild_rollups"] = rebuild_rollups()
        result["dashboard"] = measure_dashboard()
        result["verify_audit"] = measure_verify()
        if args.suggested_indexes:
            add_suggested_indexes()
            result["dashboard_with_suggested_indexes"] = measure_dashboard()
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _pg.admin(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    d, v = result["dashboard"], result["verify_audit"]
    print(f"generated {result['generated']} in {result['generate_seconds']} s")
    r = result["rebuild_rollups"]
    print(f"rebuild_metrics: {r['rows']} rollup rows in {r['seconds']} s")
    print(f"dashboard, {d['period'][0]}..{d['period'][1]}, {d['agencies']} agencies, "
          f"{d['transfers_in_period']} transfers: runs {d['seconds']} s (median {d['median_seconds']} s)")
    for s in d["statements"]:
        print(f"  {s['ms']:>9.1f} ms  {', '.join(s['indexes'])}\n             {s['sql'][:140]}")
    print(f"verify_audit: {v['events']} events in {v['seconds']} s = {v['events_per_second']:,} events/s "
          f"(Python CPU alone {v['python_cpu_events_per_second']:,}/s; load average {v['load_average']}), ok={v['ok']}")
    if "dashboard_with_suggested_indexes" in result:
        d = result["dashboard_with_suggested_indexes"]
        print(f"dashboard with the suggested indexes: runs {d['seconds']} s (median {d['median_seconds']} s)")
        for s in d["statements"][:6]:
            print(f"  {s['ms']:>9.1f} ms  {', '.join(s['indexes'])}\n             {s['sql'][:140]}")


if __name__ == "__main__":
    main()
