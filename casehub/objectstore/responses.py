"""Stream a stored object to a client, and say afterwards whether it was delivered.

The dossier pages and the API send documents and volumes through :func:`object_response`. The
object is opened *before* the response is made (through
:func:`~casehub.objectstore.services.open_for_delivery`, which verifies objects up to a size limit
before the first byte), so an unreachable store raises :class:`storage.StorageUnavailable` and
altered bytes :class:`storage.IntegrityError` to the caller, which answers 503 in its own shape
(the API's JSON error, a plain page for the browser). Whether the bytes reached the client is only
known after the last chunk: ``on_delivered`` runs then, ``on_failed`` if the stream broke (store
lost mid-way, a large object's damage caught on its last read, client gone), so the audit trail
records a download only when there was one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import IO, Any

from django.http import StreamingHttpResponse

from casehub.objectstore import services
from storage import CHUNK_SIZE
from storage.base import VerifyingReader, content_disposition

logger = logging.getLogger("casehub.objectstore")


def object_response(
    stored: Any,
    *,
    filename: str,
    content_type: str = "application/pdf",
    inline: bool = False,
    on_delivered: Callable[[], None],
    on_failed: Callable[[str], None],
) -> StreamingHttpResponse:
    """A streaming response over ``stored`` (a StoredObject). Raises StorageUnavailable or
    ObjectNotFound before anything is sent; reports the outcome through the two callbacks."""
    body = services.open_for_delivery(stored)
    response = StreamingHttpResponse(_deliver(body, stored.sha256, on_delivered, on_failed),
                                     content_type=content_type)
    response["Content-Length"] = str(stored.size)
    response["Content-Disposition"] = content_disposition(filename, inline=inline)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _deliver(body: IO[bytes] | VerifyingReader, sha256: str, on_delivered: Callable[[], None],
             on_failed: Callable[[str], None]) -> Iterator[bytes]:
    outcome = "client disconnected"  # what it was if the server closes us before the end
    try:
        with body:
            yield from iter(lambda: body.read(CHUNK_SIZE), b"")
        outcome = ""
    except Exception as exc:
        outcome = f"{exc.__class__.__name__}: {exc}"
        raise
    finally:
        # Runs after the last byte went out (or the stream broke). An error recording the outcome
        # must not turn a delivered file into a broken one, so it is logged instead of raised.
        try:
            if outcome:
                on_failed(outcome)
            else:
                on_delivered()
        except Exception:
            logger.exception("recording the outcome of a download of %s failed", sha256)
