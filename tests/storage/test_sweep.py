"""The integrity sweep (verify_storage), its beat schedule, and the auditor's page."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command

from casehub.audit.models import AuditCheckpoint, AuditEvent
from casehub.objectstore import services
from casehub.objectstore.models import StorageSweep, StoredObject
from casehub.objectstore.tasks import verify_storage
from storage import open_store

pytestmark = pytest.mark.django_db


def _owned(data: bytes, sequence: int) -> tuple[StoredObject, AuditCheckpoint]:
    """A stored object with an owning record (an audit checkpoint is the simplest owner there is)."""
    obj = services.store_bytes(data, content_type="application/json")
    owner = AuditCheckpoint.objects.create(sequence=sequence, head_hash="0" * 64, signed_at=datetime.now(UTC),
                                           stored_object=obj)
    return obj, owner


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_storage", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


def test_intact_store_passes_and_leaves_a_sweep_record_and_audit_event():
    _owned(b'{"checkpoint": 1}', 1)
    _owned(b'{"checkpoint": 2}', 2)

    code, out, err = _run()

    assert code == 0, err
    assert "verified 2 objects" in out and "0 missing, 0 corrupt" in out
    sweep = StorageSweep.objects.latest()
    assert (sweep.status, sweep.objects_checked, sweep.bytes_checked) == ("ok", 2, 34)
    assert sweep.finished_at is not None and sweep.trigger == "command"
    event = AuditEvent.objects.filter(action="objectstore.sweep").latest("sequence")
    assert event.object_id == str(sweep.pk) and event.details["status"] == "ok"


def test_missing_and_corrupt_objects_are_reported_with_their_owners():
    intact, _ = _owned(b'{"checkpoint": 1}', 1)
    corrupt, corrupt_owner = _owned(b'{"checkpoint": 2}', 2)
    missing, missing_owner = _owned(b'{"checkpoint": 3}', 3)
    store = services.get_store()
    path = store.path_for(corrupt.sha256)
    os.chmod(path, 0o644)
    path.write_bytes(b'{"checkpoint": 9}')
    os.chmod(store.path_for(missing.sha256), 0o644)
    store.path_for(missing.sha256).unlink()

    code, out, err = _run()

    assert code == 1
    assert f"CORRUPT      {corrupt.key}  owners: audit.AuditCheckpoint#{corrupt_owner.pk}" in err
    assert f"MISSING      {missing.key}  owners: audit.AuditCheckpoint#{missing_owner.pk}" in err
    assert intact.key not in err
    assert "1 missing, 1 corrupt" in err
    sweep = StorageSweep.objects.latest()
    assert sweep.status == "problems" and (sweep.missing_count, sweep.corrupt_count) == (1, 1)
    by_problem = {p["problem"]: p for p in sweep.problems}
    assert by_problem["corrupt"]["owners"] == [f"audit.AuditCheckpoint#{corrupt_owner.pk}"]
    assert by_problem["missing"]["sha256"] == missing.sha256


def test_every_foreign_key_to_stored_object_is_searched_for_owners():
    # Found by scanning every model's forward fields, independently of the reverse-relation walk,
    # so an app that declares related_name="+" (hidden) is still covered.
    declared = {
        (f.model._meta.label, f.name)
        for model in apps.get_models()
        for f in model._meta.get_fields()
        if getattr(f, "related_model", None) is StoredObject and f.concrete and not model._meta.auto_created
    }
    searched = {(f.model._meta.label, f.name) for f in services.stored_object_relations()}
    assert ("audit.AuditCheckpoint", "stored_object") in searched
    assert searched == declared


def test_all_flag_also_checks_objects_no_record_references():
    _owned(b'{"checkpoint": 1}', 1)
    store = services.get_store()
    orphan = store.put_bytes(b"stored by a transaction that rolled back")

    code, out, _ = _run()
    assert code == 0 and "verified 1 objects" in out

    code, out, err = _run("--all", "--show-unreferenced")
    assert code == 0
    assert "verified 2 objects" in out and "1 unreferenced" in out
    assert f"UNREFERENCED {orphan.key}" in err

    os.chmod(store.path_for(orphan.sha256), 0o644)
    store.path_for(orphan.sha256).write_bytes(b"stored by a transaction that rolled bacK")
    code, _, err = _run("--all")
    assert code == 1
    assert f"CORRUPT      {orphan.key}  owners: no owning record" in err


def test_s3_sweep_reports_tampering_and_an_outage(s3_settings, s3_available, raw_s3):
    import base64
    import hashlib

    obj, owner = _owned(b'{"checkpoint": 1}', 1)
    assert _run()[0] == 0

    bad = b'{"checkpoint": 7}'
    raw_s3.put_object(services.get_store().config.bucket, obj.key, io.BytesIO(bad), len(bad), metadata={
        "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(bad).digest()).decode(),
        "x-amz-sdk-checksum-algorithm": "SHA256"})
    code, _, err = _run()
    assert code == 1 and f"CORRUPT      {obj.key}  owners: audit.AuditCheckpoint#{owner.pk}" in err

    s3_available.stop()
    try:
        code, _, err = _run()
    finally:
        s3_available.start()
    assert code == 2 and "storage unavailable" in err and s3_available.endpoint in err
    failed = StorageSweep.objects.latest()
    assert failed.status == "failed" and s3_available.endpoint in failed.error


def test_scheduled_task_runs_the_sweep():
    _owned(b'{"checkpoint": 1}', 1)
    result = verify_storage.delay().get()
    assert result["status"] == "ok" and result["objects"] == 1
    assert StorageSweep.objects.latest().trigger == "schedule"


def test_beat_schedule_runs_the_sweep_at_the_configured_interval():
    entry = settings.CELERY_BEAT_SCHEDULE["objectstore-verify-storage"]
    assert entry["task"] == verify_storage.name
    assert entry["schedule"] == settings.CASEHUB_STORAGE_SWEEP_INTERVAL
    assert isinstance(settings.CASEHUB_STORAGE_SWEEP_INTERVAL, timedelta)


def test_sweep_page_shows_the_latest_result_to_auditors_only(client, district):
    _owned(b'{"checkpoint": 1}', 1)
    store = services.get_store()
    obj = StoredObject.objects.get()
    os.chmod(store.path_for(obj.sha256), 0o644)
    store.path_for(obj.sha256).unlink()
    _run()

    client.force_login(district.auditor)
    response = client.get("/objects/sweeps/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-status="problems"' in page and obj.key in page and "audit.AuditCheckpoint#" in page
    assert '/objects/sweeps/' in page  # the navigation entry

    client.force_login(district.investigator)
    assert client.get("/objects/sweeps/").status_code == 403
    client.logout()
    assert client.get("/objects/sweeps/").status_code == 302


def test_sweep_page_before_any_sweep(client, district):
    client.force_login(district.auditor)
    response = client.get("/objects/sweeps/")
    assert response.status_code == 200 and 'id="no-sweeps"' in response.content.decode()


def test_unknown_scope_is_refused():
    from casehub.objectstore.sweep import run_sweep

    with pytest.raises(ValueError, match="unknown sweep scope"):
        run_sweep(scope="everything")
    assert not StorageSweep.objects.exists()


def test_open_store_directory_has_no_link_signer_outside_django(tmp_path):
    from storage import StorageError

    store = open_store((tmp_path / "o").as_uri())
    ref = store.put_bytes(b"x")
    with pytest.raises(StorageError, match="signed-link view"):
        store.download_url(ref.sha256, filename="x", content_type="text/plain")
