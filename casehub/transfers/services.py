"""Service functions of transfers that are not workflow transitions: re-running a verification.
Transitions and paper registrations (:func:`workflows.engine.register_paper_transfer`) live in
:mod:`workflows.engine`."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from casehub.audit.services import record_event
from casehub.transfers.doors import TRANSFERS
from workflows.engine import register_paper_transfer  # noqa: F401 - paper hand-overs go through the engine
from workflows.models import Transfer, VerificationStatus


def reverify(transfer: Transfer, *, acting_user: Any) -> None:
    """The receiver asks for the package to be verified again (e.g. after storage was repaired)."""
    TRANSFERS.check(acting_user, transfer, "reverify")  # the one rule: casehub.transfers.doors
    with transaction.atomic(durable=True):
        Transfer.objects.filter(pk=transfer.pk).update(verification_status=VerificationStatus.PENDING,
                                                       verification_progress=0)
        record_event("transfer.reverify_requested", actor=acting_user, obj=transfer, case=transfer.case_id,
                     details={"transfer": transfer.pk})
        pk = transfer.pk

        def _run() -> None:
            from casehub.transfers.tasks import verify_transfer

            verify_transfer.delay(pk)

        transaction.on_commit(_run)
