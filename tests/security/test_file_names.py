"""Uploaded file names and document titles are data, never paths or headers (THREAT_MODEL.md;
ASVS 5.3.2 path traversal, 5.4.1/5.4.2 names in responses).

Hostile names — traversal, absolute paths, Windows separators, NUL/CR/LF, right-to-left override,
combining characters, 300-character names — are uploaded through the real upload page. The store
keeps only hash-named files under its root, nothing appears outside it, and every download answers
with a Content-Disposition that is one header line, RFC 6266-encoded, without path separators.
"""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pikepdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from casehub.cases.services import register_case
from casehub.dossier.models import Document
from storage.base import content_disposition

pytestmark = pytest.mark.django_db

HOSTILE_NAMES = [
    "../../../../etc/passwd.pdf",
    "/etc/shadow.pdf",
    "..\\..\\windows\\system32\\config.pdf",
    "a\r\nContent-Type: text/html\r\n\r\n<script>x</script>.pdf",
    "nul\x00byte.pdf",
    "\u202egnp.exe.pdf",  # right-to-left override: shows as "fdp.exe.png"
    "e\u0301\u0301\u0301\u0301.pdf",  # stacked combining accents
    "卷宗😀" * 60 + ".pdf",  # 300+ characters
    '"; filename="evil.html',
    "CON.pdf",
]


def _pdf(label: str) -> bytes:
    doc = pikepdf.new()
    doc.add_blank_page(page_size=(595, 842))
    doc.docinfo["/Title"] = label
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _assert_safe_disposition(value: str) -> None:
    assert "\r" not in value and "\n" not in value and "\x00" not in value, repr(value)
    names = re.findall(r'filename="([^"]*)"', value) + [
        unquote(v) for v in re.findall(r"filename\*=utf-8''(\S+)", value, flags=re.I)]
    assert names, value
    for name in names:  # what a browser would save: a name, never a path
        assert "/" not in name and "\\" not in name, value


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_content_disposition_of_a_hostile_name_is_one_safe_header(name):
    _assert_safe_disposition(content_disposition(name, inline=False))
    _assert_safe_disposition(content_disposition(name, inline=True))


def test_hostile_upload_names_stay_data(client, district, settings, tmp_path):
    case = register_case(acting_user=district.investigator, title="文件名测试案")
    client.force_login(district.investigator)
    store_root = Path(settings.CASEHUB_STORAGE_URL.removeprefix("file://"))
    outside_before = {p for p in tmp_path.parent.rglob("*") if "objects" not in p.parts}
    for i, name in enumerate(HOSTILE_NAMES):
        response = client.post(reverse("dossier:upload", args=[case.pk]), {
            "title": f"材料{i}", "category": "evidence", "part": "main",
            "file": SimpleUploadedFile(name.replace("\x00", ""), _pdf(f"n{i}"), content_type="application/pdf"),
        })
        assert response.status_code in (302, 200), (name, response.status_code)
    documents = list(Document.objects.filter(case=case))
    assert len(documents) == len(HOSTILE_NAMES)
    # The store holds hash-named objects only; no upload wrote a file named after the user's name.
    for path in store_root.rglob("*"):
        if path.is_file():
            assert re.fullmatch(r"[0-9a-f]{64}(\.meta|\.json)?", path.name) or path.parent.name in (
                "incoming", "tmp"), path
    assert not Path("/etc/passwd.pdf").exists() and not Path("/etc/shadow.pdf").exists()
    created_outside = {p for p in tmp_path.parent.rglob("*") if "objects" not in p.parts} - outside_before
    assert not [p for p in created_outside if "passwd" in p.name or "shadow" in p.name or "config" in p.name]
    # Every download answers with a safe header.
    for document in documents:
        for extra in ("", "?download=1"):
            response = client.get(reverse("dossier:document_file", args=[document.pk]) + extra)
            assert response.status_code == 200
            _assert_safe_disposition(response["Content-Disposition"])
    # The recorded original names are names: no directory part, no control characters.
    for document in documents:
        name = unicodedata.normalize("NFC", document.original_filename)
        assert "/" not in name and "\\" not in name, name
        assert not any(unicodedata.category(ch) == "Cc" for ch in name), repr(name)


def test_a_document_title_with_a_line_break_downloads_safely(client, district, tmp_path):
    from casehub.dossier import services as dossier

    case = register_case(acting_user=district.investigator, title="标题换行测试案")
    (tmp_path / "a.pdf").write_bytes(_pdf("title-crlf"))
    job = dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=tmp_path / "a.pdf",
                                title="讯问笔录\r\nSet-Cookie: sessionid=stolen", category="evidence")
    assert job.status == "done", job.message
    document = Document.objects.get(case=case)
    client.force_login(district.investigator)
    client.raise_request_exception = False
    response = client.get(reverse("dossier:document_file", args=[document.pk]) + "?download=1")
    assert response.status_code == 200, "a line break in a title must not break the download"
    _assert_safe_disposition(response["Content-Disposition"])
    assert "sessionid" not in response.cookies
