"""Webhooks: CloudEvents bodies signed per Standard Webhooks, sent from the outbox.

The outbox is the change feed itself: a change writes its :class:`FeedEntry` rows in its own
transaction and nothing else for webhooks. Each endpoint keeps a cursor into its agency's feed;
the delivery worker (:func:`drain`) holds a lease on the endpoint, walks the entries past the
cursor in feed order that the endpoint subscribed to, and for each one moves the cursor and writes
the :class:`WebhookDelivery` row (already claimed) in one small transaction, then sends it. The row
is the event's history for this endpoint and carries its retries.

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
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from casehub.integration.models import (
    DeliveryStatus,
    FeedEntry,
    WebhookDelivery,
    WebhookEndpoint,
    latest_position,
)
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


_local = threading.local()


def _client() -> httpx.Client:
    """One HTTP client per thread: building one loads the CA bundle (tens of milliseconds), and a
    kept client reuses connections to the same receiver."""
    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = httpx.Client(
            timeout=httpx.Timeout(settings.CASEHUB_WEBHOOK_TIMEOUT_SECONDS), follow_redirects=False, trust_env=False)
    return client


def deliver(delivery_id: int, *, client: httpx.Client | None = None) -> str | None:
    """Send one delivery if it is due; returns its new status, or None if it was not ours to send."""
    if not claim(delivery_id):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint", "entry").get(pk=delivery_id)
    return _attempt(delivery, client=client)


def _attempt(delivery: WebhookDelivery, *, client: httpx.Client | None = None) -> str:
    """One attempt of a delivery whose lease the caller holds; records and returns its new status."""
    endpoint, entry = delivery.endpoint, delivery.entry
    status_code: int | None = None
    error = ""
    if not endpoint.active:
        error = _("推送地址已停用。")
    elif entry.agency_id != endpoint.agency_id:  # never another agency's event, whatever the row says
        error = _("该事件不属于推送地址所属机构。")
    else:
        try:
            check_url(endpoint.url, allow_private_network=endpoint.allow_private_network)
            body, headers = signed_request(endpoint, entry)
            response = (client or _client()).post(endpoint.url, content=body, headers=headers)
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


# --- the cursor ---------------------------------------------------------------------------------


def _past(endpoint: WebhookEndpoint) -> Q:
    cs, cp = endpoint.cursor_sequence or 0, endpoint.cursor_position
    return Q(sequence__gt=cs) | Q(sequence=cs, position__gt=cp)


def _pending_entries(endpoint: WebhookEndpoint) -> QuerySet[FeedEntry]:
    """What the endpoint is still to get: its agency's entries past its cursor, of the types it
    subscribed to, in feed order. The agency filter is the whole of the permission rule: feed
    entries are written per agency, for the agencies that may see the event."""
    return (FeedEntry.objects.filter(agency_id=endpoint.agency_id, type__in=list(endpoint.event_types))
            .filter(_past(endpoint)).order_by("sequence", "position"))


def has_work(endpoint: WebhookEndpoint) -> bool:
    return endpoint.active and endpoint.cursor_sequence is not None and _pending_entries(endpoint).exists()


def endpoints_with_work() -> list[int]:
    return [e.pk for e in WebhookEndpoint.objects.filter(active=True).order_by("id") if has_work(e)]


def _take_lease(endpoint_id: int, token: uuid.UUID) -> bool:
    now = timezone.now()
    return bool(WebhookEndpoint.objects.filter(pk=endpoint_id).filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
                .update(lease_token=token, lease_until=now + LEASE))


def _release(endpoint_id: int, token: uuid.UUID) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint_id, lease_token=token).update(lease_token=None, lease_until=None)


def drain(endpoint_id: int, *, client: httpx.Client | None = None, batch: int = 100) -> int:
    """Send an endpoint everything past its cursor, in feed order; returns how many were sent.

    Only the worker holding the endpoint's lease walks its cursor: two workers never take up the
    same entry. A worker that finds the lease taken returns at once (the holder re-checks for new
    entries after it lets go of the lease, so nothing committed meanwhile waits for the beat).
    """
    token = uuid.uuid4()
    sent = 0
    while _take_lease(endpoint_id, token):
        try:
            sent += _walk(endpoint_id, token, client=client, batch=batch)
        finally:
            _release(endpoint_id, token)
        endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
        if endpoint is None or not has_work(endpoint):
            break
    return sent


def _walk(endpoint_id: int, token: uuid.UUID, *, client: httpx.Client | None, batch: int) -> int:
    sent = 0
    while True:
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)  # fresh: state, types, secret
        if not endpoint.active:
            return sent
        if endpoint.cursor_sequence is None:  # created around save(): it starts now
            head = latest_position(endpoint.agency_id)
            _move(endpoint_id, token, head)
            return sent
        # The newest entry before reading: once the matching ones are sent, the cursor may skip to
        # it (past the entries of types the endpoint does not want), and nothing before it is missed.
        head = latest_position(endpoint.agency_id)
        entries = list(_pending_entries(endpoint)[:batch])
        if not entries:
            if head > (endpoint.cursor_sequence, endpoint.cursor_position):
                _move(endpoint_id, token, head)
            return sent
        for entry in entries:
            now = timezone.now()
            with transaction.atomic():
                if not _move(endpoint_id, token, (entry.sequence, entry.position)):
                    return sent  # the lease ran out under us: another worker carries on
                delivery, created = WebhookDelivery.objects.get_or_create(
                    endpoint=endpoint, entry=entry,
                    defaults={"status": DeliveryStatus.PENDING, "next_attempt_at": now + LEASE})
            if not created:  # already taken up (e.g. before an upgrade): it runs on its own row
                continue
            delivery.endpoint, delivery.entry = endpoint, entry
            _attempt(delivery, client=client)
            sent += 1


def _move(endpoint_id: int, token: uuid.UUID, position: tuple[int, int]) -> bool:
    """Advance the cursor (and renew the lease) if the lease is still ours."""
    return bool(WebhookEndpoint.objects.filter(pk=endpoint_id, lease_token=token).update(
        cursor_sequence=position[0], cursor_position=position[1], lease_until=timezone.now() + LEASE))


# --- retries ---------------------------------------------------------------------------------


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
