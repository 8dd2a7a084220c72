"""Home-page inbox "my cases": the open cases the user's agency holds and may act on."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.agencies.permissions import UPLOAD_DOCUMENT, has_capability
from casehub.cases.display import stage_label
from casehub.cases.models import Case, CaseStatus
from casehub.cases.selectors import actionable_cases
from casehub.web.inboxes import Inbox, InboxItem


def my_cases(user: Any) -> Inbox | None:
    """The cases waiting on the user's agency, the user's own (handling officer) first, each
    with its stage and its nearest running clock of the agency. After docketing, a judge finds
    the court's case here."""
    if not has_capability(user, UPLOAD_DOCUMENT):
        return None
    # clocks sits above cases (its selectors read cases); this page joins the two, so it reaches
    # up at run time instead of tying the packages into a cycle (docs/architecture.md, "Imports").
    from casehub.clocks.inbox import describe_remaining
    from casehub.clocks.selectors import nearest_clocks

    mine = Case.handling_officers.through.objects.filter(case_id=OuterRef("pk"), user_id=user.pk)
    qs = (actionable_cases(user).filter(status=CaseStatus.ACTIVE).annotate(is_mine=Exists(mine))
          .order_by("-is_mine", "-updated_at", "-id"))
    rows = list(qs[:10])
    clocks = nearest_clocks([c.pk for c in rows], agency=user.agency)
    today = timezone.localdate()
    items = []
    for case in rows:
        clock = clocks.get(case.pk)
        parts = [str(stage_label(case.stage))]
        if case.is_mine:
            parts.append(_("本人承办"))
        if clock is not None:
            parts.append(f"{clock.get_kind_display()} {describe_remaining(clock.remaining_days(today))}")
        items.append(InboxItem(title=case.title, url=reverse("cases:detail", args=[case.pk]),
                               detail=" · ".join(parts), due=clock.due_date if clock else None,
                               overdue=bool(clock and clock.due_date < today)))
    return Inbox(key="my-cases", title=gettext_lazy("我的案件"), items=items,
                 more_url=reverse("cases:list"), total=qs.count(),
                 note=_("本机关正在办理的案件，本人承办的在前"))
