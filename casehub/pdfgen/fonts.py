"""Where the CJK font lives, and a preconfigured fpdf2 document that uses it.

The font is Noto Serif SC (OpenType/CFF, 65,000 glyphs, 11 MB) from the pinned PyPI package
``pylopdf-fonts-zh-cn``. Parsing and subsetting the full CFF font costs fpdf2 over a second per
document, so for everyday text we derive once, and cache on disk, a TrueType copy holding only the
GB 2312 characters (the 7,500 characters of ordinary Chinese text plus ASCII): fpdf2 handles it in
about 0.1 s. Text with any character outside that set (rare characters in names, 生僻字) is set in
the full font instead, so nothing ever renders as a missing glyph.

Even the small font cost fpdf2 about 0.13 s per document to parse (``add_font``: cmap, metrics,
glyph names of 7,500 glyphs) and 0.08 s to subset at output. So each font file is parsed once per
process (:class:`_FontTemplate`); every document gets its own light font object sharing the
read-only tables, with its own record of the glyphs it uses. For the TrueType GB 2312 font the
file embedded at output is assembled from the raw glyph bytes of just those glyphs, instead of
fontTools loading and pruning the whole font again (see docs/performance.md).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import tempfile
import threading
from collections import defaultdict
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import pylopdf_fonts_zh_cn
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

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


def _common_font_target() -> Path:
    source = cjk_font_path()
    stat = source.stat()
    key = hashlib.sha256(f"{_CACHE_VERSION}:{source.name}:{stat.st_size}".encode()).hexdigest()[:16]
    return _cache_dir() / f"NotoSerifSC-GB2312-{key}.ttf"


def common_font_path() -> Path:
    """The cached TrueType GB 2312 subset of the CJK font, built on first use (≈20 s, once)."""
    source = cjk_font_path()
    target = _common_font_target()
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


class _FontTemplate:
    """One font file as fpdf2 sees it, parsed once: read-only after construction, shared by all
    documents and threads of the process."""

    # Tables copied (re-decompiled from their bytes, a few µs each) into each document's subset.
    _SMALL_TABLES = ("head", "hhea", "maxp", "OS/2", "name", "post")

    def __init__(self, path: Path):
        probe = FPDF()
        probe.add_font(FONT_FAMILY, "", str(path))
        font = probe.fonts[FONT_FAMILY]
        assert isinstance(font, TTFFont)
        self.path = path
        self.font = font  # the parsed fpdf2 font; its per-document state is never used
        self.default_width = font.cw.default_factory() if font.cw.default_factory else 0
        self.widths = dict(font.cw)
        ttfont = font.ttfont
        self.glyph_order: list[str] = list(ttfont.getGlyphOrder())
        self.raw_tables: dict[str, bytes] = {}
        self.glyph_data: dict[str, bytes] = {}
        self.metrics: dict[str, tuple[int, int]] = {}
        self.fast = self._can_assemble(ttfont)
        if self.fast:
            reader = ttfont.reader
            self.raw_tables = {tag: bytes(reader[tag]) for tag in self._SMALL_TABLES}
            glyf = bytes(reader["glyf"])
            loca = ttfont["loca"]
            self.glyph_data = {name: glyf[int(loca[i]):int(loca[i + 1])] for i, name in enumerate(self.glyph_order)}
            self.metrics = dict(ttfont["hmtx"].metrics)
            # Composite glyphs would need their components too: not assembled here, fall back.
            self.fast = all(len(data) < 2 or data[0] < 0x80 for data in self.glyph_data.values())
        if not self.fast:
            self.raw_tables, self.glyph_data, self.metrics = {}, {}, {}
        ttfont.close()  # everything needed later has been read; each document opens its own
        font.ttfont = None  # free the decompiled tables: 31 -> 19 MB kept for the full font

    @staticmethod
    def _can_assemble(ttfont) -> bool:
        needed = {"glyf", "loca", "hmtx", "cmap", *_FontTemplate._SMALL_TABLES}
        return needed <= set(ttfont.keys()) and ttfont["post"].formatType == 3.0

    def subset_ttfont(self, glyph_names: list[str], codepoints: dict[int, str]):
        """A fontTools font holding only ``glyph_names`` (and .notdef), named as in the full font,
        with the raw outlines copied byte for byte (no re-encoding, bounding boxes kept) and a
        cmap of ``codepoints`` (code point → glyph name; fpdf2 maps codes to glyphs itself)."""
        from fontTools.ttLib import TTFont, newTable
        from fontTools.ttLib.tables._c_m_a_p import CmapSubtable
        from fontTools.ttLib.tables._g_l_y_f import Glyph

        wanted = {".notdef", *glyph_names}
        order = [name for name in self.glyph_order if name in wanted]
        tt = TTFont(recalcBBoxes=False, recalcTimestamp=False)
        tt.setGlyphOrder(order)
        for tag, data in self.raw_tables.items():
            table = newTable(tag)
            table.decompile(data, tt)
            tt[tag] = table
        glyf = newTable("glyf")
        glyf.glyphOrder = order
        glyf.glyphs = {name: Glyph(self.glyph_data[name]) for name in order}
        tt["glyf"] = glyf
        tt["loca"] = newTable("loca")
        hmtx = newTable("hmtx")
        hmtx.metrics = {name: self.metrics[name] for name in order}
        tt["hmtx"] = hmtx
        cmap = newTable("cmap")
        cmap.tableVersion = 0
        mapping = {cp: name for cp, name in codepoints.items() if name in wanted and cp}
        subtable = CmapSubtable.newSubtable(12 if any(cp > 0xFFFF for cp in mapping) else 4)
        subtable.platformID, subtable.platEncID, subtable.language = 3, (10 if subtable.format == 12 else 1), 0
        subtable.cmap = mapping
        cmap.tables = [subtable]
        tt["cmap"] = cmap
        return tt


class _DocumentFont(TTFFont):
    """fpdf2's font object for one document: shares the template's parsed, read-only data and
    keeps its own used-glyph map, missing glyphs, descriptor and fontTools font for output."""

    __slots__ = ("template", "_own_ttfont")

    def __init__(self, template: _FontTemplate, index: int):  # noqa: PLW0231 - TTFFont.__init__ parses the file
        src = template.font
        self.template = template
        self._own_ttfont = None
        self.i = index
        self.type = "TTF"
        for attr in ("ttffile", "fontkey", "scale", "name", "up", "ut", "sp", "ss", "emphasis", "is_compressed",
                     "is_cff", "is_cid_keyed", "is_symbol", "cff_ros", "collection_font_number", "palette_index",
                     "color_font", "cmap", "glyph_ids"):
            setattr(self, attr, getattr(src, attr))  # immutable, or dicts nobody writes to
        self.desc = copy.copy(src.desc)  # output sets its name and object id
        default = template.default_width
        self.cw = defaultdict(lambda: default, template.widths)  # looking up a missing char inserts
        self.missing_glyphs = []
        self.biggest_size_pt = 0
        self._hbfont = None
        self.subset = SubsetMap(self)

    @property
    def ttfont(self):  # type: ignore[override]
        """Read only when the PDF is written (fpdf2 subsets it in place, then saves it): built then,
        from the glyphs this document used."""
        if self._own_ttfont is None:
            if self.template.fast:
                used = [glyph for glyph, _code in self.subset.items() if glyph is not None]
                codepoints = {cp: glyph.glyph_name for glyph in used for cp in glyph.unicode}
                self._own_ttfont = self.template.subset_ttfont([glyph.glyph_name for glyph in used], codepoints)
            else:
                from fontTools import ttLib

                self._own_ttfont = ttLib.TTFont(self.ttffile, recalcTimestamp=False,
                                                fontNumber=self.collection_font_number, lazy=True)
        return self._own_ttfont

    @ttfont.setter
    def ttfont(self, value) -> None:
        self._own_ttfont = value

    def __deepcopy__(self, memo):  # FPDFRecorder (unbreakable sections) copies the document's fonts
        clone = _DocumentFont(self.template, self.i)
        memo[id(self)] = clone  # the used-glyph map refers back to its font
        clone.cw = copy.deepcopy(self.cw, memo)
        clone.missing_glyphs = list(self.missing_glyphs)
        clone.subset = copy.deepcopy(self.subset, memo)
        clone.biggest_size_pt = self.biggest_size_pt
        clone.desc = self.desc
        return clone

    def close(self) -> None:
        if self._own_ttfont is not None:
            self._own_ttfont.close()
        self._hbfont = None


_templates: dict[Path, _FontTemplate] = {}
_templates_lock = threading.Lock()


def _template(path: Path) -> _FontTemplate:
    template = _templates.get(path)
    if template is None:
        with _templates_lock:
            template = _templates.get(path)
            if template is None:
                template = _templates[path] = _FontTemplate(path)
    return template


def _add_cjk_font(pdf: FPDF, path: Path) -> None:
    """``pdf.add_font(FONT_FAMILY, "", path)`` without parsing the font file again."""
    font = _DocumentFont(_template(path), len(pdf.fonts) + 1)
    pdf.fonts[FONT_FAMILY] = font
    if font.is_cff and font.is_cid_keyed:
        pdf._set_min_pdf_version("1.6")  # what FPDF.add_font does for such a font


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
    _add_cjk_font(pdf, font)
    pdf.set_font(FONT_FAMILY, size=12)
    pdf.set_creator("casehub")
    pdf.set_producer("casehub pdfgen")
    if title:
        pdf.set_title(title)
    pdf.set_creation_date(creation_date or datetime.now(UTC))
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(left=25, top=25, right=25)
    return pdf


def warm_up() -> None:
    """Do the one-time work of the first document now: parse the cached GB 2312 font file (about
    0.1 s). Web and worker processes call this at start (casehub.warmup), so their first request
    does not pay it. The file itself is not built here (``migrate`` builds it; building takes
    20 s, too long for a process start). Never raises: a failure only costs that speed later."""
    try:
        target = _common_font_target()
        if target.is_file():
            _template(target)
        else:
            logger.info("CJK font cache %s not built yet (manage.py migrate builds it)", target)
    except Exception:
        logger.exception("could not prepare the CJK font for documents")
