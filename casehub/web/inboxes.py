"""Home-page inboxes. Each app registers a provider that returns the user's pending items.

A provider is ``callable(user) -> Inbox | None`` (None when the inbox does not apply to the
user's roles); apps register theirs in their ``AppConfig.ready`` with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise


@dataclass
class InboxItem:
    title: str
    url: str
    detail: str = ""
    due: Any = None  # a date or datetime, shown as a countdown
    overdue: bool = False


@dataclass
class Inbox:
    key: str
    title: str | Promise
    items: list[InboxItem] = field(default_factory=list)
    more_url: str = ""
    total: int | None = None
    note: str | Promise = ""  # what the inbox holds, when the title alone does not say (e.g. a window)


_PROVIDERS: list[Callable[[Any], Inbox | None]] = []


def register(provider: Callable[[Any], Inbox | None]) -> Callable[[Any], Inbox | None]:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)
    return provider


def inboxes_for(user: Any) -> list[Inbox]:
    result = []
    for provider in _PROVIDERS:
        inbox = provider(user)
        if inbox is not None:
            result.append(inbox)
    return result
