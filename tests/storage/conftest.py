"""Fixtures for the storage tests: one contract, three backends.

``backend`` runs each contract test on the directory store, on moto's S3 server and on a real
S3 server with object lock (Ceph's RADOS Gateway, marked ``rgw``: deselected, visibly, when no
gateway is configured — see tests/fixtures/rgw.py).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from minio import Minio

from casehub.objectstore.services import directory_link
from storage import ObjectStore, open_store
from storage.base import key_for
from storage.directory import DirectoryStore
from storage.s3 import S3Store
from tests.fixtures.rgw import RgwTestGateway
from tests.fixtures.s3 import ACCESS_KEY, SECRET_KEY, S3TestServer, _free_port
from tests.storage.streams import MIB, GeneratedStream  # noqa: F401 - re-exported for the tests


@dataclass
class Backend:
    """A store under test plus the means to reach behind it, as an attacker or a failure would."""

    name: str
    store: ObjectStore
    tamper: Callable[[str, bytes], None]  # replace the stored bytes of sha256 behind the store's back
    stop: Callable[[], None]  # make the backend unreachable
    start: Callable[[], None]  # bring it back


def _directory_backend(tmp_path) -> Backend:
    root = tmp_path / "objects"
    store = open_store(root.as_uri(), link_signer=directory_link)
    assert isinstance(store, DirectoryStore)
    parked = tmp_path / "objects.offline"

    def tamper(sha256: str, data: bytes) -> None:
        path = store.path_for(sha256)
        os.chmod(path, 0o644)
        path.write_bytes(data)

    def stop() -> None:
        # An unmounted volume: the directory is gone and a plain file squats on its path.
        root.rename(parked)
        root.write_text("not mounted")

    def start() -> None:
        root.unlink()
        parked.rename(root)

    return Backend("directory", store, tamper, stop, start)


def _s3_backend(name: str, server: S3TestServer | RgwTestGateway, url: str) -> Backend:
    store = open_store(url)
    assert isinstance(store, S3Store)
    raw = Minio(server.endpoint, access_key=server.access_key, secret_key=server.secret_key, secure=False,
                region="us-east-1")

    def tamper(sha256: str, data: bytes) -> None:
        # Someone with bucket credentials writes a new version under the key. Object lock keeps
        # the original version, but a plain GET now returns the altered bytes.
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        raw.put_object(store.config.bucket, key_for(sha256), io.BytesIO(data), len(data),
                       metadata={"x-amz-checksum-sha256": checksum, "x-amz-sdk-checksum-algorithm": "SHA256"})

    return Backend(name, store, tamper, server.stop, server.start)


@pytest.fixture(params=["directory", "s3", pytest.param("rgw", marks=pytest.mark.rgw)])
def backend(request, tmp_path) -> Iterator[Backend]:
    if request.param == "directory":
        yield _directory_backend(tmp_path)
    elif request.param == "s3":  # moto
        server = request.getfixturevalue("s3_available")
        yield _s3_backend("s3", server, request.getfixturevalue("s3_store_url"))
    else:
        gateway = request.getfixturevalue("rgw_available")
        yield _s3_backend("rgw", gateway, request.getfixturevalue("rgw_store_url"))


@pytest.fixture
def raw_s3(s3_available) -> Minio:
    return Minio(s3_available.endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, secure=False,
                 region="us-east-1")


@pytest.fixture(scope="module")
def s3_subprocess_server() -> Iterator[str]:
    """A moto S3 server in its own process, for memory measurements of our client alone.

    moto keeps uploaded objects (and joins multipart uploads) in memory; in-process it would be
    counted against the client under test.
    """
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server subprocess did not start") from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
