"""Background work of transfers: verifying a received package (Celery; eager in tests)."""

from __future__ import annotations

import time

from celery import shared_task
from django.db import transaction

from casehub.audit.services import record_event
from workflows.models import Transfer, VerificationStatus


@shared_task(name="transfers.verify_transfer", acks_late=True)
def verify_transfer(transfer_id: int) -> dict:
    """Verify the package's signature, chain, revocation and every object's SHA-256.

    Progress is written to the row as it goes (the receiver's page polls it). The result is
    recorded with one audit event. Re-running is harmless: it verifies again from scratch.
    """
    from workflows.packaging import record_verification, verify_package

    transfer = Transfer.objects.select_related("from_agency", "to_agency").get(pk=transfer_id)
    Transfer.objects.filter(pk=transfer_id).update(
        verification_status=VerificationStatus.RUNNING, verification_progress=0
    )

    last = {"at": 0.0}

    def progress(percent: int) -> None:
        # At most twice a second: each update is a committed write the page polls, not free.
        now = time.monotonic()
        if now - last["at"] >= 0.5:
            last["at"] = now
            Transfer.objects.filter(pk=transfer_id).update(verification_progress=min(percent, 99))

    report = verify_package(transfer, progress)
    with transaction.atomic():
        record_verification(transfer, report)
        record_event(
            "transfer.verified", agency=transfer.to_agency, obj=transfer, case=transfer.case_id,
            details={"ok": report["ok"], "errors": report["errors"], "objects": report["objects_checked"],
                     "manifest_sha256": transfer.manifest_sha256},
        )
    return {"ok": report["ok"], "errors": len(report["errors"])}
