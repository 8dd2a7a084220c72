"""Home-page headline figures for auditors: the three rates of the current period and the
overdue clocks of the auditor's region, each a link into the dashboard."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.agencies.permissions import VIEW_METRICS, has_capability
from casehub.metrics import queries as q
from casehub.metrics.dashboard import default_period, scope_for
from casehub.web.inboxes import Inbox, InboxItem


def headline_figures(user: Any) -> Inbox | None:
    if not has_capability(user, VIEW_METRICS):
        return None
    period, scope = default_period(), scope_for(user, None)
    totals = q.total_rates(q.circulation_rates(period, scope))
    custody = q.custody_total(period, scope)
    overdue = q.overdue_clocks(scope).count()
    url = reverse("metrics:dashboard")

    def ratio(label: str, r: q.Ratio) -> InboxItem:
        return InboxItem(title=_("%(label)s：%(value)s") % {"label": label, "value": r.percent}, url=url,
                         detail=_("%(n)d / %(d)d") % {"n": r.numerator, "d": r.denominator})

    items = [
        ratio(_("网上案件流转率"), totals["online"]),
        ratio(_("卷宗电子化率"), totals["dossier"]),
        ratio(_("电子换押率"), custody),
        InboxItem(title=_("超期未结期限：%(n)d") % {"n": overdue}, url=url, overdue=overdue > 0),
    ]
    return Inbox(key="headline", title=gettext_lazy("主要指标"), items=items, more_url=url,
                 note=_("统计期间 %(start)s 至 %(end)s，本辖区") % {"start": period.start, "end": period.end})
