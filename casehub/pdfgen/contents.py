"""The contents page 卷内目录 of an assembled volume."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from fpdf import FPDF
from fpdf.fonts import FontFace

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


def render_contents(
    heading: str,
    rows: Sequence[ContentsRow],
    *,
    subtitle_lines: Sequence[str] = (),
    creation_date: datetime | None = None,
) -> bytes:
    """Render 卷内目录: heading, subtitle lines (case, volume), then one row per document.

    Columns follow the customary paper form: 序号, 责任者, 题名, 日期, 页号. The table header
    repeats on every page when a volume has many documents. ``creation_date`` pins the PDF's
    date so re-assembling unchanged input gives identical bytes.
    """
    pdf = new_document(title=_clean(heading), creation_date=creation_date, cls=_ContentsPDF)
    pdf.alias_nb_pages()
    pdf.set_margins(left=18, top=20, right=18)
    # Keep the bottom 42 mm free: the agency's visible signature stamp goes there.
    pdf.set_auto_page_break(auto=True, margin=42)
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, size=20)
    pdf.cell(0, 12, _clean(heading), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, size=11)
    for line in subtitle_lines:
        pdf.multi_cell(0, 7, _clean(line), align="C", wrapmode="CHAR", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FONT_FAMILY, size=10)
    widths = (12, 40, pdf.epw - 12 - 40 - 26 - 20, 26, 20)
    with pdf.table(
        col_widths=widths, text_align=("CENTER", "LEFT", "LEFT", "CENTER", "CENTER"), line_height=6.5,
        wrapmode="CHAR", markdown=False, num_heading_rows=1,
        headings_style=FontFace(emphasis="", fill_color=(235, 235, 235)),
    ) as table:
        head = table.row()
        for label in ("序号", "责任者", "题名", "日期", "页号"):
            head.cell(label)
        for row in rows:
            cells = table.row()
            cells.cell(str(row.number))
            cells.cell(_clean(row.author))
            cells.cell(_clean(row.title))
            cells.cell(_clean(row.date))
            cells.cell(_clean(row.pages))
    return bytes(pdf.output())
