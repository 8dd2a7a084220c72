"""Webhooks: CloudEvents bodies signed per Standard Webhooks, sent from the outbox.

A delivery is claimed by moving its ``next_attempt_at`` a lease into the future (no row lock is
held while the endpoint answers, so a slow endpoint holds up nothing but its own delivery); a
worker that dies mid-send leaves the lease to expire and the delivery is sent again with the same
``webhook-id``, which receivers use to drop duplicates. Failures back off exponentially; after
``CASEHUB_WEBHOOK_MAX_ATTEMPTS`` the delivery is dead until an administrator replays it.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from casehub.integration.models import DeliveryStatus, FeedEntry, WebhookDelivery, WebhookEndpoint
from signing import keys as signing_keys

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
LEASE = timedelta(seconds=60)
CONTENT_TYPE = "application/cloudevents+json"


# --- the secret ------------------------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def _aad(agency_id: int) -> bytes:
    return f"casehub-webhook/{agency_id}".encode()


def seal_secret(secret: str, agency_id: int, kek: bytes | None = None) -> bytes:
    from casehub.pki.services import key_encryption_key

    return signing_keys.seal_bytes(secret.encode(), kek or key_encryption_key(), aad=_aad(agency_id))


def open_secret(endpoint: WebhookEndpoint, kek: bytes | None = None) -> str:
    from casehub.pki.services import key_encryption_key

    return signing_keys.open_bytes(bytes(endpoint.encrypted_secret), kek or key_encryption_key(),
                                   aad=_aad(endpoint.agency_id)).decode()


def rewrap_secrets(old: bytes, new: bytes) -> int:
    """Re-seal every endpoint secret under a new key-encryption key (part of ``casehub_pki rewrap``)."""
    changed = 0
    for endpoint in WebhookEndpoint.objects.select_for_update():
        try:
            open_secret(endpoint, new)
            continue
        except signing_keys.KeyDecryptionError:
            pass
        endpoint.encrypted_secret = seal_secret(open_secret(endpoint, old), endpoint.agency_id, new)
        endpoint.save(update_fields=["encrypted_secret"])
        changed += 1
    return changed


# --- where we may send -----------------------------------------------------------------------


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, *, allow_private_network: bool) -> None:
    """Refuse what would turn the platform into a probe of its own network (SSRF): anything but
    HTTPS, and hosts that resolve to loopback, link-local, private or reserved addresses — unless
    an administrator allowed private addresses for this endpoint (an intranet receiver)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationError(_("推送地址必须是 https:// 地址。"))
    if parts.username or parts.password:
        raise ValidationError(_("推送地址不能包含用户名或密码。"))
    if parts.scheme == "http" and not allow_private_network:
        raise ValidationError(_("推送地址必须是 https:// 地址。"))
    if allow_private_network:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ValidationError(_("无法解析推送地址的主机名。")) from None
    if any(_private(info[4][0]) for info in infos):
        raise ValidationError(_("推送地址指向本机、链路本地或内网地址；需由机构管理员允许。"))


# --- the message -----------------------------------------------------------------------------


def cloudevent(entry: FeedEntry) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(entry.event_id),
        "source": settings.CASEHUB_EVENT_SOURCE,
        "type": f"casehub.{entry.type}",
        "time": entry.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "subject": f"cases/{entry.case_id}" if entry.case_id else None,
        "datacontenttype": "application/json",
        "casehubsequence": entry.sequence,
        "data": entry.data,
    }


def signed_request(endpoint: WebhookEndpoint, entry: FeedEntry, *, now: datetime | None = None) -> tuple[bytes, dict]:
    body = json.dumps(cloudevent(entry), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    now = now or datetime.now(UTC)
    msg_id = str(entry.event_id)
    signature = Webhook(open_secret(endpoint)).sign(msg_id=msg_id, timestamp=now, data=body)
    headers = {
        "content-type": CONTENT_TYPE,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "user-agent": "casehub-webhooks/1",
    }
    return body, headers


# --- sending ---------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    """Delay before attempt ``attempts + 1``: base × 2^(attempts−1), capped."""
    base = settings.CASEHUB_WEBHOOK_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), settings.CASEHUB_WEBHOOK_RETRY_MAX_SECONDS))


def claim(delivery_id: int, now: datetime | None = None) -> bool:
    """Take the lease on a due delivery; False when another worker has it or it is finished."""
    now = now or timezone.now()
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=now,
        ).update(next_attempt_at=now + LEASE)
    )


def deliver(delivery_id: int, *, client: httpx.Client | None = None) -> str | None:
    """Send one delivery if it is due; returns its new status, or None if it was not ours to send."""
    if not claim(delivery_id):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint", "entry").get(pk=delivery_id)
    endpoint, entry = delivery.endpoint, delivery.entry
    status_code: int | None = None
    error = ""
    if not endpoint.active:
        error = _("推送地址已停用。")
    else:
        try:
            check_url(endpoint.url, allow_private_network=endpoint.allow_private_network)
            body, headers = signed_request(endpoint, entry)
            owns_client = client is None
            client = client or httpx.Client(timeout=httpx.Timeout(settings.CASEHUB_WEBHOOK_TIMEOUT_SECONDS),
                                            follow_redirects=False, trust_env=False)
            try:
                response = client.post(endpoint.url, content=body, headers=headers)
            finally:
                if owns_client:
                    client.close()
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except ValidationError as exc:
            error = "; ".join(str(m) for m in exc.messages)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
    return _record(delivery, status_code=status_code, error=error)


def _record(delivery: WebhookDelivery, *, status_code: int | None, error: str) -> str:
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields: dict[str, Any] = {"attempts": attempts, "last_attempt_at": now, "last_status_code": status_code,
                              "last_error": error[:300]}
    if not error:
        fields.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
    elif attempts >= settings.CASEHUB_WEBHOOK_MAX_ATTEMPTS:
        fields.update(status=DeliveryStatus.DEAD)
    else:
        fields.update(status=DeliveryStatus.RETRYING, next_attempt_at=now + backoff(attempts))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    return fields["status"]


def due(limit: int = 500) -> list[int]:
    return list(
        WebhookDelivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
                                       next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit]
    )


def replay(delivery: WebhookDelivery) -> None:
    """Send a delivered or dead event again, now (the receiver sees the same ``webhook-id``)."""
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error="")
        pk = delivery.pk
        transaction.on_commit(lambda: _dispatch([pk]))


def _dispatch(ids: list[int]) -> None:
    from casehub.integration.tasks import dispatch_deliveries

    dispatch_deliveries(ids)
