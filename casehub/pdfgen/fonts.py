"""Where the CJK font lives, and a preconfigured fpdf2 document that uses it.

The font is Noto Serif SC (OpenType/CFF, 65,000 glyphs, 11 MB) from the pinned PyPI package
``pylopdf-fonts-zh-cn``. Parsing and subsetting the full CFF font costs fpdf2 over a second per
document, so for everyday text we derive once, and cache on disk, a TrueType copy holding only the
GB 2312 characters (the 7,500 characters of ordinary Chinese text plus ASCII): fpdf2 handles it in
about 0.1 s. Text with any character outside that set (rare characters in names, 生僻字) is set in
the full font instead, so nothing ever renders as a missing glyph.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import pylopdf_fonts_zh_cn
from fpdf import FPDF

logger = logging.getLogger(__name__)

FONT_FAMILY = "notoserifsc"
_CACHE_VERSION = "3"
_build_lock = threading.Lock()


def cjk_font_path() -> Path:
    """The OpenType file of Noto Serif SC (Simplified Chinese), installed with the project."""
    path = Path(pylopdf_fonts_zh_cn.serif_path())
    if not path.is_file():  # a broken install must fail loudly, not render tofu
        raise FileNotFoundError(f"CJK font missing at {path}; reinstall pylopdf-fonts-zh-cn")
    return path


@lru_cache(maxsize=1)
def common_chars() -> frozenset[str]:
    """GB 2312 (levels 1 and 2, symbols, full-width forms) plus printable ASCII."""
    chars = {chr(c) for c in range(0x20, 0x7F)}
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes((hi, lo)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    # Outside GB 2312 but common in legal documents: 〇 in dates (二〇二六年), dashes, quotes, ×.
    chars.update("\u3007\u3000\u00b7\u2014\u2013\u2026\u201c\u201d\u2018\u2019\u00d7\u2022\uff5e\u2460\u2461\u2462")
    return frozenset(chars)


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "casehub" / "fonts"
    try:
        base.mkdir(parents=True, exist_ok=True)
        if os.access(base, os.W_OK):
            return base
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir()) / "casehub-fonts"
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def common_font_path() -> Path:
    """The cached TrueType GB 2312 subset of the CJK font, built on first use (≈20 s, once)."""
    source = cjk_font_path()
    stat = source.stat()
    key = hashlib.sha256(f"{_CACHE_VERSION}:{source.name}:{stat.st_size}".encode()).hexdigest()[:16]
    target = _cache_dir() / f"NotoSerifSC-GB2312-{key}.ttf"
    if target.is_file():
        return target
    with _build_lock:
        if not target.is_file():
            logger.info("building the GB 2312 TrueType subset of %s (once)", source.name)
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            _build_truetype_subset(source, tmp, "".join(sorted(common_chars())))
            os.replace(tmp, target)  # atomic: concurrent builders each write a complete file
    return target


def _build_truetype_subset(source: Path, out: Path, text: str) -> None:
    """Subset the CFF font to ``text`` and convert its outlines to TrueType quadratics."""
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    font = subset.load_font(str(source), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)

    glyph_set = font.getGlyphSet()
    order = font.getGlyphOrder()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    for table in ("CFF ", "VORG"):
        if table in font:
            del font[table]
    font.sfntVersion = "\x00\x01\x00\x00"
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    font["head"].glyphDataFormat = 0
    font["head"].indexToLocFormat = 0
    # No glyph names (post format 3): nothing needs them, and reading 7,500 names costs fpdf2
    # a tenth of its load time.
    font["post"].formatType = 3.0
    font.recalcBBoxes = True  # the new glyf outlines need their bounding boxes computed
    font.save(str(out))
    font.close()


def font_path_for(text: str) -> Path:
    """The fast common subset when it covers ``text``, the full font otherwise."""
    if set(text) <= common_chars():
        try:
            return common_font_path()
        except Exception:  # a cache that cannot be built must not stop a document
            logger.exception("could not build the common CJK font subset; using the full font")
    return cjk_font_path()


def new_document(
    *, title: str = "", creation_date: datetime | None = None, cls: type[FPDF] = FPDF, text: str | None = None
) -> FPDF:
    """An A4 portrait fpdf2 document with the CJK font registered and selected.

    ``text`` is everything the document will draw, to choose the font file (see module doc);
    without it the full font is used. ``creation_date`` fixes the document's date (volume
    assembly uses it so the same input gives the same bytes); by default it is now.
    """
    pdf = cls(orientation="P", unit="mm", format="A4")
    font = font_path_for(text + title) if text is not None else cjk_font_path()
    pdf.add_font(FONT_FAMILY, "", str(font))
    pdf.set_font(FONT_FAMILY, size=12)
    pdf.set_creator("casehub")
    pdf.set_producer("casehub pdfgen")
    if title:
        pdf.set_title(title)
    pdf.set_creation_date(creation_date or datetime.now(UTC))
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(left=25, top=25, right=25)
    return pdf
