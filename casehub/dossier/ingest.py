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

import io
import logging
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import img2pdf
import pikepdf
import pypdf
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from casehub.dossier.limits import limit

logger = logging.getLogger(__name__)


class IngestRejected(Exception):
    """The file is not acceptable; ``message`` says why, in words the uploader understands."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- file type ---------------------------------------------------------------------------------

PDF, JPEG, PNG, TIFF = "pdf", "jpeg", "png", "tiff"
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


# --- PDF checks --------------------------------------------------------------------------------

_JS_KEYS = {"/JS", "/JavaScript"}
_EMBEDDED_KEYS = {"/EmbeddedFiles", "/EF", "/RichMedia"}


@dataclass
class PdfFacts:
    page_count: int
    findings: set[str] = field(default_factory=set)


def _walk(obj: Any, depth: int = 0) -> Iterator[pikepdf.Dictionary]:
    """Direct dictionaries inside one indirect object (indirect children are visited on their own)."""
    if depth > 64:
        return
    if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        yield obj
        for _key, value in obj.items():
            if isinstance(value, pikepdf.Dictionary | pikepdf.Array) and not value.is_indirect:
                yield from _walk(value, depth + 1)
    elif isinstance(obj, pikepdf.Array):
        for value in obj:
            if isinstance(value, pikepdf.Dictionary | pikepdf.Array) and not value.is_indirect:
                yield from _walk(value, depth + 1)


def _is_javascript_uri(value: Any) -> bool:
    try:
        text = bytes(value).decode("latin-1") if value is not None else ""
    except (TypeError, ValueError):
        return False
    return text.strip().lower().replace("\x00", "").startswith(("javascript:", "vbscript:"))


def _inflated_size(raw: bytes, cap: int) -> int:
    """Size of the zlib-inflated ``raw``, counting at most ``cap + 1`` bytes (never allocating more
    than 1 MiB at a time): the decompression-bomb probe."""
    inflater = zlib.decompressobj()
    total = 0
    data = raw
    try:
        while data and total <= cap:
            out = inflater.decompress(data, 1 << 20)
            total += len(out)
            data = inflater.unconsumed_tail
    except zlib.error:
        pass  # a damaged stream is for the reader to cope with; it cannot be a bomb past here
    return total


def _filters(stream: pikepdf.Stream) -> list[str]:
    value = stream.get("/Filter")
    if value is None:
        return []
    if isinstance(value, pikepdf.Array):
        return [str(v) for v in value]
    return [str(value)]


def inspect_pdf(path: Path) -> PdfFacts:
    """Validate a PDF: readable by pypdf, not encrypted, within the bomb limits, no active content.

    Raises :class:`IngestRejected`; returns the page count otherwise.
    """
    try:
        reader = pypdf.PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            raise IngestRejected(
                _("PDF 文件已加密（设置了打开密码或权限密码），请提交未加密的文件。"), code="encrypted"
            )
        page_count = len(reader.pages)
    except IngestRejected:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        logger.info("pypdf could not read %s: %r", path.name, exc)
        raise IngestRejected(_("PDF 文件已损坏或格式不正确，无法读取。"), code="malformed") from exc
    if page_count == 0:
        raise IngestRejected(_("PDF 文件中没有任何页面。"), code="malformed")
    max_pages = limit("CASEHUB_PDF_MAX_PAGES")
    if page_count > max_pages:
        raise IngestRejected(
            _("PDF 文件有 %(n)d 页，超过单个文件 %(max)d 页的上限，请拆分后上传。") % {"n": page_count, "max": max_pages},
            code="bomb",
        )
    try:
        pdf = pikepdf.open(str(path))
    except pikepdf.PasswordError as exc:
        raise IngestRejected(_("PDF 文件已加密（设置了打开密码或权限密码），请提交未加密的文件。"),
                             code="encrypted") from exc
    except pikepdf.PdfError as exc:
        raise IngestRejected(_("PDF 文件已损坏或格式不正确，无法读取。"), code="malformed") from exc
    with pdf:
        try:
            qpdf_pages = len(pdf.pages)
        except pikepdf.PdfError as exc:
            raise IngestRejected(_("PDF 文件已损坏或格式不正确，无法读取。"), code="malformed") from exc
        if qpdf_pages != page_count:
            # The two parsers read a different page tree: a damaged or deliberately ambiguous file
            # that would be counted, stamped and shown differently by different readers.
            logger.info("page trees disagree in %s: pypdf %d, qpdf %d", path.name, page_count, qpdf_pages)
            raise IngestRejected(_("PDF 文件的页面结构有歧义或已损坏（不同解析器读出的页数不同），不予接收。"),
                                 code="malformed")
        facts = PdfFacts(page_count=page_count)
        _scan_objects(pdf, facts)
    if "javascript" in facts.findings:
        raise IngestRejected(
            _("PDF 文件包含 JavaScript 脚本，出于安全原因不予接收。请导出不含脚本的 PDF 后重新上传。"),
            code="javascript",
        )
    if "launch" in facts.findings:
        raise IngestRejected(
            _("PDF 文件包含启动外部程序的动作（Launch），出于安全原因不予接收。"), code="launch"
        )
    if "embedded" in facts.findings:
        raise IngestRejected(
            _("PDF 文件包含嵌入的附件文件，不予接收。请将附件作为单独的材料上传。"), code="embedded"
        )
    return facts


def _scan_objects(pdf: pikepdf.Pdf, facts: PdfFacts) -> None:
    max_objects = limit("CASEHUB_PDF_MAX_OBJECTS")
    max_stream = limit("CASEHUB_PDF_MAX_STREAM_BYTES")
    max_total = limit("CASEHUB_PDF_MAX_DECODED_BYTES")
    max_pixels = limit("CASEHUB_IMAGE_MAX_PIXELS")
    bomb = _("PDF 文件解压后的数据量异常（超过 %(max)s），疑似“压缩炸弹”，不予接收。")
    if len(pdf.objects) > max_objects:
        raise IngestRejected(
            _("PDF 文件包含的对象数超过上限（%(max)d），疑似“压缩炸弹”，不予接收。") % {"max": max_objects},
            code="bomb",
        )
    total = 0
    for obj in pdf.objects:
        for node in _walk(obj):
            keys = set(node.keys())
            action = node.get("/S")
            if keys & _JS_KEYS or action == pikepdf.Name.JavaScript:
                facts.findings.add("javascript")
            elif action == pikepdf.Name.URI and _is_javascript_uri(node.get("/URI")):
                facts.findings.add("javascript")  # a link that runs script in some viewers
            if node.get("/S") == pikepdf.Name.Launch:
                facts.findings.add("launch")
            if keys & _EMBEDDED_KEYS or node.get("/Subtype") == pikepdf.Name.FileAttachment:
                facts.findings.add("embedded")
        if not isinstance(obj, pikepdf.Stream):
            continue
        if obj.get("/Subtype") == pikepdf.Name.Image:
            width, height = int(obj.get("/Width", 0)), int(obj.get("/Height", 0))
            if width * height > max_pixels:
                raise IngestRejected(
                    _("PDF 中的图像像素数（%(w)d×%(h)d）超过上限 %(max)d。") % {"w": width, "h": height, "max": max_pixels},
                    code="pixels",
                )
        filters = _filters(obj)
        if filters and filters[0] in ("/FlateDecode", "/Fl"):
            size = _inflated_size(obj.read_raw_bytes(), max_stream)
            if size > max_stream:
                raise IngestRejected(bomb % {"max": _human(max_stream)}, code="bomb")
            total += size
            if total > max_total:
                raise IngestRejected(bomb % {"max": _human(max_total)}, code="bomb")


# --- images ------------------------------------------------------------------------------------

A4_PT = (img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297))
_A4_LAYOUT = img2pdf.get_layout_fun(A4_PT, fit=img2pdf.FitMode.into, auto_orient=True)


def inspect_image(path: Path) -> int:
    """Check an image (every TIFF frame): readable, complete, within the pixel limit. Returns
    the number of frames (pages it will become)."""
    max_pixels = limit("CASEHUB_IMAGE_MAX_PIXELS")
    too_big = _("图像像素数（%(w)d×%(h)d）超过上限 %(max)d，请降低扫描分辨率后重新上传。")
    try:
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            for index in range(frames):
                im.seek(index)
                width, height = im.size
                if width * height > max_pixels:
                    raise IngestRejected(too_big % {"w": width, "h": height, "max": max_pixels}, code="pixels")
                im.load()  # decodes the frame: a truncated or corrupt file fails here
            return frames
    except IngestRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise IngestRejected(_("图像像素数超过上限 %(max)d。") % {"max": max_pixels}, code="pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError) as exc:
        # Pillow's decoders raise TypeError too (e.g. "Missing dimensions" for a bare header).
        raise IngestRejected(_("图像文件已损坏或不完整，无法读取。"), code="malformed_image") from exc


def image_to_pdf(path: Path, out: Path) -> None:
    """Convert an image file to a PDF at ``out``: one A4 page per image or frame, lossless."""
    try:
        data = img2pdf.convert(str(path), layout_fun=_A4_LAYOUT, rotation=img2pdf.Rotation.ifvalid)
    except Exception:
        # img2pdf parses PNG/JPEG itself and raises bare Exceptions for files Pillow accepted
        # (bad chunk lengths), as well as for transparency and exotic modes. Re-encode each frame
        # through Pillow, flattened onto white (lossless for what a reader sees), and retry once.
        try:
            data = img2pdf.convert(list(_flattened_frames(path)), layout_fun=_A4_LAYOUT)
        except Exception as exc:
            raise IngestRejected(_("图像文件已损坏或不完整，无法读取。"), code="malformed_image") from exc
    out.write_bytes(data)


def _flattened_frames(path: Path) -> Iterator[bytes]:
    with Image.open(path) as im:
        for index in range(getattr(im, "n_frames", 1)):
            im.seek(index)
            frame = im.convert("RGBA")
            flat = Image.new("RGB", frame.size, "white")
            flat.paste(frame, mask=frame.getchannel("A"))
            buf = io.BytesIO()
            flat.save(buf, format="PNG", dpi=im.info.get("dpi", (300, 300)))
            yield buf.getvalue()


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


def step_validate(ctx: IngestContext) -> None:
    import hashlib

    ctx.size = ctx.source.stat().st_size
    check_size(ctx.size)
    with ctx.source.open("rb") as fh:
        head = fh.read(1024)
    ctx.kind = sniff(head)
    if ctx.kind is None:
        raise IngestRejected(_("不支持的文件类型：只接受 PDF 文件或 JPEG、PNG、TIFF 格式的扫描图像。"),
                             code="unsupported")
    digest = hashlib.sha256()
    with ctx.source.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    ctx.original_sha256 = digest.hexdigest()
    if ctx.kind == PDF:
        ctx.page_count = inspect_pdf(ctx.source).page_count
    else:
        ctx.page_count = inspect_image(ctx.source)


def step_normalise(ctx: IngestContext) -> None:
    if ctx.kind == PDF:
        ctx.pdf_path = ctx.source
        return
    out = ctx.workdir / "converted.pdf"
    image_to_pdf(ctx.source, out)
    ctx.pdf_path = out
    ctx.converted = True


def step_count_pages(ctx: IngestContext) -> None:
    assert ctx.pdf_path is not None
    with pikepdf.open(str(ctx.pdf_path)) as pdf:
        ctx.page_count = len(pdf.pages)


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
