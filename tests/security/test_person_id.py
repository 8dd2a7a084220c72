"""Generated over every output: a full ID number reaches only roles with ``view_person_id``.

Issue #18 item 6 (THREAT_MODEL F18.6). The decision per role is written down in
``casehub/cases/identity.py``. For every endpoint of the URL conf (pages, API, exports, the
transfer manifest and its download, the custody PDFs), every district-A user whose role lacks
``view_person_id`` requests it; the body — PDFs as extracted text, XLSX as its XML — must not
contain the full ID number of any person of the security scenario (the police case's suspect and
the detained suspects of the sent cases). Search must not answer for a guessed full number.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.test import Client

from tests.security.test_cross_agency import ID_READERS, _covered, _url, rule_for
from tests.security.urlmap import endpoints

pytestmark = pytest.mark.django_db

# Reviewed: the dossier's documents are evidence, shown unaltered to readers of the dossier
# (casehub.cases.identity). These endpoints return the document or volume bytes, or a link to them.
EVIDENCE = {"dossier:document_file", "dossier:volume_file", "api:document-file", "api:volume-file",
            "api:document-link", "api:volume-link"}


def _text(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if body.startswith(b"%PDF"):
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(body)).pages)
    if body.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return "\n".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    return body.decode("utf-8", errors="replace")


def _masked_users(sc) -> list[str]:
    keys = sorted(k for k in sc.district.users if k not in ID_READERS)
    assert {"police_supervisor", "procuratorate_supervisor", "auditor", "police_admin"} <= set(keys)
    return keys


def test_no_output_shows_a_full_id_number_to_a_role_without_view_person_id(sc):
    d = sc.district
    assert len(sc.id_numbers) >= 3, sc.id_numbers
    clients = {}
    for key in _masked_users(sc):
        clients[key] = Client(raise_request_exception=False)
        clients[key].force_login(d.users[key])
    failures, answered = [], 0
    for ep in endpoints():
        if _covered(ep) or ep.name in EVIDENCE:
            continue
        rule = rule_for(ep.name)
        if not rule.get:
            continue
        url = _url(ep, sc)
        for key, client in clients.items():
            response = client.get(url)
            if response.status_code >= 500:
                failures.append(f"{key} GET {url} -> {response.status_code}")
                continue
            answered += response.status_code == 200
            text = _text(response)
            shown = [n for n in sc.id_numbers if n in text]
            if shown:
                failures.append(f"{key} GET {url} -> {response.status_code} shows {shown}")
    assert answered > 100, "almost nothing answered: is the scenario wrong?"
    assert not failures, "\n".join(failures)


def test_the_roles_with_the_right_do_see_the_numbers(sc):
    """Positive control: the same extraction finds the numbers where they belong (so the test
    above cannot pass because a PDF's text was unreadable)."""
    d = sc.district
    sent_id = sc.id_numbers[1]
    for key in ("investigator", "detention_officer"):
        client = Client()
        client.force_login(d.users[key])
        pdf = client.get(f"/custody/certificate/{sc.certificate.pk}/pdf/")
        assert pdf.status_code == 200 and sent_id in _text(pdf), key
    client = Client()
    client.force_login(d.prosecutor)
    assert sent_id in _text(client.get(f"/api/v1/transfers/{sc.transfer.pk}/"))
    assert sent_id in _text(client.get(f"/transfers/{sc.transfer.pk}/download/manifest.json"))
    client.force_login(d.investigator)
    assert sc.person.id_number in _text(client.get(f"/cases/{sc.case.pk}/"))


def test_supervisors_see_the_manifest_masked_and_are_refused_its_signed_bytes(sc):
    d = sc.district
    client = Client()
    client.force_login(d.police_supervisor)
    detail = client.get(f"/api/v1/transfers/{sc.transfer.pk}/")
    assert detail.status_code == 200
    persons = detail.json()["manifest"]["persons"]
    assert persons and all(re.fullmatch(r"\d{6}\*{8}\d{3}[\dX]", p["id_number"]) for p in persons)
    assert client.get(f"/api/v1/transfers/{sc.transfer.pk}/manifest/").status_code == 403
    assert client.get(f"/transfers/{sc.transfer.pk}/download/manifest.json").status_code == 403
    assert client.get(f"/custody/certificate/{sc.certificate.pk}/pdf/").status_code == 403
    # The signature itself carries no personal data and stays available.
    assert client.get(f"/transfers/{sc.transfer.pk}/download/manifest.p7s").status_code == 200


def _case_links(response) -> set[str]:
    if response["Content-Type"].startswith("application/json"):
        return {str(row["id"]) for row in response.json()["results"]}
    return set(re.findall(r"/cases/(\d+)/", response.content.decode()))


def test_search_by_a_full_id_number_is_no_oracle(sc):
    """A supervisor who may see the case (masked) learns nothing by searching a guessed number:
    the answer equals the answer for a number that belongs to nobody."""
    d = sc.district
    target, nobody = sc.person.id_number, "110101199003077777"
    for key in ("police_supervisor", "investigator"):
        client = Client()
        client.force_login(d.users[key])
        for base in ("/cases/?q=", "/api/v1/cases/?q="):
            hit, miss = client.get(base + target), client.get(base + nobody)
            assert hit.status_code == miss.status_code == 200
            if key == "investigator":  # may see numbers: the search by number works
                assert str(sc.case.pk) in _case_links(hit) and not _case_links(miss)
            else:
                assert _case_links(hit) == _case_links(miss) == set(), (key, base)
