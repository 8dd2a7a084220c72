"""The one way the rest of casehub stores and reads object bytes.

Callers check permissions first; these functions do not. Storing puts the bytes in the object store
*before* the row is created, in the caller's transaction: if the store is unreachable nothing is
written to the database, and if the caller's transaction later rolls back the content stays in the
store unreferenced (harmless, content-addressed, reported by ``verify_storage --all``). Recording
the audit event for an upload or download is the caller's job, because only the caller knows the
case and the action.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError as DbIntegrityError
from django.db import models, transaction
from django.urls import reverse

from casehub.objectstore.models import StoredObject
from storage import CHUNK_SIZE, ObjectRef, ObjectStore, VerifyingReader, open_store
from storage.base import Readable, check_expires, check_sha256
from storage.directory import DirectoryStore

DOWNLOAD_SALT = "casehub.objectstore.download"
DEFAULT_LINK_LIFETIME = timedelta(minutes=5)

_lock = threading.Lock()
_cached: tuple[str, ObjectStore] | None = None


def sign_download_token(ref: ObjectRef, filename: str, content_type: str, inline: bool,
                        expires: timedelta, *, user_id: int | None = None) -> str:
    """A signed, expiring token for the directory backend's download view.

    With ``user_id`` the link works only in that user's session (a forwarded link is useless to
    anyone else); S3 presigned links cannot be bound that way and rely on their short lifetime.
    """
    payload = {
        "h": ref.sha256,
        "f": filename,
        "t": content_type,
        "i": 1 if inline else 0,
        "e": int(time.time()) + check_expires(expires),
    }
    if user_id is not None:
        payload["u"] = user_id
    return signing.dumps(payload, salt=DOWNLOAD_SALT, compress=True)


class LinkExpired(Exception):
    """A correctly signed download token whose lifetime is over."""


def read_download_token(token: str) -> dict[str, Any]:
    """The payload of a valid, unexpired token (raises ``signing.BadSignature`` or LinkExpired)."""
    payload = signing.loads(token, salt=DOWNLOAD_SALT)
    if not isinstance(payload, dict) or {"h", "f", "t", "i", "e"} - payload.keys():
        raise signing.BadSignature("malformed download token")
    check_sha256(payload["h"])
    if time.time() >= payload["e"]:
        raise LinkExpired("download link expired")
    return payload


def directory_link(ref: ObjectRef, filename: str, content_type: str, inline: bool, expires: timedelta,
                   *, user_id: int | None = None) -> str:
    """The download view's URL for a directory-backend object (the store's link signer)."""
    token = sign_download_token(ref, filename, content_type, inline, expires, user_id=user_id)
    return reverse("objectstore:download", kwargs={"token": token})


def get_store() -> ObjectStore:
    """The store ``settings.CASEHUB_STORAGE_URL`` names (re-opened when the setting changes)."""
    global _cached
    url = settings.CASEHUB_STORAGE_URL
    with _lock:
        if _cached is None or _cached[0] != url:
            _cached = (url, open_store(url, link_signer=directory_link))
        return _cached[1]


def _row_for(ref: ObjectRef) -> StoredObject:
    defaults = {
        "size": ref.size,
        "content_type": ref.content_type,
        "key": ref.key,
        "version_id": ref.version_id or "",
    }
    try:
        # A savepoint, so a concurrent insert of the same content does not poison the caller's
        # transaction on PostgreSQL.
        with transaction.atomic():
            obj, _created = StoredObject.objects.get_or_create(sha256=ref.sha256, defaults=defaults)
    except DbIntegrityError:
        obj = StoredObject.objects.get(sha256=ref.sha256)
    return obj


def store_stream(stream: Readable, *, content_type: str, size: int | None = None) -> StoredObject:
    """Store a stream (any size) and return its row; the same content returns the same row."""
    ref = get_store().put(stream, content_type=content_type, size=size)
    return _row_for(ref)


def store_bytes(data: bytes, *, content_type: str) -> StoredObject:
    """Store a small in-memory value (generated documents, manifests, receipts).

    Content that the engine's prepare phase already wrote (:mod:`casehub.objectstore.prepared`)
    is not written again: inside the short transaction only its row is created. The engine's
    rehearsal of a transaction (rolled back) writes nothing to the store.
    """
    import hashlib

    from casehub.objectstore.prepared import current, prepared_ref, rehearsal_ref

    ref = None
    if current() is not None:  # a rehearsal writes nothing to the store: its rows are rolled back
        ref = rehearsal_ref(data, content_type) or prepared_ref(hashlib.sha256(data).hexdigest())
    return _row_for(ref or get_store().put_bytes(data, content_type=content_type))


def _sha(obj_or_sha: StoredObject | str) -> str:
    return check_sha256(obj_or_sha.sha256 if isinstance(obj_or_sha, StoredObject) else obj_or_sha)


def open_object(obj_or_sha: StoredObject | str) -> VerifyingReader:
    """A verifying reader (context manager); raises storage.IntegrityError on altered bytes."""
    return get_store().open(_sha(obj_or_sha))


# Objects up to this size are verified in full before the first byte is sent (settings:
# CASEHUB_VERIFY_BEFORE_SEND_BYTES); the copy spills from memory to disk above SPOOL_IN_MEMORY.
DEFAULT_VERIFY_BEFORE_SEND = 256 * 1024 * 1024
SPOOL_IN_MEMORY = 1024 * 1024


def open_for_delivery(obj_or_sha: StoredObject | str) -> IO[bytes] | VerifyingReader:
    """The object's bytes for an HTTP response, ready to read from the start (THREAT_MODEL F18.22).

    An object up to ``CASEHUB_VERIFY_BEFORE_SEND_BYTES`` (default 256 MiB) is read through the
    verifying reader into a spooled temporary file first, so altered bytes raise
    :class:`storage.IntegrityError` here, before the response starts: the client gets a clear
    error and not one byte of the object. A larger object is returned as the verifying reader
    itself and streamed: the check runs on the read that would deliver the last bytes, so the
    transfer is cut short (fewer bytes than ``Content-Length``, which every HTTP client reports as
    a failed download) and the client never holds the complete altered file. Raises
    ``ObjectNotFound`` and ``StorageUnavailable`` like :func:`open_object`.
    """
    reader = open_object(obj_or_sha)
    limit = int(getattr(settings, "CASEHUB_VERIFY_BEFORE_SEND_BYTES", DEFAULT_VERIFY_BEFORE_SEND))
    if reader.size > limit:
        return reader
    spool_dir = Path(settings.DATA_DIR) / "delivery"
    spool_dir.mkdir(parents=True, exist_ok=True)
    copy = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=spool_dir)  # noqa: SIM115 - returned open
    try:
        with reader:
            for chunk in iter(lambda: reader.read(CHUNK_SIZE), b""):
                copy.write(chunk)
    except BaseException:
        copy.close()
        raise
    copy.seek(0)
    return copy


def read_bytes(obj_or_sha: StoredObject | str) -> bytes:
    return get_store().read_bytes(_sha(obj_or_sha))


def download_url(obj: StoredObject | str, *, filename: str, content_type: str | None = None,
                 inline: bool = False, expires: timedelta | None = None, user: Any = None) -> str:
    """A short-lived link to the object's bytes (default 5 minutes).

    The caller has already checked permission and records the download in the audit trail.
    Pass ``user`` to bind a directory-backend link to that user's session.
    """
    if content_type is None:
        content_type = obj.content_type if isinstance(obj, StoredObject) else "application/octet-stream"
    store = get_store()
    lifetime = expires or DEFAULT_LINK_LIFETIME
    sha256 = _sha(obj)
    if isinstance(store, DirectoryStore) and user is not None:
        return directory_link(store.stat(sha256), filename, content_type, inline, lifetime, user_id=user.pk)
    return store.download_url(sha256, filename=filename, content_type=content_type, inline=inline, expires=lifetime)


def owners_of(obj: StoredObject) -> list[str]:
    """Labels ("app.Model#pk") of every record that references ``obj``, found by introspection."""
    return owners_by_object([obj.pk]).get(obj.pk, [])


def stored_object_relations() -> list[models.Field]:
    """Every forward field (FK, one-to-one, many-to-many) in the project that points at StoredObject.

    ``_meta.related_objects`` leaves out relations declared with ``related_name="+"``, so this
    walks all reverse relations including hidden ones.
    """
    found = []
    for rel in StoredObject._meta.get_fields(include_hidden=True):
        if rel.auto_created and not rel.concrete and getattr(rel, "field", None) is not None:
            # Skip the FKs of auto-created many-to-many tables: the M2M field itself is listed.
            if rel.field.related_model is StoredObject and not rel.field.model._meta.auto_created:
                found.append(rel.field)
    return found


def owners_by_object(ids: Iterable[int]) -> dict[int, list[str]]:
    """``{stored_object_id: ["app.Model#pk", …]}`` — one query per relation for a whole batch."""
    ids = list(ids)
    found: dict[int, list[str]] = {}
    if not ids:
        return found
    for fk in stored_object_relations():
        model = fk.model
        if fk.many_to_many:
            through = fk.remote_field.through
            target, source = fk.m2m_reverse_field_name(), fk.m2m_field_name()
            rows = through._default_manager.filter(**{f"{target}__in": ids}).values_list(
                f"{target}_id", f"{source}_id")
        else:
            rows = model._base_manager.filter(**{f"{fk.name}__in": ids}).values_list(fk.attname, "pk")
        for obj_id, owner_id in rows:
            found.setdefault(obj_id, []).append(f"{model._meta.label}#{owner_id}")
    for owners in found.values():
        owners.sort()
    return found
