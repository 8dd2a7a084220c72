"""A transfer package as one ZIP archive, for agency systems (bulk exchange).

Layout and offline check: :mod:`signing.package` (``casehub-verify``). The archive is written to a
temporary file, never held in memory: a package can carry hundreds of megabytes of scans. Objects
are copied through the store's verifying reader, so a corrupted object fails the download instead
of travelling.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from typing import IO, Any

from casehub.objectstore.services import open_object
from signing.package import MANIFEST, MANIFEST_SIGNATURE, RECEIPT, RECEIPT_SIGNATURE

COPY_CHUNK = 1024 * 1024


def _add_object(zf: zipfile.ZipFile, name: str, stored: Any) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    # PDFs are already compressed; storing them keeps the archive fast to write and to hash.
    info.compress_type = zipfile.ZIP_STORED
    with open_object(stored) as reader, zf.open(info, "w", force_zip64=True) as out:
        shutil.copyfileobj(reader, out, COPY_CHUNK)


def _add_bytes(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def write_archive(transfer: Any) -> IO[bytes]:
    """The archive of ``transfer`` in a temporary file, positioned at its start."""
    out = tempfile.TemporaryFile(prefix="casehub-package-")  # noqa: SIM115 - returned open; closed on failure
    try:
        with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
            _add_bytes(zf, MANIFEST, bytes(transfer.manifest_bytes))
            _add_bytes(zf, MANIFEST_SIGNATURE, bytes(transfer.manifest_signature))
            if transfer.receipt_bytes:
                _add_bytes(zf, RECEIPT, bytes(transfer.receipt_bytes))
                _add_bytes(zf, RECEIPT_SIGNATURE, bytes(transfer.receipt_signature))
            seen: set[str] = set()
            for doc in transfer.documents.select_related("stored").order_by("id"):
                name = f"documents/{doc.sha256}.pdf"
                if name not in seen:
                    seen.add(name)
                    _add_object(zf, name, doc.stored)
            for volume in transfer.volumes.select_related("assembled").order_by("id"):
                if volume.assembled_id:
                    name = f"volumes/{volume.sha256}.pdf"
                    if name not in seen:
                        seen.add(name)
                        _add_object(zf, name, volume.assembled)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out
