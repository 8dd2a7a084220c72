"""Background work of the audit app."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="casehub.audit.tasks.sign_checkpoint_task", ignore_result=True)
def sign_checkpoint_task() -> int | None:
    """Celery beat, every 15 minutes: sign the chain head if it moved. Returns the sequence signed."""
    from casehub.audit.checkpoints import sign_checkpoint

    checkpoint = sign_checkpoint()
    return checkpoint.sequence if checkpoint else None
