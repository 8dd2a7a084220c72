"""Generated legal documents (换押证, 决定书, 送达回证, 起诉意见书 …) as A4 PDFs."""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF

from casehub.pdfgen.fonts import FONT_FAMILY, new_document

# Two full-width spaces: the first-line indent of a Chinese paragraph.
_INDENT = "\u3000\u3000"
_LINE = 7.5  # mm between lines of 12 pt text


class _FormPDF(FPDF):
    """Adds 第 X 页 共 Y 页 at the foot of every page, and the draft watermark when set."""

    watermark: str = ""

    def header(self) -> None:
        if not self.watermark:
            return
        # Drawn first, in light grey, so the text of the page stays readable over it.
        self.set_font(FONT_FAMILY, size=44)
        self.set_text_color(215, 215, 215)
        x, y = self.w / 2, self.h / 2
        with self.rotation(45, x, y):
            width = self.get_string_width(self.watermark)
            self.text(x - width / 2, y, self.watermark)
        self.set_text_color(0, 0, 0)
        self.set_font(FONT_FAMILY, size=12)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font(FONT_FAMILY, size=9)
        self.cell(0, 6, f"第 {self.page_no()} 页 共 {{nb}} 页", align="C")


def _clean(text: str) -> str:
    # Control characters other than newlines would reach the content stream as garbage glyphs.
    return "".join(ch for ch in str(text) if ch == "\n" or ch >= " ")


def render_form(
    title: str,
    *,
    number: str = "",
    fields: Sequence[tuple[str, str]] = (),
    paragraphs: Sequence[str] = (),
    footer_lines: Sequence[str] = (),
    watermark: str = "",
) -> bytes:
    """Render a generated legal document and return the PDF bytes.

    Layout: centred title; the document number right-aligned under it; a two-column table of
    ``fields`` (label, value); body ``paragraphs`` with the customary two-character indent;
    ``footer_lines`` (issuing agency, date, "（印）" …) right-aligned at the end. Long content
    flows onto further pages, each numbered 第 X 页 共 Y 页. All strings are drawn literally.
    ``watermark`` (e.g. "草稿 仅供预览") is drawn diagonally across every page: a preview, never
    a document that is filed or signed.
    """
    text = "".join([title, number, *(a + b for a, b in fields), *paragraphs, *footer_lines, watermark,
                    "第页共0123456789 "])
    pdf = new_document(title=_clean(title), cls=_FormPDF, text=_clean(text).replace("\n", ""))
    pdf.watermark = _clean(watermark).replace("\n", " ")
    pdf.set_auto_page_break(auto=True, margin=22)
    pdf.alias_nb_pages()
    pdf.add_page()

    pdf.set_font(FONT_FAMILY, size=20)
    pdf.multi_cell(0, 11, _clean(title), align="C", wrapmode="CHAR", new_x="LMARGIN", new_y="NEXT")
    if number:
        pdf.set_font(FONT_FAMILY, size=12)
        pdf.multi_cell(0, _LINE, _clean(number), align="R", wrapmode="CHAR", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    if fields:
        pdf.set_font(FONT_FAMILY, size=11)
        label_width = 38
        with pdf.table(
            col_widths=(label_width, pdf.epw - label_width), text_align=("CENTER", "LEFT"),
            first_row_as_headings=False, line_height=_LINE, wrapmode="CHAR", markdown=False,
        ) as table:
            for label, value in fields:
                row = table.row()
                row.cell(_clean(label))
                row.cell(_clean(value))
        pdf.ln(4)

    pdf.set_font(FONT_FAMILY, size=12)
    for paragraph in paragraphs:
        for line in _clean(paragraph).split("\n"):
            pdf.multi_cell(0, _LINE, _INDENT + line, wrapmode="CHAR", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)

    if footer_lines:
        pdf.ln(8)
        for line in footer_lines:
            pdf.multi_cell(0, _LINE, _clean(line), align="R", wrapmode="CHAR", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())

