"""Fuzzing the transfer-package verifier (``workflows.packaging.verify_package``) with hypothesis
(THREAT_MODEL.md S6, T7).

Contract: for any package, however damaged — manifest bytes, detached signature, or the manifest
data the verifier acts on — ``verify_package`` never raises, answers within the time limit, and
says ``ok`` only for the package exactly as it was signed. Every other answer is ``ok: False``
with at least one error (which blocks acceptance). Mutations are applied to an in-memory copy of
a real signed package; nothing is saved.

Past crashers and forgeries live in ``tests/fuzz/corpus/manifest/*.json`` (a mutation recipe per
file) and are replayed on every run.
"""

from __future__ import annotations

import copy
import io
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casehub.cases.models import CustodyStatus
from casehub.cases.services import register_case

pytestmark = pytest.mark.django_db
CORPUS = Path(__file__).parent / "corpus" / "manifest"
TIME_LIMIT = 10.0


def _pdf(label: str) -> bytes:
    doc = pikepdf.new()
    doc.add_blank_page(page_size=(595, 842))
    doc.docinfo["/Title"] = label
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


@pytest.fixture
def package(district, tmp_path, django_capture_on_commit_callbacks):
    """A real package, signed by district A's police, plus a second stored object (a decoy)."""
    from casehub.dossier import services as dossier
    from casehub.objectstore.services import store_bytes
    from workflows import engine
    from workflows.models import Transfer

    case = register_case(acting_user=district.investigator, title="清单模糊测试案", persons=[
        {"name": "周八", "sex": "M", "custody_status": CustodyStatus.NOT_DETAINED}])
    (tmp_path / "a.pdf").write_bytes(_pdf("manifest-fuzz"))
    job = dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=tmp_path / "a.pdf",
                                title="证据", category="evidence")
    assert job.status == "done", job.message
    result = engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                         inputs={"facts": "事实", "evidence": "证据一"})
    with django_capture_on_commit_callbacks(execute=False):  # verification is what we call ourselves
        engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True, comment="同意")
    transfer = Transfer.objects.select_related("from_agency", "to_agency").get(case=case)
    decoy = store_bytes(_pdf("decoy, not in the package"), content_type="application/pdf")
    return transfer, decoy


def verify(transfer) -> dict[str, Any]:
    from workflows.packaging import verify_package

    started = time.monotonic()
    try:
        report = verify_package(transfer)
    except BaseException as exc:  # noqa: BLE001 - the contract: never raises
        raise AssertionError(f"verify_package raised {type(exc).__name__}: {exc}") from exc
    elapsed = time.monotonic() - started
    assert elapsed < TIME_LIMIT, f"verification took {elapsed:.1f} s"
    assert isinstance(report, dict) and isinstance(report.get("ok"), bool), report
    if not report["ok"]:
        assert report["errors"], "refused without saying why"
    return report


def _clone(transfer):
    twin = copy.copy(transfer)
    twin.manifest = copy.deepcopy(transfer.manifest)
    twin.manifest_bytes = bytes(transfer.manifest_bytes)
    twin.manifest_signature = bytes(transfer.manifest_signature)
    return twin


def _mutate_bytes(data: bytes, draw) -> bytes:
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=32))
        else:
            del data[pos:pos + draw(st.integers(1, 64))]
    return bytes(data)


JUNK = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63), st.text(max_size=80),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, prefix + (i,))
    return out


def _set(root: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = root
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        parent.pop(path[-1], None)
    elif delete and isinstance(parent, list):
        parent.pop(path[-1])
    else:
        parent[path[-1]] = value
    return root


# The default run is derandomised (the same examples every run: CI stays deterministic; known
# crashers belong in the corpus); the slow run explores.
FAST = settings(max_examples=40, deadline=timedelta(seconds=TIME_LIMIT * 2), database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
# The long run's size comes from the hypothesis profile (tests/conftest.py): 1000 examples under
# `make test-slow`, 20 in CI.
LONG = settings(FAST, max_examples=settings.default.max_examples, derandomize=settings.default.derandomize)


@pytest.mark.slow
@LONG
@given(data=st.data())
def test_tampered_manifest_data_long(package, data):
    test_tampered_manifest_data_never_verifies_and_never_crashes.hypothesis.inner_test(package, data)


def test_the_intact_package_verifies(package):
    transfer, _decoy = package
    assert verify(_clone(transfer))["ok"] is True


@FAST
@given(data=st.data())
def test_damaged_manifest_bytes_or_signature_never_verify(package, data):
    transfer, _decoy = package
    twin = _clone(transfer)
    target = data.draw(st.sampled_from(["manifest_bytes", "manifest_signature", "both"]))
    if target in ("manifest_bytes", "both"):
        twin.manifest_bytes = _mutate_bytes(twin.manifest_bytes, data.draw)
    if target in ("manifest_signature", "both"):
        twin.manifest_signature = _mutate_bytes(twin.manifest_signature, data.draw)
    if twin.manifest_bytes == bytes(transfer.manifest_bytes) and \
            twin.manifest_signature == bytes(transfer.manifest_signature):
        return  # the mutations cancelled out
    assert verify(twin)["ok"] is False


@FAST
@given(data=st.data())
def test_tampered_manifest_data_never_verifies_and_never_crashes(package, data):
    """The signed bytes are intact; the manifest data the verifier reads is changed (DB access)."""
    transfer, decoy = package
    twin = _clone(transfer)
    path = data.draw(st.sampled_from(_paths(twin.manifest)[1:]))
    value = data.draw(st.one_of(JUNK, st.just(decoy.sha256)))
    twin.manifest = _set(twin.manifest, path, value, delete=data.draw(st.booleans()))
    if twin.manifest == transfer.manifest:
        return
    assert verify(twin)["ok"] is False, f"manifest changed at {path!r} and still verified"


def test_swapping_a_document_for_another_stored_object_is_caught(package):
    """The forgery a DB insider would try: point the package at a different (intact) object."""
    transfer, decoy = package
    twin = _clone(transfer)
    entry = (twin.manifest.get("documents") or twin.manifest.get("volumes"))[0]
    entry["sha256"], entry["size"] = decoy.sha256, decoy.size
    assert verify(twin)["ok"] is False


def _corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.json"))


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_corpus_recipe(package, path):
    """Replay a recorded mutation: ``{"set": [[path...], value], "delete": [path...], "bytes": "truncate:N"}``."""
    transfer, decoy = package
    recipe = json.loads(path.read_text())
    twin = _clone(transfer)
    substitutes = {"$decoy": decoy.sha256, "$decoy_size": decoy.size}
    for key_path, value in recipe.get("set", []):
        twin.manifest = _set(twin.manifest, tuple(key_path), substitutes.get(value, value) if isinstance(value, str)
                             else value, False)
    for key_path in recipe.get("delete", []):
        twin.manifest = _set(twin.manifest, tuple(key_path), None, True)
    if "truncate_bytes" in recipe:
        twin.manifest_bytes = twin.manifest_bytes[: recipe["truncate_bytes"]]
    if "truncate_signature" in recipe:
        twin.manifest_signature = twin.manifest_signature[: recipe["truncate_signature"]]
    assert verify(twin)["ok"] is False


def test_the_corpus_is_not_empty():
    assert len(_corpus()) >= 3, "keep the regression corpus (tests/fuzz/corpus/manifest/)"
