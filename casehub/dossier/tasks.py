"""Celery tasks of the dossier. Thin: the work is in :mod:`casehub.dossier.services`."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="casehub.dossier.tasks.ingest_document", acks_late=True)
def ingest_document(job_id: str) -> str:
    """Run the ingest pipeline for one upload (validate → normalise → store → count → record)."""
    from casehub.dossier.services import run_ingest_job

    return run_ingest_job(job_id).status


@shared_task(name="casehub.dossier.tasks.assemble_volumes", acks_late=True)
def assemble_volumes(job_id: str) -> str:
    """Seal a draft volume and assemble, sign and store every sealed volume of that part."""
    from casehub.dossier.services import run_assembly_job

    return run_assembly_job(job_id).status


@shared_task(name="casehub.dossier.tasks.purge_stale_uploads")
def purge_stale_uploads() -> int:
    """Remove abandoned chunked uploads and orphaned staged files (run it hourly from beat)."""
    from casehub.dossier.services import purge_stale_uploads as purge

    return purge()
