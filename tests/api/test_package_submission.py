"""Inbound bulk exchange: an agency system submits a package it assembled and signed itself; the
platform checks it like its own and takes it in whole, or refuses it whole."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from casehub.audit.models import AuditEvent
from casehub.dossier.models import Document
from casehub.integration.models import SubmittedPackage
from signing.cms import canonical_json, sign_detached
from tests.dossier import files

pytestmark = pytest.mark.django_db


def _package(case, agency, documents: list[tuple[str, bytes]], *, signer_agency=None, edit=None,
             extra: dict | None = None) -> bytes:
    from casehub.pki.services import signer_for

    manifest = {
        "format": "casehub.agency-package/1",
        "case": {"id": case.pk},
        "from": {"code": agency.code, "name": agency.name},
        "documents": [{"title": title, "category": "evidence", "sha256": hashlib.sha256(data).hexdigest(),
                       "size": len(data), "file_name": f"{title}.pdf"} for title, data in documents],
        **(extra or {}),
    }
    data = canonical_json(manifest)
    signature = sign_detached(data, signer_for(signer_agency or agency))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("manifest.json", data)
        zf.writestr("manifest.p7s", signature)
        for _title, content in documents:
            name = f"documents/{hashlib.sha256(content).hexdigest()}.pdf"
            zf.writestr(name, edit(name, content) if edit else content)
    return out.getvalue()


def _submit(client, case, archive: bytes):
    return client.post(f"/api/v1/cases/{case.pk}/packages/",
                       {"archive": io.BytesIO(archive)}, format="multipart")


@pytest.fixture
def police_case(make_case):
    return make_case(documents=0)


def _state():
    return (Document.objects.count(), SubmittedPackage.objects.count(),
            AuditEvent.objects.filter(action="package.submitted").count())


def test_the_police_system_submits_two_documents_and_they_travel_in_the_next_transfer(police_case, district,
                                                                                     drive, api_as):
    docs = [("现场勘验笔录", files.text_pdf(2, "kanyan")), ("证人证言", files.text_pdf(1, "zhengyan"))]
    response = _submit(api_as(district.investigator), police_case, _package(police_case, district.police, docs))
    assert response.status_code == 201, response.content
    body = response.json()
    assert [j["status"] for j in body["jobs"]] == ["done", "done"]
    package = SubmittedPackage.objects.get()
    assert package.signer_certificate_sha256 and package.agency == district.police
    titles = set(police_case.documents.values_list("title", flat=True))
    assert titles == {"现场勘验笔录", "证人证言"}
    drive.fire(police_case, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    transfer = police_case.transfers.get(kind="review_transfer")
    assert set(transfer.documents.values_list("title", flat=True)) >= titles
    assert transfer.verification_status == "passed"


def test_a_changed_byte_refuses_the_whole_package(police_case, district, api_as):
    docs = [("勘验笔录", files.text_pdf(1, "a")), ("证言", files.text_pdf(1, "b"))]
    before = _state()
    flipped = _package(police_case, district.police, docs,
                       edit=lambda name, data: data[:50] + bytes([data[50] ^ 1]) + data[51:])
    response = _submit(api_as(district.investigator), police_case, flipped)
    assert response.status_code == 400
    assert "does not match the signed SHA-256" in json.dumps(response.json(), ensure_ascii=False)
    assert _state() == before


def test_a_package_signed_by_another_agency_is_refused(police_case, district, api_as):
    before = _state()
    archive = _package(police_case, district.police, [("笔录", files.text_pdf(1, "c"))],
                       signer_agency=district.procuratorate)
    response = _submit(api_as(district.investigator), police_case, archive)
    assert response.status_code == 400
    assert _state() == before


def test_one_hostile_document_refuses_the_whole_package(police_case, district, api_as):
    before = _state()
    hostile = b"%PDF-1.4\n1 0 obj << /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>\nendobj\n"
    archive = _package(police_case, district.police,
                       [("好的笔录", files.text_pdf(1, "d")), ("带脚本的文件", hostile)])
    response = _submit(api_as(district.investigator), police_case, archive)
    assert response.status_code == 400
    assert "带脚本的文件" in json.dumps(response.json(), ensure_ascii=False)
    assert _state() == before


def test_a_manifest_for_another_case_or_with_volumes_is_refused(police_case, make_case, district, api_as):
    other = make_case("另一案件", documents=0)
    before = _state()
    for archive in (_package(other, district.police, [("笔录", files.text_pdf(1, "e"))]),
                    _package(police_case, district.police, [("笔录", files.text_pdf(1, "e"))],
                             extra={"volumes": [{"sha256": "0" * 64}]})):
        assert _submit(api_as(district.investigator), police_case, archive).status_code == 400
    assert _state() == before


def test_the_same_package_twice_is_taken_in_once(police_case, district, api_as):
    archive = _package(police_case, district.police, [("笔录", files.text_pdf(1, "f"))])
    client = api_as(district.investigator)
    assert _submit(client, police_case, archive).status_code == 201
    again = _submit(client, police_case, archive)
    assert again.status_code == 400 and "已经报送过" in json.dumps(again.json(), ensure_ascii=False)
    assert police_case.documents.count() == 1


def test_only_the_holder_may_submit_and_another_district_sees_nothing(police_case, district, other_district,
                                                                      api_as):
    archive = _package(police_case, district.police, [("笔录", files.text_pdf(1, "g"))])
    assert _submit(api_as(other_district.investigator), police_case, archive).status_code == 404
    assert _submit(api_as(district.police_supervisor), police_case, archive).status_code == 403
    assert SubmittedPackage.objects.count() == 0
