"""Sending and reading in-app notifications; e-mail copies when an SMTP host is configured."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from casehub.audit.services import record_event
from casehub.notifications.messages import Message
from casehub.notifications.models import Notification

logger = logging.getLogger(__name__)


def email_enabled() -> bool:
    return not settings.EMAIL_BACKEND.endswith("dummy.EmailBackend")


def notify(
    recipients: Iterable[Any], *, kind: str, title: str | Message, body: str | Message = "", url: str = "",
    case: Any = None, key: str,
) -> list[Notification]:
    """Notify each recipient once per ``key`` (sending again with the same key does nothing).

    ``title`` and ``body`` are best given as :func:`casehub.notifications.messages.message` (a
    msgid and parameters): each reader then sees them in their own language. Their parameters
    are merged (one dict for both).

    Returns the notifications created now. E-mail copies go out after commit, only to users with
    an address, only when e-mail is configured; a mail failure is logged, never rolls back.
    """
    texts: dict[str, Any] = {"params": {}}
    for name, text in (("title", title), ("body", body)):
        if isinstance(text, Message):
            texts[name], texts[f"{name}_msgid"] = text.default_text(), text.msgid
            texts["params"].update(text.stored_params())
        else:
            texts[name] = str(text)
    texts["title"] = texts["title"][:200]
    if len(texts.get("title_msgid", "")) > 200:  # too long to keep as a msgid: the default text only
        texts.pop("title_msgid")
    created: list[Notification] = []
    with transaction.atomic():
        for user in recipients:
            note, was_created = Notification.objects.get_or_create(
                recipient=user, key=key[:120], defaults={"kind": kind, "url": url, "case": case, **texts},
            )
            if was_created:
                created.append(note)
        # One event per recipient agency: each belongs to its agency's region (an auditor of another
        # region must not read who was told what).
        by_agency: dict[Any, list[int]] = {}
        for note in created:
            by_agency.setdefault(note.recipient.agency_id, []).append(note.recipient_id)
        for agency_id, told in by_agency.items():
            record_event("notification.sent", case=case, agency=agency_id,
                         details={"kind": kind, "key": key, "recipients": told})
        if created:
            if email_enabled():
                ids = [n.pk for n in created]
                transaction.on_commit(lambda: _send_emails(ids))
    return created


def _send_emails(ids: list[int]) -> None:
    for note in Notification.objects.filter(pk__in=ids, emailed_at__isnull=True).select_related("recipient"):
        address = note.recipient.email
        if not address:
            continue
        try:
            send_mail(note.title, note.body or note.title, None, [address])
        except Exception:  # a mail server being down must not break the platform
            logger.exception("could not e-mail notification %s", note.pk)
            continue
        Notification.objects.filter(pk=note.pk).update(emailed_at=timezone.now())


def mark_read(user: Any, ids: Iterable[int] | None = None) -> int:
    """Mark the user's own notifications (all unread, or ``ids``) read; returns how many changed."""
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


def settle(key: str) -> int:
    """Mark read, for every recipient, the notifications sent under ``key``: what they asked
    for has been dealt with (an approval decided or withdrawn), so they no longer call for action."""
    return Notification.objects.filter(key=key[:120], read_at__isnull=True).update(read_at=timezone.now())


def unread_count(user: Any) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
