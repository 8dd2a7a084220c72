"""Fuzzing the dossier ingest validator (THREAT_MODEL.md T7, D1; ASVS 5.2.x) with hypothesis.

Contract for every input, however malformed: the validation and normalisation steps either
accept it (a known kind, at least one page, a PDF that opens) or raise ``IngestRejected`` with a
message and a code — nothing else may escape — within a time limit, without the process growing
by more than a memory budget; and a rejected upload stores nothing (checked through the real
``ingest_upload`` for the corpus).

Inputs: mutations (flips, truncation, insertion of hostile PDF tokens, splices) of valid PDFs and
JPEG/PNG/TIFF images. The default run spends a few seconds; ``-m slow`` runs the long version.
Inputs that once broke something live in ``tests/fuzz/corpus/ingest/`` and are replayed on every
run; a new failure is written to ``var/fuzz-crashers/`` for triage before the test fails.
"""

from __future__ import annotations

import hashlib
import resource
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casehub.dossier import ingest
from tests.fuzz import seeds

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus" / "ingest"
CRASHERS = ROOT / "var" / "fuzz-crashers"
TIME_LIMIT = 10.0  # seconds per input
MEMORY_BUDGET_MB = 768  # growth of the process's peak RSS caused by one input


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def check_input(data: bytes, workdir: Path) -> str:
    """Run validate + normalise + count on ``data``; return "accepted" or the rejection code.

    Raises AssertionError (after saving the input) if the contract is broken.
    """
    case_dir = workdir / hashlib.sha256(data).hexdigest()[:16]
    case_dir.mkdir(parents=True, exist_ok=True)
    source = case_dir / "upload.bin"
    source.write_bytes(data)
    ctx = ingest.IngestContext(source=source, workdir=case_dir)
    started, peak_before = time.monotonic(), _peak_rss_mb()
    outcome = "accepted"
    try:
        ingest.step_validate(ctx)
        ingest.step_normalise(ctx)
        ingest.step_count_pages(ctx)
    except ingest.IngestRejected as rejected:
        outcome = rejected.code
        problem = None if (rejected.message and rejected.code) else "rejection without a message or code"
    except BaseException as exc:  # noqa: BLE001 - the contract: nothing else escapes
        problem = f"{type(exc).__name__}: {exc}"
    else:
        problem = None
        if ctx.kind not in (ingest.PDF, ingest.JPEG, ingest.PNG, ingest.TIFF) or ctx.page_count < 1:
            problem = f"accepted with kind={ctx.kind!r} pages={ctx.page_count}"
    elapsed, grown = time.monotonic() - started, _peak_rss_mb() - peak_before
    if problem is None and elapsed > TIME_LIMIT:
        problem = f"took {elapsed:.1f} s (limit {TIME_LIMIT} s)"
    if problem is None and grown > MEMORY_BUDGET_MB:
        problem = f"peak memory grew by {grown:.0f} MB (budget {MEMORY_BUDGET_MB} MB)"
    shutil.rmtree(case_dir, ignore_errors=True)
    if problem:
        CRASHERS.mkdir(parents=True, exist_ok=True)
        saved = CRASHERS / f"ingest-{hashlib.sha256(data).hexdigest()[:16]}.bin"
        saved.write_bytes(data)
        raise AssertionError(f"ingest contract broken ({problem}); input saved to {saved}")
    return outcome


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(sorted(seeds.seeds().items())))[1])
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "truncate", "insert_token", "insert_bytes", "delete", "splice"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert_token":
            data[pos:pos] = draw(st.sampled_from(seeds.PDF_TOKENS))
        elif op == "insert_bytes":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 256))]
        elif op == "splice":
            other = draw(st.sampled_from(sorted(seeds.seeds().values())))
            cut = draw(st.integers(0, len(other)))
            data[pos:] = other[cut:]
    return bytes(data)


# The default run is derandomised (the same examples every run, so CI is deterministic and a
# known crasher is a corpus file, not a coin toss); the slow run explores randomly.
FAST = settings(max_examples=60, deadline=timedelta(seconds=TIME_LIMIT * 2), database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
# The long run's size comes from the hypothesis profile (tests/conftest.py): 3000 examples under
# `make test-slow`, 60 in CI.
LONG = settings(FAST, max_examples=3 * settings.default.max_examples, derandomize=settings.default.derandomize)


@FAST
@given(data=mutated())
def test_ingest_validator_contract_on_mutated_files(data, tmp_path_factory):
    check_input(data, tmp_path_factory.mktemp("fuzz"))


@pytest.mark.slow
@LONG
@given(data=mutated())
def test_ingest_validator_contract_long(data, tmp_path_factory):
    check_input(data, tmp_path_factory.mktemp("fuzz"))


@FAST
@given(data=st.binary(max_size=4096))
def test_ingest_validator_contract_on_random_bytes(data, tmp_path_factory):
    check_input(b"%PDF-1.4\n" + data if data[:1] == b"P" else data, tmp_path_factory.mktemp("fuzz"))


def test_seeds_are_accepted(tmp_path):
    """The fuzzer's starting points are valid files (otherwise it only explores rejections)."""
    for name, data in seeds.seeds().items():
        assert check_input(data, tmp_path) == "accepted", name


def test_a_compression_bomb_is_refused_within_limits(tmp_path, settings):
    settings.CASEHUB_PDF_MAX_STREAM_BYTES = 16 * 1024 * 1024
    assert check_input(seeds.flate_bomb(64 * 1024 * 1024), tmp_path) == "bomb"


def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*") if p.is_file() and p.suffix != ".md")


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_corpus_input_is_handled_and_a_rejection_stores_nothing(path, tmp_path, district):
    """Past crashers, through the real upload path: a rejection leaves no object and no document."""
    from casehub.cases.services import register_case
    from casehub.dossier import services as dossier
    from casehub.dossier.models import Document
    from casehub.objectstore.models import StoredObject

    outcome = check_input(path.read_bytes(), tmp_path)
    case = register_case(acting_user=district.investigator, title="语料回归")
    upload = tmp_path / path.name
    upload.write_bytes(path.read_bytes())
    objects = StoredObject.objects.count()
    job = dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=upload,
                                title="语料", category="evidence")
    if outcome == "accepted":
        assert job.status == "done", job.message
        document = Document.objects.get(case=case)
        assert document.page_count >= 1, "a document without pages entered the dossier"
    else:
        assert job.status == "failed" and job.message
        assert StoredObject.objects.count() == objects
        assert not Document.objects.filter(case=case).exists()


def test_the_corpus_is_not_empty():
    assert len(_corpus()) >= 5, "keep the regression corpus (tests/fuzz/corpus/ingest/)"
