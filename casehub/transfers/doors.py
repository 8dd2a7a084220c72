"""Who sees a transfer package (404 otherwise) and who may act on it (403): the one rule of
:mod:`casehub.agencies.doors`, used by the package pages and the API alike.

Seeing: the sending and the receiving agency, through a role that works with packages or reads
cases. Acting: re-verifying is the receiver's, while the package waits for it. Accepting and
rejecting are workflow transitions (:func:`workflows.engine.fire` checks them).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.doors import Door
from casehub.cases.selectors import CASE_READERS
from casehub.transfers.selectors import visible_transfers
from workflows.models import Transfer, TransferStatus

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


TRANSFERS = Door("transfer", _visible, {"reverify": _reverify})
