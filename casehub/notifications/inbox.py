"""Home-page inbox: the user's unread notifications."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from casehub.notifications.models import Notification
from casehub.web.inboxes import Inbox, InboxItem


def unread_notifications(user: Any) -> Inbox | None:
    if not user.is_authenticated:
        return None
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    items = [InboxItem(title=n.shown_title, url=reverse("notifications:open", args=[n.pk]),
                       detail=n.shown_body[:120])
             for n in qs[:10]]
    return Inbox(key="notifications", title=_("通知"), items=items, more_url=reverse("notifications:list"),
                 total=qs.count())
