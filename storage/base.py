"""The object-store contract shared by every backend.

An object is a sequence of bytes named by its SHA-256. Backends store each distinct content once
(content addressing), never overwrite or delete it (write-once), hash the bytes in the same pass
that reads them on the way in, and hand them back only through a :class:`VerifyingReader`, which
re-hashes as the caller reads and raises :class:`IntegrityError` instead of delivering the last
bytes of an object that does not match its name.

This module imports nothing from Django: the Django glue lives in ``casehub.objectstore``.
"""

from __future__ import annotations

import hashlib
import io
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import IO, BinaryIO, Protocol

# Reads and writes move through buffers of this size: large enough that per-call overhead is
# negligible against SHA-256 at ~1 GB/s, small enough that memory stays flat for any object size.
CHUNK_SIZE = 1024 * 1024

DEFAULT_CONTENT_TYPE = "application/octet-stream"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
KEY_PREFIX = "sha256/"


class StorageError(Exception):
    """Base class of every error the object store raises."""


class StorageUnavailable(StorageError):
    """The backend could not be reached (server down, network error, directory unmounted)."""

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        if endpoint and endpoint not in message:
            message = f"{message} (object store {endpoint})"
        super().__init__(message)
        self.endpoint = endpoint


class ObjectNotFound(StorageError):
    """No object is stored under this SHA-256."""

    def __init__(self, sha256: str, *, key: str = "", detail: str = "") -> None:
        super().__init__(f"object {sha256} not found" + (f" (key {key})" if key else "") + (f": {detail}" if detail else ""))
        self.sha256 = sha256
        self.key = key


class IntegrityError(StorageError):
    """Stored bytes do not hash to the SHA-256 (or size) they are stored under."""

    def __init__(self, message: str, *, sha256: str = "", key: str = "") -> None:
        super().__init__(message)
        self.sha256 = sha256
        self.key = key


class InvalidReference(StorageError, ValueError):
    """A string that is not a lower-case hexadecimal SHA-256 was used as an object name."""


@dataclass(frozen=True)
class ObjectRef:
    """What a caller keeps to find an object again; the SHA-256 alone is enough."""

    sha256: str
    size: int
    key: str
    content_type: str = DEFAULT_CONTENT_TYPE
    version_id: str | None = None


def check_sha256(sha256: str) -> str:
    """Return ``sha256`` if it is 64 lower-case hex digits, else raise :class:`InvalidReference`."""
    if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
        raise InvalidReference(f"not a SHA-256 hex digest: {sha256!r}")
    return sha256


def key_for(sha256: str) -> str:
    """The backend key of an object: two levels of fan-out keep directory listings short."""
    check_sha256(sha256)
    return f"{KEY_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}"


def sha256_from_key(key: str) -> str | None:
    """The SHA-256 a key names, or None if the key is not an object key of ours."""
    if not key.startswith(KEY_PREFIX):
        return None
    tail = key.rsplit("/", 1)[-1]
    if _SHA256_RE.match(tail) and key == key_for(tail):
        return tail
    return None


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class HashingReader:
    """Wraps an incoming stream, hashing and counting the bytes as they pass through.

    Used on the write path so the SHA-256 is computed in the same pass that reads the data.
    ``limit`` (when known) makes a stream that delivers more than announced fail instead of
    silently storing extra bytes.
    """

    def __init__(self, raw: Readable, *, limit: int | None = None) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self.size = 0
        self._limit = limit

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n if n is not None and n >= 0 else CHUNK_SIZE)
        if data:
            if isinstance(data, str):
                raise TypeError("object streams must be binary, got text")
            self._hash.update(data)
            self.size += len(data)
            if self._limit is not None and self.size > self._limit:
                raise StorageError(f"stream longer than its announced size of {self._limit} bytes")
        return data

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def digest(self) -> bytes:
        return self._hash.digest()

    def check_complete(self) -> None:
        if self._limit is not None and self.size != self._limit:
            raise StorageError(f"stream ended after {self.size} bytes, {self._limit} were announced")


class VerifyingReader:
    """A read-only stream over a stored object that re-hashes every byte it delivers.

    The expected size is known up front, so the check runs on the read that would deliver the
    final bytes: if the content does not hash to its name, that read raises
    :class:`IntegrityError` instead of returning them. A caller that reads to the end therefore
    can never hold the complete altered content without having seen the error. A stream that
    ends early or runs long raises the same error.
    """

    def __init__(
        self,
        raw: IO[bytes] | BinaryIO | Readable,
        *,
        sha256: str,
        size: int,
        key: str = "",
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._raw = raw
        self.sha256 = sha256
        self.size = size
        self.key = key
        self._hash = hashlib.sha256()
        self._seen = 0
        self._verified = False
        self._closed = False
        self._on_close = on_close

    # io-like surface -------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def writable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self._closed

    def read(self, n: int = -1) -> bytes:
        if self._closed:
            raise ValueError("read from a closed object reader")
        if n is None or n < 0:
            return self._read_all()
        if n == 0 or self._verified:
            return b""
        data = self._raw.read(min(n, self.size - self._seen) if self._seen < self.size else 1)
        return self._account(data)

    def _read_all(self) -> bytes:
        parts = []
        while True:
            chunk = self.read(CHUNK_SIZE)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)

    def _account(self, data: bytes) -> bytes:
        if not data:
            if self._seen != self.size:
                raise self._error(f"object {self.sha256} ended after {self._seen} of {self.size} bytes")
            self._verify()
            return b""
        self._seen += len(data)
        if self._seen > self.size:
            raise self._error(f"object {self.sha256} is longer than its recorded {self.size} bytes")
        self._hash.update(data)
        if self._seen == self.size:
            # Probe for trailing bytes, then check before handing over the last chunk.
            if self._raw.read(1):
                raise self._error(f"object {self.sha256} is longer than its recorded {self.size} bytes")
            self._verify()
        return data

    def _verify(self) -> None:
        if self._verified:
            return
        actual = self._hash.hexdigest()
        if actual != self.sha256:
            raise self._error(f"object {self.sha256} is corrupt: its bytes hash to {actual}")
        self._verified = True

    def _error(self, message: str) -> IntegrityError:
        return IntegrityError(message + (f" (key {self.key})" if self.key else ""), sha256=self.sha256, key=self.key)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.read(CHUNK_SIZE)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._raw, "close", None)
            if close is not None:
                close()
        finally:
            if self._on_close is not None:
                self._on_close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# A directory store cannot mint URLs by itself: the web layer gives it a function that signs a
# token for its download view. (ref, filename, content_type, inline, expires) -> URL
LinkSigner = Callable[[ObjectRef, str, str, bool, timedelta], str]


class ObjectStore(ABC):
    """The contract. See the module docstring for the guarantees every backend gives."""

    #: a short, credential-free description for logs and error messages
    description: str = ""

    @abstractmethod
    def put(
        self, stream: Readable, *, content_type: str = DEFAULT_CONTENT_TYPE, size: int | None = None
    ) -> ObjectRef:
        """Store a stream of any length; return its reference. Storing the same bytes again
        returns the reference of the object already there and writes nothing."""

    def put_bytes(self, data: bytes, *, content_type: str = DEFAULT_CONTENT_TYPE) -> ObjectRef:
        return self.put(io.BytesIO(data), content_type=content_type, size=len(data))

    @abstractmethod
    def stat(self, sha256: str) -> ObjectRef:
        """The reference of a stored object (raises :class:`ObjectNotFound`)."""

    def exists(self, sha256: str) -> bool:
        try:
            self.stat(sha256)
        except ObjectNotFound:
            return False
        return True

    @abstractmethod
    def open(self, sha256: str) -> VerifyingReader:
        """A verifying reader over the object; use it as a context manager."""

    def read_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as reader:
            return reader.read()

    def verify(self, sha256: str) -> None:
        """Re-hash the stored bytes; raise :class:`IntegrityError` or :class:`ObjectNotFound`."""
        with self.open(sha256) as reader:
            while reader.read(CHUNK_SIZE):
                pass

    @abstractmethod
    def download_url(
        self,
        sha256: str,
        *,
        filename: str,
        content_type: str,
        inline: bool = False,
        expires: timedelta = timedelta(minutes=5),
    ) -> str:
        """A time-limited link to the object. Issue it only after checking the caller's permission."""

    @abstractmethod
    def iter_keys(self) -> Iterator[str]:
        """Every object key in the store (for the full integrity sweep)."""

    def key_for(self, sha256: str) -> str:
        return key_for(sha256)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"


def content_disposition(filename: str, *, inline: bool) -> str:
    """An RFC 6266 Content-Disposition value that survives non-ASCII (Chinese) file names."""
    from urllib.parse import quote

    kind = "inline" if inline else "attachment"
    cleaned = "".join(ch for ch in filename if ch >= " " and ch not in '"\\/') or "download"
    ascii_fallback = cleaned.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"{kind}; filename=\"{ascii_fallback}\"; filename*=UTF-8''{quote(cleaned, safe='')}"


def check_expires(expires: timedelta, *, maximum: timedelta = timedelta(days=7)) -> int:
    """Seconds of a link lifetime, refusing nonsense (S3 presigned URLs allow at most 7 days)."""
    seconds = int(expires.total_seconds())
    if seconds <= 0 or expires > maximum:
        raise ValueError(f"a download link must live between 1 second and {maximum}, not {expires}")
    return seconds
