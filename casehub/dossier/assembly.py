"""Building a volume's PDF with pikepdf (qpdf): contents pages, documents, page stamps, bookmarks.

pikepdf rather than pypdf: merging is about 5× faster and needs about half the memory
(DESIGN.md §5; bench/dossier.py measures ours against ``qpdf --empty --pages``). pypdf is kept for
reading and validation on ingest.

Same inputs (documents, order, page mapping, sealing date) give the same pages: the page mapping
is fixed at sealing and the contents page carries the sealing time as its date. Only the file's
/ID differs between two builds.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pikepdf
from pikepdf import OutlineItem

from casehub.pdfgen import ContentsRow, render_contents
from casehub.pdfgen.stamp import stamp_font, stamp_page_number


@dataclass(frozen=True)
class Entry:
    """One document to bind: its PDF file, its contents row and its first volume page."""

    path: Path
    row: ContentsRow
    page_count: int
    first_page: int


def pack(page_counts: Sequence[int], max_pages: int) -> list[list[int]]:
    """Split documents (in binding order) into volumes of at most ``max_pages`` numbered pages,
    always at a document boundary. A single document longer than the limit gets a volume of its
    own rather than being cut. Returns lists of indexes into ``page_counts``."""
    volumes: list[list[int]] = []
    current: list[int] = []
    pages = 0
    for index, count in enumerate(page_counts):
        if current and pages + count > max_pages:
            volumes.append(current)
            current, pages = [], 0
        current.append(index)
        pages += count
    if current:
        volumes.append(current)
    return volumes


def build_volume_pdf(
    *,
    heading: str,
    subtitle_lines: Sequence[str],
    entries: Sequence[Entry],
    out_path: Path,
    creation_date: datetime,
) -> tuple[int, int]:
    """Write the volume PDF to ``out_path``; return (numbered pages, contents pages)."""
    contents = render_contents(heading, [e.row for e in entries], subtitle_lines=subtitle_lines,
                               creation_date=creation_date)
    with ExitStack() as stack:
        out = stack.enter_context(pikepdf.open(io.BytesIO(contents)))
        contents_pages = len(out.pages)
        font = stamp_font(out)
        bookmarks: list[tuple[str, int]] = [("卷内目录", 0)]
        expected = 1
        for entry in entries:
            if entry.first_page != expected:
                raise ValueError(f"page mapping has a gap before {entry.row.title!r}")
            src = stack.enter_context(pikepdf.open(str(entry.path)))
            if len(src.pages) != entry.page_count:
                raise ValueError(f"{entry.row.title!r} has {len(src.pages)} pages, {entry.page_count} recorded")
            if "/AcroForm" in src.Root:
                # A signed document (every generated one is): draw its form fields, the visible
                # signature stamp included, into the page and drop the fields. The stored document
                # keeps its own signature; a field copied into the volume would be a signature over
                # other bytes, invalid for any checker, and unreachable from the volume's form.
                src.flatten_annotations("all")
                if "/AcroForm" in src.Root:
                    del src.Root.AcroForm
            start = len(out.pages)
            out.pages.extend(src.pages)
            for offset in range(entry.page_count):
                stamp_page_number(out, out.pages[start + offset], entry.first_page + offset, font)
            bookmarks.append((f"{entry.row.number}. {entry.row.title}（第{entry.row.pages}页）", start))
            expected += entry.page_count
        with out.open_outline() as outline:
            outline.root.extend(OutlineItem(title, page) for title, page in bookmarks)
        # A plain save: qpdf's deterministic_id writes the file twice (measured: 0.25 s instead of
        # 0.05 s for 200 pages), and a unique /ID keeps viewers from confusing two volumes.
        out.save(str(out_path))
    return expected - 1, contents_pages
