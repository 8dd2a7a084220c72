"""One rule for 404 and 403, the same on the pages and in the API (casehub.agencies.doors).

A user who may not see an object gets 404 — the answer does not tell them it exists. A user who may
see it but not do what they ask gets 403. Stated here for a transfer package (re-verifying it is the
receiver's) and a custody certificate (acknowledging it is the detention centre's), through the HTML
views and the API alike.

A list (page or endpoint) is 403 to a role that can never read such objects — the list's existence is
no secret and there is no object to hide — while each object in it stays 404 outside the user's
reach. Stated for the package inbox and list, internal approvals, the deadline lists, the detention
centre's lists, the dossier and the integration endpoints (feed, webhooks); for cases and what hangs
on them (persons, transitions, custody records and notices, separation, uploads, the package archive
and submission), legal aid, and the lists of the audit trail, metrics, PKI, sweeps and system clients.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from casehub.cases.models import Case
from casehub.custody.models import CustodyCertificate, CustodyNotice, Measure
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


# --- the case door (casehub.cases.doors): cases, persons, actions, custody records, separation ------


@pytest.mark.django_db
def test_a_case_is_404_to_another_district_and_to_a_role_that_reads_no_cases_and_nothing_changes(
        wf_case, district, other_district, client, api_as):
    persons = wf_case.persons.count()
    detail, add = reverse("cases:detail", args=[wf_case.pk]), reverse("cases:person_add", args=[wf_case.pk])
    api, api_persons = f"/api/v1/cases/{wf_case.pk}/", f"/api/v1/cases/{wf_case.pk}/persons/"
    person = {"role": "suspect", "name": "越权添加的人", "sex": "M", "custody_status": "not_detained"}
    # Another district's investigator, and the agency's own administrator and the auditor (roles that
    # read no cases: they used to get 403 on the API, which told them the case was there to refuse).
    for outsider in (other_district.investigator, district.police_admin, district.auditor):
        assert _page(client, outsider, "get", detail) == 404
        assert _page(client, outsider, "post", add) == 404
        assert _api(api_as, outsider, "get", api) == 404
        assert _api(api_as, outsider, "get", api_persons) == 404
        assert _api(api_as, outsider, "post", api_persons, **person) == 404
        assert _api(api_as, outsider, "get", f"/api/v1/cases/{wf_case.pk}/actions/") == 404
        assert _api(api_as, outsider, "post", f"/api/v1/cases/{wf_case.pk}/actions/transfer_for_review/",
                    facts="越权", evidence="越权") == 404
        assert _api(api_as, outsider, "get", f"/api/v1/cases/{wf_case.pk}/custody/") == 404
        assert _api(api_as, outsider, "get", f"/api/v1/cases/{wf_case.pk}/clocks/") == 404
    # A case that does not exist answers the same.
    assert _api(api_as, district.police_admin, "get", "/api/v1/cases/999999999/") == 404
    wf_case.refresh_from_db()
    assert wf_case.persons.count() == persons and wf_case.stage == "investigation"


@pytest.mark.django_db
def test_the_case_lists_and_registering_are_403_to_a_role_that_may_not(wf_case, district, client, api_as):
    for user in (district.police_admin, district.auditor, district.detention_officer):
        assert _page(client, user, "get", reverse("cases:list")) == 403
        assert _api(api_as, user, "get", "/api/v1/cases/") == 403
    # Registering (立案) is a police investigator's: 403 to the supervisor, page and API, body unread.
    supervisor = district.police_supervisor
    assert _page(client, supervisor, "get", reverse("cases:register")) == 403
    assert _api(api_as, supervisor, "post", "/api/v1/cases/", title="越权立案") == 403
    assert _api(api_as, district.prosecutor, "post", "/api/v1/cases/", title="越权立案") == 403
    assert _api(api_as, supervisor, "get", "/api/v1/cases/") == 200


@pytest.mark.django_db
def test_adding_a_person_is_403_to_who_sees_the_case_but_may_not_edit_it(wf_case, district, client, api_as):
    persons = wf_case.persons.count()
    supervisor = district.police_supervisor  # reads the case, edits nothing
    assert _page(client, supervisor, "get", reverse("cases:detail", args=[wf_case.pk])) == 200
    assert _page(client, supervisor, "get", reverse("cases:person_add", args=[wf_case.pk])) == 403  # used to be 404
    response = api_as(supervisor, HTTP_IDEMPOTENCY_KEY="p1").post(
        f"/api/v1/cases/{wf_case.pk}/persons/", {"role": "suspect", "name": "越权", "sex": "M",
                                                 "custody_status": "not_detained"}, format="json")
    assert response.status_code == 403 and "承办机关" in response.json()["message"]
    assert wf_case.persons.count() == persons
    assert _page(client, district.investigator, "get", reverse("cases:person_add", args=[wf_case.pk])) == 200


@pytest.mark.django_db
def test_a_custody_notice_is_404_outside_the_case_and_403_to_a_role_that_issues_none(
        wf_case, district, other_district, api_as):
    record = register_custody(wf_case.persons.get(), detention_centre=district.detention, measure=Measure.DETENTION,
                              since=timezone.now() - timedelta(days=1), acting_user=district.investigator)
    url = f"/api/v1/cases/{wf_case.pk}/custody/{record.pk}/notices/"
    notice = {"kind": "extension", "reason": "越权延长羁押期限"}
    for outsider in (other_district.investigator, district.police_admin):
        assert _api(api_as, outsider, "post", url, **notice) == 404
    # The supervisor sees the case's custody records but issues no notices: 403.
    assert _api(api_as, district.police_supervisor, "get", f"/api/v1/cases/{wf_case.pk}/custody/") == 200
    assert _api(api_as, district.police_supervisor, "post", url, **notice) == 403
    assert not CustodyNotice.objects.filter(record=record).exists()


@pytest.mark.django_db
def test_separating_a_case_is_404_outside_it_and_403_to_who_sees_it_but_may_not(
        wf_case, district, other_district, client, api_as):
    split, api_split = reverse("transfers:split", args=[wf_case.pk]), f"/api/v1/cases/{wf_case.pk}/split/"
    body = {"persons": [wf_case.persons.get().pk], "reason": "越权分案"}
    for outsider in (other_district.investigator, district.police_admin):
        assert _page(client, outsider, "get", split) == 404
        assert _api(api_as, outsider, "post", api_split, **body) == 404
    # The supervisor sees the case but does not prepare cases: 403, page (it used to answer 404) and API.
    assert _page(client, district.police_supervisor, "get", split) == 403
    assert _api(api_as, district.police_supervisor, "post", api_split, **body) == 403
    assert _page(client, district.investigator, "get", split) == 200
    assert Case.objects.count() == 1


# --- the dossier and the package: uploads, marking, archive, submission ---------------------------------


@pytest.mark.django_db
def test_dossier_writes_are_404_outside_the_case_and_403_to_who_sees_it_but_may_not_write(
        wf_case, district, other_district, client, api_as):
    document = wf_case.documents.first()
    concerns, api_concerns = (reverse("dossier:document_concerns", args=[document.pk]),
                              f"/api/v1/documents/{document.pk}/concerns/")
    uploads, package = f"/api/v1/cases/{wf_case.pk}/documents/uploads/", f"/api/v1/cases/{wf_case.pk}/packages/"
    for outsider in (other_district.investigator, district.police_admin):
        assert _page(client, outsider, "post", concerns) == 404
        assert _api(api_as, outsider, "post", api_concerns, persons=[]) == 404
        assert _api(api_as, outsider, "post", uploads, filename="x.pdf", size=10) == 404
        assert _api(api_as, outsider, "post", package) == 404
    supervisor = district.police_supervisor  # reads the dossier, adds nothing to it
    assert _page(client, supervisor, "post", concerns) == 403  # used to answer 404
    assert _api(api_as, supervisor, "post", api_concerns, persons=[]) == 403
    assert _api(api_as, supervisor, "post", uploads, filename="x.pdf", size=10) == 403
    assert _api(api_as, supervisor, "post", package) == 403
    assert not document.concerns.exists()


@pytest.mark.django_db
def test_a_package_archive_is_404_to_who_may_not_see_the_package_and_403_to_a_sender_without_id_rights(
        sent, district, other_district, api_as):
    transfer, _certificate = sent
    archive = f"/api/v1/transfers/{transfer.pk}/archive/"
    for outsider in (other_district.investigator, district.police_admin, district.court_clerk):
        assert _api(api_as, outsider, "get", archive) == 404  # the administrator used to get 403
    assert _api(api_as, district.police_supervisor, "get", archive) == 403  # sees the package, no ID numbers
    assert _api(api_as, district.prosecutor, "get", archive) == 403  # not accepted yet
    assert _api(api_as, district.investigator, "get", archive) == 200


# --- legal aid ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_legal_aid_notice_is_404_outside_the_case_and_the_bureau_and_403_to_who_may_not_act(
        wf_case, district, other_district, client):
    from casehub.legalaid import services
    from casehub.legalaid.models import LegalAidRequest

    form = reverse("legalaid:request", args=[wf_case.pk])
    for outsider in (other_district.investigator, district.police_admin, district.auditor):
        assert _page(client, outsider, "get", form) == 404  # the administrator and the auditor used to get 403
    assert _page(client, district.police_supervisor, "get", form) == 403  # sees the case, notifies nobody
    assert _page(client, district.investigator, "get", form) == 200

    aid = services.send_request(wf_case, wf_case.persons.get(), kind="duty_lawyer", ground="no_counsel",
                                acting_user=district.investigator)
    detail = reverse("legalaid:detail", args=[aid.pk])
    for outsider in (other_district.legal_aid_officer, district.investigator, district.lawyer):
        assert _page(client, outsider, "get", detail) == 404
    services.assign_counsel(aid, acting_user=district.legal_aid_officer, lawyer=district.lawyer)
    # Assigning again, once assigned: the bureau sees the notice, the action is refused with the reason.
    client.force_login(district.legal_aid_officer)
    assert client.post(detail, {"lawyer": district.lawyer.pk}).status_code == 403
    assert LegalAidRequest.objects.get(pk=aid.pk).counsel == district.lawyer
    # The inbox is a list: 403 to a role that is neither the bureau's nor a lawyer's.
    assert _page(client, district.investigator, "get", reverse("legalaid:inbox")) == 403
    assert _page(client, district.lawyer, "get", reverse("legalaid:counsel", args=[aid.pk])) == 200
    assert _page(client, other_district.lawyer, "get", reverse("legalaid:counsel", args=[aid.pk])) == 404


# --- audit, metrics, PKI, sweeps, clients: lists 403, their objects 404 -------------------------------------


@pytest.mark.django_db
def test_the_audit_trail_is_403_to_other_roles_and_one_event_404_outside_the_auditors_region(
        wf_case, district, other_district, client, api_as):
    from casehub.audit.models import AuditEvent

    event = AuditEvent.objects.filter(case_id=wf_case.pk, action="case.registered").get()
    detail = f"/api/v1/audit/events/{event.sequence}/"
    for user in (district.investigator, district.police_admin):
        assert _page(client, user, "get", reverse("audit:list")) == 403
        assert _page(client, user, "get", reverse("audit:export", args=["csv"])) == 403
        assert _page(client, user, "post", reverse("audit:verify")) == 403
        assert _api(api_as, user, "get", "/api/v1/audit/events/") == 403
        assert _api(api_as, user, "post", "/api/v1/audit/verifications/") == 403
        assert _api(api_as, user, "get", detail) == 404  # used to answer 403
    assert _api(api_as, other_district.auditor, "get", detail) == 404  # another region's auditor
    assert _api(api_as, district.auditor, "get", detail) == 200


@pytest.mark.django_db
def test_metrics_pki_sweep_and_settings_pages_are_403_to_a_role_that_may_not_open_them(district, client, api_as):
    investigator = district.investigator
    for url in (reverse("metrics:dashboard"), reverse("objectstore:sweeps"), reverse("pki:certificates"),
                reverse("agency-settings")):
        assert _page(client, investigator, "get", url) == 403
    assert _api(api_as, investigator, "get", "/api/v1/metrics/") == 403
    assert _page(client, district.police_admin, "get", reverse("pki:verify")) == 403
    assert _page(client, district.auditor, "get", reverse("metrics:dashboard")) == 200
    assert _page(client, district.auditor, "get", reverse("pki:verify")) == 200
    assert _page(client, district.police_admin, "get", reverse("pki:certificates")) == 200
    assert _page(client, district.police_admin, "get", reverse("agency-settings")) == 200


@pytest.mark.django_db
def test_system_clients_are_403_as_a_list_to_other_roles_and_one_client_404_outside_the_agency(
        district, other_district, api_as):
    from casehub.agencies.models import Role
    from casehub.api.credentials import register_client
    from casehub.api.models import ApiCredential

    credential = register_client(acting_user=district.police_admin, agency=district.police, name="警综平台",
                                 role=Role.INVESTIGATOR).credential
    detail = f"/api/v1/clients/{credential.pk}/"
    investigator = district.investigator
    assert _api(api_as, investigator, "get", "/api/v1/clients/") == 403
    assert _api(api_as, investigator, "post", "/api/v1/clients/", name="越权", role="investigator") == 403
    for outsider in (investigator, other_district.police_admin):
        assert _api(api_as, outsider, "delete", detail) == 404  # the investigator used to get 403
    assert ApiCredential.objects.get(pk=credential.pk).revoked_at is None
    assert _api(api_as, district.police_admin, "get", "/api/v1/clients/") == 200


@pytest.mark.django_db
def test_firing_a_transition_is_404_outside_the_case_and_403_to_a_role_that_may_not_fire_it(
        wf_case, district, other_district, client, api_as):
    page = reverse("transfers:fire", args=[wf_case.pk, "transfer_for_review"])
    api = f"/api/v1/cases/{wf_case.pk}/actions/transfer_for_review/"
    for outsider in (other_district.investigator, district.police_admin, district.court_clerk):
        assert _page(client, outsider, "get", page) == 404
        assert _api(api_as, outsider, "post", api, facts="越权", evidence="越权") == 404  # the admin used to get 403
    # The supervisor sees the case; sending it is the investigator's: 403, page (it used to answer 404) and API.
    assert _page(client, district.police_supervisor, "get", page) == 403
    assert _api(api_as, district.police_supervisor, "post", api, facts="越权", evidence="越权") == 403
    wf_case.refresh_from_db()
    assert wf_case.stage == "investigation" and not Transfer.objects.filter(case=wf_case).exists()
    assert _page(client, district.investigator, "get", page) == 200
