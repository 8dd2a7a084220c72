"""Home-page inboxes: the bureau's notices waiting for counsel (with the 3-day countdown of Legal
Aid Law art. 36), and the lawyer's assignments."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.agencies import permissions as p
from casehub.clocks.inbox import describe_remaining
from casehub.legalaid.models import RequestStatus
from casehub.legalaid.selectors import bureau_requests, counsel_assignments
from casehub.web.inboxes import Inbox, InboxItem


def bureau_inbox(user: Any) -> Inbox | None:
    if not p.has_capability(user, p.ASSIGN_COUNSEL):
        return None
    today = timezone.localdate()
    qs = bureau_requests(user).filter(status=RequestStatus.SENT)
    items = []
    for aid in qs[:10]:
        clock = aid.assignment_clock
        remaining = clock.remaining_days(today) if clock else None
        items.append(InboxItem(
            title=f"{aid.person.name} · {aid.get_kind_display()}",
            url=reverse("legalaid:detail", args=[aid.pk]),
            detail=" · ".join(part for part in (
                str(aid.from_agency), str(aid.get_ground_display()),
                describe_remaining(remaining, clock.provisional) if clock else "") if part),
            due=clock.due_date if clock else None, overdue=remaining is not None and remaining < 0,
        ))
    return Inbox(key="legal_aid", title=gettext_lazy("待指派律师"), items=items, more_url=reverse("legalaid:inbox"),
                 total=qs.count(), note=_("收到通知辩护之日起三日内指派律师（法律援助法第三十六条）"))


def counsel_inbox(user: Any) -> Inbox | None:
    if not p.has_capability(user, p.READ_AS_COUNSEL):
        return None
    qs = counsel_assignments(user)
    items = [InboxItem(title=f"{aid.case.title} · {aid.person.name}", url=reverse("legalaid:counsel", args=[aid.pk]),
                       detail=f"{aid.get_kind_display()} · {aid.bureau}") for aid in qs[:10]]
    return Inbox(key="counsel", title=gettext_lazy("指派的案件"), items=items, more_url=reverse("legalaid:inbox"),
                 total=qs.count())
