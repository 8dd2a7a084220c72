"""One rule for 404 and 403, the same for the HTML pages and the API.

- A user who may not **see** an object gets **404**: the answer must not tell them it exists
  (another agency's package, a certificate of a case they never held, a role that reads no such
  thing at all).
- A user who may see it but may not **do** what they ask gets **403**, with the reason (the police
  officer who sent a package asks to re-verify it; a prosecutor who reads a custody certificate
  asks to acknowledge it as if they were the detention centre).

A :class:`Door` says both for one kind of object: ``visible(user)`` is the permission-filtered
queryset of what the user may see, and each named action has a ``refusal(user, obj)`` that returns
the reason the user may not do it (or None). Views call :meth:`Door.get` (``Http404`` /
``PermissionDenied``); the API uses the same door through
:class:`casehub.api.doors.DoorPermission` (DRF answers ``get_object`` outside ``visible`` with 404
and a refused object permission with 403). The doors themselves live with their objects
(:mod:`casehub.cases.doors`, :mod:`casehub.dossier.doors`, :mod:`casehub.transfers.doors`,
:mod:`casehub.custody.doors`, :mod:`casehub.legalaid.doors`, ...).

A list (a page or an endpoint that shows "the objects of this kind you may see") has a
:class:`ListDoor`: a role that can never read such objects gets **403** there, with the reason —
the list's existence is no secret and there is no object to hide — while each object in it stays
behind its :class:`Door` (404 outside the user's reach). Views call :meth:`ListDoor.check`; the API
names ``list_door`` on the viewset (:class:`casehub.api.doors.ListDoorPermission`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from casehub.agencies.permissions import has_capability

Refusal = Callable[[Any, Any], "str | None"]


@dataclass(frozen=True)
class Door:
    """Who may see objects of one kind (404 otherwise) and who may act on one they see (403)."""

    name: str
    visible: Callable[[Any], QuerySet[Any]]
    actions: dict[str, Refusal] = field(default_factory=dict)

    def get(self, user: Any, pk: Any, action: str | None = None, *, queryset: QuerySet[Any] | None = None) -> Any:
        """The object ``pk`` if ``user`` may see it (else ``Http404``), checked for ``action`` (else
        ``PermissionDenied`` with the reason). ``queryset`` narrows what is looked in (e.g. a kind)."""
        qs = self.visible(user) if queryset is None else queryset & self.visible(user)
        try:
            obj = qs.get(pk=pk)
        except (qs.model.DoesNotExist, ValueError, TypeError) as exc:
            raise Http404 from exc
        if action is not None:
            self.check(user, obj, action)
        return obj

    def refusal(self, user: Any, obj: Model, action: str) -> str | None:
        """Why ``user`` may not do ``action`` on ``obj`` (which they may see), or None."""
        return self.actions[action](user, obj)

    def check(self, user: Any, obj: Model, action: str) -> None:
        reason = self.refusal(user, obj, action)
        if reason:
            raise PermissionDenied(reason)

    def can(self, user: Any, obj: Model, action: str) -> bool:
        return not self.refusal(user, obj, action)


@dataclass(frozen=True)
class ListDoor:
    """Who may open a list of objects of one kind at all (403 with ``reason`` otherwise)."""

    name: str
    may: Callable[[Any], bool]
    reason: Callable[[], str]

    def refusal(self, user: Any) -> str | None:
        """Why ``user`` may not open the list, or None."""
        if not getattr(user, "is_authenticated", False) or not self.may(user):
            return self.reason()
        return None

    def check(self, user: Any) -> None:
        reason = self.refusal(user)
        if reason:
            raise PermissionDenied(reason)

    def can(self, user: Any) -> bool:
        return not self.refusal(user)


def any_capability(*capabilities: str) -> Callable[[Any], bool]:
    """``ListDoor.may`` for "a role with one of these capabilities"."""
    return lambda user: any(has_capability(user, c) for c in capabilities)


def nothing_for(user: Any) -> bool:
    """True for a user who sees no agency's objects at all (anonymous, inactive, no agency)."""
    return not getattr(user, "is_authenticated", False) or not user.is_active or user.agency_id is None
