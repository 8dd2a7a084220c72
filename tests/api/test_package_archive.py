"""Bulk exchange: a transfer package as one archive, verified offline by `casehub-verify`."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from casehub.pki.services import export_trust_pem
from tests.fixtures.clock import on_test_clock

pytestmark = pytest.mark.django_db


def _casehub_verify() -> str:
    found = shutil.which("casehub-verify", path=str(Path(sys.executable).parent))
    assert found, "the casehub-verify console script is not installed with the project"
    return found


def _verify(archive: bytes, trust: bytes, tmp_path: Path) -> subprocess.CompletedProcess:
    (tmp_path / "package.zip").write_bytes(archive)
    (tmp_path / "trust.pem").write_bytes(trust)
    # No settings, no database: the check must stand on the archive and the trust bundle alone.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE", "CASEHUB"))}
    # At the test's "now": a run pinned to another year signs with that year's time.
    argv = [_casehub_verify(), str(tmp_path / "package.zip"), "--trust", str(tmp_path / "trust.pem"), "--json"]
    return subprocess.run(on_test_clock(argv), capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def _archive(client, transfer_pk: int) -> bytes:
    response = client.get(f"/api/v1/transfers/{transfer_pk}/archive/")
    assert response.status_code == 200, getattr(response, "content", b"")[:300]
    assert response["Content-Type"] == "application/zip"
    return b"".join(response.streaming_content)


def _rewrite(archive: bytes, change) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, change(info.filename, src.read(info)))
    return out.getvalue()


@pytest.fixture
def accepted(wf_case, drive):
    drive.to_review(wf_case)
    return wf_case.transfers.get(kind="review_transfer")


def test_the_sender_fetches_the_package_and_it_verifies_offline(accepted, district, api_as, tmp_path):
    archive = _archive(api_as(district.investigator), accepted.pk)
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        names = set(zf.namelist())
    assert {"manifest.json", "manifest.p7s", "receipt.json", "receipt.p7s"} <= names
    assert sum(n.startswith("documents/") for n in names) == accepted.document_count
    assert sum(n.startswith("volumes/") for n in names) == accepted.volume_count

    result = _verify(archive, export_trust_pem(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["verified"] and report["signer_agency"] == district.police.code
    assert report["documents"] == accepted.document_count and report["receipt"] == "accepted"
    assert report["manifest_sha256"] == accepted.manifest_sha256


def test_one_changed_byte_in_a_document_is_named(accepted, district, api_as, tmp_path):
    archive = _archive(api_as(district.investigator), accepted.pk)

    def flip(name: str, data: bytes) -> bytes:
        if name.startswith("documents/") and not flip.done:
            flip.done = True
            return data[:100] + bytes([data[100] ^ 1]) + data[101:]
        return data

    flip.done = False
    result = _verify(_rewrite(archive, flip), export_trust_pem(), tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert not report["verified"]
    assert any("does not match the signed SHA-256" in e for e in report["errors"])


def test_an_edited_manifest_or_another_trust_anchor_is_refused(accepted, district, api_as, tmp_path):
    archive = _archive(api_as(district.investigator), accepted.pk)
    edited = _rewrite(archive, lambda n, d: d.replace(b'"review_transfer"', b'"indictment"') if n == "manifest.json"
                      else d)
    result = _verify(edited, export_trust_pem(), tmp_path)
    assert result.returncode == 1 and "manifest signature" in result.stdout

    from signing.pki import create_root_ca, to_pem

    _key, stranger = create_root_ca("某外部根证书")
    result = _verify(archive, to_pem([stranger]), tmp_path)
    assert result.returncode == 1 and "manifest signature" in result.stdout


def test_a_missing_document_and_an_unreadable_archive(accepted, district, api_as, tmp_path):
    archive = _archive(api_as(district.investigator), accepted.pk)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as src, zipfile.ZipFile(out, "w") as dst:
        dropped = False
        for info in src.infolist():
            if info.filename.startswith("documents/") and not dropped:
                dropped = True
                continue
            dst.writestr(info.filename, src.read(info))
    result = _verify(out.getvalue(), export_trust_pem(), tmp_path)
    assert result.returncode == 1 and "missing from the archive" in result.stdout
    result = _verify(b"not a zip", export_trust_pem(), tmp_path)
    assert result.returncode == 2 and "not a readable ZIP" in result.stderr


def test_who_may_fetch_a_package(wf_case, district, other_district, drive, api_as):
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据",
               to_agency=district.procuratorate)
    pending = wf_case.transfers.get(kind="review_transfer")
    url = f"/api/v1/transfers/{pending.pk}/archive/"
    assert api_as(district.prosecutor).get(url).status_code == 403  # the receiver, before accepting
    assert api_as(district.police_supervisor).get(url).status_code == 403  # sees identity numbers masked
    assert api_as(other_district.investigator).get(url).status_code == 404
    assert api_as(district.investigator).get(url).status_code == 200
    drive.fire(wf_case, "accept_review_transfer", "prosecutor")
    assert api_as(district.prosecutor).get(url).status_code == 200
