"""Home-page inbox: the agency's clocks due soon or overdue, as a countdown."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.agencies.permissions import APPROVE_OUTGOING, READ_DOSSIER, has_capability
from casehub.clocks.selectors import due_soon
from casehub.web.inboxes import Inbox, InboxItem


def describe_remaining(remaining: int | None, provisional: bool = False) -> str:
    if remaining is None:
        text = _("已结束")
    elif remaining < 0:
        text = _("已超期 %(n)d 日") % {"n": -remaining}
    elif remaining == 0:
        text = _("今日届满")
    else:
        text = _("剩余 %(n)d 日") % {"n": remaining}
    if provisional:
        text += _("（暂定：该年度节假日安排未公布）")
    return text


def clocks_due(user: Any) -> Inbox | None:
    if not any(has_capability(user, c) for c in (READ_DOSSIER, APPROVE_OUTGOING)):
        return None
    today = timezone.localdate()
    window = settings.CASEHUB_CLOCK_INBOX_DAYS
    qs = due_soon(user, today=today, within_days=window)
    items = []
    for clock in qs[:10]:
        remaining = clock.remaining_days(today)
        who = f" · {clock.person.name}" if clock.person_id else ""
        items.append(InboxItem(
            title=f"{clock.case.title}{who}",
            url=reverse("clocks:case", args=[clock.case_id]),
            detail=f"{clock.get_kind_display()} · {describe_remaining(remaining, clock.provisional)}",
            due=clock.due_date, overdue=remaining is not None and remaining < 0,
        ))
    # The window is in calendar days while a due date moves past weekends and holidays (CPL art. 105),
    # so a clock opened today can be due beyond it (a 7-day clock whose 7th day is a Saturday): the
    # panel says which clocks it holds, and the full list is one click away.
    return Inbox(key="clocks", title=gettext_lazy("期限提醒"), items=items, more_url=reverse("clocks:list"),
                 total=qs.count(), note=_("%(n)d 日内届满或已超期的期限") % {"n": window})
