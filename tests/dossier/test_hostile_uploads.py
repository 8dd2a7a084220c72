"""Uploads built to hurt the server or to mean different things to different readers
(THREAT_MODEL.md F18.18, F18.19). Each is refused with a clear message and nothing is stored;
the parsers run in a bounded child process, so this process never inflates what they inflate."""

from __future__ import annotations

import resource

import pytest

from tests.dossier import files
from tests.dossier.test_ingest import _own_data_dir, assert_rejected  # noqa: F401 - autouse fixture

MiB = 1024**2


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_an_object_stream_bomb_is_refused_before_any_parser_inflates_it(upload, settings):
    settings.CASEHUB_PDF_MAX_OBJSTM_BYTES = 8 * MiB
    data = files.objstm_bomb_pdf(64 * MiB)
    assert len(data) < 100_000  # 64 MB of padding in a file of some 60 KB
    assert_rejected(upload(data), "压缩炸弹", settings)


def test_a_bomb_past_every_explicit_check_costs_the_server_no_memory(upload, settings):
    """The explicit limits are switched off: only the child's address-space limit stands between
    the file and the server. The upload is refused and this process does not grow."""
    settings.CASEHUB_PDF_MAX_OBJSTM_BYTES = settings.CASEHUB_PDF_MAX_STREAM_BYTES = 4 * 1024 * MiB
    settings.CASEHUB_INGEST_MEMORY_BYTES = 192 * MiB
    data = files.objstm_bomb_pdf(320 * MiB)
    before = _peak_rss_mb()
    job = upload(data)
    grown = _peak_rss_mb() - before
    assert_rejected(job, "内存超过上限", settings)
    assert grown < 64, f"the web process grew by {grown:.0f} MB while a file was examined"


@pytest.mark.parametrize("make, counts", [
    (files.many_nulls_pdf, "pypdf 1、qpdf —、/Count 0"),
    (files.count_lie_pdf, "pypdf 1、qpdf 1、/Count 1000000"),
], ids=["many-nulls", "count-lie"])
def test_a_pdf_whose_readers_disagree_on_the_page_count_is_refused(upload, settings, make, counts):
    job = upload(make())
    assert_rejected(job, "页面结构有歧义", settings)
    assert counts in job.message


def test_an_ordinary_pdf_is_counted_alike_by_every_reader(upload):
    job = upload(files.text_pdf(4))
    assert job.document is not None and job.document.page_count == 4
