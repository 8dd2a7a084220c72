"""Real files for the dossier tests: valid PDFs and images, and one of each kind the ingest
pipeline must refuse. Built here, byte by byte, so every rejection is tested on a genuine file."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pikepdf
from PIL import Image


def text_pdf(pages: int = 1, label: str = "doc", *, size: tuple[float, float] = (595, 842), rotate: int = 0) -> bytes:
    """A PDF whose page i shows ``<label> p<i>`` near the middle (Helvetica, extractable)."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    for i in range(1, pages + 1):
        content = f"BT /F1 14 Tf 100 400 Td ({label} p{i}) Tj ET".encode()
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page, MediaBox=[0, 0, size[0], size[1]],
            Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
            Contents=pdf.make_stream(content),
        )
        if rotate:
            page.Rotate = rotate
        pdf.pages.append(pikepdf.Page(page))
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _modified(data: bytes, change) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        change(pdf)
        buf = io.BytesIO()
        pdf.save(buf)
        return buf.getvalue()


def encrypted_pdf() -> bytes:
    with pikepdf.open(io.BytesIO(text_pdf(1))) as pdf:
        buf = io.BytesIO()
        pdf.save(buf, encryption=pikepdf.Encryption(owner="owner-secret", user="", R=6))
        return buf.getvalue()


def javascript_pdf() -> bytes:
    def add(pdf: pikepdf.Pdf) -> None:
        pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
    return _modified(text_pdf(1), add)


def javascript_link_pdf() -> bytes:
    def add(pdf: pikepdf.Pdf) -> None:
        link = pikepdf.Dictionary(
            Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 100, 100],
            A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("JavaScript:app.alert(1)")),
        )
        pdf.pages[0].Annots = pdf.make_indirect(pikepdf.Array([pdf.make_indirect(link)]))
    return _modified(text_pdf(1), add)


def launch_pdf() -> bytes:
    def add(pdf: pikepdf.Pdf) -> None:
        pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("cmd.exe"))
    return _modified(text_pdf(1), add)


def embedded_file_pdf() -> bytes:
    def add(pdf: pikepdf.Pdf) -> None:
        pdf.attachments["payload.exe"] = pikepdf.AttachedFileSpec(pdf, b"MZ\x90\x00 not really")
    return _modified(text_pdf(1), add)


def truncated_pdf() -> bytes:
    data = text_pdf(3)
    return data[: len(data) // 3]


def garbage_pdf() -> bytes:
    return b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def bomb_pdf(decoded_bytes: int) -> bytes:
    """One page whose content stream inflates to ``decoded_bytes`` of zeros (compressed ~1000:1)."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    compressed = zlib.compress(b"\x00" * decoded_bytes, 9)
    stream = pikepdf.Stream(pdf, compressed)
    stream.Filter = pikepdf.Name.FlateDecode
    pdf.pages[0].Contents = pdf.make_indirect(stream)
    buf = io.BytesIO()
    pdf.save(buf, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return buf.getvalue()


def image(fmt: str, size: tuple[int, int] = (400, 560), *, mode: str = "RGB", frames: int = 1) -> bytes:
    images = [Image.new(mode, size, color=(200, 30 * i % 255, 60) if mode in ("RGB", "RGBA") else 128)
              for i in range(frames)]
    buf = io.BytesIO()
    if frames > 1:
        images[0].save(buf, format=fmt, save_all=True, append_images=images[1:], dpi=(300, 300))
    else:
        images[0].save(buf, format=fmt, dpi=(300, 300))
    return buf.getvalue()


def truncated_jpeg() -> bytes:
    data = image("JPEG", (800, 800))
    return data[: len(data) // 2]


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def huge_image_pdf(width: int, height: int) -> bytes:
    """A small file declaring an enormous image: the pixel limit must see through it."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    image = pikepdf.Stream(pdf, zlib.compress(b"\x00" * 1024))
    image.Type = pikepdf.Name.XObject
    image.Subtype = pikepdf.Name.Image
    image.Width, image.Height = width, height
    image.BitsPerComponent = 8
    image.ColorSpace = pikepdf.Name.DeviceGray
    image.Filter = pikepdf.Name.FlateDecode
    pdf.pages[0].Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=pdf.make_indirect(image)))
    pdf.pages[0].Contents = pdf.make_stream(b"q 100 0 0 100 0 0 cm /Im0 Do Q")
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def big_scan_pdf(path: Path, megabytes: int) -> None:
    """A PDF of ~``megabytes`` MB: pages of incompressible 8-bit grey 'scan' data, written to disk."""
    import os

    pdf = pikepdf.new()
    side = 2000  # 4 MB of pixels per page
    for _ in range(max(1, megabytes // 4)):
        pdf.add_blank_page(page_size=(595, 842))
        image = pikepdf.Stream(pdf, os.urandom(side * side))
        image.Type = pikepdf.Name.XObject
        image.Subtype = pikepdf.Name.Image
        image.Width = image.Height = side
        image.BitsPerComponent = 8
        image.ColorSpace = pikepdf.Name.DeviceGray
        page = pdf.pages[-1]
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=pdf.make_indirect(image)))
        page.Contents = pdf.make_stream(b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    pdf.save(str(path), compress_streams=False)


# --- hostile structures the parsers read differently (THREAT_MODEL F18.18, F18.19) -------------


def _raw_pdf(objects: dict[int, bytes], *, root: int = 1, xref_stream: bool = False) -> bytes:
    """A PDF written byte by byte from ``{number: body}`` (bodies include ``stream…endstream``),
    with a classic xref table or, with ``xref_stream``, a cross-reference stream (PDF 1.5)."""
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    size = max(objects) + 1
    if not xref_stream:
        start = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % size
        for number in range(1, size):
            out += b"%010d 00000 n \n" % offsets[number] if number in offsets else b"0000000000 65535 f \n"
        out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, start)
        return bytes(out)
    raise ValueError("use objstm_bomb_pdf for cross-reference streams")


def objstm_bomb_pdf(inflated_bytes: int) -> bytes:
    """One valid page, plus an object stream nothing refers to whose single object is followed by
    ``inflated_bytes`` of blank padding (deflate packs ~1,000:1, so 700 MB fit in ~700 KB).

    pypdf never opens the object stream (nothing reaches object 5), so a check that only looks at
    what pypdf reads misses it; qpdf inflates the whole stream as soon as anything walks every
    object. Written with a cross-reference stream so object 5 lives *inside* the object stream.
    The padding is compressed in 1 MiB steps: building the file never holds the inflated bytes.
    """
    head = b"5 0 "
    member = b"<< /Padding true >>"
    packer = zlib.compressobj(9)
    parts = [packer.compress(head + member)]
    block = b" " * (1 << 20)
    remaining = inflated_bytes
    while remaining > 0:
        parts.append(packer.compress(block[: min(remaining, len(block))]))
        remaining -= len(block)
    parts.append(packer.flush())
    packed = b"".join(parts)
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}

    def put(number: int, body: bytes) -> None:
        offsets[number] = len(out)
        out.extend(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    put(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    put(2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    put(3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
    put(4, b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(head), len(packed)) + packed + b"\nendstream")
    xref_at = len(out)
    rows = [b"\x00" + b"\x00\x00\x00\x00" + b"\xff\xff"]
    rows += [b"\x01" + offsets[n].to_bytes(4, "big") + b"\x00\x00" for n in (1, 2, 3, 4)]
    rows.append(b"\x02" + (4).to_bytes(4, "big") + b"\x00\x00")  # object 5: index 0 of stream 4
    rows.append(b"\x01" + xref_at.to_bytes(4, "big") + b"\x00\x00")  # object 6: this xref stream
    table = b"".join(rows)
    out.extend(b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
               % len(table) + table + b"\nendstream\nendobj\n")
    out.extend(b"startxref\n%d\n%%%%EOF\n" % xref_at)
    return bytes(out)


def many_nulls_pdf(nulls: int = 2000) -> bytes:
    """A page tree whose /Kids is mostly ``null`` around one real page and whose /Count says 0:
    pypdf's and qpdf's walks skip the nulls and find one page, ``qpdf --show-npages`` and poppler
    go by /Count and find none (poppler: "Wrong page range")."""
    kids = b"[" + b"null " * nulls + b"3 0 R" + b" null" * nulls + b"]"
    return _raw_pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids " + kids + b" /Count 0 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        4: b"<< /Length 35 >>\nstream\nBT /F1 12 Tf 72 720 Td (x) Tj ET\n\nendstream",
    })


def count_lie_pdf(claimed: int = 1_000_000) -> bytes:
    """One page whose page tree claims ``claimed`` pages in /Count: readers that trust /Count
    (and viewers that size their page list by it) see a different document than those that walk
    the tree."""
    return _raw_pdf({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % claimed,
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    })
