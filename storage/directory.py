"""The embedded backend: objects as read-only files in a local directory.

Layout under the root::

    sha256/ab/cd/abcd…ef        the object's bytes, mode 0444
    sha256/ab/cd/abcd…ef.meta   its content type (JSON), written once, mode 0444
    .incoming/                  temporary files of uploads in progress

A write streams into a temporary file in the same file system while hashing, fsyncs it, makes it
read-only and then *links* it under its final name. ``link`` fails if the name exists, so unlike
``rename`` it can never replace an object that is already there: two writers of the same content
race harmlessly and the first one wins. The directory is fsynced so the new name survives a crash.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from storage.base import (
    CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    KEY_PREFIX,
    HashingReader,
    LinkSigner,
    ObjectNotFound,
    ObjectRef,
    ObjectStore,
    Readable,
    StorageError,
    StorageUnavailable,
    VerifyingReader,
    check_expires,
    check_sha256,
    key_for,
    sha256_from_key,
)

READ_ONLY = 0o444
META_SUFFIX = ".meta"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DirectoryStore(ObjectStore):
    """Write-once, content-addressed files under ``root``."""

    def __init__(self, root: str | os.PathLike[str], *, link_signer: LinkSigner | None = None,
                 fsync: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_absolute():
            raise StorageError(f"the object directory must be an absolute path, not {root}")
        self.link_signer = link_signer
        # fsync stays on in every real configuration; only the benchmark may compare without it.
        self._fsync = fsync
        self.description = f"file://{self.root}"

    # paths -------------------------------------------------------------------------------------
    def path_for(self, sha256: str) -> Path:
        """Where the object's bytes live (for tests and tools that inspect the backend)."""
        return self.root / key_for(sha256)

    def _incoming(self) -> Path:
        path = self.root / ".incoming"
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"object directory {self.root} is not writable: {exc}",
                                     endpoint=self.description) from exc
        return path

    # write -------------------------------------------------------------------------------------
    def put(self, stream: Readable, *, content_type: str = DEFAULT_CONTENT_TYPE,
            size: int | None = None) -> ObjectRef:
        content_type = content_type or DEFAULT_CONTENT_TYPE
        reader = HashingReader(stream, limit=size)
        fd, tmp_name = tempfile.mkstemp(prefix="put-", dir=self._incoming())
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb", buffering=0) as out:
                while True:
                    chunk = reader.read(CHUNK_SIZE)
                    if not chunk:
                        break
                    out.write(chunk)
                reader.check_complete()
                if self._fsync:
                    os.fsync(out.fileno())
            os.chmod(tmp, READ_ONLY)
            sha256 = reader.hexdigest()
            final = self.path_for(sha256)
            final.parent.mkdir(parents=True, exist_ok=True)
            if not final.exists():
                # Metadata first: whoever then sees the object also sees its content type (a
                # metadata file whose object never arrived is ignored, and is write-once too).
                self._write_meta(final, content_type)
            try:
                os.link(tmp, final)
            except FileExistsError:
                # Same content already stored: keep the existing file untouched, but do not
                # vouch for it blindly — a local re-hash is cheap, and a new reference to a
                # corrupt copy would hide the damage until someone needs the evidence.
                self.verify(sha256)
                return self.stat(sha256)
            if self._fsync:
                _fsync_dir(final.parent)
            return self.stat(sha256)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EIO, errno.ENOENT):
                raise StorageUnavailable(f"cannot write to object directory {self.root}: {exc}",
                                         endpoint=self.description) from exc
            raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def _write_meta(self, final: Path, content_type: str) -> None:
        meta = final.with_name(final.name + META_SUFFIX)
        fd, tmp_name = tempfile.mkstemp(prefix="meta-", dir=self._incoming())
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"content_type": content_type}, out)
                out.flush()
                if self._fsync:
                    os.fsync(out.fileno())
            os.chmod(tmp_name, READ_ONLY)
            with contextlib.suppress(FileExistsError):
                os.link(tmp_name, meta)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)

    # read --------------------------------------------------------------------------------------
    def _unavailable(self, exc: OSError) -> StorageUnavailable:
        return StorageUnavailable(f"object directory {self.root} cannot be read: {exc}", endpoint=self.description)

    def stat(self, sha256: str) -> ObjectRef:
        path = self.path_for(check_sha256(sha256))
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ObjectNotFound(sha256, key=key_for(sha256)) from None
        except OSError as exc:  # ENOTDIR, EIO, EACCES …: the volume, not the object, is the problem
            raise self._unavailable(exc) from exc
        content_type = DEFAULT_CONTENT_TYPE
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            content_type = json.loads(path.with_name(path.name + META_SUFFIX).read_text("utf-8"))["content_type"]
        return ObjectRef(sha256=sha256, size=size, key=key_for(sha256), content_type=content_type)

    def open(self, sha256: str) -> VerifyingReader:
        path = self.path_for(check_sha256(sha256))
        try:
            raw = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the reader
        except FileNotFoundError:
            raise ObjectNotFound(sha256, key=key_for(sha256)) from None
        except OSError as exc:
            raise self._unavailable(exc) from exc
        size = os.fstat(raw.fileno()).st_size
        # The recorded size of a file object is its size on disk; the hash check catches a
        # truncated or extended file because the name *is* the hash.
        return VerifyingReader(raw, sha256=sha256, size=size, key=key_for(sha256))

    def download_url(self, sha256: str, *, filename: str, content_type: str, inline: bool = False,
                     expires: timedelta = timedelta(minutes=5)) -> str:
        check_expires(expires)
        ref = self.stat(sha256)
        if self.link_signer is None:
            raise StorageError(
                "the directory backend serves downloads through the web application's signed-link view; "
                "open it through casehub.objectstore.services.get_store()"
            )
        return self.link_signer(ref, filename, content_type, inline, expires)

    def iter_keys(self) -> Iterator[str]:
        base = self.root / KEY_PREFIX.rstrip("/")
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(META_SUFFIX):
                    continue
                key = os.path.relpath(os.path.join(dirpath, name), self.root).replace(os.sep, "/")
                if sha256_from_key(key):
                    yield key
