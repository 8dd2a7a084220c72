"""The contents page 卷内目录 of an assembled volume."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fpdf import FPDF

from casehub.pdfgen.fonts import FONT_FAMILY, new_document


@dataclass(frozen=True)
class ContentsRow:
    number: int
    title: str
    author: str
    date: str  # already formatted, e.g. 2026-11-25 or "" when unknown
    pages: str  # page range in the volume, e.g. "3-7" or "8"


def _clean(text: str) -> str:
    return "".join(ch for ch in str(text) if ch >= " ")


class _ContentsPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(FONT_FAMILY, size=9)
        self.cell(0, 6, f"卷内目录 第 {self.page_no()} 页 共 {{nb}} 页", align="C")


_COLUMNS = (("序号", 12, "C"), ("责任者", 40, "L"), ("题名", 0, "L"), ("日期", 26, "C"), ("页号", 20, "C"))
_LINE = 5.2  # mm per text line at 10 pt
_PAD = 1.6  # mm inside each cell
_BOTTOM = 42  # mm kept free at the foot: the agency's visible signature stamp goes there


def _wrap(pdf: FPDF, text: str, width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` mm, at any character (Chinese has no
    spaces to break at). Much cheaper than fpdf2's multi_cell for a table of many rows."""
    lines, current, used = [], "", 0.0
    for ch in text:
        w = pdf.get_string_width(ch)
        if current and used + w > width:
            lines.append(current)
            current, used = "", 0.0
        current += ch
        used += w
    lines.append(current)
    return lines


def render_contents(
    heading: str,
    rows: Sequence[ContentsRow],
    *,
    subtitle_lines: Sequence[str] = (),
    creation_date: datetime | None = None,
) -> bytes:
    """Render 卷内目录: heading, subtitle lines (case, volume), then one row per document.

    Columns follow the customary paper form: 序号, 责任者, 题名, 日期, 页号. The header row repeats
    on every page when a volume has many documents. ``creation_date`` pins the PDF's date so
    re-assembling unchanged input gives identical bytes. The table is laid out by hand (text and
    rectangles): fpdf2's table/multi_cell machinery costs about 1 ms per cell, which for a
    40-document volume was most of the assembly time.
    """
    text = "".join([heading, *subtitle_lines, "序号责任者题名日期页号卷内目录第页共0123456789 "]
                   + [f"{r.number}{r.title}{r.author}{r.date}{r.pages}" for r in rows])
    pdf = new_document(title=_clean(heading), creation_date=creation_date, cls=_ContentsPDF, text=_clean(text))
    pdf.alias_nb_pages()
    pdf.set_margins(left=18, top=20, right=18)
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, size=20)
    pdf.cell(0, 12, _clean(heading), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, size=11)
    for line in subtitle_lines:
        pdf.multi_cell(0, 7, _clean(line), align="C", wrapmode="CHAR", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FONT_FAMILY, size=10)
    fixed = sum(w for _label, w, _align in _COLUMNS)
    widths = [w or (pdf.epw - fixed) for _label, w, _align in _COLUMNS]
    aligns = [align for _label, _w, align in _COLUMNS]
    bottom = pdf.h - _BOTTOM
    y = pdf.get_y()

    def draw_row(cells: list[str], top: float, *, header: bool = False) -> float:
        wrapped = [_wrap(pdf, cell, width - 2 * _PAD) for cell, width in zip(cells, widths, strict=True)]
        height = max(len(lines) for lines in wrapped) * _LINE + 2 * _PAD
        x = pdf.l_margin
        for lines, width, align in zip(wrapped, widths, aligns, strict=True):
            if header:
                pdf.set_fill_color(235, 235, 235)
                pdf.rect(x, top, width, height, style="DF")
            else:
                pdf.rect(x, top, width, height)
            for index, line in enumerate(lines):
                line_width = pdf.get_string_width(line)
                if header or align == "C":
                    tx = x + (width - line_width) / 2
                else:
                    tx = x + _PAD
                pdf.text(tx, top + _PAD + (index + 1) * _LINE - 1.3, line)
            x += width
        return height

    header = [label for label, _w, _align in _COLUMNS]
    y += draw_row(header, y, header=True)
    for row in rows:
        cells = [str(row.number), _clean(row.author), _clean(row.title), _clean(row.date), _clean(row.pages)]
        needed = max(len(_wrap(pdf, c, w - 2 * _PAD)) for c, w in zip(cells, widths, strict=True)) * _LINE + 2 * _PAD
        if y + needed > bottom:
            pdf.add_page()
            y = pdf.t_margin
            y += draw_row(header, y, header=True)
        y += draw_row(cells, y)
    return bytes(pdf.output())
