"""Home-page inbox: the agency's clocks due soon or overdue, as a countdown."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.agencies.permissions import APPROVE_OUTGOING, READ_DOSSIER, has_capability
from casehub.clocks.selectors import agency_clocks, due_soon
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


def describe_period(clock: Any) -> str:
    """The statutory window of a clock in words ("30 日", "2 个月"), as the law states it."""
    parts = []
    if clock.period_months:
        parts.append(_("%(n)d个月") % {"n": clock.period_months})
    if clock.period_days:
        parts.append(_("%(n)d日") % {"n": clock.period_days})
    return " ".join(parts)


def clocks_due(user: Any) -> Inbox | None:
    """Every running clock of the agency's cases, soonest due first, each with its window.

    A home page that shows only the clocks due this week hides a 31-day clock until its last
    week; the user sees them all, and how many fall within the warning window (setting
    ``CASEHUB_CLOCK_INBOX_DAYS``), so nothing at risk is out of sight.
    """
    if not any(has_capability(user, c) for c in (READ_DOSSIER, APPROVE_OUTGOING)):
        return None
    today = timezone.localdate()
    window = settings.CASEHUB_CLOCK_INBOX_DAYS
    qs = agency_clocks(user)
    items = []
    for clock in qs[:10]:
        remaining = clock.remaining_days(today)
        who = f" · {clock.person.name}" if clock.person_id else ""
        period = describe_period(clock)
        items.append(InboxItem(
            title=f"{clock.case.title}{who}",
            url=reverse("clocks:case", args=[clock.case_id]),
            detail=" · ".join(part for part in (
                str(clock.get_kind_display()), period and _("期限 %(period)s") % {"period": period},
                describe_remaining(remaining, clock.provisional)) if part),
            due=clock.due_date, overdue=remaining is not None and remaining < 0,
        ))
    soon = due_soon(user, today=today, within_days=window).count()
    # The window is in calendar days while a due date moves past weekends and holidays (CPL art. 105),
    # so the count of clocks "within the window" is stated next to the full, ordered list.
    return Inbox(key="clocks", title=gettext_lazy("期限提醒"), items=items, more_url=reverse("clocks:list"),
                 total=qs.count(),
                 note=_("本机关全部在办期限，按届满日期排列；其中 %(soon)d 项 %(n)d 日内届满或已超期")
                 % {"soon": soon, "n": window})
