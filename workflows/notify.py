"""In-app notifications sent after a transition or approval commits (best effort).

Who hears what: the supervisors of an agency when something of theirs waits for approval; the
requesting officer when it is decided; the reviewers of the receiving agency when a package
arrives; the handling officers of the sending agency when their package is answered.
"""

from __future__ import annotations

import logging
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_noop

from casehub.agencies.models import Role, User
from casehub.agencies.permissions import role_group_name

logger = logging.getLogger(__name__)


def _users(agency_id: int, roles: list[str]) -> list[User]:
    return list(User.objects.filter(agency_id=agency_id, is_active=True,
                                    groups__name__in=[role_group_name(r) for r in roles]).distinct())


def dispatch(event: str, **kw: Any) -> None:
    try:
        from casehub.notifications.messages import message
        from casehub.notifications.services import notify
    except ImportError:  # notifications app not installed
        return
    kw["message"] = message
    try:
        _dispatch(notify, event, **kw)
    except Exception:  # a notification must never break a committed transition
        logger.exception("could not send workflow notification %s", event)


def _dispatch(notify: Any, event: str, *, message: Any, **kw: Any) -> None:
    # Titles are stored as msgid + parameters and shown in each reader's language; choice labels
    # go in as lazy labels so they are translated when read as well.
    from workflows.models import ApprovalStatus, TransferKind, TransferStatus

    if event == "approval_requested":
        a = kw["approval"]
        notify(_users(a.agency_id, [Role.SUPERVISOR]), kind="workflow.approval", case=a.case,
               title=message(gettext_noop("待审批：%(case)s"), case=a.case.title),
               url=reverse("transfers:approval", args=[a.pk]), key=f"approval:{a.pk}:requested")
    elif event == "approval_cancelled":
        from casehub.notifications.services import settle

        settle(f"approval:{kw['approval'].pk}:requested")
    elif event == "approval_decided":
        a = kw["approval"]
        from casehub.notifications.services import settle

        # The supervisors' "awaiting approval" notices are done once one of them decided.
        settle(f"approval:{a.pk}:requested")
        notify([a.requested_by], kind="workflow.approval", case=a.case,
               title=message(gettext_noop("审批结果（%(status)s）：%(case)s"),
                             status=ApprovalStatus(a.status).label, case=a.case.title),
               body=a.comment, url=reverse("transfers:approval", args=[a.pk]), key=f"approval:{a.pk}:decided")
    elif event == "transitioned":
        case = kw["case"]
        for t in kw["transfers"]:
            url = reverse("transfers:detail", args=[t.pk])
            if t.status in ("sent", "delivered"):
                roles = [Role.PROSECUTOR, Role.COURT_CLERK, Role.INVESTIGATOR, Role.JUDGE]
                notify(_users(t.to_agency_id, roles), kind="workflow.transfer", case=case,
                       title=message(gettext_noop("收到%(kind)s：%(case)s"), kind=TransferKind(t.kind).label,
                                     case=case.title),
                       url=url, key=f"transfer:{t.pk}:received")
            elif t.status in ("accepted", "rejected"):
                notify(list(case.handling_officers.filter(agency_id=t.from_agency_id)), kind="workflow.transfer",
                       case=case, title=message(gettext_noop("%(kind)s%(status)s：%(case)s"), kind=TransferKind(t.kind).label,
                                                status=TransferStatus(t.status).label, case=case.title),
                       body=t.decision_reason, url=url, key=f"transfer:{t.pk}:{t.status}")
