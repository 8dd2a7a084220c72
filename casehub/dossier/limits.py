"""Ingest and assembly limits, each overridable in settings (see docs/dossier.md).

Read at call time so tests and deployers can change them with ordinary settings.
"""

from __future__ import annotations

from django.conf import settings

DEFAULTS: dict[str, int] = {
    # A volume holds at most this many numbered pages (DESIGN.md §3); larger ones are split.
    "CASEHUB_VOLUME_MAX_PAGES": 200,
    # Largest accepted upload, in bytes.
    "CASEHUB_UPLOAD_MAX_BYTES": 2 * 1024**3,
    # Largest accepted image (JPEG/PNG/TIFF frame or image inside a PDF), in pixels: an A3 scan at
    # 600 dpi is about 70 million.
    "CASEHUB_IMAGE_MAX_PIXELS": 150_000_000,
    # Decompression-bomb limits for PDFs.
    "CASEHUB_PDF_MAX_PAGES": 5_000,
    "CASEHUB_PDF_MAX_OBJECTS": 2_000_000,
    "CASEHUB_PDF_MAX_STREAM_BYTES": 512 * 1024**2,  # one decoded stream
    "CASEHUB_PDF_MAX_DECODED_BYTES": 8 * 1024**3,  # all decoded streams together
    # One object stream (/Type /ObjStm) inflated: it holds only dictionaries and arrays, so a
    # real one is kilobytes; a large one is padding meant to be inflated by whoever resolves it.
    "CASEHUB_PDF_MAX_OBJSTM_BYTES": 64 * 1024**2,
    # The child process that examines an upload: its address-space limit and its time limit
    # (CPU seconds, and wall-clock seconds plus 10). Whatever a parser inflates, it inflates there.
    "CASEHUB_INGEST_MEMORY_BYTES": 1024**3,
    "CASEHUB_INGEST_SECONDS": 120,
}


def limit(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))
