"""What only the S3 backend does: object lock, server-side retention, checksums sent, SSE, URL parsing.

Run against moto's S3 server. Where moto does not enforce something (it does not recompute the
checksums it is sent, nor check presigned signatures), these tests assert what our code *sends*
and say so; they never claim the server verified it.
"""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from minio.commonconfig import GOVERNANCE
from minio.error import S3Error
from minio.objectlockconfig import DAYS

from storage import IntegrityError, ObjectNotFound, StorageError, StorageUnavailable, open_store
from storage.s3 import S3Store, composite_checksum, parse_s3_timestamp, parse_s3_url
from tests.fixtures.s3 import ACCESS_KEY, SECRET_KEY
from tests.storage.streams import MIB, GeneratedStream


def _b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
def store(s3_store_url) -> S3Store:
    s = open_store(s3_store_url)
    assert isinstance(s, S3Store)
    return s


def test_bucket_is_created_with_object_lock_and_default_retention(store, raw_s3):
    store.put_bytes(b"first write creates the bucket")
    config = raw_s3.get_object_lock_config(store.config.bucket)
    assert config.mode == "COMPLIANCE"
    assert (config.duration, config.duration_unit) == (1, DAYS)


def test_governance_mode_and_years_are_configurable(s3_available, raw_s3):
    bucket = s3_available.new_bucket_name()
    url = s3_available.url_for(bucket, lock_mode="GOVERNANCE", lock_years=7).replace("lock_days=1&", "")
    store = open_store(url)
    ref = store.put_bytes(b"x")
    assert raw_s3.get_object_lock_config(bucket).mode == GOVERNANCE
    # (moto answers GetObjectLockConfiguration with Days=0 *and* Years=7, which the minio client
    # reads as 0 days; the object's own retention shows the period we asked for.)
    stat = raw_s3.stat_object(bucket, ref.key)
    assert stat.metadata["x-amz-object-lock-mode"] == GOVERNANCE
    until = datetime.fromisoformat(stat.metadata["x-amz-object-lock-retain-until-date"].replace("Z", "+00:00"))
    assert until - datetime.now(UTC) > timedelta(days=7 * 365 - 1)


@pytest.mark.parametrize("size", [1000, 17 * MIB], ids=["single-put", "multipart"])
def test_every_object_carries_retention_and_delete_is_refused_by_the_server(store, raw_s3, size):
    stream = GeneratedStream(size)
    ref = store.put(stream)
    stat = raw_s3.stat_object(store.config.bucket, ref.key)
    assert stat.metadata["x-amz-object-lock-mode"] == "COMPLIANCE"
    until = datetime.fromisoformat(stat.metadata["x-amz-object-lock-retain-until-date"].replace("Z", "+00:00"))
    assert timedelta(hours=23) < until - datetime.now(UTC) <= timedelta(days=1)

    with pytest.raises(S3Error) as refused:
        raw_s3.remove_object(store.config.bucket, ref.key, version_id=ref.version_id)
    assert refused.value.code == "AccessDenied"
    store.verify(ref.sha256)  # still there, still intact


def test_retention_is_read_back_from_the_server(store, raw_s3):
    before = datetime.now(UTC)
    ref = store.put_bytes(b"indictment")
    retention = store.retention(ref.sha256)
    assert retention.mode == "COMPLIANCE"
    # casehub asked for one day from the upload; S3 carries milliseconds.
    assert before + timedelta(days=1) - timedelta(milliseconds=1) <= retention.retain_until
    assert retention.retain_until <= datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(ObjectNotFound):
        store.retention("f" * 64)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-05T23:10:55.123456789Z", datetime(2026, 12, 5, 23, 10, 55, 123456, tzinfo=UTC)),  # Ceph RGW
        ("2026-12-05T23:10:55.000000000Z", datetime(2026, 12, 5, 23, 10, 55, tzinfo=UTC)),
        ("2026-12-05T23:10:55.5Z", datetime(2026, 12, 5, 23, 10, 55, 500000, tzinfo=UTC)),
        ("2026-12-05T23:10:55.123Z", datetime(2026, 12, 5, 23, 10, 55, 123000, tzinfo=UTC)),  # AWS, MinIO
        ("2026-12-05T23:10:55Z", datetime(2026, 12, 5, 23, 10, 55, tzinfo=UTC)),
        ("2026-12-06T07:10:55.999999999+08:00", datetime(2026, 12, 5, 23, 10, 55, 999999, tzinfo=UTC)),
    ],
)
def test_server_timestamps_with_up_to_nine_fractional_digits_are_parsed(value, expected):
    parsed = parse_s3_timestamp(value)
    assert parsed == expected and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("value", ["", "2026-12-05", "2026-12-05T23:10:55", "2026-12-05T23:10:55.1234567890Z",
                                   "2026-12-05T23:10:55.Z", "yesterday"])
def test_malformed_server_timestamps_are_refused(value):
    with pytest.raises(StorageError, match="not an S3 timestamp"):
        parse_s3_timestamp(value)


def test_single_put_sends_the_content_sha256_as_its_checksum(store, raw_s3):
    data = b"%PDF-1.7 signed indictment"
    ref = store.put_bytes(data, content_type="application/pdf")
    stat = raw_s3.stat_object(store.config.bucket, ref.key, extra_headers={"x-amz-checksum-mode": "ENABLED"})
    # moto stores the checksum we sent without recomputing it (DESIGN.md §5): this proves what we
    # send; MinIO/S3 recompute it and refuse a mismatch with BadDigest (mapped below).
    assert stat.metadata["x-amz-checksum-sha256"] == _b64sha(data)
    assert stat.content_type == "application/pdf"


def test_multipart_upload_sends_each_parts_sha256(store, raw_s3):
    size = 2 * store.config.part_size + 777
    ref = store.put(GeneratedStream(size))
    expected_parts = []
    generated = GeneratedStream(size)
    while part := generated.read(store.config.part_size):
        expected_parts.append(hashlib.sha256(part).digest())
    assert len(expected_parts) == 3
    stat = raw_s3.stat_object(store.config.bucket, ref.key, extra_headers={"x-amz-checksum-mode": "ENABLED"})
    # moto computes this composite from the part bytes it received, so it checks our part digests.
    assert stat.metadata["x-amz-checksum-sha256"] == composite_checksum(expected_parts).split("-")[0]
    assert stat.size == size


def test_a_racing_writer_cannot_create_a_second_version(store, raw_s3):
    data = b"two clerks upload the same scan at once"
    first = store.put_bytes(data)
    # The second writer passed its existence check before the first finished: its PUT carries
    # If-None-Match: * and the server refuses it; the store answers with the existing object.
    second = store._put_single(first.sha256, data, hashlib.sha256(data).digest(), "application/pdf")
    assert second.version_id == first.version_id
    versions = list(raw_s3.list_objects(store.config.bucket, prefix=first.key, include_version=True))
    assert len(versions) == 1


def test_a_version_written_behind_our_back_is_not_silently_deduplicated(store, raw_s3):
    data = b"original receipt"
    ref = store.put_bytes(data)
    bad = b"forged receipt!!"
    raw_s3.put_object(store.config.bucket, ref.key, io.BytesIO(bad), len(bad),
                      metadata={"x-amz-checksum-sha256": _b64sha(bad), "x-amz-sdk-checksum-algorithm": "SHA256"})
    with pytest.raises(IntegrityError, match="stored checksum"):
        store.put_bytes(data)
    with pytest.raises(IntegrityError):
        store.read_bytes(ref.sha256)
    # Object lock kept the original version: it is still there for recovery.
    original = raw_s3.get_object(store.config.bucket, ref.key, version_id=ref.version_id)
    assert original.read() == data


def test_bucket_without_object_lock_is_refused(s3_available, raw_s3):
    bucket = s3_available.new_bucket_name("plain")
    raw_s3.make_bucket(bucket)
    store = open_store(s3_available.url_for(bucket))
    with pytest.raises(StorageError, match="object lock"):
        store.put_bytes(b"evidence")
    assert list(raw_s3.list_objects(bucket, recursive=True)) == []


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"sse": "S3"}, {"x-amz-server-side-encryption": "AES256"}),
        ({"sse": "KMS", "kms_key": "casehub-key-1"},
         {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "casehub-key-1"}),
    ],
    ids=["sse-s3", "sse-kms"],
)
def test_server_side_encryption_headers_are_sent(s3_available, raw_s3, params, headers):
    bucket = s3_available.new_bucket_name()
    store = open_store(s3_available.url_for(bucket, **params))
    small = store.put_bytes(b"encrypted at rest")
    large = store.put(GeneratedStream(17 * MIB))
    for ref in (small, large):
        stat = raw_s3.stat_object(bucket, ref.key)
        for name, value in headers.items():
            assert stat.metadata[name] == value, (ref.size, name)
    rule = raw_s3.get_bucket_encryption(bucket).rule
    assert rule.sse_algorithm == headers["x-amz-server-side-encryption"]
    assert store.read_bytes(small.sha256) == b"encrypted at rest"


def test_presigned_links_can_be_signed_for_a_public_endpoint(s3_available):
    store = open_store(s3_available.url_for(s3_available.new_bucket_name(),
                                            public_endpoint="https://files.court.example"))
    ref = store.put_bytes(b"judgment")
    url = store.download_url(ref.sha256, filename="judgment.pdf", content_type="application/pdf")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "files.court.example")
    assert parts.path == f"/{store.config.bucket}/{ref.key}"
    assert "X-Amz-Signature=" in parts.query and "X-Amz-Expires=300" in parts.query


def test_outage_error_names_the_endpoint_and_never_the_secret(store, s3_available):
    ref = store.put_bytes(b"before")
    s3_available.stop()
    try:
        for action in (lambda: store.put_bytes(b"during"), lambda: store.read_bytes(ref.sha256),
                       lambda: store.stat(ref.sha256), lambda: list(store.iter_keys())):
            with pytest.raises(StorageUnavailable) as exc:
                action()
            assert s3_available.endpoint in str(exc.value)
            assert SECRET_KEY not in str(exc.value) and SECRET_KEY not in repr(store)
    finally:
        s3_available.start()
    assert store.read_bytes(ref.sha256) == b"before"


def test_reading_from_a_bucket_never_written_is_not_found(s3_available):
    store = open_store(s3_available.url_for(s3_available.new_bucket_name()))
    with pytest.raises(ObjectNotFound, match="does not exist"):
        store.read_bytes("a" * 64)
    assert list(store.iter_keys()) == []


def test_server_refusing_a_checksum_is_an_integrity_error(store):
    # What MinIO/S3 answer when the bytes they received do not match x-amz-checksum-sha256.
    for code in ("BadDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch"):
        error = S3Error(None, code, "checksum mismatch", "/b/k", "req", "host")
        mapped = store._wrap(error, "storing", "b" * 64)
        assert isinstance(mapped, IntegrityError) and code in str(mapped)


GOOD = f"s3://{ACCESS_KEY}:{SECRET_KEY}@127.0.0.1:9000/casehub-objects"


def test_url_defaults():
    config = parse_s3_url(GOOD)
    assert config.secure is True and config.region == "us-east-1"
    assert (config.lock_mode, config.lock_days, config.lock_years) == ("COMPLIANCE", 3650, None)
    assert (config.part_size, config.upload_threads) == (8 * MIB, 4) and config.sse is None
    assert SECRET_KEY not in config.description


def test_url_credentials_may_be_percent_encoded():
    config = parse_s3_url("s3://AK%2F1:se%40cret%3A@minio.internal/b-1?secure=true")
    assert (config.access_key, config.secret_key, config.endpoint) == ("AK/1", "se@cret:", "minio.internal")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://127.0.0.1:9000/bucket", "credentials"),
        (f"s3://{ACCESS_KEY}:{SECRET_KEY}@127.0.0.1:9000/", "bucket"),
        (f"s3://{ACCESS_KEY}:{SECRET_KEY}@127.0.0.1:9000/a/b", "bucket"),
        (GOOD + "?lock_mode=NONE", "lock_mode"),
        (GOOD + "?lock_days=0", "positive"),
        (GOOD + "?lock_days=x", "integer"),
        (GOOD + "?lock_days=1&lock_years=1", "not both"),
        (GOOD + "?sse=AES", "sse must be"),
        (GOOD + "?sse=KMS", "kms_key"),
        (GOOD + "?kms_key=k", "only used with sse=KMS"),
        (GOOD + "?part_size=1024", "part_size"),
        (GOOD + "?secure=maybe", "true or false"),
        (GOOD + "?public_endpoint=files.example", "public_endpoint"),
        (GOOD + "?lockdays=1", "unknown storage URL parameters: lockdays"),
    ],
)
def test_bad_urls_are_refused_clearly(url, message):
    with pytest.raises(StorageError, match=message):
        open_store(url)


def test_unknown_scheme_is_refused():
    with pytest.raises(StorageError, match="unsupported"):
        open_store("ftp://example/objects")
    with pytest.raises(StorageError, match="no host"):
        open_store("file://server/objects")


def _sigv4_query_signature(url: str, secret: str) -> str:
    """An independent AWS Signature V4 computation for a presigned GET (not the minio client's)."""
    import hmac
    from urllib.parse import parse_qsl, quote

    parts = urlsplit(url)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "X-Amz-Signature"]
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params))
    canonical_request = "\n".join(["GET", parts.path, canonical_query, f"host:{parts.netloc}", "", "host",
                                   "UNSIGNED-PAYLOAD"])
    query = dict(params)
    scope = query["X-Amz-Credential"].split("/", 1)[1]
    date, region, service, _ = scope.split("/")
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", query["X-Amz-Date"], scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def test_presigned_link_carries_a_valid_sigv4_signature_and_a_short_lifetime(store):
    # moto does not check presigned signatures (DESIGN.md §5), so the signature is recomputed here
    # independently, as an S3 server would, from the URL and the secret key.
    ref = store.put_bytes(b"indictment")
    before = datetime.now(UTC).replace(microsecond=0)
    url = store.download_url(ref.sha256, filename="起诉书.pdf", content_type="application/pdf",
                             expires=timedelta(minutes=5))
    query = dict(pair.split("=", 1) for pair in urlsplit(url).query.split("&"))
    assert query["X-Amz-Signature"] == _sigv4_query_signature(url, SECRET_KEY)
    assert query["X-Amz-Credential"].startswith(f"{ACCESS_KEY}%2F")
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= signed_at <= datetime.now(UTC)
    assert query["X-Amz-Expires"] == "300"

    # The check is not vacuous: stretching the lifetime or naming another object breaks the signature.
    for forged in (url.replace("X-Amz-Expires=300", "X-Amz-Expires=604800"),
                   url.replace(ref.sha256, "0" * 64)):
        assert _sigv4_query_signature(forged, SECRET_KEY) != query["X-Amz-Signature"]
    assert _sigv4_query_signature(url, "wrong-secret") != query["X-Amz-Signature"]
