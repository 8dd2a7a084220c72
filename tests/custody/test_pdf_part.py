"""The custody PDF view names its documents itself: the URL's ``part`` is checked, never echoed.

Issue #18 item 15 (THREAT_MODEL F18.15): ``part`` went unvalidated into ``Content-Disposition``
(parameter injection) and a CR/LF in it answered 500.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from casehub.custody.models import CustodyCertificate

pytestmark = pytest.mark.django_db


@pytest.fixture
def certificate(gang_case, drive, district):
    drive.fire(gang_case, "transfer_for_review", "investigator", facts="结伙入室盗窃。", evidence="监控录像",
               to_agency=district.procuratorate.pk)
    return CustodyCertificate.objects.filter(case=gang_case).order_by("id").first()


def _url(cert, part: str) -> str:
    return f"/custody/certificate/{cert.pk}/pdf/{part}/"


def test_the_certificate_and_its_names_are_served(client, certificate, district):
    client.force_login(district.detention_officer)
    response = client.get(reverse("custody:pdf_part", kwargs={"kind": "certificate", "pk": certificate.pk,
                                                                "part": "main"}))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert response["Content-Disposition"].startswith(f'inline; filename="certificate-{certificate.pk}-main.pdf"')


@pytest.mark.parametrize("part", [
    'x"; filename="evil.html',      # a second filename parameter
    "main;%20filename*=UTF-8''evil.html",
    "main%0d%0aSet-Cookie:%20a=b",  # header splitting: was a 500
    "main%0aX-Injected:%201",
    "main%0d",
    "receipt.pdf",
    "../main",
])
def test_an_unknown_part_is_a_404_not_a_header(client, certificate, district, part):
    client.force_login(district.detention_officer)
    response = client.get(_url(certificate, part))
    assert response.status_code == 404
    assert "Set-Cookie" not in response.headers or "a=b" not in response.headers.get("Set-Cookie", "")
    assert "X-Injected" not in response.headers
    assert "evil" not in response.get("Content-Disposition", "")


def test_a_notice_has_no_receipt_part(client, certificate, district):
    from datetime import timedelta

    from django.utils import timezone

    from casehub.custody.models import NoticeKind
    from casehub.custody.services import issue_notice

    notice = issue_notice(certificate.record, kind=NoticeKind.EXTENSION, reason="延长羁押期限决定书",
                          agency=district.police, acting_user=district.investigator,
                          new_end=timezone.localdate() + timedelta(days=30))
    client.force_login(district.detention_officer)
    assert client.get(f"/custody/notice/{notice.pk}/pdf/main/").status_code == 200
    assert client.get(f"/custody/notice/{notice.pk}/pdf/receipt/").status_code == 404
