"""The ingest pipeline: validate → normalise → hash/store → count pages → record.

Each step is a small object with a written contract (``label`` for the progress display, ``run``
that reads and extends the :class:`IngestContext`); :func:`run_pipeline` runs them in order,
reports progress after each, and always removes its temporary files (the ``cleanup`` contract).

A file that fails validation raises :class:`IngestRejected` with a specific Chinese message and
nothing is stored: validation runs on the staged copy, before anything reaches the object store.

Active content policy: a PDF with JavaScript, launch actions or embedded files is **rejected**,
not stripped. A dossier document is evidence; silently changing it would make the stored bytes
differ from what the author produced (and break any signature it carries). The uploader gets a
message naming what was found and can submit a clean export.

Clean PDFs are stored byte for byte as uploaded, so their SHA-256 matches the author's copy and any
signature inside stays valid. Images (JPEG/PNG/TIFF) are converted to PDF losslessly with img2pdf
(JPEG data is embedded unchanged), one A4 page per image or TIFF frame.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from casehub.dossier import probe
from casehub.dossier.limits import limit

logger = logging.getLogger(__name__)


class IngestRejected(Exception):
    """The file is not acceptable; ``message`` says why, in words the uploader understands."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- file type ---------------------------------------------------------------------------------

PDF, JPEG, PNG, TIFF = probe.PDF, probe.JPEG, probe.PNG, probe.TIFF
CONTENT_TYPES = {PDF: "application/pdf", JPEG: "image/jpeg", PNG: "image/png", TIFF: "image/tiff"}


def sniff(head: bytes) -> str | None:
    """The file type from its first bytes (never from the name or the browser's claim)."""
    if b"%PDF-" in head[:1024]:
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    return None


def check_size(size: int) -> None:
    maximum = limit("CASEHUB_UPLOAD_MAX_BYTES")
    if size > maximum:
        raise IngestRejected(
            _("文件大小 %(size)s 超过允许的上限 %(max)s。") % {"size": _human(size), "max": _human(maximum)},
            code="too_large",
        )
    if size == 0:
        raise IngestRejected(_("文件为空。"), code="empty")


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


# --- examining the file (in a bounded child process, see casehub.dossier.probe) ----------------

_LIMIT_NAMES = (
    "CASEHUB_PDF_MAX_PAGES", "CASEHUB_PDF_MAX_OBJECTS", "CASEHUB_PDF_MAX_STREAM_BYTES",
    "CASEHUB_PDF_MAX_DECODED_BYTES", "CASEHUB_PDF_MAX_OBJSTM_BYTES", "CASEHUB_IMAGE_MAX_PIXELS",
)


@dataclass
class PdfFacts:
    page_count: int


def _refusal_message(refusal: probe.Refusal) -> tuple[str, str]:
    """(code, message in the active language) for a refusal reported by the probe."""
    p = refusal.params
    bomb = _("PDF 文件解压后的数据量异常（超过 %(max)s），疑似“压缩炸弹”，不予接收。")
    damaged = _("PDF 文件已损坏或格式不正确，无法读取。")
    table: dict[str, tuple[str, Callable[[], str]]] = {
        "pdf_encrypted": ("encrypted", lambda: _("PDF 文件已加密（设置了打开密码或权限密码），请提交未加密的文件。")),
        "pdf_malformed": ("malformed", lambda: damaged),
        "unreadable": ("malformed", lambda: damaged),
        "pdf_no_pages": ("malformed", lambda: _("PDF 文件中没有任何页面。")),
        "pdf_too_many_pages": ("bomb", lambda: _("PDF 文件有 %(n)d 页，超过单个文件 %(max)d 页的上限，请拆分后上传。")
                               % {"n": p["n"], "max": p["max"]}),
        "pdf_ambiguous_pages": ("ambiguous", lambda: _(
            "PDF 文件的页面结构有歧义（不同解析器读出的页数不同：%(counts)s），不予接收。请用常规软件重新导出后上传。")
            % {"counts": p["counts"]}),
        "pdf_javascript": ("javascript", lambda: _(
            "PDF 文件包含 JavaScript 脚本，出于安全原因不予接收。请导出不含脚本的 PDF 后重新上传。")),
        "pdf_launch": ("launch", lambda: _("PDF 文件包含启动外部程序的动作（Launch），出于安全原因不予接收。")),
        "pdf_embedded": ("embedded", lambda: _("PDF 文件包含嵌入的附件文件，不予接收。请将附件作为单独的材料上传。")),
        "pdf_too_many_objects": ("bomb", lambda: _("PDF 文件包含的对象数超过上限（%(max)d），疑似“压缩炸弹”，不予接收。")
                                 % {"max": p["max"]}),
        "pdf_stream_bomb": ("bomb", lambda: bomb % {"max": _human(p["max"])}),
        "pdf_objstm_bomb": ("bomb", lambda: bomb % {"max": _human(p["max"])}),
        "pdf_pixels": ("pixels", lambda: _("PDF 中的图像像素数（%(w)d×%(h)d）超过上限 %(max)d。")
                       % {"w": p["w"], "h": p["h"], "max": p["max"]}),
        "image_pixels": ("pixels", lambda: _("图像像素数（%(w)d×%(h)d）超过上限 %(max)d，请降低扫描分辨率后重新上传。")
                         % {"w": p["w"], "h": p["h"], "max": p["max"]}),
        "image_pixels_unknown": ("pixels", lambda: _("图像像素数超过上限 %(max)d。") % {"max": p["max"]}),
        "image_malformed": ("malformed_image", lambda: _("图像文件已损坏或不完整，无法读取。")),
        "resources": ("bomb", lambda: _(
            "检查文件所需的内存超过上限（%(max)s），疑似“压缩炸弹”，不予接收。") % {"max": _human(_budget().memory)}),
        "timeout": ("timeout", lambda: _("检查文件超过了 %(seconds)d 秒的时间上限，文件结构异常，不予接收。")
                    % {"seconds": _budget().seconds}),
    }
    code, message = table.get(refusal.reason, ("malformed", lambda: damaged))
    return code, message()


def _budget() -> probe.Budget:
    return probe.Budget(memory=limit("CASEHUB_INGEST_MEMORY_BYTES"), seconds=limit("CASEHUB_INGEST_SECONDS"))


def examine(kind: str, source: Path, workdir: Path) -> dict[str, Any]:
    """Examine an upload in the bounded child process (:mod:`casehub.dossier.probe`); returns
    ``{"page_count": n, "converted": path-or-None}`` or raises :class:`IngestRejected`."""
    limits = {name: limit(name) for name in _LIMIT_NAMES}
    try:
        return probe.run(kind, source, workdir, limits, _budget())
    except probe.Refusal as refusal:
        code, message = _refusal_message(refusal)
        logger.info("upload %s refused: %s %s", source.name, refusal.reason, refusal.params)
        raise IngestRejected(message, code=code) from None


def inspect_pdf(path: Path) -> PdfFacts:
    """Validate a PDF (see :func:`casehub.dossier.probe.examine_pdf`) within the ingest budget.

    Raises :class:`IngestRejected`; returns the page count otherwise.
    """
    workdir = Path(tempfile.mkdtemp(prefix="casehub-probe-"))
    try:
        return PdfFacts(page_count=examine(PDF, Path(path), workdir)["page_count"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- the pipeline ------------------------------------------------------------------------------


@dataclass
class IngestContext:
    source: Path  # the staged upload; removed by the caller
    workdir: Path  # temporary files of this run; removed by run_pipeline
    size: int = 0
    kind: str | None = None
    original_sha256: str = ""
    pdf_path: Path | None = None
    page_count: int = 0
    converted: bool = False
    stored: Any = None  # objectstore.StoredObject
    document: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    run: Callable[[IngestContext], None]


def file_sha256(path: Path | str) -> str | None:
    """SHA-256 of a file read in 1 MiB pieces; None when it cannot be read (gone already)."""
    import hashlib

    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def step_validate(ctx: IngestContext) -> None:
    ctx.size = ctx.source.stat().st_size
    check_size(ctx.size)
    with ctx.source.open("rb") as fh:
        head = fh.read(1024)
    ctx.kind = sniff(head)
    if ctx.kind is None:
        raise IngestRejected(_("不支持的文件类型：只接受 PDF 文件或 JPEG、PNG、TIFF 格式的扫描图像。"),
                             code="unsupported")
    ctx.original_sha256 = file_sha256(ctx.source)
    # Checks, page count and (for images) the conversion to PDF all run in the bounded child:
    # this process never parses the uploaded bytes (THREAT_MODEL.md F18.18).
    result = examine(ctx.kind, ctx.source, ctx.workdir)
    ctx.page_count = int(result["page_count"])
    ctx.extra["converted"] = result["converted"]


def step_normalise(ctx: IngestContext) -> None:
    if ctx.kind == PDF:
        ctx.pdf_path = ctx.source
        return
    converted = ctx.extra.get("converted")
    if not converted or not Path(converted).is_file():
        raise IngestRejected(_("图像文件已损坏或不完整，无法读取。"), code="malformed_image")
    ctx.pdf_path = Path(converted)
    ctx.converted = True


def step_count_pages(ctx: IngestContext) -> None:
    """The page count was taken in the examination, where every reader had to agree on it
    (a PDF) or where the conversion made one page per frame (an image); it is not re-read here,
    in the unbounded process."""
    assert ctx.pdf_path is not None
    if ctx.page_count < 1:
        raise IngestRejected(_("PDF 文件中没有任何页面。"), code="malformed")


def run_pipeline(
    ctx: IngestContext, steps: list[Step], progress: Callable[[Step, int], None] | None = None
) -> IngestContext:
    """Run ``steps`` in order; report (step, percent) before each and 100 % at the end."""
    for index, step in enumerate(steps):
        if progress:
            progress(step, int(100 * index / len(steps)))
        step.run(ctx)
    return ctx


def work_root() -> Path:
    """Where ingest and assembly keep their plaintext working copies (one ``tmp*`` directory per run)."""
    from django.conf import settings

    base = Path(settings.DATA_DIR) / "ingest" / "work"
    base.mkdir(parents=True, exist_ok=True)
    return base


def make_workdir() -> Path:
    """A private working directory for one run; the run removes it, the stale-upload purge removes
    what a killed worker left behind."""
    return Path(tempfile.mkdtemp(dir=work_root()))


def remove_quietly(path: Path | str | None) -> None:
    if not path:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
