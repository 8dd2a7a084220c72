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
}


def limit(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))
