"""The examiner: uploads are parsed in a child forked for each file from a kept, clean process.

What must hold however the examiner is reused: every file is read in a process of its own (never
the test's, never the examiner's, never another file's); a file that hangs is refused as a timeout
and takes its examiner down with it; an examiner that died between files is replaced.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from fpdf import FPDF

from casehub.dossier import probe

LIMITS = {name: 10**8 for name in (
    "CASEHUB_PDF_MAX_OBJSTM_BYTES", "CASEHUB_PDF_MAX_PAGES", "CASEHUB_PDF_MAX_OBJECTS",
    "CASEHUB_PDF_MAX_STREAM_BYTES", "CASEHUB_PDF_MAX_DECODED_BYTES", "CASEHUB_IMAGE_MAX_PIXELS")}
BUDGET = probe.Budget(memory=2 * 1024**3, seconds=30)


@pytest.fixture
def own_examiners(monkeypatch):
    """A pool of examiners for this test alone, closed at its end."""
    pool = probe._Examiners()
    monkeypatch.setattr(probe, "_examiners", pool)
    yield pool
    pool.close()


def _pdf(path: Path, pages: int = 1) -> Path:
    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        pdf.set_font("helvetica")
        pdf.cell(text="page")
    pdf.output(str(path))
    return path


def _idle_pids(pool: probe._Examiners) -> list[int]:
    return [examiner.process.pid for examiner in pool._idle]


def test_each_file_is_read_in_its_own_child_of_one_kept_examiner(tmp_path, own_examiners):
    first = probe.run("pdf", _pdf(tmp_path / "a.pdf", 2), tmp_path / "wa", LIMITS, BUDGET)
    [examiner] = _idle_pids(own_examiners)
    second = probe.run("pdf", _pdf(tmp_path / "b.pdf", 3), tmp_path / "wb", LIMITS, BUDGET)

    assert (first["page_count"], second["page_count"]) == (2, 3)
    assert _idle_pids(own_examiners) == [examiner]  # kept for the next file, not started again
    readers = {first["examined_in"], second["examined_in"]}
    assert len(readers) == 2  # a fresh child per file
    assert readers.isdisjoint({examiner, os.getpid()})  # neither the examiner nor this process parsed


def test_a_file_that_hangs_is_refused_as_a_timeout_and_its_examiner_is_killed(tmp_path, own_examiners, monkeypatch):
    monkeypatch.setattr(probe, "WALL_CLOCK_SLACK", 1.0)
    fifo = tmp_path / "never-written.pdf"
    os.mkfifo(fifo)  # opening it for reading blocks for ever, using no CPU: only the wall clock ends it
    probe.run("pdf", _pdf(tmp_path / "warm.pdf"), tmp_path / "w0", LIMITS, BUDGET)
    [examiner] = _idle_pids(own_examiners)

    with pytest.raises(probe.Refusal) as refused:
        probe.run("pdf", fifo, tmp_path / "w1", LIMITS, probe.Budget(memory=BUDGET.memory, seconds=1))

    assert refused.value.reason == "timeout"
    assert _idle_pids(own_examiners) == []
    with pytest.raises(ProcessLookupError):
        os.kill(examiner, 0)  # killed and reaped, with its child (one process group)
    after = probe.run("pdf", _pdf(tmp_path / "next.pdf"), tmp_path / "w2", LIMITS, BUDGET)
    assert after["page_count"] == 1 and _idle_pids(own_examiners) != [examiner]


def test_an_examiner_killed_between_files_is_replaced_and_the_file_still_examined(tmp_path, own_examiners):
    probe.run("pdf", _pdf(tmp_path / "a.pdf"), tmp_path / "wa", LIMITS, BUDGET)
    [examiner] = own_examiners._idle
    os.kill(examiner.process.pid, signal.SIGKILL)
    examiner.process.wait()

    result = probe.run("pdf", _pdf(tmp_path / "b.pdf", 4), tmp_path / "wb", LIMITS, BUDGET)

    assert result["page_count"] == 4
    assert _idle_pids(own_examiners) != [examiner.process.pid]


def test_an_examiner_that_dies_while_it_waits_is_replaced_and_the_file_tried_once_more(tmp_path, own_examiners):
    """The examiner is alive when taken but its pipe is broken by the time the request is written."""
    probe.run("pdf", _pdf(tmp_path / "a.pdf"), tmp_path / "wa", LIMITS, BUDGET)
    [examiner] = own_examiners._idle
    examiner.process.stdout.close()  # its answers can no longer be read: as if it had died mid-request
    examiner.process.stdout = open(os.devnull, "rb")  # noqa: SIM115 - closed with the examiner

    result = probe.run("pdf", _pdf(tmp_path / "b.pdf", 2), tmp_path / "wb", LIMITS, BUDGET)

    assert result["page_count"] == 2
