"""Who sees a transfer package (404 otherwise) and who may act on it (403): the one rule of
:mod:`casehub.agencies.doors`, used by the package pages and the API alike.

Seeing: the sending and the receiving agency, through a role that works with packages or reads
cases. Acting: re-verifying is the receiver's, while the package waits for it; taking the whole package
away as an archive is the sender's, and the receiver's once it holds what was sent. Accepting and
rejecting are workflow transitions (:func:`workflows.engine.fire` checks them).

Internal approval requests follow the same rule: an agency's own requests, seen by the roles that
read packages (404 otherwise); deciding or withdrawing one is checked by the workflow engine (403
with its reason; a role without approval rights is refused before). The inbox and the approval list are lists: 403 to a role that reads none.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.doors import Door, ListDoor, any_capability
from casehub.cases.selectors import CASE_READERS
from casehub.transfers.selectors import RECEIVED, visible_approvals, visible_transfers
from workflows.models import ApprovalRequest, Transfer, TransferStatus

INBOX_CAPABILITIES = (p.REVIEW_INCOMING, p.APPROVE_OUTGOING, p.PREPARE_OUTGOING, p.DOCKET_CASE, p.DELIVER_JUDGMENT,
                      p.REGISTER_PAPER_TRANSFER)
# Roles that work with packages; others (an agency administrator, a detention officer) see none.
TRANSFER_READERS = (*INBOX_CAPABILITIES, *CASE_READERS)


def _visible(user: Any) -> QuerySet[Transfer]:
    if not any(p.has_capability(user, c) for c in TRANSFER_READERS):
        return Transfer.objects.none()
    return visible_transfers(user)


def _reverify(user: Any, transfer: Transfer) -> str | None:
    if (user.agency_id != transfer.to_agency_id or not p.has_capability(user, p.REVIEW_INCOMING)
            or transfer.status != TransferStatus.SENT):
        return _("只能重新校验发给本机关的待接收移送。")
    return None


def _archive(user: Any, transfer: Transfer) -> str | None:
    """The whole package as one archive (its manifest carries identity numbers): the sender at any
    time, the receiver once it holds what was sent."""
    if not (p.has_capability(user, p.READ_DOSSIER) and p.has_capability(user, p.VIEW_PERSON_ID)):
        return _("您的角色无权下载完整的移送包。")
    is_sender = transfer.from_agency_id == user.agency_id
    is_receiver = transfer.to_agency_id == user.agency_id and transfer.status in RECEIVED
    if not (is_sender or is_receiver):
        return _("接收机关在接收移送后方可下载完整的移送包。")
    return None


TRANSFERS = Door("transfer", _visible, {"reverify": _reverify, "archive": _archive})


def _visible_approvals(user: Any) -> QuerySet[ApprovalRequest]:
    if not any(p.has_capability(user, c) for c in TRANSFER_READERS):
        return ApprovalRequest.objects.none()
    return visible_approvals(user)


def _decide(user: Any, approval: ApprovalRequest) -> str | None:
    if not p.has_capability(user, p.APPROVE_OUTGOING):
        return _("只有本机关的审批人可以审批。")
    return None  # the rest (not one's own request, still pending) is the engine's, with its reason


APPROVALS = Door("approval", _visible_approvals, {"decide": _decide})

# The lists: the inbox page (packages and approvals) and the API's transfer list; the API's approval list.
TRANSFER_LIST = ListDoor("transfer.list", any_capability(*TRANSFER_READERS), lambda: _("您的角色无权查看移送。"))
APPROVAL_LIST = ListDoor("approval.list", any_capability(*TRANSFER_READERS), lambda: _("您的角色无权查看内部审批。"))
# Registering a hand-over done on paper outside the platform (page and API): the roles that do it, in an agency.
PAPER_REGISTER = ListDoor("transfer.paper", lambda user: bool(user.agency_id) and p.has_capability(
    user, p.REGISTER_PAPER_TRANSFER), lambda: _("您的角色不能登记纸质移送。"))
