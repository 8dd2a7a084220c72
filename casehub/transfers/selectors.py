"""Permission-filtered queries over transfers and approvals.

A transfer is visible to the agency that sent it and the agency it was sent to — the receiver
sees a pending package's manifest (this row) before it has any right on the case or its
documents. Everyone else gets a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from casehub.transfers.models import ApprovalRequest, ApprovalStatus, Transfer, TransferStatus


def visible_transfers(user: Any) -> QuerySet[Transfer]:
    if not user.is_authenticated or not user.is_active or user.agency_id is None:
        return Transfer.objects.none()
    return Transfer.objects.filter(Q(from_agency_id=user.agency_id) | Q(to_agency_id=user.agency_id)).select_related(
        "case", "from_agency", "to_agency", "sent_by", "decided_by"
    )


def get_visible_transfer(user: Any, pk: Any) -> Transfer:
    try:
        return visible_transfers(user).get(pk=pk)
    except (Transfer.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def incoming_pending(user: Any) -> QuerySet[Transfer]:
    """Packages addressed to the user's agency that wait for verification and acceptance."""
    return visible_transfers(user).filter(
        to_agency_id=user.agency_id, status=TransferStatus.SENT, requires_acceptance=True
    ).order_by("sent_at", "id")


def pending_transfer_to(user: Any, case_pk: Any) -> Transfer | None:
    """The pending package of case ``case_pk`` addressed to the user's agency, if any."""
    try:
        return incoming_pending(user).filter(case_id=int(case_pk)).first()
    except (TypeError, ValueError):
        return None


def visible_approvals(user: Any) -> QuerySet[ApprovalRequest]:
    """Approval requests of the user's own agency (requesters and supervisors alike)."""
    if not user.is_authenticated or not user.is_active or user.agency_id is None:
        return ApprovalRequest.objects.none()
    return ApprovalRequest.objects.filter(agency_id=user.agency_id).select_related("case", "requested_by",
                                                                                   "decided_by")


def pending_approvals(user: Any) -> QuerySet[ApprovalRequest]:
    return visible_approvals(user).filter(status=ApprovalStatus.PENDING).order_by("requested_at", "id")
