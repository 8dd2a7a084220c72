"""The PKI pages: who sees which certificates, the trust bundle, and checking a received PDF."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from casehub.pki import services
from signing.pades import sign_pdf
from tests.signing.conftest import make_pdf

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.signing.urls")]


@pytest.fixture(autouse=True)
def _fresh_pki_cache():
    services.invalidate_cache()
    yield
    services.invalidate_cache()


def test_an_agency_admin_sees_only_their_agencys_certificates(client, district):
    services.signer_for(district.police)
    services.signer_for(district.court)
    client.force_login(district.police_admin)
    page = client.get("/pki/certificates/").content.decode()
    assert district.police.name in page and district.court.name not in page
    assert "PRIVATE KEY" not in page


def test_an_auditor_sees_every_agency_and_others_are_refused(client, district):
    services.signer_for(district.police)
    services.signer_for(district.court)
    client.force_login(district.auditor)
    page = client.get("/pki/certificates/").content.decode()
    assert district.police.name in page and district.court.name in page
    client.force_login(district.investigator)
    assert client.get("/pki/certificates/").status_code == 403


def test_the_trust_bundle_is_for_logged_in_users(client, district):
    services.signer_for(district.police)
    assert client.get("/pki/trust.pem").status_code == 302  # to the login page
    client.force_login(district.investigator)
    response = client.get("/pki/trust.pem")
    assert response.status_code == 200 and response["Content-Type"] == "application/x-pem-file"
    assert response.content.startswith(b"-----BEGIN CERTIFICATE-----") and b"X509 CRL" in response.content


def _upload(client, data: bytes, **extra):
    return client.post("/pki/verify/", {"document": SimpleUploadedFile("doc.pdf", data, "application/pdf"), **extra})


def test_a_received_pdf_is_checked_against_the_platforms_trust(client, district):
    signed = sign_pdf(make_pdf(2), services.signer_for(district.police), stamp_text=district.police.name)
    client.force_login(district.prosecutor)
    page = _upload(client, signed, expected_sha256=hashlib.sha256(signed).hexdigest()).content.decode()
    assert 'data-valid="true"' in page and district.police.name in page and "全部签名有效" in page
    tampered = signed.replace(b"casehub test page 2", b"casehub test page 5", 1)
    page = _upload(client, tampered).content.decode()
    assert 'id="verify-result" data-valid="false"' in page and "签名后文档内容被修改" in page
    page = _upload(client, b"not a pdf at all").content.decode()
    assert "文件不是 PDF 文档" in page


def test_checking_pdfs_needs_a_working_role(client, district):
    client.force_login(district.police_admin)
    assert client.get("/pki/verify/").status_code == 403
    client.force_login(district.detention_officer)
    assert client.get("/pki/verify/").status_code == 200
