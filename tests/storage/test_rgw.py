"""What only a real S3 server proves: Ceph's RADOS Gateway enforcing object lock and presigned links.

moto accepts a shortened COMPLIANCE retention, never checks a presigned signature or its expiry
and ignores encryption it cannot do; none of the tests here can pass against it. They run against
the gateway ``deploy/rgw-test-gateway.sh`` starts (CI always; deselected, visibly, without one).
"""

from __future__ import annotations

import io
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from minio.commonconfig import COMPLIANCE, DISABLED, GOVERNANCE
from minio.error import S3Error
from minio.retention import Retention
from minio.versioningconfig import SUSPENDED, VersioningConfig

from storage import StorageError, open_store
from storage.s3 import PROBE_PREFIX, S3Store

pytestmark = pytest.mark.rgw


@pytest.fixture
def store(rgw_store_url) -> S3Store:
    s = open_store(rgw_store_url)
    assert isinstance(s, S3Store)
    return s


@pytest.fixture
def raw(rgw_available):
    return rgw_available.raw_client()


def _refused(action) -> S3Error:
    with pytest.raises(S3Error) as refused:
        action()
    return refused.value


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our loopback gateway
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_a_locked_version_cannot_be_deleted_not_even_with_a_governance_bypass(store, raw):
    ref = store.put_bytes(b"signed indictment", content_type="application/pdf")
    refused = _refused(lambda: raw.remove_object(store.config.bucket, ref.key, version_id=ref.version_id))
    assert (refused.code, refused.message) == ("AccessDenied", "forbidden by object lock")
    bypass = {"x-amz-bypass-governance-retention": "true"}
    refused = _refused(lambda: raw._execute("DELETE", store.config.bucket, ref.key, headers=bypass,
                                            query_params={"versionId": ref.version_id}))
    assert refused.code == "AccessDenied"
    assert store.read_bytes(ref.sha256) == b"signed indictment"


def test_compliance_retention_cannot_be_shortened_but_can_be_extended_and_reads_back(store, raw):
    ref = store.put_bytes(b"judgment of first instance")
    written = store.retention(ref.sha256)
    assert written.mode == COMPLIANCE
    assert timedelta(hours=23) < written.retain_until - datetime.now(UTC) <= timedelta(days=1)

    shorter = Retention(COMPLIANCE, written.retain_until - timedelta(hours=12))
    refused = _refused(lambda: raw.set_object_retention(store.config.bucket, ref.key, shorter,
                                                        version_id=ref.version_id))
    assert refused.code == "AccessDenied" and "shortens" in refused.message
    assert store.retention(ref.sha256) == written

    # Extending is allowed; the date set is the date read back (to the millisecond S3 carries).
    later = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=123000)
    raw.set_object_retention(store.config.bucket, ref.key, Retention(COMPLIANCE, later), version_id=ref.version_id)
    assert store.retention(ref.sha256, version_id=ref.version_id).retain_until == later


def test_the_gateway_sends_nanosecond_timestamps_that_casehub_parses(store, raw):
    ref = store.put_bytes(b"receipt")
    header = raw.stat_object(store.config.bucket, ref.key).metadata["x-amz-object-lock-retain-until-date"]
    assert len(header.split(".")[1]) == len("000000000Z")  # nine fractional digits
    with pytest.raises(ValueError, match="does not match format"):  # what minio-py 7.2.20 makes of it
        raw.get_object_retention(store.config.bucket, ref.key)
    assert store.retention(ref.sha256).retain_until == datetime.fromisoformat(header[:26] + "+00:00")


def test_compliance_cannot_be_switched_to_governance(store, raw):
    ref = store.put_bytes(b"custody transfer receipt")
    until = store.retention(ref.sha256).retain_until + timedelta(days=1)
    refused = _refused(lambda: raw.set_object_retention(store.config.bucket, ref.key, Retention(GOVERNANCE, until),
                                                        version_id=ref.version_id))
    assert refused.code == "AccessDenied" and "GOVERNANCE" in refused.message
    assert store.retention(ref.sha256).mode == COMPLIANCE


def test_a_bucket_holding_locked_objects_cannot_be_deleted_nor_its_versioning_suspended(store, raw):
    store.put_bytes(b"dossier volume 1")
    assert _refused(lambda: raw.remove_bucket(store.config.bucket)).code == "BucketNotEmpty"
    refused = _refused(lambda: raw.set_bucket_versioning(store.config.bucket, VersioningConfig(SUSPENDED)))
    assert refused.code in {"InvalidBucketState", "InvalidRequest", "AccessDenied"}
    assert raw.get_bucket_versioning(store.config.bucket).status not in (SUSPENDED, DISABLED)


def test_a_presigned_link_with_a_tampered_signature_key_or_lifetime_is_refused(store):
    ref = store.put_bytes(b"%PDF-1.7 judgment", content_type="application/pdf")
    other = store.put_bytes(b"%PDF-1.7 another case's judgment", content_type="application/pdf")
    url = store.download_url(ref.sha256, filename="judgment.pdf", content_type="application/pdf")
    assert _get(url) == (200, b"%PDF-1.7 judgment")

    for forged in (url[:-1] + ("0" if url[-1] != "0" else "1"),          # signature
                   url.replace(ref.sha256, other.sha256),                 # another object
                   url.replace("X-Amz-Expires=300", "X-Amz-Expires=604800")):  # a longer life
        assert forged != url
        status, body = _get(forged)
        assert status == 403 and b"SignatureDoesNotMatch" in body, (forged, body)


def test_a_presigned_link_past_its_expiry_is_refused(store):
    ref = store.put_bytes(b"%PDF-1.7 notice", content_type="application/pdf")
    url = store.download_url(ref.sha256, filename="notice.pdf", content_type="application/pdf",
                             expires=timedelta(seconds=1))
    assert _get(url)[0] == 200
    time.sleep(2.1)
    status, body = _get(url)
    assert status == 403 and b"AccessDenied" in body


def test_a_repeat_upload_keeps_one_version_although_the_gateway_ignores_if_none_match(store, raw):
    data = b"the same scan uploaded by two clerks, one after the other"
    first = store.put_bytes(data)
    assert store.put(io.BytesIO(data)) == first
    # What the HEAD before each write prevents: the gateway stores a conditional PUT anyway.
    headers = store._write_headers("application/octet-stream")
    store._request("PUT", first.key, body=b"ignored precondition", headers=headers)
    versions = list(raw.list_objects(store.config.bucket, prefix=first.key, include_version=True))
    assert len(versions) == 2


def test_sse_s3_is_refused_because_the_gateway_would_store_plaintext(rgw_available, raw):
    bucket = rgw_available.new_bucket_name("sse")
    store = open_store(rgw_available.url_for(bucket, sse="S3"))
    # Creating the bucket: the gateway refuses a default encryption.
    with pytest.raises(StorageError, match=r"does not honour server-side encryption \(sse=S3\)"):
        store.put_bytes(b"evidence")
    # The bucket now exists (without encryption): the next start probes a write and reads the answer.
    again = open_store(rgw_available.url_for(bucket, sse="S3"))
    with pytest.raises(StorageError, match="carries no x-amz-server-side-encryption: AES256"):
        again.put_bytes(b"evidence")
    assert list(again.iter_keys()) == []  # no evidence was written
    names = [o.object_name for o in raw.list_objects(bucket, recursive=True)]
    assert names == [f"{PROBE_PREFIX}sse-s3"]
    # The same bucket without sse= works: the refusal was about encryption only.
    plain = open_store(rgw_available.url_for(bucket))
    assert plain.read_bytes(plain.put_bytes(b"evidence").sha256) == b"evidence"
