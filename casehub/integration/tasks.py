"""Celery tasks that send webhooks. The outbox is the change feed: a change writes its feed entries
and, after its commit, asks for one "wake up" message; the worker derives what to send from the
entries past each endpoint's cursor (:func:`casehub.integration.webhooks.drain`)."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection

from casehub.integration import webhooks

logger = logging.getLogger("casehub.integration")

# While this key exists in the broker's Redis a wake-up message is queued and not yet taken up:
# transactions committed meanwhile need not publish another (the queued one will see them).
WAKE_KEY = "casehub:webhooks:wake-pending"
WAKE_KEY_TTL = 60  # seconds: a lost message delays deliveries until the beat task, never longer


@shared_task(name="casehub.integration.tasks.wake_webhooks", acks_late=True, ignore_result=True)
def wake_webhooks() -> int:
    """Queue one drain task per endpoint that has entries past its cursor."""
    wake_flag.clear()  # before reading: whatever commits from now on publishes a new wake-up
    ids = webhooks.endpoints_with_work()
    for pk in ids:
        drain_webhook_endpoint.delay(pk)
    return len(ids)


@shared_task(name="casehub.integration.tasks.drain_webhook_endpoint", acks_late=True, ignore_result=True)
def drain_webhook_endpoint(endpoint_id: int) -> int:
    """Send one endpoint what is past its cursor, in order (one task per endpoint: a slow or failing
    endpoint holds up only itself)."""
    return webhooks.drain(endpoint_id)


@shared_task(name="casehub.integration.tasks.deliver_webhook", acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> str | None:
    """One retry (or replay) of a delivery row."""
    return webhooks.deliver(delivery_id)


@shared_task(name="casehub.integration.tasks.deliver_due_webhooks", ignore_result=True)
def deliver_due_webhooks() -> int:
    """Beat: queue every delivery whose time has come (retries, replays, and any whose worker died)
    and every endpoint with entries past its cursor (whose wake-up message was lost)."""
    ids = webhooks.due()
    for pk in ids:
        deliver_webhook.delay(pk)
    return len(ids) + wake_webhooks()


@shared_task(name="casehub.integration.tasks.fan_out", ignore_result=True)
def fan_out(ids: list[int]) -> None:
    """Messages of the former per-transaction fan-out still in a queue at an upgrade."""
    for pk in ids:
        deliver_webhook.delay(pk)


class _WakeFlag:
    """"A wake-up message is pending", kept in the broker's Redis (SET NX with a time to live).

    With another broker there is no flag, and every committing transaction publishes one message.
    """

    def __init__(self) -> None:
        self._client: Any = None
        self._url: str | None = None

    def _redis(self) -> Any:
        url = settings.CELERY_BROKER_URL or ""
        if not url.startswith(("redis://", "rediss://")):
            return None
        if self._client is None or self._url != url:
            import redis

            self._client, self._url = redis.Redis.from_url(url, socket_timeout=2), url
        return self._client

    def set(self) -> bool:
        """True when this caller set the flag (and so must publish the wake-up message)."""
        client = self._redis()
        if client is None:
            return True
        try:
            return bool(client.set(WAKE_KEY, b"1", nx=True, ex=WAKE_KEY_TTL))
        except Exception:  # noqa: BLE001 - no flag: publish (a wake-up too many is harmless)
            return True

    def clear(self) -> None:
        client = self._redis()
        if client is None:
            return
        try:
            client.delete(WAKE_KEY)
        except Exception:  # noqa: BLE001 - the flag expires by itself
            logger.warning("could not clear the webhook wake-up flag", exc_info=True)


wake_flag = _WakeFlag()


class _Enqueuer:
    """Publishes wake-up messages from one background thread per process.

    Publishing to the broker costs milliseconds; the request that committed the change must not
    wait for it. Requests that arrive while the thread is busy are folded into one message, and none
    is published while one is already pending (:class:`_WakeFlag`). Nothing is lost if the process
    dies before the message goes out: the feed entries are committed, and the beat task
    ``deliver_due_webhooks`` wakes every endpoint with entries past its cursor.
    """

    def __init__(self) -> None:
        # None: wake the endpoints up; a list: delivery rows to send now (replays).
        self.queue: queue.Queue[list[int] | None] = queue.Queue()
        self.pid: int | None = None
        self.lock = threading.Lock()
        self.published = 0

    def put(self, ids: list[int] | None = None) -> None:
        with self.lock:
            if self.pid != os.getpid():  # first use in this process (also after a fork)
                self.queue = queue.Queue()
                threading.Thread(target=self._run, name="casehub-webhook-enqueue", daemon=True).start()
                self.pid = os.getpid()
        self.queue.put(ids)

    def _run(self) -> None:
        q = self.queue
        while True:
            items = [q.get()]
            try:
                while True:  # fold the requests already waiting into this one message
                    try:
                        items.append(q.get_nowait())
                    except queue.Empty:
                        break
                for ids in (i for i in items if i):  # replays: their own delivery rows
                    self._publish(lambda ids=ids: [deliver_webhook.delay(pk) for pk in ids])
                if any(i is None for i in items) and wake_flag.set():
                    if not self._publish(wake_webhooks.delay):
                        wake_flag.clear()
            finally:
                for _ in items:
                    q.task_done()

    def _publish(self, send: Any) -> bool:
        try:
            send()
        except Exception:  # noqa: BLE001 - broker down: the beat task sends what is due
            logger.exception("could not publish to the broker; the beat task will send the webhooks")
            return False
        self.published += 1
        return True

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every request was handed to the broker (tests, orderly shutdown)."""
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)


enqueuer = _Enqueuer()


def _drain_all_in_threads() -> None:
    """Embedded default (no broker): one thread per endpoint with work, so that an endpoint that
    does not answer holds up nobody else, and nothing runs inside the request."""

    def run(endpoint_id: int) -> None:
        try:
            webhooks.drain(endpoint_id)
        except Exception:  # noqa: BLE001 - a background thread must log, not die silently
            logger.exception("webhook delivery thread failed")
        finally:
            connection.close()

    def wake() -> None:
        try:
            ids = webhooks.endpoints_with_work()
        finally:
            connection.close()
        for pk in ids:
            threading.Thread(target=run, args=(pk,), name=f"casehub-webhooks-{pk}", daemon=True).start()

    threading.Thread(target=wake, name="casehub-webhooks", daemon=True).start()


def request_wake() -> None:
    """After a commit that wrote feed entries for an agency with webhook endpoints."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        if settings.CASEHUB_WEBHOOK_SYNC_FOR_TESTS:
            for pk in webhooks.endpoints_with_work():
                webhooks.drain(pk)
        else:
            _drain_all_in_threads()
        return
    enqueuer.put()


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


def dispatch_deliveries(ids: list[int]) -> None:
    """Send existing delivery rows now (a replay): a task each, or a thread in the embedded default."""
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
