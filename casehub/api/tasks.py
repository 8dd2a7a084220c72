"""Long work behind 202 Accepted: an :class:`ApiTask` row the client polls, run by Celery.

A kind of long work registers a runner with :func:`register`. The runner receives the task row
and a ``progress(percent, step)`` callback and returns a JSON-able result; an exception marks the
task failed with a code and message (a Django ``ValidationError``/``PermissionDenied`` keeps its
message, anything else is logged and reported as ``internal_error`` without internals).
The runner is queued with ``transaction.on_commit``, so it never starts before its row exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.api.models import ApiTask, TaskStatus

logger = logging.getLogger("casehub.api")

Progress = Callable[[int, str], None]
Runner = Callable[[ApiTask, Progress], Any]
Mirror = Callable[[ApiTask], dict[str, Any]]
Retrier = Callable[[ApiTask, Any], None]
_RUNNERS: dict[str, Runner] = {}
_MIRRORS: dict[str, Mirror] = {}
_RETRIERS: dict[str, Retrier] = {}


def register(kind: str) -> Callable[[Runner], Runner]:
    def decorator(runner: Runner) -> Runner:
        _RUNNERS[kind] = runner
        return runner

    return decorator


def mirror(kind: str) -> Callable[[Mirror], Mirror]:
    """Register how to read a task whose work another app runs and tracks itself (a dossier
    ingest job, a transfer verification): the function returns the current ``status``,
    ``progress``, ``step``, ``result``, ``error`` from that app's own row."""

    def decorator(fn: Mirror) -> Mirror:
        _MIRRORS[kind] = fn
        return fn

    return decorator


def retrier(kind: str) -> Callable[[Retrier], Retrier]:
    """Register how a mirrored kind of work is queued again once it stalled (the app's own retry,
    which checks permission and raises ValidationError if the work is not stalled)."""

    def decorator(fn: Retrier) -> Retrier:
        _RETRIERS[kind] = fn
        return fn

    return decorator


def _quiet_too_long(last: Any) -> bool:
    from datetime import timedelta

    from django.conf import settings

    return last is not None and timezone.now() - last > timedelta(seconds=2 * settings.CASEHUB_TASK_VISIBILITY_TIMEOUT)


def retry(task: ApiTask, user: Any) -> None:
    """Queue stalled work again: a mirrored kind through its app's retry, our own runners by
    putting the row back to pending (a redelivered or retried run of a task that is in fact
    alive finds it not pending and does nothing). Raises ValidationError if it is not stalled."""
    if task.kind in _RETRIERS:
        _RETRIERS[task.kind](task, user)
        return
    if not current_state(task).get("stalled"):
        raise ValidationError(_("该任务未停滞，无需重试。"))
    with transaction.atomic():
        if ApiTask.objects.filter(pk=task.pk, status__in=(TaskStatus.PENDING, TaskStatus.RUNNING)).update(
                status=TaskStatus.PENDING, updated_at=timezone.now()):
            transaction.on_commit(lambda: run_api_task.delay(str(task.pk)))


def track(kind: str, *, owner: Any, params: dict[str, Any]) -> ApiTask:
    """A task resource over work already queued elsewhere; it is read through its mirror."""
    if kind not in _MIRRORS:
        raise KeyError(kind)
    return ApiTask.objects.create(kind=kind, owner=owner, params=params, status=TaskStatus.RUNNING)


def current_state(task: ApiTask) -> dict[str, Any]:
    """The task's fields as the client sees them now (mirrored tasks read the source row)."""
    state = {"status": task.status, "progress": task.progress, "step": task.step, "result": task.result,
             "error": task.error, "finished_at": task.finished_at,
             "stalled": task.status in (TaskStatus.PENDING, TaskStatus.RUNNING) and _quiet_too_long(task.updated_at)}
    if task.kind in _MIRRORS:
        state.update(_MIRRORS[task.kind](task))
    return state


def start(kind: str, *, owner: Any, params: dict[str, Any]) -> ApiTask:
    """Create the task row and queue its runner after the surrounding transaction commits."""
    if kind not in _RUNNERS:
        raise KeyError(kind)
    with transaction.atomic():
        task = ApiTask.objects.create(kind=kind, owner=owner, params=params)
        transaction.on_commit(lambda: run_api_task.delay(str(task.pk)))
    return task


def _update(task: ApiTask, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(task, name, value)
    ApiTask.objects.filter(pk=task.pk).update(updated_at=timezone.now(), **fields)


@shared_task(name="casehub.api.run_api_task")
def run_api_task(task_id: str) -> None:
    task = ApiTask.objects.select_related("owner").filter(pk=task_id).first()
    if task is None or task.status != TaskStatus.PENDING:
        return  # already run (redelivered message) or deleted
    _update(task, status=TaskStatus.RUNNING, progress=0)

    def progress(percent: int, step: str) -> None:
        _update(task, progress=max(0, min(100, int(percent))), step=step[:100])

    try:
        result = _RUNNERS[task.kind](task, progress)
    except (ValidationError, PermissionDenied) as exc:
        message = " ".join(getattr(exc, "messages", None) or [str(exc)])
        code = "validation_error" if isinstance(exc, ValidationError) else "permission_denied"
        _update(task, status=TaskStatus.FAILED, error={"code": code, "message": message},
                finished_at=timezone.now())
    except Exception:
        logger.exception("API task %s (%s) failed", task.pk, task.kind)
        _update(task, status=TaskStatus.FAILED, finished_at=timezone.now(),
                error={"code": "internal_error", "message": _("任务执行失败，已记录错误，请联系管理员。")})
    else:
        _update(task, status=TaskStatus.SUCCEEDED, progress=100, result=result, finished_at=timezone.now())


@shared_task(name="casehub.api.purge_expired")
def purge_expired() -> dict[str, int]:
    """Forget idempotency records past their lifetime and finished tasks nobody polls any more
    (beat, hourly). Only bookkeeping is deleted: the cases, documents and audit events stay."""
    from datetime import timedelta

    from django.conf import settings

    from casehub.api.models import IdempotencyRecord

    now = timezone.now()
    keys_before = now - timedelta(hours=getattr(settings, "CASEHUB_API_IDEMPOTENCY_TTL_HOURS", 24))
    tasks_before = now - timedelta(days=getattr(settings, "CASEHUB_API_TASK_TTL_DAYS", 7))
    keys, _detail = IdempotencyRecord.objects.filter(created_at__lt=keys_before).delete()
    # A mirrored task's own row never changes state (the work's app tracks it), so age alone decides.
    finished, _detail = ApiTask.objects.filter(created_at__lt=tasks_before).delete()
    return {"idempotency_records": keys, "tasks": finished}
