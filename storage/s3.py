"""The production backend: an object-lock (WORM) bucket on MinIO, Ceph RGW or any S3-compatible server.

URL form (see docs/storage.md)::

    s3://ACCESS:SECRET@host:port/bucket?secure=true&region=us-east-1
        &lock_mode=COMPLIANCE&lock_days=3650        (or lock_years=N; GOVERNANCE also accepted)
        &sse=S3 | sse=KMS&kms_key=KEY-ID            (optional server-side encryption)
        &part_size=8388608&upload_threads=4&connect_timeout=5&read_timeout=120
        &public_endpoint=https://files.example.gov.cn   (host browsers use for presigned links)

Guarantees and how they are met:

* **Content addressed, write-once.** The key is derived from the SHA-256, which is only known after
  the whole stream has been read; small objects are buffered in memory, larger ones spooled to a
  local temporary file in the same pass that hashes them, then uploaded. A HEAD first makes a
  repeat upload a no-op, and every write carries ``If-None-Match: *`` so two racing writers cannot
  create a second version of a key. The bucket is created with object lock, a default retention,
  and each object is written with an explicit retention (mode and retain-until date), so a delete
  inside the retention period is refused by the server itself.
* **Verified on write.** Each request carries ``x-amz-checksum-sha256`` (single PUT: of the whole
  object; multipart: of each part, and the part checksums again in CompleteMultipartUpload), with
  ``x-amz-sdk-checksum-algorithm: SHA256``. An S3 server recomputes them and refuses a mismatch.
* **Verified on read** by :class:`storage.base.VerifyingReader`.
* **Encrypted when asked, or not at all.** With ``sse=`` the server must state the encryption in its
  answers (a probe write before the first object, then every write); a server that ignores the
  request (Ceph RGW 16 with SSE-S3) makes the store refuse to work rather than store plaintext.

The ``minio`` client signs and sends every request. Writes go through its request primitive
(``Minio._execute``) rather than ``put_object`` because ``put_object`` can neither send
conditional headers nor per-part checksums; that one dependency on a private method is isolated
in :meth:`S3Store._request` (``minio`` is pinned).
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tempfile
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree as ET

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, GOVERNANCE
from minio.error import MinioException, S3Error, ServerError
from minio.objectlockconfig import DAYS, YEARS, ObjectLockConfig
from minio.retention import Retention
from minio.sse import SseKMS, SseS3
from minio.sseconfig import Rule, SSEConfig
from minio.time import to_iso8601utc

from storage.base import (
    CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    KEY_PREFIX,
    HashingReader,
    IntegrityError,
    ObjectNotFound,
    ObjectRef,
    ObjectStore,
    Readable,
    StorageError,
    StorageUnavailable,
    VerifyingReader,
    check_expires,
    check_sha256,
    content_disposition,
    key_for,
    sha256_from_key,
)

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3's minimum for every part but the last
MAX_PARTS = 10_000
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
# Objects casehub writes for its own checks (never evidence: iter_keys lists only sha256/ keys).
PROBE_PREFIX = "casehub-probe/"

# S3 error codes that mean "the bytes did not match the checksum we sent".
_DIGEST_ERRORS = {"BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch"}
_NOT_FOUND = {"NoSuchKey", "NoSuchVersion"}


# Exceptions that mean the endpoint could not be talked to (urllib3's HTTPError covers
# MaxRetryError, NewConnectionError, ProtocolError and the timeouts).
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class S3Config:
    endpoint: str  # host:port
    bucket: str
    access_key: str
    secret_key: str
    secure: bool = True
    region: str = "us-east-1"
    lock_mode: str = COMPLIANCE
    lock_days: int | None = 3650
    lock_years: int | None = None
    sse: str | None = None  # "S3" or "KMS"
    kms_key: str | None = None
    part_size: int = 8 * MIB
    upload_threads: int = 4
    connect_timeout: float = 5.0
    read_timeout: float = 120.0
    public_endpoint: str | None = None  # scheme://host[:port] for presigned links
    spool_dir: str | None = None

    @property
    def retention_period(self) -> timedelta:
        if self.lock_years:
            return timedelta(days=365 * self.lock_years)
        return timedelta(days=self.lock_days or 0)

    @property
    def description(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"s3 {scheme}://{self.endpoint}/{self.bucket}"


def _int(params: dict[str, list[str]], name: str) -> int | None:
    if name not in params:
        return None
    try:
        value = int(params[name][-1])
    except ValueError:
        raise StorageError(f"storage URL parameter {name} must be an integer, not {params[name][-1]!r}") from None
    if value <= 0:
        raise StorageError(f"storage URL parameter {name} must be positive")
    return value


def _bool(params: dict[str, list[str]], name: str, default: bool) -> bool:
    if name not in params:
        return default
    value = params[name][-1].lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise StorageError(f"storage URL parameter {name} must be true or false, not {value!r}")


KNOWN_PARAMS = {
    "secure", "region", "lock_mode", "lock_days", "lock_years", "sse", "kms_key", "part_size", "upload_threads",
    "connect_timeout", "read_timeout", "public_endpoint", "spool_dir",
}


def parse_s3_url(url: str) -> S3Config:
    """Parse and validate an ``s3://`` storage URL; every mistake is a clear StorageError."""
    parts = urlsplit(url)
    if parts.scheme not in ("s3", "minio"):
        raise StorageError(f"not an s3:// URL: {parts.scheme}://…")
    if not parts.hostname:
        raise StorageError("the s3:// storage URL needs a host (s3://ACCESS:SECRET@host:port/bucket)")
    if not parts.username or parts.password is None:
        raise StorageError("the s3:// storage URL needs credentials (s3://ACCESS:SECRET@host:port/bucket)")
    bucket = parts.path.strip("/")
    if not bucket or "/" in bucket:
        raise StorageError("the s3:// storage URL needs exactly one bucket name as its path")
    params = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(params) - KNOWN_PARAMS
    if unknown:
        raise StorageError(f"unknown storage URL parameters: {', '.join(sorted(unknown))}")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    endpoint = f"{host}:{parts.port}" if parts.port else host

    lock_mode = (params.get("lock_mode", [COMPLIANCE])[-1] or COMPLIANCE).upper()
    if lock_mode not in (COMPLIANCE, GOVERNANCE):
        raise StorageError("lock_mode must be COMPLIANCE or GOVERNANCE: the bucket is always write-once")
    lock_days, lock_years = _int(params, "lock_days"), _int(params, "lock_years")
    if lock_days and lock_years:
        raise StorageError("give lock_days or lock_years, not both")
    if not lock_days and not lock_years:
        lock_days = 3650

    sse = params.get("sse", [""])[-1].upper() or None
    kms_key = params.get("kms_key", [""])[-1] or None
    if sse not in (None, "S3", "KMS"):
        raise StorageError("sse must be S3 (server-managed keys) or KMS (with kms_key=…)")
    if sse == "KMS" and not kms_key:
        raise StorageError("sse=KMS needs kms_key=<key id>")
    if kms_key and sse != "KMS":
        raise StorageError("kms_key is only used with sse=KMS")

    part_size = _int(params, "part_size") or 8 * MIB
    if part_size < MIN_PART_SIZE or part_size > 5 * 1024 * MIB or part_size % CHUNK_SIZE:
        raise StorageError("part_size must be a multiple of 1 MiB between 5 MiB and 5 GiB")

    upload_threads = _int(params, "upload_threads") or 4
    if upload_threads > 16:
        raise StorageError("upload_threads must be between 1 and 16")

    def _float(name: str, default: float) -> float:
        try:
            value = float(params.get(name, [default])[-1])
        except ValueError:
            raise StorageError(f"storage URL parameter {name} must be a number of seconds") from None
        if value <= 0:
            raise StorageError(f"storage URL parameter {name} must be positive")
        return value

    public_endpoint = params.get("public_endpoint", [""])[-1] or None
    if public_endpoint:
        pe = urlsplit(public_endpoint)
        if pe.scheme not in ("http", "https") or not pe.netloc or pe.path not in ("", "/"):
            raise StorageError("public_endpoint must look like https://host[:port]")

    return S3Config(
        endpoint=endpoint,
        bucket=bucket,
        access_key=unquote(parts.username),
        secret_key=unquote(parts.password),
        secure=_bool(params, "secure", True),
        region=params.get("region", ["us-east-1"])[-1] or "us-east-1",
        lock_mode=lock_mode,
        lock_days=lock_days,
        lock_years=lock_years,
        sse=sse,
        kms_key=kms_key,
        part_size=part_size,
        upload_threads=upload_threads,
        connect_timeout=_float("connect_timeout", 5.0),
        read_timeout=_float("read_timeout", 120.0),
        public_endpoint=public_endpoint,
        spool_dir=params.get("spool_dir", [""])[-1] or None,
    )


def _http_client(config: S3Config) -> urllib3.PoolManager:
    # Few, fast retries: an outage must surface as StorageUnavailable in seconds, not minutes,
    # so the web request that triggered it fails cleanly and can be retried by the user.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout),
        maxsize=10,
        retries=urllib3.Retry(total=2, connect=2, read=0, backoff_factor=0.2,
                              status_forcelist=[500, 502, 503, 504], allowed_methods=None,
                              raise_on_status=False),
    )


@dataclass(frozen=True)
class ObjectRetention:
    """An object's lock as the server reports it."""

    mode: str  # COMPLIANCE or GOVERNANCE
    retain_until: datetime  # aware, UTC


_TIMESTAMP_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def parse_s3_timestamp(value: str) -> datetime:
    """An ISO 8601 timestamp from an S3 server, as an aware UTC datetime.

    Any number of fractional digits up to nine is accepted: AWS and MinIO send milliseconds,
    Ceph RGW sends nanoseconds (``2026-12-05T23:10:55.000000000Z``), which minio-py 7.2.20's own
    parser refuses. Digits past the microsecond are dropped (the time is never rounded up).
    """
    match = _TIMESTAMP_RE.match(value.strip())
    if not match:
        raise StorageError(f"not an S3 timestamp: {value!r}")
    seconds, fraction, zone = match.groups()
    micro = (fraction or "").ljust(6, "0")[:6]
    parsed = datetime.fromisoformat(f"{seconds}.{micro}{'+00:00' if zone == 'Z' else zone}")
    return parsed.astimezone(UTC)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _parse_xml(data: bytes) -> ET.Element:
    # The document comes from the configured S3 endpoint (as in the minio client itself); the
    # bundled expat (>= 2.4) resolves no external entities and caps entity amplification.
    return ET.fromstring(data)  # noqa: S314


def composite_checksum(part_digests: list[bytes]) -> str:
    """S3's checksum of a multipart object: SHA-256 of the concatenated part digests, "-N"."""
    return f"{_b64(hashlib.sha256(b''.join(part_digests)).digest())}-{len(part_digests)}"


class _ResponseReader:
    """Adapts a streaming urllib3 response to ``read(n)`` and maps network failures."""

    def __init__(self, response: Any, endpoint: str) -> None:
        self._response = response
        self._endpoint = endpoint

    def read(self, n: int = -1) -> bytes:
        try:
            return self._response.read(n if n >= 0 else None)
        except _NETWORK_ERRORS as exc:
            raise StorageUnavailable(f"lost connection to {self._endpoint} while reading: {exc}",
                                     endpoint=self._endpoint) from exc

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()


class S3Store(ObjectStore):
    """Content-addressed, write-once objects in an object-lock bucket."""

    def __init__(self, config: S3Config) -> None:
        self.config = config
        self.description = config.description
        self.client = Minio(
            config.endpoint,
            access_key=config.access_key,
            secret_key=config.secret_key,
            secure=config.secure,
            region=config.region,  # known region: presigning needs no network round trip
            http_client=_http_client(config),
        )
        if config.public_endpoint:
            pe = urlsplit(config.public_endpoint)
            self._presigner = Minio(pe.netloc, access_key=config.access_key, secret_key=config.secret_key,
                                    secure=pe.scheme == "https", region=config.region)
        else:
            self._presigner = self.client
        self._bucket_ready = False

    @classmethod
    def from_url(cls, url: str) -> S3Store:
        return cls(parse_s3_url(url))

    # error mapping -----------------------------------------------------------------------------
    def _unavailable(self, exc: BaseException, doing: str) -> StorageUnavailable:
        return StorageUnavailable(
            f"object store {self.description} is unreachable while {doing}: {type(exc).__name__}: {exc}",
            endpoint=self.description,
        )

    def _wrap(self, exc: BaseException, doing: str, sha256: str = "") -> StorageError:
        if isinstance(exc, S3Error):
            if exc.code in _NOT_FOUND and sha256:
                return ObjectNotFound(sha256, key=key_for(sha256))
            if exc.code in _DIGEST_ERRORS:
                return IntegrityError(f"the server refused the upload of {sha256}: its checksum did not match "
                                      f"({exc.code})", sha256=sha256, key=key_for(sha256) if sha256 else "")
            if exc.code == "NoSuchBucket":
                if sha256:  # nothing was ever written there (the bucket is created on first write)
                    return ObjectNotFound(sha256, key=key_for(sha256),
                                          detail=f"bucket {self.config.bucket} does not exist")
                return StorageError(f"bucket {self.config.bucket} does not exist on {self.description}")
            return StorageError(f"{self.description} refused {doing}: {exc.code}: {exc.message}")
        if isinstance(exc, ServerError):
            return self._unavailable(exc, doing)
        if isinstance(exc, _NETWORK_ERRORS):
            return self._unavailable(exc, doing)
        if isinstance(exc, MinioException):
            return StorageError(f"{self.description} answered unexpectedly while {doing}: {exc}")
        raise exc

    def _request(self, method: str, key: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
                 query: dict[str, str] | None = None) -> Any:
        """One signed S3 request (see the module docstring for why this uses ``_execute``)."""
        return self.client._execute(
            method, self.config.bucket, key, body=body, headers=dict(headers or {}), query_params=query,
            no_body_trace=True,
        )

    # bucket ------------------------------------------------------------------------------------
    def ensure_bucket(self) -> None:
        """Create the object-lock bucket if needed; refuse a bucket without object lock."""
        if self._bucket_ready:
            return
        cfg = self.config
        try:
            if not self.client.bucket_exists(cfg.bucket):
                try:
                    self.client.make_bucket(cfg.bucket, location=cfg.region, object_lock=True)
                except S3Error as exc:
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
                unit, amount = (YEARS, cfg.lock_years) if cfg.lock_years else (DAYS, cfg.lock_days)
                self.client.set_object_lock_config(cfg.bucket, ObjectLockConfig(cfg.lock_mode, amount, unit))
                if cfg.sse:
                    rule = Rule.new_sse_s3_rule() if cfg.sse == "S3" else Rule.new_sse_kms_rule(cfg.kms_key)
                    try:
                        self.client.set_bucket_encryption(cfg.bucket, SSEConfig(rule))
                    except S3Error as exc:
                        raise self._not_encrypting(f"it refused to set the bucket's default encryption "
                                                   f"({exc.code})") from None
            try:
                lock = self.client.get_object_lock_config(cfg.bucket)
            except S3Error as exc:
                raise StorageError(
                    f"bucket {cfg.bucket} on {self.description} has no object lock ({exc.code}); casehub stores "
                    "evidence only in an object-lock (WORM) bucket — create a new bucket with object lock enabled"
                ) from None
        except StorageError:
            raise
        except Exception as exc:
            raise self._wrap(exc, "preparing the bucket") from exc
        if lock is None:
            raise StorageError(f"bucket {cfg.bucket} has no object lock configuration")
        if cfg.sse:
            self._check_encryption_honoured()
        self._bucket_ready = True

    # server-side encryption ------------------------------------------------------------------
    @property
    def _sse_algorithm(self) -> str:
        return "AES256" if self.config.sse == "S3" else "aws:kms"

    def _not_encrypting(self, why: str) -> StorageError:
        return StorageError(
            f"{self.description} does not honour server-side encryption (sse={self.config.sse}): {why}. "
            "casehub refuses to store evidence it would wrongly believe encrypted: enable encryption on the "
            "server (MinIO: a KMS/KES; Ceph RGW: SSE-KMS with Vault, and sse=KMS) or remove "
            "sse= from CASEHUB_STORAGE_URL and encrypt the disks instead (see docs/storage.md)")

    def _check_encrypted(self, headers: Any, doing: str) -> None:
        """Raise unless a server answer states the encryption this store asked for.

        S3, MinIO and moto answer every encrypted write and read with
        ``x-amz-server-side-encryption``; a server that ignores the request header (Ceph RGW 16
        does for SSE-S3) answers without it, and would store plaintext.
        """
        stated = {v.strip() for v in (headers.get("x-amz-server-side-encryption") or "").split(",")}
        if self._sse_algorithm not in stated:
            raise self._not_encrypting(f"its answer to {doing} carries no x-amz-server-side-encryption: "
                                       f"{self._sse_algorithm} header")

    def _check_encryption_honoured(self) -> None:
        """Before any evidence is written: store (once per bucket) a small probe object with the
        configured encryption and check that the server says it encrypted it.

        The probe lives outside the ``sha256/`` prefix, so it is never taken for evidence; it is
        locked like everything else in the bucket.
        """
        key = f"{PROBE_PREFIX}sse-{(self.config.sse or '').lower()}"
        body = (f"casehub stored this object to check that {self.description} encrypts what it stores "
                f"(sse={self.config.sse}). It is not evidence.\n").encode()
        headers = self._write_headers("text/plain; charset=utf-8")
        headers["x-amz-checksum-sha256"] = _b64(hashlib.sha256(body).digest())
        headers["x-amz-sdk-checksum-algorithm"] = "SHA256"
        try:
            try:
                response, doing = self._request("HEAD", key), f"reading {key}"
            except S3Error as exc:
                if exc.code not in _NOT_FOUND | {"NoSuchObject", "ResourceNotFound"}:
                    raise
                try:
                    response, doing = self._request("PUT", key, body=body, headers=headers), f"storing {key}"
                except S3Error as put_exc:
                    if put_exc.code != "PreconditionFailed":  # (another process stored it just now)
                        raise
                    response, doing = self._request("HEAD", key), f"reading {key}"
        except Exception as exc:
            raise self._wrap(exc, "checking server-side encryption") from exc
        self._check_encrypted(response.headers, doing)

    def _write_headers(self, content_type: str) -> dict[str, str]:
        cfg = self.config
        until = datetime.now(UTC) + cfg.retention_period
        headers = {
            "Content-Type": content_type,
            "If-None-Match": "*",
            "x-amz-object-lock-mode": cfg.lock_mode,
            "x-amz-object-lock-retain-until-date": to_iso8601utc(until) or "",
        }
        if cfg.sse == "S3":
            headers.update(SseS3().headers())
        elif cfg.sse == "KMS":
            headers.update(SseKMS(cfg.kms_key or "", {}).headers())
        return headers

    # write -------------------------------------------------------------------------------------
    def put(self, stream: Readable, *, content_type: str = DEFAULT_CONTENT_TYPE,
            size: int | None = None) -> ObjectRef:
        content_type = content_type or DEFAULT_CONTENT_TYPE
        part_size = self.config.part_size
        reader = HashingReader(stream, limit=size)
        head = self._read_up_to(reader, part_size + 1)
        if len(head) <= part_size:
            reader.check_complete()
            # HEAD first, as for large objects: a repeat upload writes nothing. The conditional
            # PUT only closes the race between this HEAD and the write, and only on servers that
            # honour If-None-Match — Ceph RGW 16 ignores it in a versioned (object-lock) bucket
            # and would keep one more locked copy of the same bytes for every repeat upload.
            sha256 = reader.hexdigest()
            existing = self._existing(sha256, _b64(reader.digest()), len(head))
            if existing is not None:
                return existing
            return self._put_single(sha256, head, reader.digest(), content_type)
        # Larger than one part: spool to disk while hashing the whole object and each part.
        spool_location = self.config.spool_dir or tempfile.gettempdir()
        with tempfile.TemporaryFile(prefix="casehub-put-", dir=self.config.spool_dir) as spool:
            part_digests: list[bytes] = []
            part_hash = hashlib.sha256()
            in_part = 0

            def take(chunk: bytes) -> None:
                nonlocal part_hash, in_part
                view = memoryview(chunk)
                while view:
                    room = part_size - in_part
                    piece = view[:room]
                    part_hash.update(piece)
                    in_part += len(piece)
                    view = view[len(piece):]
                    if in_part == part_size:
                        part_digests.append(part_hash.digest())
                        part_hash, in_part = hashlib.sha256(), 0
                try:
                    spool.write(chunk)
                except OSError as exc:  # full or failing local disk: not the caller's fault
                    raise StorageUnavailable(f"cannot spool the upload to {spool_location}: {exc}",
                                             endpoint=self.description) from exc

            take(head)
            del head
            while True:
                chunk = reader.read(CHUNK_SIZE)
                if not chunk:
                    break
                take(chunk)
            reader.check_complete()
            if in_part:
                part_digests.append(part_hash.digest())
            if len(part_digests) > MAX_PARTS:
                raise StorageError(f"object larger than {MAX_PARTS} parts of {part_size} bytes: raise part_size")
            sha256 = reader.hexdigest()
            existing = self._existing(sha256, composite_checksum(part_digests), reader.size)
            if existing is not None:
                return existing
            spool.flush()
            spool.seek(0)
            return self._put_multipart(sha256, reader.size, spool, part_digests, content_type)

    @staticmethod
    def _read_up_to(reader: HashingReader, limit: int) -> bytes:
        buf = io.BytesIO()
        while buf.tell() < limit:
            chunk = reader.read(min(CHUNK_SIZE, limit - buf.tell()))
            if not chunk:
                break
            buf.write(chunk)
        return buf.getvalue()

    def _existing(self, sha256: str, expected_checksum: str, size: int) -> ObjectRef | None:
        """The stored object with this content, if any.

        A repeat upload writes nothing. When the server reports the stored SHA-256 checksum
        (``x-amz-checksum-mode: ENABLED``) it must be the one this upload would have sent; a
        different value (or size) means the current version under the key is not these bytes
        (someone wrote a new version outside casehub), which is reported instead of silently
        deduplicated. A server that keeps no comparable checksum (Ceph RGW 16 ignores flexible
        checksums; a multipart object cut into other parts) gets the stored copy
        re-read and re-hashed instead: slower, but only for a repeat upload.
        """
        self.ensure_bucket()
        key = key_for(sha256)
        try:
            st = self.client.stat_object(self.config.bucket, key, extra_headers={"x-amz-checksum-mode": "ENABLED"})
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                return None
            raise self._wrap(exc, f"looking up {key}", sha256) from exc
        except Exception as exc:
            raise self._wrap(exc, f"looking up {key}", sha256) from exc
        stored = (st.metadata or {}).get("x-amz-checksum-sha256")
        if stored and "-" in stored:
            # A multipart checksum is only comparable when cut into the same number of parts.
            comparable = "-" in expected_checksum and stored.rsplit("-", 1)[1] == expected_checksum.rsplit("-", 1)[1]
            mismatch = comparable and stored != expected_checksum
        else:
            # A full-object checksum, or (from servers that omit the "-N" suffix) a composite one.
            comparable = bool(stored)
            mismatch = comparable and stored not in {_b64(bytes.fromhex(sha256)), expected_checksum.split("-")[0]}
        if mismatch or int(st.size or 0) != size:
            what = f"stored checksum {stored}" if mismatch else f"stored size {st.size} (not {size})"
            raise IntegrityError(
                f"object {key} exists but its {what} does not match this content: "
                "the stored copy is left in place for investigation", sha256=sha256, key=key)
        if not comparable:
            try:
                self.verify(sha256)
            except IntegrityError as exc:
                raise IntegrityError(f"object {key} exists but its stored bytes are not this content ({exc}): the "
                                     "stored copy is left in place for investigation", sha256=sha256, key=key) from exc
        return ObjectRef(sha256=sha256, size=int(st.size or 0), key=key,
                         content_type=st.content_type or DEFAULT_CONTENT_TYPE, version_id=st.version_id)

    def _put_single(self, sha256: str, data: bytes, digest: bytes, content_type: str) -> ObjectRef:
        key = key_for(sha256)
        headers = self._write_headers(content_type)
        headers["x-amz-checksum-sha256"] = _b64(digest)
        headers["x-amz-sdk-checksum-algorithm"] = "SHA256"
        try:
            response = self._request("PUT", key, body=data, headers=headers)
        except S3Error as exc:
            if exc.code == "PreconditionFailed":  # already stored (earlier, or by a concurrent writer)
                existing = self._existing(sha256, headers["x-amz-checksum-sha256"], len(data))
                if existing is not None:
                    return existing
            raise self._wrap(exc, f"storing {key}", sha256) from exc
        except Exception as exc:
            raise self._wrap(exc, f"storing {key}", sha256) from exc
        if self.config.sse:
            self._check_encrypted(response.headers, f"storing {key}")
        return ObjectRef(sha256=sha256, size=len(data), key=key, content_type=content_type,
                         version_id=response.headers.get("x-amz-version-id"))

    def _put_multipart(self, sha256: str, size: int, spool: Any, part_digests: list[bytes],
                       content_type: str) -> ObjectRef:
        key = key_for(sha256)
        headers = self._write_headers(content_type)
        retain_until = headers["x-amz-object-lock-retain-until-date"]
        headers.pop("If-None-Match")  # conditional writes apply to CompleteMultipartUpload
        headers["x-amz-checksum-algorithm"] = "SHA256"
        headers["x-amz-sdk-checksum-algorithm"] = "SHA256"
        upload_id = None
        try:
            response = self._request("POST", key, headers=headers, query={"uploads": ""})
            root = _parse_xml(response.data)
            upload_id = root.findtext(f"{{{S3_NS}}}UploadId") or root.findtext("UploadId")
            if not upload_id:
                raise StorageError(f"{self.description} returned no upload id for {key}")
            if self.config.sse:  # before a single part is sent
                self._check_encrypted(response.headers, f"starting the upload of {key}")
            etags = self._upload_parts(key, upload_id, spool, part_digests)
            body = self._complete_body(etags, part_digests)
            complete_headers = {
                "Content-Type": "application/xml",
                "Content-MD5": _b64(hashlib.md5(body, usedforsecurity=False).digest()),
                "If-None-Match": "*",
            }
            response = self._request("POST", key, body=body, headers=complete_headers, query={"uploadId": upload_id})
            # CompleteMultipartUpload can answer 200 with an error document in its body.
            root = _parse_xml(response.data)
            if root.tag.endswith("Error"):
                code = root.findtext("Code") or root.findtext(f"{{{S3_NS}}}Code") or "Error"
                raise StorageError(f"{self.description} failed to complete the upload of {key}: {code}")
            version_id = response.headers.get("x-amz-version-id")
        except S3Error as exc:
            self._abort(key, upload_id)
            if exc.code == "PreconditionFailed":
                return self.stat(sha256)
            raise self._wrap(exc, f"storing {key}", sha256) from exc
        except StorageError:
            self._abort(key, upload_id)
            raise
        except Exception as exc:
            self._abort(key, upload_id)
            raise self._wrap(exc, f"storing {key}", sha256) from exc
        self._ensure_retention(key, version_id, retain_until)
        return ObjectRef(sha256=sha256, size=size, key=key, content_type=content_type, version_id=version_id)

    def _upload_parts(self, key: str, upload_id: str, spool: Any, part_digests: list[bytes]) -> list[str]:
        """Upload the parts, ``upload_threads`` at a time; memory stays at threads x part_size."""

        def upload(number: int, data: bytes, digest: bytes) -> str:
            headers = {"x-amz-checksum-sha256": _b64(digest), "x-amz-sdk-checksum-algorithm": "SHA256"}
            result = self._request("PUT", key, body=data, headers=headers,
                                   query={"partNumber": str(number), "uploadId": upload_id})
            return result.headers.get("etag", "").strip('"')

        etags: dict[int, str] = {}
        threads = self.config.upload_threads
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="s3-part") as pool:
            pending: dict[Future[str], int] = {}
            try:
                for number, digest in enumerate(part_digests, start=1):
                    while len(pending) >= threads:
                        done, _ = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            etags[pending.pop(future)] = future.result()
                    data = spool.read(self.config.part_size)
                    pending[pool.submit(upload, number, data, digest)] = number
                    del data
                for future in as_completed(list(pending)):
                    etags[pending.pop(future)] = future.result()
            finally:
                for future in pending:
                    future.cancel()
        return [etags[n] for n in range(1, len(part_digests) + 1)]

    @staticmethod
    def _complete_body(etags: list[str], digests: list[bytes]) -> bytes:
        root = ET.Element("CompleteMultipartUpload", xmlns=S3_NS)
        for number, (etag, digest) in enumerate(zip(etags, digests, strict=True), start=1):
            part = ET.SubElement(root, "Part")
            ET.SubElement(part, "ChecksumSHA256").text = _b64(digest)
            ET.SubElement(part, "ETag").text = f'"{etag}"'
            ET.SubElement(part, "PartNumber").text = str(number)
        return ET.tostring(root, encoding="utf-8", xml_declaration=False)

    def _abort(self, key: str, upload_id: str | None) -> None:
        if not upload_id:
            return
        try:
            self._request("DELETE", key, query={"uploadId": upload_id})
        except Exception:  # noqa: BLE001, S110 - best effort; the server expires abandoned uploads
            pass

    def _ensure_retention(self, key: str, version_id: str | None, retain_until: str) -> None:
        """Make sure a completed multipart object carries its retention.

        S3 and MinIO apply the retention headers of CreateMultipartUpload (and the bucket default)
        at completion. A server that did not is caught here: the object shows no lock, and the
        retention is set explicitly, so no object is ever left deletable.
        """
        sha256 = sha256_from_key(key) or ""
        try:
            if self.retention(sha256, version_id=version_id) is not None:
                return
            until = parse_s3_timestamp(retain_until)
            self.client.set_object_retention(self.config.bucket, key, Retention(self.config.lock_mode, until),
                                             version_id=version_id)
        except StorageError:
            raise
        except Exception as exc:
            raise self._wrap(exc, f"setting the retention of {key}") from exc

    def retention(self, sha256: str, *, version_id: str | None = None) -> ObjectRetention | None:
        """The lock on the object (its current version, or ``version_id``); None if it has none.

        Read from the object's HEAD answer (``x-amz-object-lock-mode`` and
        ``-retain-until-date``), which S3, MinIO, Ceph RGW and moto all send, and parsed here:
        minio-py's ``get_object_retention`` cannot parse Ceph RGW's timestamps, and moto does not
        implement GetObjectRetention at all.
        """
        key = key_for(check_sha256(sha256))
        try:
            st = self.client.stat_object(self.config.bucket, key, version_id=version_id)
        except Exception as exc:
            raise self._wrap(exc, f"reading the retention of {key}", sha256) from exc
        metadata = st.metadata or {}
        mode = metadata.get("x-amz-object-lock-mode")
        until = metadata.get("x-amz-object-lock-retain-until-date")
        if not mode or not until:
            return None
        return ObjectRetention(mode=mode.upper(), retain_until=parse_s3_timestamp(until))

    # read --------------------------------------------------------------------------------------
    def stat(self, sha256: str) -> ObjectRef:
        key = key_for(check_sha256(sha256))
        try:
            st = self.client.stat_object(self.config.bucket, key)
        except Exception as exc:
            raise self._wrap(exc, f"looking up {key}", sha256) from exc
        return ObjectRef(sha256=sha256, size=int(st.size or 0), key=key,
                         content_type=st.content_type or DEFAULT_CONTENT_TYPE, version_id=st.version_id)

    def open(self, sha256: str) -> VerifyingReader:
        key = key_for(check_sha256(sha256))
        try:
            response = self.client.get_object(self.config.bucket, key)
        except Exception as exc:
            raise self._wrap(exc, f"reading {key}", sha256) from exc
        try:
            size = int(response.headers["Content-Length"])
        except (KeyError, ValueError):
            response.close()
            response.release_conn()
            raise StorageError(f"{self.description} sent {key} without a Content-Length") from None
        return VerifyingReader(_ResponseReader(response, self.description), sha256=sha256, size=size, key=key)

    def download_url(self, sha256: str, *, filename: str, content_type: str, inline: bool = False,
                     expires: timedelta = timedelta(minutes=5)) -> str:
        """A presigned GET (signature V4) valid for ``expires``; offline, no request to the server."""
        check_expires(expires)
        key = key_for(check_sha256(sha256))
        try:
            return self._presigner.presigned_get_object(
                self.config.bucket, key, expires=expires,
                response_headers={
                    "response-content-disposition": content_disposition(filename, inline=inline),
                    "response-content-type": content_type,
                    "response-cache-control": "private, no-store",
                },
            )
        except Exception as exc:
            raise self._wrap(exc, f"signing a link to {key}", sha256) from exc

    def iter_keys(self) -> Iterator[str]:
        try:
            for item in self.client.list_objects(self.config.bucket, prefix=KEY_PREFIX, recursive=True):
                if item.object_name and sha256_from_key(item.object_name):
                    yield item.object_name
        except S3Error as exc:
            if exc.code == "NoSuchBucket":  # nothing stored yet: the bucket is made on first write
                return
            raise self._wrap(exc, "listing objects") from exc
        except Exception as exc:
            raise self._wrap(exc, "listing objects") from exc

