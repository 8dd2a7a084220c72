"""Celery tasks that send webhook deliveries; the outbox rows are written with the events."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time

from celery import shared_task
from django.conf import settings
from django.db import connection

from casehub.integration import webhooks

logger = logging.getLogger("casehub.integration")


@shared_task(name="casehub.integration.tasks.deliver_webhook", acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> str | None:
    return webhooks.deliver(delivery_id)


@shared_task(name="casehub.integration.tasks.deliver_due_webhooks", ignore_result=True)
def deliver_due_webhooks() -> int:
    """Beat: queue every delivery whose time has come (retries, and any whose worker died)."""
    ids = webhooks.due()
    dispatch_deliveries(ids)
    return len(ids)


@shared_task(name="casehub.integration.tasks.fan_out", ignore_result=True)
def fan_out(ids: list[int]) -> None:
    """One message per committed transaction (one broker round-trip in the request); here each
    delivery becomes its own task, so one slow endpoint never waits for another."""
    for pk in ids:
        deliver_webhook.delay(pk)


def _run_in_thread(ids: list[int]) -> None:
    def run() -> None:
        try:
            for pk in ids:
                webhooks.deliver(pk)
        except Exception:  # noqa: BLE001 - a background thread must log, not die silently
            logger.exception("webhook delivery thread failed")
        finally:
            connection.close()

    threading.Thread(target=run, name="casehub-webhooks", daemon=True).start()


class _Enqueuer:
    """Publishes the fan-out messages from one background thread per process.

    Publishing to the broker costs milliseconds (measured 5–6 ms a message here, bench/events.py);
    the request that committed the change must not wait for it. Nothing is lost if the process dies
    before the message goes out: the delivery rows are already committed, and the beat task
    ``deliver_due_webhooks`` sends every due one.
    """

    def __init__(self) -> None:
        self.queue: queue.Queue[list[int]] = queue.Queue()
        self.pid: int | None = None
        self.lock = threading.Lock()

    def put(self, ids: list[int]) -> None:
        with self.lock:
            if self.pid != os.getpid():  # first use in this process (also after a fork)
                self.queue = queue.Queue()
                threading.Thread(target=self._run, name="casehub-webhook-enqueue", daemon=True).start()
                self.pid = os.getpid()
        self.queue.put(ids)

    def _run(self) -> None:
        q = self.queue
        while True:
            ids = q.get()
            try:
                fan_out.delay(ids)
            except Exception:  # noqa: BLE001 - broker down: the beat task sends the deliveries later
                logger.exception("could not queue %d webhook deliveries; the beat task will send them", len(ids))
            finally:
                q.task_done()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every queued message was handed to the broker (tests, orderly shutdown)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)


enqueuer = _Enqueuer()


def dispatch_deliveries(ids: list[int]) -> None:
    """Queue the deliveries of one transaction: one message, fanned out to a task per delivery.

    With a broker, the message is published from a background thread (:class:`_Enqueuer`). With
    eager tasks (the embedded default) a task would run inside the request that made the change;
    a thread keeps the endpoint's answer out of that request's time.
    """
    if not ids:
        return
    if settings.CELERY_TASK_ALWAYS_EAGER:
        if settings.CASEHUB_WEBHOOK_SYNC_FOR_TESTS:
            for pk in ids:
                webhooks.deliver(pk)
        else:
            _run_in_thread(list(ids))
        return
    enqueuer.put(list(ids))
