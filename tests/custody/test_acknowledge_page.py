"""The detention officer confirms a custody transfer from the list: only once custody has moved
(a certificate still "sent, not taken over" is refused with the reason), the confirmation says what
is confirmed, the officer stays on the list with a message, and the PDFs open in a new tab."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from casehub.cases.models import PersonRole
from casehub.cases.services import register_case
from casehub.custody.models import CertificateStatus, CustodyCertificate, Measure
from casehub.custody.services import register_custody
from tests.custody.conftest import add_documents

pytestmark = pytest.mark.django_db


@pytest.fixture
def held_case(district, tmp_path):
    """One suspect detained in the district's centre: one certificate per hand-over (fast)."""
    case = register_case(acting_user=district.investigator, title="张三盗窃案", summary="入室盗窃",
                         persons=[{"role": PersonRole.SUSPECT, "name": "张三", "sex": "M",
                                   "id_number": "440307199001011234"}])
    register_custody(case.persons.get(), detention_centre=district.detention, measure=Measure.DETENTION,
                     since=timezone.now() - timedelta(days=2), acting_user=district.investigator)
    add_documents(case, district.investigator, tmp_path)
    return case


def _row(page: str, cert: CustodyCertificate) -> str:
    start = page.index(f'data-certificate="{cert.pk}"')
    return page[start:page.index("</tr>", start)]


def test_a_sent_certificate_is_not_confirmed_and_a_taken_over_one_is_confirmed_from_the_list(
        held_case, drive, district, client):
    drive.fire(held_case, "transfer_for_review", "investigator", facts="结伙入室盗窃。", evidence="监控录像",
               to_agency=district.procuratorate.pk)
    cert = CustodyCertificate.objects.filter(case=held_case).order_by("id").first()
    assert cert.status == CertificateStatus.ISSUED
    client.force_login(district.detention_officer)
    inbox_url = reverse("custody:inbox")
    ack_url = reverse("custody:acknowledge", args=["certificate", cert.pk])

    # Sent, not taken over: the list says what it waits for and offers no confirmation...
    row = _row(client.get(inbox_url).content.decode(), cert)
    assert "data-awaiting-takeover" in row and f"待{district.procuratorate.name}接收后确认" in row
    assert ack_url not in row
    # The home page lists it as waiting for the take-over.
    home = client.get(reverse("home")).content.decode()
    assert f"{cert.number} · 已发出，待接收" in home
    # ...and a confirmation sent anyway is refused, naming who still holds custody.
    response = client.post(ack_url, {"next": inbox_url}, follow=True)
    assert response.redirect_chain == [(inbox_url, 302)]
    said = [str(m) for m in response.context["messages"]]
    assert len(said) == 1 and "尚未被" in said[0] and f"羁押仍由{district.police.name}负责" in said[0]
    cert.refresh_from_db()
    assert cert.acknowledged_at is None

    # The certificate opens in a new tab, never in place of the list.
    pdf = reverse("custody:pdf", args=["certificate", cert.pk])
    assert re.search(rf'href="{re.escape(pdf)}" target="_blank" rel="noopener"', row)

    # Taken over: the button says exactly what is confirmed; confirming stays on the list.
    drive.fire(held_case, "accept_review_transfer", "prosecutor")
    cert.refresh_from_db()
    row = _row(client.get(inbox_url).content.decode(), cert)
    confirm = re.search(r'data-confirm="([^"]*)"', row).group(1)
    assert cert.number in confirm and cert.person.name in confirm
    assert f"由 {district.police.name} 转由 {district.procuratorate.name} 负责" in confirm
    assert f"法定期限至 {cert.period_end:%Y-%m-%d}" in confirm
    response = client.post(ack_url, {"next": inbox_url}, follow=True)
    assert response.redirect_chain == [(inbox_url, 302)]
    assert [str(m) for m in response.context["messages"]] == [f"已确认 {cert.number}（{cert.person.name}）。"]
    cert.refresh_from_db()
    assert cert.acknowledged_by == district.detention_officer
    assert f'data-certificate="{cert.pk}"' not in response.content.decode()  # done: off the list


def test_the_detainee_page_confirms_in_place_and_the_api_refuses_a_sent_certificate(
        held_case, drive, district, client):
    drive.fire(held_case, "transfer_for_review", "investigator", facts="结伙入室盗窃。", evidence="监控录像",
               to_agency=district.procuratorate.pk)
    cert = CustodyCertificate.objects.filter(case=held_case).order_by("id").first()
    api = APIClient()
    api.force_authenticate(district.detention_officer)
    refused = api.post(f"/api/v1/custody/certificates/{cert.pk}/acknowledge/")
    assert refused.status_code == 400 and "尚未被" in refused.content.decode()

    client.force_login(district.detention_officer)
    page_url = reverse("custody:detainee", args=[cert.record_id])
    row = _row(client.get(page_url).content.decode(), cert)
    assert "data-awaiting-takeover" in row and "<form" not in row
    drive.fire(held_case, "accept_review_transfer", "prosecutor")
    row = _row(client.get(page_url).content.decode(), cert)
    assert 'target="_blank" rel="noopener"' in row and "data-confirm=" in row
    response = client.post(reverse("custody:acknowledge", args=["certificate", cert.pk]), {"next": page_url},
                           follow=True)
    assert response.redirect_chain == [(page_url, 302)]
    assert "已确认" in str(list(response.context["messages"])[0])
