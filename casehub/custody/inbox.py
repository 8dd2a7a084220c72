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


def extension_inbox(user: Any) -> Inbox | None:
    """Home-page inbox for prosecutors: requests to extend investigation custody (CPL arts. 156, 158,
    159) waiting for this procuratorate — to forward (it received them) or to decide (it decides, or
    records a paper decision). Due: the end of the person's custody period, which the decision must
    precede. Shown only when something waits."""
    from django.db.models import F, Q

    from casehub.agencies.permissions import DECIDE_ARREST, has_capability
    from casehub.custody.models import CustodyExtension, ExtensionStatus

    agency = getattr(user, "agency_id", None)
    if agency is None or not has_capability(user, DECIDE_ARREST):
        return None
    to_forward = Q(status=ExtensionStatus.REQUESTED, received_by_id=agency) & ~Q(recorded_by_id=F("received_by_id"))
    to_decide = (Q(status=ExtensionStatus.FORWARDED, recorded_by_id=agency)
                 | Q(status=ExtensionStatus.REQUESTED, recorded_by_id=agency, received_by_id=agency))
    from casehub.clocks.models import ACTIVE_STATUSES

    waiting = (CustodyExtension.objects.filter(to_forward | to_decide, clock__status__in=ACTIVE_STATUSES).select_related("person", "clock", "police")
               .order_by("clock__due_date", "id"))
    items = [InboxItem(title=_("延长侦查羁押期限：%(name)s") % {"name": e.person.name},
                       url=reverse("custody:terms", args=[e.case_id, e.person_id]),
                       detail=f"{e.get_status_display()} · {e.police}", due=e.clock.due_date)
             for e in waiting[:10]]
    if not items:
        return None
    return Inbox(key="custody-extensions", title=gettext_lazy("待办延长侦查羁押期限"), items=items, total=waiting.count())
