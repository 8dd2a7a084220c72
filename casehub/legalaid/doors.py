"""Who sees a legal-aid notice (404 otherwise) and who may act on one (403): the one rule of
:mod:`casehub.agencies.doors`, for the legal-aid pages.

Seeing: the bureau it is addressed to sees the notice (its legal-aid officers); the lawyer assigned
sees the assignment and its case file (:mod:`casehub.legalaid.selectors`). Acting: the bureau
assigns counsel while the notice waits (403 with the reason once assigned). Notifying the bureau
is an action on the case (:data:`casehub.cases.doors.CASES`, ``notify_legal_aid``).

The inbox is a list: 403 to a role that is neither the bureau's nor a lawyer's.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.doors import Door, ListDoor, any_capability
from casehub.legalaid import selectors
from casehub.legalaid.models import LegalAidRequest, RequestStatus


def _assign(user: Any, aid: LegalAidRequest) -> str | None:
    if aid.status != RequestStatus.SENT:
        return _("该通知已经指派律师。")
    return None  # the bureau's officers are the only ones who see it (selectors.bureau_requests)


REQUESTS = Door("legalaid.request", selectors.bureau_requests, {"assign": _assign})
ASSIGNMENTS = Door("legalaid.assignment", selectors.counsel_assignments)
INBOX = ListDoor("legalaid.inbox", any_capability(p.ASSIGN_COUNSEL, p.READ_AS_COUNSEL),
                 lambda: _("您的角色无权访问此页面。"))
