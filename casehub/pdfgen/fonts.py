"""Where the CJK font lives, and a preconfigured fpdf2 document that uses it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pylopdf_fonts_zh_cn
from fpdf import FPDF

FONT_FAMILY = "notoserifsc"


def cjk_font_path() -> Path:
    """The OpenType file of Noto Serif SC (Simplified Chinese), installed with the project."""
    path = Path(pylopdf_fonts_zh_cn.serif_path())
    if not path.is_file():  # a broken install must fail loudly, not render tofu
        raise FileNotFoundError(f"CJK font missing at {path}; reinstall pylopdf-fonts-zh-cn")
    return path


def new_document(
    *, title: str = "", creation_date: datetime | None = None, cls: type[FPDF] = FPDF
) -> FPDF:
    """An A4 portrait fpdf2 document with the CJK font registered and selected.

    ``creation_date`` fixes the document's date (used by volume assembly so the same input gives
    the same bytes); by default it is now.
    """
    pdf = cls(orientation="P", unit="mm", format="A4")
    pdf.add_font(FONT_FAMILY, "", str(cjk_font_path()))
    pdf.set_font(FONT_FAMILY, size=12)
    pdf.set_creator("casehub")
    pdf.set_producer("casehub pdfgen")
    if title:
        pdf.set_title(title)
    pdf.set_creation_date(creation_date or datetime.now(UTC))
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(left=25, top=25, right=25)
    return pdf
