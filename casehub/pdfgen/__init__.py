"""Shared PDF generation: Chinese legal forms, volume contents pages and page stamps.

The CJK font is Noto Serif SC, shipped by the pinned PyPI package ``pylopdf-fonts-zh-cn`` (SIL OFL
1.1), so ``make install`` brings it and no operating-system font is needed. fpdf2 embeds only the
glyphs a document uses (a subset), so a one-page certificate stays around 10-30 KB.

Everything a caller passes is drawn as literal text: no markdown, no HTML, no markup of any kind.
"""

from __future__ import annotations

from casehub.pdfgen.contents import ContentsRow, render_contents
from casehub.pdfgen.fonts import cjk_font_path
from casehub.pdfgen.forms import render_form
from casehub.pdfgen.stamp import stamp_page_number

__all__ = ["ContentsRow", "cjk_font_path", "render_contents", "render_form", "stamp_page_number"]
