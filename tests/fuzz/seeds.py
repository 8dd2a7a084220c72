"""Valid seed files and hostile building blocks for the fuzzers (built here, byte by byte)."""

from __future__ import annotations

import io
import zlib

import pikepdf
from PIL import Image


def pdf(pages: int = 1, text: str = "seed") -> bytes:
    doc = pikepdf.new()
    font = doc.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    for i in range(pages):
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page, MediaBox=[0, 0, 595, 842],
            Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
            Contents=doc.make_stream(f"BT /F1 12 Tf 72 700 Td ({text} {i}) Tj ET".encode()),
        )
        doc.pages.append(pikepdf.Page(page))
    buf = io.BytesIO()
    doc.save(buf, compress_streams=False)
    return buf.getvalue()


def image(fmt: str, size: tuple[int, int] = (32, 24), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color=(200, 10, 10) if mode == "RGB" else 128).save(buf, format=fmt)
    return buf.getvalue()


SEEDS: dict[str, bytes] = {}


def seeds() -> dict[str, bytes]:
    if not SEEDS:
        SEEDS.update({
            "pdf1": pdf(1),
            "pdf3": pdf(3, "three"),
            "jpeg": image("JPEG"),
            "png": image("PNG"),
            "tiff": image("TIFF", mode="L"),
        })
    return SEEDS


# Tokens that steer a mutated PDF toward the validator's interesting branches.
PDF_TOKENS = [
    b"/JavaScript", b"/JS (app.alert(1))", b"/Launch", b"/EmbeddedFiles", b"/EF", b"/RichMedia", b"/OpenAction",
    b"/Filter /FlateDecode", b"/Filter [/FlateDecode /FlateDecode]", b"/Length 999999999", b"/Length -1",
    b"/Encrypt 1 0 R", b"/Count 999999999", b"/Kids [1 0 R]", b"/Parent 3 0 R", b"/Type /Page",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", b"<<<<<<<<<<<<<<<<", b"obj", b"endobj", b"stream\n", b"endstream",
    b"xref\n0 1\n0000000000 65535 f \n", b"trailer << /Root 1 0 R /Size 1 >>", b"startxref\n0\n%%EOF",
    b"%PDF-1.7\n", b"\x00" * 16, b"\xff" * 16, b"/URI (javascript:alert(1))", b"/S /URI",
]


def flate_bomb(decoded: int = 64 * 1024 * 1024) -> bytes:
    """A PDF with one stream that inflates to ``decoded`` bytes of zeros (a compression bomb)."""
    data = zlib.compress(b"\x00" * decoded, 9)
    doc = pikepdf.new()
    doc.add_blank_page(page_size=(595, 842))
    stream = doc.make_stream(b"")
    stream.write(data, filter=pikepdf.Name.FlateDecode)
    doc.pages[0].Contents = stream
    buf = io.BytesIO()
    doc.save(buf, compress_streams=False)
    return buf.getvalue()
