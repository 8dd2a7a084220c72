"""Rate limiting per API client (DRF throttling).

Each credential is its own bucket (a system client does not share its budget with the people of
its agency); a browser session is bucketed per user, anonymous requests per address. Rates come
from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (keys ``client``, ``personal``, ``user``,
``anon``), read at request time so a deployer (or a test) can change them; a credential may carry
its own ``throttle_rate``. The counters live in the Django cache: with several web processes set
``CASEHUB_CACHE_URL`` to Redis, or each process counts on its own.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from rest_framework.throttling import SimpleRateThrottle

from casehub.addresses import client_address

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` → (600, 60). Raises ValidationError naming ``throttle_rate``."""
    try:
        num, period = rate.split("/")
        count = int(num)
        seconds = _PERIODS[period.strip()[0].lower()]
        if count < 1:
            raise ValueError(rate)
    except (ValueError, KeyError, IndexError) as exc:
        raise ValidationError({"throttle_rate": _("限流格式应为 “次数/时间单位”，例如 600/min。")}) from exc
    return count, seconds


class ClientRateThrottle(SimpleRateThrottle):
    """One bucket per credential, per session user, or per anonymous address."""

    def get_rate(self) -> str | None:  # not cached at import time, unlike DRF's default
        return None

    def allow_request(self, request: Any, view: Any) -> bool:
        rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
        user = request.user
        credential = getattr(request, "auth", None)
        if credential is not None and hasattr(credential, "key_id"):
            self.scope = credential.kind  # "client" or "personal"
            rate = credential.throttle_rate or rates.get(self.scope)
            ident = f"cred:{credential.key_id}"
        elif user is not None and user.is_authenticated:
            self.scope, rate, ident = "user", rates.get("user"), f"user:{user.pk}"
        else:
            self.scope, rate, ident = "anon", rates.get("anon"), f"anon:{client_address(request)}"
        if not rate:
            return True
        self.rate = rate
        self.num_requests, self.duration = parse_rate(rate)
        self.key = self.cache_format % {"scope": self.scope, "ident": ident}
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return self.throttle_success()

    def get_cache_key(self, request: Any, view: Any) -> str | None:  # pragma: no cover - unused
        return None
