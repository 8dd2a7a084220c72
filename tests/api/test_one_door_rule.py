"""One rule for 404 and 403, the same on the pages and in the API (casehub.agencies.doors).

A user who may not see an object gets 404 — the answer does not tell them it exists. A user who may
see it but not do what they ask gets 403. Stated here for a transfer package (re-verifying it is the
receiver's) and a custody certificate (acknowledging it is the detention centre's), through the HTML
views and the API alike.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from casehub.custody.models import CustodyCertificate
from workflows.models import Transfer


@pytest.fixture
def sent(wf_case, drive):
    """The police have sent the case for review; the package and the 换押证 wait for the procuratorate."""
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="入室盗窃。", evidence="证言")
    return Transfer.objects.get(case=wf_case, kind="review_transfer"), CustodyCertificate.objects.get(case=wf_case)


def _page(client, user, method: str, url: str) -> int:
    client.force_login(user)
    return getattr(client, method)(url).status_code


@pytest.mark.django_db
def test_a_transfer_is_404_to_who_may_not_see_it_and_403_to_who_sees_it_but_may_not_reverify(
        sent, district, other_district, client, api_as):
    transfer, _certificate = sent
    page, reverify = reverse("transfers:detail", args=[transfer.pk]), reverse("transfers:reverify", args=[transfer.pk])
    api, api_reverify = f"/api/v1/transfers/{transfer.pk}/", f"/api/v1/transfers/{transfer.pk}/verifications/"

    # The sender sees its package; asking to re-verify it is the receiver's right: 403, page and API.
    sender = district.investigator
    assert _page(client, sender, "get", page) == 200 and api_as(sender).get(api).status_code == 200
    assert _page(client, sender, "post", reverify) == 403
    assert api_as(sender, HTTP_IDEMPOTENCY_KEY="k1").post(api_reverify).status_code == 403

    # The court of the same district (not a party yet) and another district's procuratorate do not
    # see it: 404 for reading and for acting, page and API.
    for outsider in (district.court_clerk, other_district.prosecutor):
        assert _page(client, outsider, "get", page) == 404
        assert _page(client, outsider, "post", reverify) == 404
        assert api_as(outsider).get(api).status_code == 404
        assert api_as(outsider, HTTP_IDEMPOTENCY_KEY="k2").post(api_reverify).status_code == 404

    # The receiver may.
    assert _page(client, district.prosecutor, "post", reverify) == 302
    assert api_as(district.prosecutor, HTTP_IDEMPOTENCY_KEY="k3").post(api_reverify).status_code == 202


@pytest.mark.django_db
def test_a_custody_certificate_is_404_to_who_may_not_see_it_and_403_to_who_sees_it_but_may_not_acknowledge(
        sent, district, other_district, client, api_as, drive):
    _transfer, certificate = sent
    acknowledge = reverse("custody:acknowledge", args=["certificate", certificate.pk])
    pdf = reverse("custody:pdf", args=["certificate", certificate.pk])
    api, api_acknowledge = (f"/api/v1/custody/certificates/{certificate.pk}/",
                            f"/api/v1/custody/certificates/{certificate.pk}/acknowledge/")

    # The sending police and the receiving procuratorate see the certificate (the same on the page
    # and in the API); acknowledging it is the detention centre's: 403.
    for party in (district.investigator, district.prosecutor):
        assert _page(client, party, "get", pdf) == 200 and api_as(party).get(api).status_code == 200
        assert _page(client, party, "post", acknowledge) == 403
        assert api_as(party).post(api_acknowledge).status_code == 403

    # The court (no party to it) and another district's detention centre do not see it: 404.
    for outsider in (district.court_clerk, other_district.detention_officer):
        assert _page(client, outsider, "get", pdf) == 404
        assert _page(client, outsider, "post", acknowledge) == 404
        assert api_as(outsider).get(api).status_code == 404
        assert api_as(outsider).post(api_acknowledge).status_code == 404
    assert CustodyCertificate.objects.get(pk=certificate.pk).acknowledged_at is None

    # The centre's officer acknowledges (once the procuratorate has taken custody over).
    drive.fire(certificate.case, "accept_review_transfer", "prosecutor")
    assert _page(client, district.detention_officer, "post", acknowledge) == 302
    assert CustodyCertificate.objects.get(pk=certificate.pk).acknowledged_by == district.detention_officer
