"""One rule for 404 and 403, the same on the pages and in the API (casehub.agencies.doors).

A user who may not see an object gets 404 — the answer does not tell them it exists. A user who may
see it but not do what they ask gets 403. Stated here for a transfer package (re-verifying it is the
receiver's) and a custody certificate (acknowledging it is the detention centre's), through the HTML
views and the API alike.

A list (page or endpoint) is 403 to a role that can never read such objects — the list's existence is
no secret and there is no object to hide — while each object in it stays 404 outside the user's
reach. Stated for the package inbox and list, internal approvals, the deadline lists, the detention
centre's lists, the dossier and the integration endpoints (feed, webhooks).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from casehub.custody.models import CustodyCertificate, Measure
from casehub.custody.services import register_custody
from casehub.integration.models import WebhookEndpoint
from workflows import engine
from workflows.models import ApprovalStatus, Transfer


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


def _api(api_as, user, method: str, path: str, **data) -> int:
    client = api_as(user, HTTP_IDEMPOTENCY_KEY=f"door-{user.pk}-{method}-{path}")
    call = getattr(client, method)
    return (call(path, data, format="json") if data else call(path)).status_code


@pytest.mark.django_db
def test_the_package_lists_are_403_to_a_role_that_reads_no_packages(district, client, api_as):
    # The inbox page and the API's transfer list: the administrator and the auditor work with no
    # packages — 403, page and API alike (the page used to answer 404).
    for user in (district.police_admin, district.auditor):
        assert _page(client, user, "get", reverse("transfers:inbox")) == 403
        assert _api(api_as, user, "get", "/api/v1/transfers/") == 403
    assert _page(client, district.investigator, "get", reverse("transfers:inbox")) == 200
    assert _api(api_as, district.investigator, "get", "/api/v1/transfers/") == 200


@pytest.fixture
def pending_approval(wf_case, district, django_capture_on_commit_callbacks):
    """The investigator asked to request an arrest; it waits for the police supervisor."""
    with django_capture_on_commit_callbacks(execute=True):
        result = engine.fire(wf_case, "request_arrest", acting_user=district.investigator,
                             inputs={"reason": "涉嫌盗窃，有逮捕必要"})
    assert result.awaiting_approval
    return result.approval


@pytest.mark.django_db
def test_an_approval_is_404_outside_the_agency_and_deciding_it_is_403_without_approval_rights(
        pending_approval, district, other_district, client, api_as):
    page, preview = (reverse("transfers:approval", args=[pending_approval.pk]),
                     reverse("transfers:approval_preview", args=[pending_approval.pk]))
    api, decide = f"/api/v1/approvals/{pending_approval.pk}/", f"/api/v1/approvals/{pending_approval.pk}/decide/"

    # The list: 403 to a role that reads no approvals.
    assert _api(api_as, district.police_admin, "get", "/api/v1/approvals/") == 403
    assert _api(api_as, district.police_supervisor, "get", "/api/v1/approvals/") == 200

    # One request: 404 to another agency's supervisor and to a role of the same agency that reads none.
    for outsider in (other_district.police_supervisor, district.procuratorate_supervisor, district.police_admin):
        assert _page(client, outsider, "get", page) == 404
        assert _page(client, outsider, "get", preview) == 404
        assert _api(api_as, outsider, "get", api) == 404
        assert _page(client, outsider, "post", page) == 404
        assert _api(api_as, outsider, "post", decide, approve=True, comment="越权") == 404

    # The officer who asked sees it, but deciding is a supervisor's: 403 with the reason, page and API.
    assert _page(client, district.investigator, "get", page) == 200
    client.force_login(district.investigator)
    assert client.post(page, {"action": "approve", "comment": "自批"}).status_code == 403
    response = api_as(district.investigator, HTTP_IDEMPOTENCY_KEY="self").post(decide, {"approve": True}, format="json")
    assert response.status_code == 403 and "审批人" in response.json()["message"]
    pending_approval.refresh_from_db()
    assert pending_approval.status == ApprovalStatus.PENDING

    assert _api(api_as, district.police_supervisor, "post", decide, approve=True, comment="同意") == 200


@pytest.mark.django_db
def test_the_deadline_lists_are_403_to_a_role_that_works_on_no_cases(wf_case, district, other_district, client,
                                                                      api_as):
    agency_page, case_page = reverse("clocks:list"), reverse("clocks:case", args=[wf_case.pk])
    case_api = f"/api/v1/cases/{wf_case.pk}/clocks/"
    for user in (district.police_admin, district.auditor, district.detention_officer):
        assert _page(client, user, "get", agency_page) == 403  # the page used to answer 404
        assert _api(api_as, user, "get", "/api/v1/clocks/") == 403
    assert _page(client, district.investigator, "get", agency_page) == 200
    assert _api(api_as, district.investigator, "get", "/api/v1/clocks/") == 200

    # A case's clocks: the case first — 404 to who may not see it — whatever the role.
    for outsider in (other_district.investigator, district.court_clerk):
        assert _page(client, outsider, "get", case_page) == 404
        assert _api(api_as, outsider, "get", case_api) == 404
    assert _page(client, district.investigator, "get", case_page) == 200
    assert _api(api_as, district.investigator, "get", case_api) == 200


@pytest.mark.django_db
def test_the_detention_centres_lists_are_403_to_anyone_else_and_a_record_404(wf_case, district, other_district,
                                                                             client, api_as):
    record = register_custody(wf_case.persons.get(), detention_centre=district.detention, measure=Measure.DETENTION,
                              since=timezone.now() - timedelta(days=1), acting_user=district.investigator)
    for user in (district.investigator, district.prosecutor, district.police_admin):
        assert _page(client, user, "get", reverse("custody:inbox")) == 403  # used to answer 404
        assert _page(client, user, "get", reverse("custody:detainees")) == 403
        assert _api(api_as, user, "get", "/api/v1/custody/detainees/") == 403
    for user in (district.investigator, other_district.detention_officer):
        assert _page(client, user, "get", reverse("custody:detainee", args=[record.pk])) == 404
        assert _api(api_as, user, "get", f"/api/v1/custody/detainees/{record.pk}/") == 404
    officer = district.detention_officer
    assert _page(client, officer, "get", reverse("custody:inbox")) == 200
    assert _page(client, officer, "get", reverse("custody:detainee", args=[record.pk])) == 200
    assert _api(api_as, officer, "get", f"/api/v1/custody/detainees/{record.pk}/") == 200

    # Certificates and notices: the lists are 403 to a role that reads neither.
    for user in (district.police_admin, district.auditor):
        assert _api(api_as, user, "get", "/api/v1/custody/certificates/") == 403
        assert _api(api_as, user, "get", "/api/v1/custody/notices/") == 403
    assert _api(api_as, district.investigator, "get", "/api/v1/custody/certificates/") == 200


@pytest.mark.django_db
def test_the_dossier_is_404_outside_the_case_and_403_to_a_role_that_may_not_read_or_assemble(
        wf_case, district, other_district, client, api_as):
    page, assemble = reverse("dossier:case", args=[wf_case.pk]), reverse("dossier:assemble", args=[wf_case.pk])
    api, api_assemble = f"/api/v1/cases/{wf_case.pk}/volumes/", f"/api/v1/cases/{wf_case.pk}/volumes/assemble/"
    for outsider in (other_district.investigator, district.prosecutor):
        assert _page(client, outsider, "get", page) == 404
        assert _api(api_as, outsider, "get", api) == 404
        assert _page(client, outsider, "post", assemble) == 404
        assert _api(api_as, outsider, "post", api_assemble, part="main") == 404
    # The supervisor reads the dossier but assembles nothing: 403, page and API; no upload form.
    supervisor = district.police_supervisor
    assert _page(client, supervisor, "post", assemble) == 403
    assert _api(api_as, supervisor, "post", api_assemble, part="main") == 403
    client.force_login(supervisor)
    assert client.get(page).context["can_upload"] is False
    client.force_login(district.investigator)
    assert client.get(page).context["can_upload"] is True


@pytest.mark.django_db
def test_the_integration_lists_are_403_to_a_role_that_reads_none_and_an_endpoint_404(
        district, other_district, api_as):
    endpoint = WebhookEndpoint.objects.create(agency=district.police, url="https://hooks.example.org/casehub",
                                              event_types=["package.sent"], encrypted_secret=b"x",
                                              created_by=district.police_admin)
    detail = f"/api/v1/webhooks/{endpoint.pk}/"
    # The webhook list and registering one: the agency's administrator (or a system client) only.
    investigator = district.investigator
    assert _api(api_as, investigator, "get", "/api/v1/webhooks/") == 403
    assert _api(api_as, investigator, "post", "/api/v1/webhooks/", url="https://hooks.example.org/x",
                event_types=["package.sent"]) == 403
    # One endpoint: 404 to who may not see it — another agency's administrator, and now also a
    # role of the same agency that manages none (it used to answer 403 for every action).
    for outsider in (other_district.police_admin, investigator):
        assert _api(api_as, outsider, "get", detail) == 404
        assert _api(api_as, outsider, "delete", detail) == 404
    assert _api(api_as, district.police_admin, "get", detail) == 200
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).active

    # The change feed: 403 to a role that reads no events.
    assert _api(api_as, district.police_admin, "get", "/api/v1/events/") == 403
    assert _api(api_as, investigator, "get", "/api/v1/events/") == 200
