"""deploy/backup.sh then deploy/restore.sh onto a fresh database and a fresh object store: the
restore verifies (verify_storage, verify_audit, manifest counts) and every case reads back
complete and identical. Also: a damaged dump is refused before anything is loaded, a corrupted
object in the backup fails the restore (slow), and a backup never mixes into an old one.

Runs on whatever the suite runs on: SQLite (the test database copied to a file first) or
PostgreSQL (the test database is dumped; the restore goes into a new database created here).
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pikepdf
import pytest
from django.conf import settings
from django.db import connection

from casehub import env
from casehub.cases.models import CustodyStatus
from casehub.cases.services import register_case
from tests.fixtures.celery_worker import database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("file_database")]
ROOT = Path(__file__).resolve().parents[2]


def _pdf(label: str, pages: int = 1) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(595, 842))
    pdf.docinfo["/Title"] = label
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _environ(database: str, storage: str, data_dir: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in {v.name for v in env.VARIABLES}}
    environ.update({
        "DJANGO_SETTINGS_MODULE": "casehub.settings", "DATABASE_URL": database, "CASEHUB_STORAGE_URL": storage,
        "SECRET_KEY": settings.SECRET_KEY, "CASEHUB_KEY_ENCRYPTION_KEY": settings.KEY_ENCRYPTION_KEY,
        "CASEHUB_DATA_DIR": str(data_dir), "PYTHON": sys.executable,
    })
    return environ


def _run(args, environ, *, check=True):
    result = subprocess.run(args, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=600)
    if check:
        assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def populated(district, tmp_path, django_capture_on_commit_callbacks):
    """Cases in several states, with documents, volumes, a transfer package and receipt, custody,
    clocks and a signed audit checkpoint."""
    from casehub.audit.checkpoints import sign_checkpoint
    from casehub.dossier import services as dossier
    from workflows import engine

    cases = []
    for i, detained in enumerate((True, False)):
        case = register_case(acting_user=district.investigator, title=f"备份测试案{i}", persons=[{
            "name": f"孙{i}", "sex": "M", "id_number": f"44030719900101{i:03d}X",
            "custody_status": CustodyStatus.DETAINED if detained else CustodyStatus.NOT_DETAINED,
            "custody_since": "2026-01-01T08:00:00+08:00" if detained else None,
            "detention_centre": district.detention if detained else None}])
        for j in range(2):
            path = tmp_path / f"c{i}d{j}.pdf"
            path.write_bytes(_pdf(f"c{i}d{j}", pages=j + 1))
            job = dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=path,
                                        title=f"材料{j}", category="evidence")
            assert job.status == "done", job.message
        cases.append(case)
    sent = cases[0]
    result = engine.fire(sent, "transfer_for_review", acting_user=district.investigator,
                         inputs={"facts": "事实", "evidence": "证据一"})
    with django_capture_on_commit_callbacks(execute=True):
        engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True, comment="同意")
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(sent, "accept_review_transfer", acting_user=district.prosecutor)
    assert sign_checkpoint(force=True) is not None
    return cases


@pytest.fixture
def fresh_database(tmp_path):
    """A URL for an empty database of the same kind as the test database."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored' / 'casehub.sqlite3'}"
        return
    name = f"casehub_restore_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = database_url().rsplit("/", 1)[0]
    yield f"{base}/{name}"
    connection.close()
    from django.db import connections

    connections.close_all()
    with connection.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_restores_onto_a_fresh_database_and_store_and_verifies(populated, tmp_path, fresh_database):
    original = _environ(database_url(), settings.CASEHUB_STORAGE_URL, tmp_path / "data-original")
    backup_dir = tmp_path / "backup"
    _run(["bash", "deploy/backup.sh", str(backup_dir)], original)
    manifest = json.loads((backup_dir / "MANIFEST.json").read_text())
    assert manifest["row_counts"]["dossier.Document"] >= 4  # + the generated 起诉意见书
    assert (backup_dir / "objects").is_dir()

    restored_store = (tmp_path / "restored-objects").as_uri()
    restored = _environ(fresh_database, restored_store, tmp_path / "data-restored")

    # A damaged copy of the backup is refused before anything is loaded into the target ...
    import shutil

    damaged_dir = tmp_path / "damaged"
    shutil.copytree(backup_dir, damaged_dir)
    dump = next(p for p in damaged_dir.iterdir() if p.name.startswith("db."))
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    refused = _run(["bash", "deploy/restore.sh", str(damaged_dir)], restored, check=False)
    assert refused.returncode == 2
    assert "does not match MANIFEST.json" in refused.stderr

    # ... and the intact one restores and verifies.
    result = _run(["bash", "deploy/restore.sh", str(backup_dir)], restored)
    assert "restore: done, verified" in result.stdout, result.stdout + result.stderr
    assert "verified" in result.stdout and "missing" in result.stdout  # verify_storage's summary line

    # Every case reads back complete and identical (each object re-hashed on the way).
    before = json.loads(_run([sys.executable, "-m", "tests.backup.readback"], original).stdout)
    after = json.loads(_run([sys.executable, "-m", "tests.backup.readback"], restored).stdout)
    assert len(after["cases"]) == 2
    assert after == before

    # The restored platform is usable: the audit trail still verifies after a new event.
    _run([sys.executable, "manage.py", "verify_audit"], restored)


@pytest.mark.slow
def test_a_corrupted_object_in_the_backup_fails_the_restore(populated, tmp_path, fresh_database):
    original = _environ(database_url(), settings.CASEHUB_STORAGE_URL, tmp_path / "data-original")
    backup_dir = tmp_path / "backup"
    _run(["bash", "deploy/backup.sh", str(backup_dir)], original)
    victim = next(p for p in (backup_dir / "objects").rglob("*") if p.is_file() and len(p.name) == 64)
    victim.chmod(0o600)
    victim.write_bytes(victim.read_bytes()[:-1] + b"X")
    restored = _environ(fresh_database, (tmp_path / "restored-objects").as_uri(), tmp_path / "data-restored")
    result = _run(["bash", "deploy/restore.sh", str(backup_dir)], restored, check=False)
    assert result.returncode != 0
    assert "IntegrityError" in result.stderr or "VERIFICATION FAILED" in result.stderr, result.stderr[-2000:]


def test_backup_refuses_a_non_empty_target_directory(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "MANIFEST.json").write_text("{}")
    environ = _environ(database_url(), settings.CASEHUB_STORAGE_URL, tmp_path / "d")
    result = _run(["bash", "deploy/backup.sh", str(tmp_path / "old")], environ, check=False)
    assert result.returncode == 2


@pytest.fixture(params=["moto", pytest.param("rgw", marks=pytest.mark.rgw)])
def s3_installation(request, settings) -> tuple[str, str]:
    """(storage URL of the installation, storage URL to restore onto): moto's S3 server restored
    onto a directory store; Ceph's RADOS Gateway restored onto a fresh bucket of the same gateway,
    so that the restore writes every object through a real server's object lock."""
    if request.param == "moto":
        source = request.getfixturevalue("s3_store_url")
        target = (request.getfixturevalue("tmp_path") / "restored-objects").as_uri()
    else:
        gateway = request.getfixturevalue("rgw_available")
        source, target = (gateway.url_for(gateway.new_bucket_name(prefix)) for prefix in ("original", "restored"))
    settings.CASEHUB_STORAGE_URL = source
    return source, target


@pytest.mark.s3
def test_backup_of_an_s3_store_restores_and_verifies(s3_installation, populated, tmp_path, fresh_database):
    """The object copy reads the S3 (object-lock) bucket through the verifying reader; the restore
    then runs on the target store with every case identical."""
    source, target = s3_installation
    assert settings.CASEHUB_STORAGE_URL == source
    original = _environ(database_url(), source, tmp_path / "data-original")
    backup_dir = tmp_path / "backup"
    _run(["bash", "deploy/backup.sh", str(backup_dir)], original)
    restored = _environ(fresh_database, target, tmp_path / "data-restored")
    result = _run(["bash", "deploy/restore.sh", str(backup_dir)], restored)
    assert "restore: done, verified" in result.stdout
    before = json.loads(_run([sys.executable, "-m", "tests.backup.readback"], original).stdout)
    after = json.loads(_run([sys.executable, "-m", "tests.backup.readback"], restored).stdout)
    assert after == before


def _backup(tmp_path) -> Path:
    original = _environ(database_url(), settings.CASEHUB_STORAGE_URL, tmp_path / "data-original")
    backup_dir = tmp_path / "backup"
    _run(["bash", "deploy/backup.sh", str(backup_dir)], original)
    return backup_dir


def _one_clear_line(result, *needles: str) -> str:
    """A refusal: exit 2, one line on stderr naming the problem, no traceback, no shell error."""
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "unbound variable" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_the_backup_directory_is_private(tmp_path):
    environ = _environ(database_url(), settings.CASEHUB_STORAGE_URL, tmp_path / "d")
    _run(["bash", "deploy/backup.sh", str(tmp_path / "new" / "backup")], environ)
    assert (tmp_path / "new" / "backup").stat().st_mode & 0o777 == 0o700
    # An empty directory prepared beforehand with the usual 0755 is made private too.
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    _run(["bash", "deploy/backup.sh", str(existing)], environ)
    assert existing.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o077 == 0 for p in existing.iterdir())


def test_restore_refuses_every_key_that_would_leave_the_platform_unable_to_sign(populated, tmp_path, fresh_database):
    backup_dir = _backup(tmp_path)
    manifest = json.loads((backup_dir / "MANIFEST.json").read_text())
    assert manifest["signing_keys"] >= 2 and manifest["signing_keys_open"] is True  # root + agency certificates
    assert settings.KEY_ENCRYPTION_KEY not in (backup_dir / "MANIFEST.json").read_text()  # a fingerprint only
    restored_store = tmp_path / "restored-objects"
    target = _environ(fresh_database, restored_store.as_uri(), tmp_path / "data-restored")

    # A wrong key (production, or a key from another installation).
    wrong = dict(target, CASEHUB_KEY_ENCRYPTION_KEY=base64.b64encode(b"w" * 32).decode())
    line = _one_clear_line(_run(["bash", "deploy/restore.sh", str(backup_dir)], wrong, check=False),
                           "CASEHUB_KEY_ENCRYPTION_KEY", manifest["kek_fingerprint"])
    assert "not the key-encryption key of this backup" in line

    # No key in development: the platform would silently generate a new one into DATA_DIR/kek.
    unset = {k: v for k, v in target.items() if k != "CASEHUB_KEY_ENCRYPTION_KEY"}
    line = _one_clear_line(_run(["bash", "deploy/restore.sh", str(backup_dir)], unset, check=False),
                           "CASEHUB_KEY_ENCRYPTION_KEY is not set", manifest["kek_fingerprint"])

    # No key in production: the platform's own refusal, as one line (not a traceback, not exit 1).
    production = dict(unset, CASEHUB_ENV="production")
    _one_clear_line(_run(["bash", "deploy/restore.sh", str(backup_dir)], production, check=False),
                    "restore: refused:", "CASEHUB_KEY_ENCRYPTION_KEY")

    # A key that is not even a key.
    garbage = dict(target, CASEHUB_KEY_ENCRYPTION_KEY="not base64!")
    _one_clear_line(_run(["bash", "deploy/restore.sh", str(backup_dir)], garbage, check=False),
                    "restore: refused:", "base64")

    # Nothing was loaded by any refusal: the same target is still fresh, and the right key restores.
    assert not restored_store.exists()
    result = _run(["bash", "deploy/restore.sh", str(backup_dir)], target)
    assert f"key-encryption key {manifest['kek_fingerprint']}: all" in result.stdout
    assert "restore: done, verified" in result.stdout


def test_restore_of_a_backup_without_a_key_fingerprint_proves_a_stored_key_decrypts(
        populated, tmp_path, fresh_database):
    """A backup from before fingerprints were recorded: the wrong key is only found once the rows
    are loaded, by decrypting the stored private keys; the restore still refuses (exit 2)."""
    backup_dir = _backup(tmp_path)
    manifest_path = backup_dir / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    for name in ("kek_fingerprint", "signing_keys", "signing_keys_open"):
        del manifest[name]
    manifest_path.write_text(json.dumps(manifest))
    target = _environ(fresh_database, (tmp_path / "restored-objects").as_uri(), tmp_path / "data-restored")
    target["CASEHUB_KEY_ENCRYPTION_KEY"] = base64.b64encode(b"w" * 32).decode()
    result = _run(["bash", "deploy/restore.sh", str(backup_dir)], target, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "cannot sign" in result.stderr and "do not decrypt with CASEHUB_KEY_ENCRYPTION_KEY" in result.stderr
    assert "Traceback" not in result.stderr
    assert "done, verified" not in result.stdout
