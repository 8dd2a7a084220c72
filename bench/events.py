"""Benchmark: webhook deliveries per second, and what subscriptions add to a transition.

1. Throughput: events/s from the outbox (the feed) to local HTTP receivers on 127.0.0.1 with 1, 4
   and 16 endpoints (with 4 and 16, one endpoint answers 500, so its deliveries go to retry and it
   never blocks the rest): the delivery worker's walk of each endpoint's cursor, by 1 and by 4
   concurrent senders (stand-ins for Celery worker processes; one endpoint is walked by one at a time).
2. Latency: the median time of one transition (an officer asks for approval of a transfer, then
   takes the request back: two audited events, two transactions) with no endpoint and with 16
   endpoints subscribed to both events. With --broker the wake-up message is really published (from
   the background thread, after commit); --wake=pending (default) is a busy worker: a wake-up is
   still queued, so a commit only checks the Redis flag; --wake=every is an idle worker that took
   every wake-up at once, so every transaction publishes one. Goal (issue #20): ≤ 5 ms over none.

Runs on a throw-away SQLite database unless --database names one (use PostgreSQL for numbers that
match production; the database must be empty or disposable).

    .venv/bin/python bench/events.py [--events 400] [--rounds 60] [--database postgresql://…] [--broker redis://…]
                                     [--wake pending|every] [--skip-throughput]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=400, help="events per throughput run")
    ap.add_argument("--rounds", type=int, default=60, help="transitions per latency run")
    ap.add_argument("--database", default=None, help="DATABASE_URL (default: a temporary SQLite file)")
    ap.add_argument("--broker", default=None, help="CELERY_BROKER_URL to include the enqueue in the latency")
    ap.add_argument("--wake", choices=["pending", "every"], default="pending",
                    help="pending: a wake-up is already queued (busy worker); every: each transaction publishes")
    ap.add_argument("--skip-throughput", action="store_true", help="measure the transition latency only")
    return ap.parse_args()


def setup_django(workdir: Path, database: str | None, broker: str | None) -> None:
    os.environ["DATABASE_URL"] = database or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["CASEHUB_DATA_DIR"] = str(workdir)
    os.environ["CASEHUB_STORAGE_URL"] = (workdir / "objects").as_uri()
    if broker:
        os.environ["CELERY_BROKER_URL"] = broker
    else:
        os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(500 if self.path.startswith("/fail") else 204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def throughput(district, port: int, endpoints: int, events: int, senders: int) -> tuple[float, int]:
    from django.db import connection
    from django.utils import timezone

    from casehub.integration import webhooks
    from casehub.integration.models import FeedEntry, WebhookDelivery, WebhookEndpoint

    WebhookDelivery.objects.all().delete()
    WebhookEndpoint.objects.all().delete()
    agency = district.procuratorate
    secret = webhooks.seal_secret(webhooks.new_secret(), agency.pk)
    eps = [WebhookEndpoint.objects.create(  # each starts after the newest entry of the feed
        agency=agency, url=f"http://127.0.0.1:{port}/{'fail' if i == 0 and endpoints > 1 else 'ok'}/{i}",
        event_types=["package.sent"], allow_private_network=True, encrypted_secret=secret)
        for i in range(endpoints)]
    base = (FeedEntry.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0) + 1
    now = timezone.now()
    FeedEntry.objects.bulk_create([
        FeedEntry(agency=agency, sequence=base + i, type="package.sent", occurred_at=now, case_id=None,
                  data={"case": None, "transfer": {"id": i, "kind": "review_transfer"}})
        for i in range(events // endpoints)])
    ids = [ep.pk for ep in eps]

    def walk(chunk: list[int]) -> None:
        try:
            for pk in chunk:
                webhooks.drain(pk)
        finally:
            connection.close()

    started = time.perf_counter()
    if senders == 1:
        for pk in ids:
            webhooks.drain(pk)
    else:
        with ThreadPoolExecutor(senders) as pool:
            list(pool.map(walk, [ids[i::senders] for i in range(senders)]))
    elapsed = time.perf_counter() - started
    n = WebhookDelivery.objects.count()
    assert n == len(ids) * (events // endpoints), n
    return n / elapsed, n


def latency(district, rounds: int, endpoints: int) -> tuple[float, float]:
    """Median ms of one round with no endpoint and with ``endpoints`` subscribed; rounds alternate
    between the two so that drift in the machine's load falls on both alike."""
    from casehub.integration import webhooks
    from casehub.integration.models import WebhookEndpoint
    from workflows import engine

    WebhookEndpoint.objects.all().delete()
    secret = webhooks.seal_secret(webhooks.new_secret(), district.police.pk)
    ids = [WebhookEndpoint.objects.create(agency=district.police, url=f"https://hooks.example/{i}",
                                          event_types=["approval.requested", "approval.cancelled"],
                                          allow_private_network=True, encrypted_secret=secret).pk
           for i in range(endpoints)]
    case = district.bench_case
    samples: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for i in range(rounds * 2):
        subscribed = bool(i % 2)
        WebhookEndpoint.objects.filter(pk__in=ids).update(active=subscribed)
        t0, c0 = time.perf_counter(), time.process_time()
        result = engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                             inputs={"facts": "事实", "evidence": "证据"})
        engine.cancel_approval(result.approval, acting_user=district.investigator)
        samples[subscribed].append(time.perf_counter() - t0)
        time.sleep(0.02)  # let the background publisher finish: its CPU is counted in this round
        cpu[subscribed].append(time.process_time() - c0)
    print(f"  fastest round (least disturbed by other load): no endpoint {min(samples[False]) * 1000:.2f} ms; "
          f"16 endpoints {min(samples[True]) * 1000:.2f} ms; added {(min(samples[True]) - min(samples[False])) * 1000:.2f} ms")
    print(f"  CPU time of this process per round (all threads, median): no endpoint "
          f"{statistics.median(cpu[False]) * 1000:.2f} ms; 16 endpoints {statistics.median(cpu[True]) * 1000:.2f} ms")
    return statistics.median(samples[False]) * 1000, statistics.median(samples[True]) * 1000


def main() -> None:
    args = parse()
    with tempfile.TemporaryDirectory(prefix="casehub-bench-events-") as tmp:
        setup_django(Path(tmp), args.database, args.broker)
        from django.conf import settings

        from casehub.cases.services import register_case
        from casehub.integration import tasks
        from tests.fixtures.district import build_district

        district = build_district()
        district.bench_case = register_case(acting_user=district.investigator, title="基准测试案", summary="",
                                            persons=[{"name": "甲", "id_number": "440307199001011234"}])
        import pikepdf

        from casehub.dossier import services as dossier

        eager = settings.CELERY_TASK_ALWAYS_EAGER
        settings.CELERY_TASK_ALWAYS_EAGER = True  # the one set-up document is ingested in-process
        pdf = pikepdf.new()
        pdf.add_blank_page(page_size=(595, 842))
        pdf.save(Path(tmp) / "evidence.pdf")
        job = dossier.ingest_upload(case=district.bench_case, acting_user=district.investigator,
                                    uploaded_file_or_path=Path(tmp) / "evidence.pdf", title="证据", category="evidence")
        assert job.status == "done", job.message
        settings.CELERY_TASK_ALWAYS_EAGER = eager
        enqueued = {"transactions": 0}
        if not args.broker:
            settings.CELERY_TASK_ALWAYS_EAGER = False

            def count():
                enqueued["transactions"] += 1

            tasks.wake_webhooks.delay = count  # counted, not sent: no broker in this run
        else:
            tasks.wake_flag.clear()
            if args.wake == "every":  # an idle worker takes each wake-up at once: the flag is never up
                tasks.wake_flag.set = lambda: True
        server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
        print("throughput (outbox → local receivers; with >1 endpoint one of them answers 500):")
        for endpoints in () if args.skip_throughput else (1, 4, 16):
            for senders in (1, 4):
                rate, n = throughput(district, port, endpoints, args.events, senders)
                print(f"  {endpoints:>2} endpoints, {senders} senders: {rate:7.0f} deliveries/s ({n} deliveries)")
        none, sixteen = latency(district, args.rounds, 16)
        tasks.enqueuer.flush()
        print(f"transition latency (ask approval + take it back, median of {args.rounds}):")
        sent = (f"wake-ups published: {tasks.enqueuer.published} (--wake={args.wake})" if args.broker
                else f"wake-ups counted, not sent: {enqueued['transactions']}")
        print(f"  no endpoint: {none:.2f} ms; 16 endpoints: {sixteen:.2f} ms; added: {sixteen - none:.2f} ms "
              f"(goal ≤ 5 ms); {sent}")
        if args.broker:
            tasks.wake_flag.clear()
        server.shutdown()


if __name__ == "__main__":
    main()
