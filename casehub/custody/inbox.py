"""Home-page inbox for detention officers: custody transfers and notices to acknowledge."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.custody.models import CertificateStatus
from casehub.custody.selectors import is_detention_officer, pending_acknowledgements
from casehub.web.inboxes import Inbox, InboxItem


def custody_inbox(user: Any) -> Inbox | None:
    if not is_detention_officer(user):
        return None
    certs, notices = pending_acknowledgements(user)
    items = [
        InboxItem(title=_("换押：%(name)s") % {"name": c.person.name},
                  url=reverse("custody:detainee", args=[c.record_id]),
                  # Sent, not yet taken over: listed, but it can be confirmed only after the take-over.
                  detail=f"{c.from_agency} → {c.to_agency} · {c.number}"
                  + (f" · {c.get_status_display()}" if c.status == CertificateStatus.ISSUED else ""))
        for c in certs[:10]
    ] + [
        InboxItem(title=_("羁押期限变更：%(name)s") % {"name": n.person.name},
                  url=reverse("custody:detainee", args=[n.record_id]),
                  detail=f"{n.get_kind_display()} · {n.number}", due=n.new_end)
        for n in notices[:10]
    ]
    return Inbox(key="custody", title=gettext_lazy("待确认换押"), items=items, more_url=reverse("custody:inbox"),
                 total=certs.count() + notices.count())
