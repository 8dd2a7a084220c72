"""Notification texts stored as a message id and parameters, rendered in the reader's language.

A notification is written once (in whatever language the acting user's request happens to run)
and read later by someone else, maybe in another language. So the sender passes
``message(gettext_noop("待审批：%(case)s"), case=title)`` instead of a finished string; the row keeps
the msgid and the parameters, and the page renders them with the reader's active language. A
parameter that is itself a UI string (a choice label such as a transfer kind) is passed as a lazy
translation and stored by its msgid, so it is translated at reading time too. ``title`` and
``body`` still hold the text in the site's default language (e-mail, API, older rows).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext

MSGID = "msgid"  # a stored parameter {"msgid": "..."} is translated when rendered


@dataclass(frozen=True)
class Message:
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)

    def stored_params(self) -> dict[str, Any]:
        return {key: _store(value) for key, value in self.params.items()}

    def default_text(self) -> str:
        with translation.override(settings.LANGUAGE_CODE):
            return render(self.msgid, self.stored_params())


def message(msgid: str, **params: Any) -> Message:
    """A text to render later: ``msgid`` is a Chinese msgid (mark it with gettext_noop)."""
    return Message(str(msgid), params)


def _store(value: Any) -> Any:
    if isinstance(value, Promise):
        with translation.override(settings.LANGUAGE_CODE):
            return {MSGID: str(value)}
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def render(msgid: str, params: dict[str, Any] | None) -> str:
    """``msgid`` translated into the active language, with ``params`` filled in."""
    text = gettext(msgid) if msgid else ""
    if not params:
        return text
    values = {k: gettext(v[MSGID]) if isinstance(v, dict) and MSGID in v else v for k, v in params.items()}
    try:
        return text % values
    except (KeyError, TypeError, ValueError):  # a translation that lost a placeholder: the default text
        return msgid % values
