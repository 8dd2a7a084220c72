"""Beat tasks of the engine: bail and residential surveillance end when their period runs out."""

from __future__ import annotations

from celery import shared_task

from workflows import measures


@shared_task(name="workflows.tasks.lapse_expired_measures_task")
def lapse_expired_measures_task() -> int:
    return measures.lapse_expired()
