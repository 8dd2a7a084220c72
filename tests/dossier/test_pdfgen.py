"""casehub.pdfgen: generated legal documents in Chinese, as real extractable text, small."""

from __future__ import annotations

import io

import pypdf

from casehub.pdfgen import cjk_font_path, render_form
from casehub.pdfgen.fonts import common_chars, font_path_for


def text_of(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_a_certificate_is_text_not_pictures_and_small():
    pdf = render_form(
        "换押证", number="深龙公（刑）换字〔2026〕12号",
        fields=[("犯罪嫌疑人", "张三"), ("羁押场所", "深圳市龙岗区看守所")],
        paragraphs=["根据《中华人民共和国刑事诉讼法》第九十一条的规定，现将犯罪嫌疑人移送审查起诉。"],
        footer_lines=["深圳市公安局龙岗分局", "二〇二六年十一月二十五日"],
    )
    text = text_of(pdf)
    for expected in ("换押证", "深龙公（刑）换字〔2026〕12号", "张三", "第九十一条", "二〇二六年十一月二十五日", "第 1 页 共 1 页"):
        assert expected in text
    assert len(pdf) < 40_000, "the embedded font must be a subset"


def test_user_input_is_drawn_literally():
    hostile = "<b>**粗体**</b> <script>alert(1)</script> %(name)s {nb}"
    text = text_of(render_form("决定书", fields=[("备注", hostile)], paragraphs=[hostile]))
    assert "<b>**粗体**</b>" in text and "<script>alert(1)</script>" in text and "%(name)s" in text


def test_long_content_flows_onto_numbered_pages():
    pdf = render_form("起诉意见书", paragraphs=["经依法侦查查明：犯罪嫌疑人于某日在某地实施盗窃。" * 40] * 8)
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    assert f"共 {len(reader.pages)} 页" in (reader.pages[-1].extract_text() or "")


def test_rare_characters_fall_back_to_the_full_font():
    rare = "喆"  # common in names, outside GB 2312
    assert rare not in common_chars()
    assert font_path_for(f"王{rare}") == cjk_font_path()
    assert font_path_for("王小明") != cjk_font_path()
    pdf = render_form("送达回证", fields=[("受送达人", f"王{rare}")])
    assert f"王{rare}" in text_of(pdf).replace("\x00", "")


def embedded_font(data: bytes):
    """The fontTools font embedded for the CJK text of the first page."""
    from fontTools.ttLib import TTFont

    page = pypdf.PdfReader(io.BytesIO(data)).pages[0]
    for font in page["/Resources"]["/Font"].values():
        descendant = font.get_object()["/DescendantFonts"][0].get_object()
        return TTFont(io.BytesIO(descendant["/FontDescriptor"]["/FontFile2"].get_data()))
    raise AssertionError("no font")


def test_documents_rendered_at_once_in_threads_each_embed_only_their_own_characters():
    # The font file is parsed once per process and shared; what each document used must not be.
    from concurrent.futures import ThreadPoolExecutor

    names = ["甲", "乙", "丙", "丁", "戊", "己", "庚", "辛"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        pdfs = list(pool.map(lambda name: render_form("决定书", fields=[("姓名", name * 3)]), names))
    for name, pdf in zip(names, pdfs, strict=True):
        assert name * 3 in text_of(pdf)
        codepoints = set(embedded_font(pdf).getBestCmap())
        assert ord(name) in codepoints
        assert not {ord(other) for other in names if other != name} & codepoints
        assert len(codepoints) < 40, "only the characters this document draws are embedded"


def test_a_warmed_up_process_has_the_font_parsed_before_its_first_document():
    from casehub import warmup
    from casehub.pdfgen import fonts

    fonts._templates.clear()
    warmup.run()
    assert fonts.common_font_path() in fonts._templates
    assert "第九十一条" in text_of(render_form("决定书", paragraphs=["第九十一条"]))
