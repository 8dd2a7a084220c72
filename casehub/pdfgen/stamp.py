"""Stamping the volume page number into the top-right corner of a page (pikepdf).

The number is drawn as real text in Helvetica (a standard-14 font: nothing to embed), so it can
be extracted and searched. The page's own content is wrapped in ``q … Q`` first, so whatever
graphics state it leaves behind cannot move or hide the stamp.
"""

from __future__ import annotations

import pikepdf
from pikepdf import Array, Dictionary, Name

FONT_NAME = "/CHStampF"
FONT_SIZE = 12.0
MARGIN = 20.0  # points from the visible page edges
_DIGIT_WIDTH = 0.556  # Helvetica digit advance per point of font size


def stamp_font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    """An indirect Helvetica font object to share across every stamped page of ``pdf``."""
    return pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica, Encoding=Name.WinAnsiEncoding)
    )


def _display_matrix(box: list[float], rotate: int) -> tuple[tuple[float, ...], float, float]:
    """Matrix mapping upright display coordinates to user space, and the display width/height.

    /Rotate turns the page clockwise when shown; the stamp must sit top-right of what the reader
    sees, so it is drawn in display coordinates and mapped back.
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    rotate %= 360
    if rotate == 90:
        return (0, 1, -1, 0, x1, y0), h, w
    if rotate == 180:
        return (-1, 0, 0, -1, x1, y1), w, h
    if rotate == 270:
        return (0, -1, 1, 0, x0, y1), h, w
    return (1, 0, 0, 1, x0, y0), w, h


def stamp_page_number(pdf: pikepdf.Pdf, page: pikepdf.Page, number: int, font: pikepdf.Object) -> None:
    """Draw ``number`` in the top-right corner of ``page`` as it is displayed."""
    raw_box = page.obj.get("/CropBox") or page.mediabox
    coords = [float(v) for v in raw_box]
    box = [min(coords[0], coords[2]), min(coords[1], coords[3]), max(coords[0], coords[2]), max(coords[1], coords[3])]
    rotate = int(page.obj.get("/Rotate", 0))
    matrix, width, height = _display_matrix(box, rotate)
    text = str(int(number))
    x = width - MARGIN - len(text) * _DIGIT_WIDTH * FONT_SIZE
    y = height - MARGIN - FONT_SIZE
    resources = page.obj.get("/Resources")
    if resources is None:
        page.obj.Resources = resources = Dictionary()
    fonts = resources.get("/Font")
    if fonts is None:
        resources.Font = fonts = Dictionary()
    fonts[FONT_NAME] = font
    m = " ".join(f"{v:g}" for v in matrix)
    stamp = (
        f"Q q {m} cm BT 0 g {FONT_NAME} {FONT_SIZE:g} Tf {x:.2f} {y:.2f} Td ({text}) Tj ET Q\n"
    ).encode("ascii")
    page.contents_add(pikepdf.Stream(pdf, b"q\n"), prepend=True)
    page.contents_add(pikepdf.Stream(pdf, stamp), prepend=False)


__all__ = ["Array", "stamp_font", "stamp_page_number"]
