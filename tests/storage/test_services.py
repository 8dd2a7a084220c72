"""The Django glue other apps build on: rows, dedupe, verified reads, signed download links."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import transaction

from casehub.objectstore import services
from casehub.objectstore.models import StoredObject, WriteOnceError
from storage import IntegrityError, ObjectNotFound
from storage.directory import DirectoryStore

pytestmark = pytest.mark.django_db


def test_storing_twice_gives_one_row_and_one_file():
    first = services.store_bytes(b"%PDF-1.7 indictment", content_type="application/pdf")
    again = services.store_stream(io.BytesIO(b"%PDF-1.7 indictment"), content_type="application/pdf", size=19)
    assert first.pk == again.pk
    assert StoredObject.objects.count() == 1
    assert first.size == 19 and first.content_type == "application/pdf"
    assert first.key.endswith(first.sha256)
    assert list(services.get_store().iter_keys()) == [first.key]
    assert services.read_bytes(first) == b"%PDF-1.7 indictment"
    assert services.read_bytes(first.sha256) == b"%PDF-1.7 indictment"


def test_rows_are_write_once():
    obj = services.store_bytes(b"receipt", content_type="application/json")
    obj.size = 1
    with pytest.raises(WriteOnceError):
        obj.save()
    with pytest.raises(WriteOnceError):
        obj.delete()
    with pytest.raises(WriteOnceError):
        StoredObject.objects.filter(pk=obj.pk).delete()
    with pytest.raises(WriteOnceError):
        StoredObject.objects.filter(pk=obj.pk).update(size=2)


def test_get_store_follows_the_setting(settings, tmp_path):
    first = services.get_store()
    settings.CASEHUB_STORAGE_URL = (tmp_path / "elsewhere").as_uri()
    second = services.get_store()
    assert isinstance(second, DirectoryStore) and second is not first
    assert second.root == tmp_path / "elsewhere"


def test_tampered_object_raises_on_read(settings):
    obj = services.store_bytes(b"evidence photo bytes", content_type="image/jpeg")
    path = services.get_store().path_for(obj.sha256)
    os.chmod(path, 0o644)
    path.write_bytes(b"evidence photo byteZ")
    with pytest.raises(IntegrityError), services.open_object(obj) as reader:
        reader.read()


def test_missing_object_raises_not_found():
    with pytest.raises(ObjectNotFound):
        services.read_bytes("0" * 64)


def test_store_failure_leaves_the_callers_transaction_clean(settings, tmp_path, district):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the object directory should be")
    settings.CASEHUB_STORAGE_URL = blocker.as_uri()
    from storage import StorageUnavailable

    with pytest.raises(StorageUnavailable), transaction.atomic():
        services.store_bytes(b"anything", content_type="text/plain")
    assert StoredObject.objects.count() == 0


def test_download_link_serves_the_bytes_to_a_logged_in_user(client, district):
    obj = services.store_bytes("起诉意见书".encode(), content_type="text/plain")
    url = services.download_url(obj, filename="起诉意见书.txt")
    assert url.startswith("/objects/d/")
    client.force_login(district.prosecutor)
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == "起诉意见书".encode()
    assert response["Content-Type"] == "text/plain"
    assert "attachment" in response["Content-Disposition"]
    assert "filename*=UTF-8''%E8%B5%B7" in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"


def test_download_link_needs_login(client, district):
    obj = services.store_bytes(b"x", content_type="text/plain")
    response = client.get(services.download_url(obj, filename="x.txt"))
    assert response.status_code == 302 and "/login" in response["Location"]


def test_download_link_expires(client, district, monkeypatch):
    import time

    obj = services.store_bytes(b"short-lived", content_type="text/plain")
    url = services.download_url(obj, filename="a.txt", expires=timedelta(seconds=30))
    client.force_login(district.prosecutor)
    assert client.get(url).status_code == 200
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 31)
    response = client.get(url)
    assert response.status_code == 410


def test_forged_or_altered_token_is_404(client, district):
    obj = services.store_bytes(b"secret", content_type="text/plain")
    url = services.download_url(obj, filename="a.txt")
    client.force_login(district.prosecutor)
    token = url.rstrip("/").rsplit("/", 1)[-1]
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert client.get(f"/objects/d/{forged}/").status_code == 404
    assert client.get("/objects/d/not-a-token/").status_code == 404


def test_s3_outage_rolls_back_the_callers_transaction_then_the_same_call_succeeds(s3_settings, s3_available):
    from casehub.objectstore.models import StorageSweep
    from storage import StorageUnavailable

    def register_receipt():
        # A caller's unit of work: a row of its own, then the bytes it refers to.
        with transaction.atomic():
            StorageSweep.objects.create(started_at="2026-01-01T00:00:00Z", trigger="caller-row")
            return services.store_bytes(b'{"receipt": "accepted"}', content_type="application/json")

    s3_available.stop()
    try:
        with pytest.raises(StorageUnavailable) as exc:
            register_receipt()
        assert s3_available.endpoint in str(exc.value)
        assert not StorageSweep.objects.exists() and not StoredObject.objects.exists()
    finally:
        s3_available.start()

    obj = register_receipt()
    assert StorageSweep.objects.filter(trigger="caller-row").count() == 1
    assert services.read_bytes(obj) == b'{"receipt": "accepted"}'
    assert obj.version_id  # the S3 version id is recorded
    url = services.download_url(obj, filename="receipt.json")
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url


def test_inline_links_only_for_types_that_cannot_run_script(client, district):
    client.force_login(district.prosecutor)
    pdf = services.store_bytes(b"%PDF-1.7 ...", content_type="application/pdf")
    response = client.get(services.download_url(pdf, filename="卷宗.pdf", inline=True))
    assert response["Content-Disposition"].startswith("inline;")
    assert response["X-Frame-Options"] == "SAMEORIGIN"

    html = services.store_bytes(b"<script>alert(1)</script>", content_type="text/html")
    response = client.get(services.download_url(html, filename="x.html", inline=True))
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_storage_package_does_not_import_django():
    import subprocess
    import sys

    code = (
        "import sys, storage, storage.s3, storage.directory, storage.base\n"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "assert not bad, bad\n"
    )
    root = str(Path(__file__).resolve().parents[2])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                            env={**os.environ, "PYTHONPATH": root})
    assert result.returncode == 0, result.stderr


def test_a_link_bound_to_a_user_works_only_in_that_users_session(client, district):
    obj = services.store_bytes(b"not for forwarding", content_type="text/plain")
    url = services.download_url(obj, filename="a.txt", user=district.prosecutor)
    client.force_login(district.court_clerk)
    assert client.get(url).status_code == 404
    client.force_login(district.prosecutor)
    assert client.get(url).status_code == 200
