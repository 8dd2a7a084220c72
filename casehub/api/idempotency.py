"""``Idempotency-Key`` on creating POSTs.

A client that did not see the answer to a POST (timeout, dropped connection) sends it again with
the same key. The rules:

* same key, same request (method, path, body) → the first answer again, with
  ``Idempotent-Replayed: true``; nothing new is created;
* same key, different request → 409 ``idempotency_key_reused``;
* same key while the first request is still running → 409 ``idempotency_in_progress``;
* the first request failed (any 4xx/5xx) → the key is released, so a corrected retry may use it;
* a secret in the answer (a new token) is never stored: the replay answers without it
  (``Idempotent-Secret-Withheld`` names the fields), and the caller revokes and issues again.

Keys are per acting user (a system client is its own user) and kept for
``CASEHUB_API_IDEMPOTENCY_TTL_HOURS`` (default 24). The pending record is committed in its own
transaction *before* the work runs: domain services open durable transactions of their own, and
the committed pending row is what stops a concurrent duplicate.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from casehub.api.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAY_HEADERS = ("Location",)


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("该 Idempotency-Key 已用于另一个不同的请求。")
    default_code = "idempotency_key_reused"


class InProgress(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("使用该 Idempotency-Key 的首个请求仍在处理中，请稍后重试。")
    default_code = "idempotency_in_progress"


def _ttl() -> timedelta:
    return timedelta(hours=getattr(settings, "CASEHUB_API_IDEMPOTENCY_TTL_HOURS", 24))


def _digest_value(value: Any) -> Any:
    if isinstance(value, UploadedFile):
        sha = hashlib.sha256()
        for chunk in value.chunks():
            sha.update(chunk)
        value.seek(0)
        return {"file": value.name, "size": value.size, "sha256": sha.hexdigest()}
    return value


def request_fingerprint(request: Request) -> str:
    """Hash of method, path and the *parsed* body: multipart boundaries and key order don't matter."""
    data = request.data
    if hasattr(data, "lists"):  # QueryDict / MultiValueDict (form and multipart bodies)
        body: Any = {k: [_digest_value(v) for v in vs] for k, vs in data.lists()}
    else:
        body = data
    canonical = json.dumps(
        {"method": request.method, "path": request.path, "body": body},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(record: IdempotencyRecord, secret_fields: tuple[str, ...]) -> Response:
    response = Response(record.response_body, status=record.status_code)
    for name, value in (record.response_headers or {}).items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    if secret_fields:
        response["Idempotent-Secret-Withheld"] = ", ".join(secret_fields)
    return response


def _without(body: Any, secret_fields: tuple[str, ...]) -> Any:
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k not in secret_fields}
    return body


def idempotent(
    handler: Callable[..., Response] | None = None, *, secret_fields: tuple[str, ...] = (),
) -> Any:
    """Wrap a view method that creates something (``create``, an action's POST).

    ``secret_fields`` names top-level fields of the answer that must never be stored (the secret of a
    credential): the stored copy leaves them out, so a replay cannot hand the secret out again —
    after a revocation, or to another credential of the same user.
    """
    if handler is None:
        return functools.partial(idempotent, secret_fields=secret_fields)

    @functools.wraps(handler)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None or not request.user.is_authenticated:
            return handler(self, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise exceptions.ValidationError({HEADER: [_("Idempotency-Key 须为 1 至 255 个可打印字符。")]})
        fingerprint = request_fingerprint(request)
        IdempotencyRecord.objects.filter(
            user=request.user, key=key, created_at__lt=timezone.now() - _ttl()
        ).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=request.user, key=key, method=request.method, path=request.path,
                    request_hash=fingerprint,
                )
        except IntegrityError:
            existing = IdempotencyRecord.objects.get(user=request.user, key=key)
            if existing.request_hash != fingerprint:
                raise KeyReused() from None
            if existing.status_code is None:
                raise InProgress() from None
            return _replay(existing, secret_fields)

        try:
            response = handler(self, request, *args, **kwargs)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code >= 400:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        record.status_code = response.status_code
        record.response_body = _without(json.loads(json.dumps(response.data, default=str)), secret_fields)
        record.response_headers = {h: response[h] for h in REPLAY_HEADERS if response.has_header(h)}
        record.save(update_fields=["status_code", "response_body", "response_headers"])
        return response

    wrapper.idempotent = True  # type: ignore[attr-defined]  # read by the schema generator
    return wrapper
