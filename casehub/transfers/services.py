"""Service functions of transfers that are not workflow transitions: re-running a verification.
Transitions and paper registrations (:func:`workflows.engine.register_paper_transfer`) live in
:mod:`workflows.engine`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from casehub.agencies.permissions import REVIEW_INCOMING, has_capability
from casehub.audit.services import record_event
from workflows.engine import register_paper_transfer  # noqa: F401 - paper hand-overs go through the engine
from workflows.models import Transfer, TransferStatus, VerificationStatus


def reverify(transfer: Transfer, *, acting_user: Any) -> None:
    """The receiver asks for the package to be verified again (e.g. after storage was repaired)."""
    if (acting_user.agency_id != transfer.to_agency_id or not has_capability(acting_user, REVIEW_INCOMING)
            or transfer.status != TransferStatus.SENT):
        raise PermissionDenied(_("只能重新校验发给本机关的待接收移送。"))
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
