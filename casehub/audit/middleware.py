"""Who is acting in this request, for audit events recorded by signal receivers; refused requests.

A receiver of ``post_save`` on a user does not see the request; this middleware keeps the signed-in
user in a context variable for the length of the request, so an account change is recorded with the
person who made it (outside a request — management commands — the platform itself acts).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

_acting_user: contextvars.ContextVar[Any] = contextvars.ContextVar("casehub_acting_user", default=None)


def acting_user() -> Any:
    """The signed-in user of the current request, or None."""
    return _acting_user.get()


# At most this many refused requests per user and minute become audit events (a user probing ids
# must leave a trace, but must not be able to flood the trail); the last one says the rest were not.
DENIALS_RECORDED_PER_MINUTE = 10


def record_denial(request: HttpRequest, status: int) -> None:
    """An authenticated request answered 403 or 404: the user asked for something not theirs to see."""
    from django.core.cache import cache

    from casehub.audit.services import record_event

    user = request.user
    key = f"audit-denied:{user.pk}:{int(time.time() // 60)}"
    if cache.add(key, 1, timeout=120):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired in between
            cache.add(key, 1, timeout=120)
            count = 1
    if count > DENIALS_RECORDED_PER_MINUTE:
        return
    details: dict[str, Any] = {"method": request.method, "path": request.path[:300], "status": status}
    if count == DENIALS_RECORDED_PER_MINUTE:
        details["further_denials_this_minute_not_recorded"] = True
    record_event("access.denied", actor=user, details=details)


class ActingUserMiddleware:
    """Keeps the acting user for signal receivers, and records refused requests (rate-limited)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        token = _acting_user.set(user if user is not None and user.is_authenticated else None)
        try:
            response = self.get_response(request)
        finally:
            _acting_user.reset(token)
        if response.status_code in (403, 404) and not request.path.startswith("/static/"):
            user = getattr(request, "user", None)  # the API's token user, once DRF authenticated it
            if user is not None and user.is_authenticated:
                record_denial(request, response.status_code)
        return response
