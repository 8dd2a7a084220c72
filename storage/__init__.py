"""casehub's object store: content-addressed, write-once, verified on write and on read.

Pure Python (no Django). Open a store from its URL::

    store = open_store("file:///srv/casehub/objects")
    store = open_store("s3://ACCESS:SECRET@minio:9000/casehub?secure=true&lock_mode=COMPLIANCE&lock_days=3650")

See docs/storage.md for the URL format and the guarantees.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from storage.base import (
    CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    IntegrityError,
    InvalidReference,
    LinkSigner,
    ObjectNotFound,
    ObjectRef,
    ObjectStore,
    StorageError,
    StorageUnavailable,
    VerifyingReader,
    key_for,
    sha256_from_key,
)

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_CONTENT_TYPE",
    "IntegrityError",
    "InvalidReference",
    "LinkSigner",
    "ObjectNotFound",
    "ObjectRef",
    "ObjectStore",
    "StorageError",
    "StorageUnavailable",
    "VerifyingReader",
    "key_for",
    "open_store",
    "sha256_from_key",
]


def open_store(url: str, *, link_signer: LinkSigner | None = None) -> ObjectStore:
    """The store a URL names: ``file:///abs/dir`` or ``s3://…`` (see docs/storage.md).

    Opening does no I/O; the first operation does (an S3 store creates its bucket on first write).
    ``link_signer`` lets the directory backend mint download links through the web application.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StorageError(f"a file store URL has no host: file:///absolute/path, not {url}")
        from storage.directory import DirectoryStore

        return DirectoryStore(unquote(parts.path), link_signer=link_signer)
    if parts.scheme in ("s3", "minio"):
        from storage.s3 import S3Store

        return S3Store.from_url(url)
    raise StorageError(f"unsupported storage URL scheme {parts.scheme!r}: use file:// or s3://")
