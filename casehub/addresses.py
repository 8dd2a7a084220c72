"""The client's network address — one rule for the API throttles, the login lock-out and the trail.

``X-Forwarded-For`` is written by whoever sends the request: behind no proxy it is the client's
own invention. So with ``CASEHUB_PROXY_COUNT=0`` (the default) no header is trusted and the
address is ``REMOTE_ADDR``. Behind N reverse proxies, each appends the address it received the
request from; the client's address is then the Nth entry from the right — the entries left of it
were written by the client and are ignored. A header with fewer entries than proxies (the
request bypassed a proxy) or an entry that is not an IP address falls back to ``REMOTE_ADDR``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def proxy_count() -> int:
    return int(getattr(settings, "CASEHUB_PROXY_COUNT", 0) or 0)


def client_address(request: Any) -> str:
    """The address rate limits and lock-outs key on (also ``AXES_CLIENT_IP_CALLABLE``)."""
    remote = str(request.META.get("REMOTE_ADDR", ""))[:64]
    count = proxy_count()
    if count <= 0:
        return remote
    entries = [e.strip() for e in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if e.strip()]
    if len(entries) < count:
        return remote
    candidate = entries[-count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
