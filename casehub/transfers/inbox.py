"""Home-page inboxes of transfers: packages waiting for this agency, and approvals waiting."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.agencies.permissions import APPROVE_OUTGOING, REVIEW_INCOMING, has_capability
from casehub.clocks.models import ACTIVE_STATUSES, Clock
from casehub.transfers import selectors
from casehub.web.inboxes import Inbox, InboxItem


def incoming(user: Any) -> Inbox | None:
    if not has_capability(user, REVIEW_INCOMING):
        return None
    qs = selectors.incoming_pending(user)
    items = []
    today = timezone.localdate()
    rows = list(qs[:10])
    # The receiver's statutory clock already runs for some packages (arrest decision, art. 91).
    clocks = {c.case_id: c for c in Clock.objects.filter(case_id__in=[t.case_id for t in rows],
                                                         agency_id=user.agency_id, status__in=ACTIVE_STATUSES)
              .order_by("-due_date")}
    for t in rows:
        clock = clocks.get(t.case_id)
        items.append(InboxItem(
            title=f"{t.get_kind_display()}：{t.case.title if t.case else t.external_reference}",
            url=reverse("transfers:detail", args=[t.pk]),
            detail=_("来自%(agency)s · %(status)s") % {"agency": t.from_agency.name,
                                                       "status": t.get_verification_status_display()},
            due=clock.due_date if clock else None, overdue=bool(clock and clock.due_date < today),
        ))
    return Inbox(key="transfers-incoming", title=gettext_lazy("待接收移送"), items=items,
                 more_url=reverse("transfers:inbox"), total=qs.count())


def approvals(user: Any) -> Inbox | None:
    if not has_capability(user, APPROVE_OUTGOING):
        return None
    qs = selectors.pending_approvals(user)
    from workflows.definition import BY_NAME

    items = [InboxItem(title=f"{BY_NAME[a.transition].label}：{a.case.title}",
                       url=reverse("transfers:approval", args=[a.pk]),
                       detail=_("%(who)s 提交") % {"who": a.requested_by}) for a in qs[:10]]
    return Inbox(key="transfers-approvals", title=gettext_lazy("待审批"), items=items,
                 more_url=reverse("transfers:inbox"), total=qs.count())
