"""The object-store contract, run against every backend alike.

Every test here takes the ``backend`` fixture, parametrised over the directory store, moto's S3
server and Ceph's RADOS Gateway (a real S3 server; ``rgw`` marker); a behaviour only one backend
can show lives in test_s3.py, test_rgw.py or test_directory.py.
"""

from __future__ import annotations

import hashlib
import io
import time
import tracemalloc
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from storage import IntegrityError, ObjectNotFound, StorageError, StorageUnavailable
from storage.base import InvalidReference, key_for
from tests.storage.streams import MIB, GeneratedStream


def test_round_trip_keeps_bytes_size_and_content_type(backend):
    data = "起诉意见书 第一页".encode() * 1000
    ref = backend.store.put(io.BytesIO(data), content_type="application/pdf", size=len(data))

    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.size == len(data)
    assert ref.key == key_for(ref.sha256)
    assert ref.content_type == "application/pdf"
    assert backend.store.exists(ref.sha256)
    assert backend.store.stat(ref.sha256) == ref
    assert backend.store.read_bytes(ref.sha256) == data
    with backend.store.open(ref.sha256) as reader:
        assert reader.read(10) == data[:10]
        assert reader.read() == data[10:]
    backend.store.verify(ref.sha256)
    assert list(backend.store.iter_keys()) == [ref.key]


def test_empty_object_round_trips(backend):
    ref = backend.store.put_bytes(b"")
    assert ref.size == 0
    assert backend.store.read_bytes(ref.sha256) == b""


def test_same_bytes_stored_twice_is_one_object_and_the_same_reference(backend):
    first = backend.store.put_bytes(b"%PDF-1.7 receipt", content_type="application/pdf")
    second = backend.store.put(io.BytesIO(b"%PDF-1.7 receipt"), content_type="application/pdf")
    assert second == first
    assert list(backend.store.iter_keys()) == [first.key]


def test_reading_tampered_bytes_raises_integrity_error(backend):
    data = b"A" * 5000
    ref = backend.store.put_bytes(data)
    backend.tamper(ref.sha256, b"A" * 4999 + b"B")  # one byte flipped, same size

    with pytest.raises(IntegrityError) as exc, backend.store.open(ref.sha256) as reader:
        received = b""
        while chunk := reader.read(1000):
            received += chunk
    # The last chunk is withheld: the caller never holds the complete altered content.
    assert received == b"A" * 4000
    assert ref.sha256 in str(exc.value) and ref.key in str(exc.value)
    with pytest.raises(IntegrityError):
        backend.store.verify(ref.sha256)
    with pytest.raises(IntegrityError):
        backend.store.read_bytes(ref.sha256)


def test_truncated_or_extended_object_raises(backend):
    ref = backend.store.put_bytes(b"0123456789")
    backend.tamper(ref.sha256, b"012345678")
    with pytest.raises(IntegrityError):
        backend.store.read_bytes(ref.sha256)
    backend.tamper(ref.sha256, b"0123456789X")
    with pytest.raises(IntegrityError):
        backend.store.read_bytes(ref.sha256)


def test_storing_again_never_overwrites_and_flags_a_corrupt_copy(backend):
    data = b"signed transfer manifest"
    ref = backend.store.put_bytes(data)
    backend.tamper(ref.sha256, b"signed transfer manifesX")

    # The correct bytes arrive again: the store refuses to vouch for the corrupt copy and
    # does not replace it either — evidence is left in place for investigation.
    with pytest.raises(IntegrityError):
        backend.store.put_bytes(data)
    with pytest.raises(IntegrityError):
        backend.store.read_bytes(ref.sha256)


def test_unknown_and_malformed_references(backend):
    with pytest.raises(ObjectNotFound):
        backend.store.stat("f" * 64)
    with pytest.raises(ObjectNotFound):
        backend.store.open("f" * 64)
    with pytest.raises(ObjectNotFound):
        backend.store.verify("f" * 64)
    assert backend.store.exists("f" * 64) is False
    for bad in ("../../etc/passwd", "F" * 64, "abc", ""):
        with pytest.raises(InvalidReference):
            backend.store.open(bad)


def test_announced_size_must_match_the_stream(backend):
    with pytest.raises(StorageError, match="announced"):
        backend.store.put(io.BytesIO(b"12345"), size=4)
    with pytest.raises(StorageError, match="announced"):
        backend.store.put(io.BytesIO(b"123"), size=4)
    assert list(backend.store.iter_keys()) == []


def test_download_link_names_the_file_and_expires(backend, client, db, make_user, district):
    data = "判决书".encode() * 100
    ref = backend.store.put_bytes(data, content_type="application/pdf")
    url = backend.store.download_url(ref.sha256, filename="判决书.pdf", content_type="application/pdf",
                                     expires=timedelta(minutes=2))
    if backend.name == "directory":
        client.force_login(district.court_clerk)
        response = client.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == data
        assert "filename*=UTF-8''%E5%88%A4%E5%86%B3%E4%B9%A6.pdf" in response["Content-Disposition"]
        # The token carries its own expiry: two minutes later the same link is refused.
        real = time.time
        try:
            time.time = lambda: real() + 121
            assert client.get(url).status_code == 410
        finally:
            time.time = real
    elif backend.name == "rgw":
        # A real S3 server checks the signature: the link delivers the file under its name, and
        # the same link with one character of its signature changed is refused.
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our test server
            assert response.read() == data
            assert "filename*=UTF-8''%E5%88%A4%E5%86%B3%E4%B9%A6.pdf" in response.headers["Content-Disposition"]
        forged = url[:-1] + ("0" if url[-1] != "0" else "1")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=10)  # noqa: S310
        assert refused.value.code == 403
        assert b"SignatureDoesNotMatch" in refused.value.read()
    else:
        # moto does not check presigned signatures or expiry (DESIGN.md §5): assert what we sign.
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Expires"] == ["120"]
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert len(query["X-Amz-Signature"][0]) == 64
        assert query["X-Amz-SignedHeaders"] == ["host"]
        assert "filename*=UTF-8''%E5%88%A4%E5%86%B3%E4%B9%A6.pdf" in query["response-content-disposition"][0]
        assert query["response-content-type"] == ["application/pdf"]
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our test server
            assert response.read() == data


def test_link_lifetime_is_bounded(backend):
    ref = backend.store.put_bytes(b"x")
    for bad in (timedelta(0), timedelta(seconds=-1), timedelta(days=8)):
        with pytest.raises(ValueError, match="a download link must live between"):
            backend.store.download_url(ref.sha256, filename="x", content_type="text/plain", expires=bad)


def test_outage_raises_storage_unavailable_then_recovers(backend):
    existing = backend.store.put_bytes(b"stored before the outage")
    backend.stop()
    try:
        with pytest.raises(StorageUnavailable) as exc:
            backend.store.put_bytes(b"stored during the outage")
        assert exc.value.endpoint and exc.value.endpoint in str(exc.value)
        with pytest.raises(StorageUnavailable):
            backend.store.read_bytes(existing.sha256)
    finally:
        backend.start()
    again = backend.store.put_bytes(b"stored during the outage")
    assert backend.store.read_bytes(again.sha256) == b"stored during the outage"
    assert backend.store.read_bytes(existing.sha256) == b"stored before the outage"


def test_multi_part_sized_stream_round_trips(backend):
    # Bigger than one S3 part (the default part size is 8 MiB): exercises multipart upload.
    stream = GeneratedStream(17 * MIB + 12345)
    ref = backend.store.put(stream, content_type="application/pdf")
    assert ref.sha256 == stream.hash.hexdigest() and ref.size == 17 * MIB + 12345
    check = hashlib.sha256()
    with backend.store.open(ref.sha256) as reader:
        for chunk in reader:
            check.update(chunk)
    assert check.hexdigest() == ref.sha256
    # Stored again (a second upload of the same scan): deduplicated.
    assert backend.store.put(GeneratedStream(17 * MIB + 12345)) == ref


def _peak_growth_while(fn) -> tuple[int, object]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base, result


BIG = 300 * 1024 * 1024


def _big_round_trip(store) -> tuple[int, int, str, str, str]:
    stream = GeneratedStream(BIG)

    def write():
        return store.put(stream, content_type="application/pdf")

    write_peak, ref = _peak_growth_while(write)

    def read():
        check = hashlib.sha256()
        with store.open(ref.sha256) as reader:
            while chunk := reader.read(MIB):
                check.update(chunk)
        return check.hexdigest()

    read_peak, read_hash = _peak_growth_while(read)
    assert ref.size == BIG
    return write_peak, read_peak, ref.sha256, read_hash, stream.hash.hexdigest()


def test_300_mb_stream_directory_backend_bounded_memory(tmp_path):
    from storage import open_store

    store = open_store((tmp_path / "objects").as_uri())
    write_peak, read_peak, sha, read_hash, made_hash = _big_round_trip(store)
    assert sha == made_hash == read_hash
    assert write_peak < 64 * MIB, f"write peak grew {write_peak / MIB:.1f} MiB"
    assert read_peak < 64 * MIB, f"read peak grew {read_peak / MIB:.1f} MiB"


def test_300_mb_stream_s3_backend_bounded_memory(s3_subprocess_server):
    from storage import open_store
    from tests.fixtures.s3 import ACCESS_KEY, SECRET_KEY

    store = open_store(f"s3://{ACCESS_KEY}:{SECRET_KEY}@{s3_subprocess_server}/big-objects"
                       "?secure=false&lock_days=1")
    write_peak, read_peak, sha, read_hash, made_hash = _big_round_trip(store)
    assert sha == made_hash == read_hash
    assert write_peak < 64 * MIB, f"write peak grew {write_peak / MIB:.1f} MiB"
    assert read_peak < 64 * MIB, f"read peak grew {read_peak / MIB:.1f} MiB"
