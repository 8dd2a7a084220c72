"""Verified on write, end to end, against a server that *does* recompute the checksum.

moto stores the x-amz-checksum-sha256 it is sent without checking it (DESIGN.md §5). This minimal
stand-in for an S3 server answers only what a single-part upload needs, and recomputes the
SHA-256 of every body it receives, the way MinIO and S3 do: it shows that the checksum casehub
sends matches the bytes that actually travel, and that a refusal (BadDigest) reaches the caller
as an IntegrityError with nothing stored.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from storage import IntegrityError, StorageError, open_store
from storage.s3 import S3Store

LOCK_CONFIG = (b'<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration '
               b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled>'
               b"</ObjectLockConfiguration>")


class ChecksummingS3(BaseHTTPRequestHandler):
    stored: dict[str, bytes] = {}

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, code: str) -> None:
        self._reply(status, f"<Error><Code>{code}</Code><Message>{code}</Message></Error>".encode(),
                    {"Content-Type": "application/xml"})

    def do_HEAD(self) -> None:  # noqa: N802 - http.server naming
        # "Does the bucket exist", then "is the object already there" before a single-part upload.
        path = urlsplit(self.path).path
        self._reply(200 if path.count("/") == 1 or path in self.stored else 404)

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        if parts.query.startswith("object-lock"):
            self._reply(200, LOCK_CONFIG, {"Content-Type": "application/xml"})
        elif parts.path in self.stored:
            self._reply(200, self.stored[parts.path], {"Content-Type": "application/octet-stream"})
        else:
            self._error(404, "NoSuchKey")

    def do_PUT(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        sent = self.headers.get("x-amz-checksum-sha256")
        if sent is None or self.headers.get("x-amz-sdk-checksum-algorithm") != "SHA256":
            return self._error(400, "InvalidRequest")
        if base64.b64encode(hashlib.sha256(body).digest()).decode() != sent:
            return self._error(400, "BadDigest")
        path = urlsplit(self.path).path
        if self.headers.get("If-None-Match") == "*" and path in self.stored:
            return self._error(412, "PreconditionFailed")
        self.stored[path] = body
        self._reply(200, headers={"ETag": '"etag"', "x-amz-version-id": "v1"})


@pytest.fixture
def checking_store() -> Iterator[S3Store]:
    ChecksummingS3.stored = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChecksummingS3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        store = open_store(f"s3://key:secret@{host}:{port}/evidence?secure=false&lock_days=1")
        assert isinstance(store, S3Store)
        yield store
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_ignoring_sse_s3_is_refused_before_any_evidence_is_written(checking_store):
    # Like Ceph RGW 16, this server stores what it is sent, encryption header or not, and answers
    # without x-amz-server-side-encryption: casehub must not believe it encrypts.
    store = open_store(checking_store.description.replace("s3 http://", "s3://key:secret@") + "?secure=false&sse=S3")
    with pytest.raises(StorageError, match=r"does not honour server-side encryption \(sse=S3\).*no x-amz-server"):
        store.put_bytes(b"evidence", content_type="application/pdf")
    assert list(ChecksummingS3.stored) == ["/evidence/casehub-probe/sse-s3"]  # only the probe, no evidence
    with pytest.raises(StorageError, match="does not honour"):  # and it stays refused
        store.put_bytes(b"evidence", content_type="application/pdf")


def test_the_checksum_sent_matches_the_bytes_that_travel(checking_store):
    data = "送达回证".encode() * 500
    ref = checking_store.put_bytes(data, content_type="application/pdf")
    assert ChecksummingS3.stored[f"/evidence/{ref.key}"] == data
    assert ref.version_id == "v1"
    assert checking_store.read_bytes(ref.sha256) == data


def test_bytes_altered_in_transit_are_refused_and_nothing_is_stored(checking_store, monkeypatch):
    real_request = checking_store._request

    def corrupting_request(method, key, *, body=None, **kwargs):
        if method == "PUT" and body:
            body = body[:-1] + bytes([body[-1] ^ 1])  # one bit flipped on the wire
        return real_request(method, key, body=body, **kwargs)

    monkeypatch.setattr(checking_store, "_request", corrupting_request)
    with pytest.raises(IntegrityError, match="BadDigest"):
        checking_store.put_bytes(b"signed receipt", content_type="application/json")
    assert ChecksummingS3.stored == {}
