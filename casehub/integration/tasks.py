"""Celery tasks that send webhook deliveries; the outbox rows are written with the events."""

from __future__ import annotations

import logging
import threading

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
    """Queue each delivery as its own task, so one slow endpoint never waits for another.

    With eager tasks (the embedded default) a task would run inside the request that made the
    change; a thread keeps the endpoint's answer out of that request's time.
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
    for pk in ids:
        deliver_webhook.delay(pk)
