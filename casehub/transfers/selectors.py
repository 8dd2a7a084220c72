"""Permission-filtered queries over transfers and approvals.

A transfer is visible to the agency that sent it and the agency it was sent to — the receiver
sees a pending package's manifest (this row) before it has any right on the case or its
documents. Everyone else gets a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from workflows.models import ApprovalRequest, ApprovalStatus, Transfer, TransferStatus


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


# Statuses after which the receiver holds what was sent.
RECEIVED = (TransferStatus.ACCEPTED, TransferStatus.DELIVERED)


def document_access_filter(agency_id: int | None) -> Q:
    """Which dossier documents an agency may read (a ``Q`` over ``dossier.Document``).

    Its own documents (including its work file 副卷), and main-file documents that reached it in a
    package it accepted or that was delivered to it. A pending package shows its manifest only;
    an earlier agency does not see what later agencies add unless it is sent back to it.
    """
    if agency_id is None:
        return Q(pk__in=[])
    received = Transfer.documents.through.objects.filter(
        transfer__to_agency_id=agency_id, transfer__status__in=RECEIVED
    ).values("document_id")
    return Q(owner_agency_id=agency_id) | (Q(part="main") & Q(pk__in=received))


def volume_access_filter(agency_id: int | None) -> Q:
    """Which assembled volumes an agency may read (a ``Q`` over ``dossier.Volume``): its own, and
    main-file volumes that travelled in a package it accepted or that was delivered to it."""
    if agency_id is None:
        return Q(pk__in=[])
    received = Transfer.volumes.through.objects.filter(
        transfer__to_agency_id=agency_id, transfer__status__in=RECEIVED
    ).values("volume_id")
    return Q(agency_id=agency_id) | (Q(part="main") & Q(pk__in=received))


def readable_documents(user: Any, case: Any) -> QuerySet:
    """The documents of ``case`` the user may read; ``case`` must come from get_visible_case."""
    from casehub.agencies.permissions import READ_DOSSIER, has_capability
    from casehub.dossier.models import Document

    if not has_capability(user, READ_DOSSIER) or user.agency_id is None:
        return Document.objects.none()
    return Document.objects.filter(case=case).filter(document_access_filter(user.agency_id))
