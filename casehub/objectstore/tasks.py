"""Background work of the object store: the periodic integrity sweep (see settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from casehub.objectstore.models import StorageSweep
from casehub.objectstore.sweep import run_sweep
from storage import StorageUnavailable


# Acknowledged on receipt, unlike the other tasks: a sweep of a large store can outlast the broker's
# visibility timeout, and a redelivered copy would start a second full re-hash beside the first.
# A sweep lost with its worker is simply the next scheduled one.
@shared_task(name="casehub.objectstore.verify_storage", acks_late=False)
def verify_storage(scope: str = StorageSweep.Scope.REFERENCED) -> dict[str, Any]:
    """Run the sweep; its result is kept in a StorageSweep row for the auditor view.

    An unreachable store is recorded as a failed sweep and not retried here: the next scheduled
    run tries again, and the auditor page shows the failure meanwhile.
    """
    try:
        sweep = run_sweep(scope=scope, trigger="schedule")
    except StorageUnavailable:
        sweep = StorageSweep.objects.latest()
    return {"id": sweep.pk, "status": sweep.status, "objects": sweep.objects_checked,
            "missing": sweep.missing_count, "corrupt": sweep.corrupt_count}
