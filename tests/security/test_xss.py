"""Stored XSS: payloads in every free-text field are rendered inert everywhere (THREAT_MODEL.md I7).

The security scenario is built with an XSS payload in each free-text field — case title and
summary, person names, document titles, uploaded file names, transfer facts/evidence, approval
comment, custody notice reason. Then every endpoint of the URL conf is requested by a user who
may see it (the same rules as the cross-agency test):

* HTML answers must not contain any payload verbatim (escaped is fine and expected);
* JSON answers must be served as ``application/json`` with ``nosniff``, never as HTML;
* CSV exports must neutralise formula starts; generated PDFs must not contain active content.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from tests.security.scenario import PAYLOADS
from tests.security.test_cross_agency import ALL, _covered, _url, rule_for
from tests.security.urlmap import endpoints

pytestmark = pytest.mark.django_db


def _body(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode("utf-8", errors="replace")


def test_no_page_renders_a_payload_unescaped(hostile):
    failures, html_pages, escaped_seen = [], 0, False
    for ep in endpoints():
        if _covered(ep):
            continue
        rule = rule_for(ep.name)
        if not rule.get:
            continue
        users = [hostile.district.investigator] if rule.allowed == ALL else [
            hostile.district.users[k] for k in sorted(rule.allowed)]
        for user in users:
            client = Client(raise_request_exception=False)
            client.force_login(user)
            response = client.get(_url(ep, hostile))
            if response.status_code >= 500:
                failures.append(f"{ep.label} as {user}: {response.status_code}")
                continue
            content_type = response.get("Content-Type", "")
            body = _body(response)
            if "text/html" in content_type:
                html_pages += 1
                raw = [name for name, payload in PAYLOADS.items() if payload in body]
                if raw:
                    failures.append(f"{ep.label} as {user}: payload {raw} rendered unescaped")
                escaped_seen = escaped_seen or "&lt;script&gt;" in body
            elif "json" in content_type:
                if response.get("X-Content-Type-Options") != "nosniff":
                    failures.append(f"{ep.label}: JSON without nosniff")
    assert html_pages > 20, "too few HTML pages rendered: is the scenario complete?"
    assert escaped_seen, "no page showed the (escaped) hostile title: the test would prove nothing"
    assert not failures, "\n".join(failures)


def test_case_title_with_a_formula_is_neutralised_in_csv_exports(district, client):
    """CSV/XLSX formula injection (=, +, -, @) through a case title, in the audit export."""
    from casehub.cases.services import register_case

    register_case(acting_user=district.investigator, title='=HYPERLINK("http://evil.example","点我")')
    client.force_login(district.auditor)
    response = client.get(reverse("audit:export", kwargs={"fmt": "csv"}))
    assert response.status_code == 200
    text = _body(response)
    cells = [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]
    assert cells, "empty export"
    dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert not dangerous, f"cells that a spreadsheet would run as formulas: {dangerous[:5]}"
    assert any("HYPERLINK" in c for c in cells), "the title did not reach the export: nothing was tested"


def test_case_title_with_a_formula_is_text_in_the_metrics_xlsx(district, client):
    import openpyxl

    from casehub.cases.services import register_case

    register_case(acting_user=district.investigator, title="=1+1")
    client.force_login(district.auditor)
    response = client.get(reverse("metrics:export", kwargs={"key": "all", "fmt": "xlsx"}))
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(_body(response).encode("utf-8", errors="surrogateescape"))
                                  if False else io.BytesIO(b"".join(response.streaming_content)
                                                           if response.streaming else response.content))
    formulas = [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row
                if c.data_type == "f" or (isinstance(c.value, str) and c.value.startswith("="))]
    assert not formulas, formulas


def test_generated_legal_documents_with_hostile_text_carry_no_active_content(hostile, tmp_path):
    """The 起诉意见书 generated from the hostile facts/evidence is a plain PDF: the ingest
    inspector (JavaScript, launch, embedded files) finds nothing."""
    from casehub.dossier import ingest
    from casehub.dossier.models import Document
    from casehub.objectstore.services import read_bytes

    generated = Document.objects.filter(case=hostile.sent_case).exclude(title__contains=PAYLOADS["doc_title"])
    assert generated.exists(), "no generated document on the sent case"
    for document in generated:
        path = tmp_path / f"{document.pk}.pdf"
        path.write_bytes(read_bytes(document.stored))
        facts = ingest.inspect_pdf(path)  # raises IngestRejected on active content
        assert facts.page_count >= 1
