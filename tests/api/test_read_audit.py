"""Reads that disclose personal data leave an audit event; download links are bound to the user who
asked for them and their use is recorded; refused requests are recorded, at a bounded rate
(issue #18, F18.4)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from casehub.audit.models import AuditEvent
from tests.api.test_dossier import upload
from tests.dossier import files
from workflows.models import Transfer

pytestmark = pytest.mark.django_db

REVIEW_INPUTS = {"facts": "2026年1月入室盗窃。", "evidence": "证人证言\n现场勘验"}


def last(action: str, actor) -> AuditEvent:
    return AuditEvent.objects.filter(action=action, actor_id=actor.pk).latest("sequence")


def test_api_reads_of_a_case_its_persons_and_a_transfer_manifest_are_audited(wf_case, district, drive, api_as):
    investigator = api_as(district.investigator)
    assert investigator.get(f"/api/v1/cases/{wf_case.pk}/").status_code == 200
    assert last("case.viewed", district.investigator).case_id == wf_case.pk
    assert investigator.get(f"/api/v1/cases/{wf_case.pk}/persons/").status_code == 200
    person = wf_case.persons.first()
    assert investigator.get(f"/api/v1/cases/{wf_case.pk}/persons/{person.pk}/").status_code == 200
    assert [e.details.get("person") for e in AuditEvent.objects.filter(action="case.persons_viewed")] == \
        [None, person.pk]

    drive.fire(wf_case, "transfer_for_review", "investigator", **REVIEW_INPUTS, to_agency=district.procuratorate.pk)
    transfer = Transfer.objects.get(case=wf_case)
    assert api_as(district.prosecutor).get(f"/api/v1/transfers/{transfer.pk}/").status_code == 200
    viewed = last("transfer.viewed", district.prosecutor)
    assert viewed.object_id == str(transfer.pk) and viewed.case_id == wf_case.pk

    client = Client()
    client.force_login(district.prosecutor)
    assert client.get(reverse("transfers:detail", args=[transfer.pk])).status_code == 200
    assert AuditEvent.objects.filter(action="transfer.viewed", actor_id=district.prosecutor.pk).count() == 2


def test_the_custody_page_is_an_audited_read(wf_case, district):
    client = Client()
    client.force_login(district.investigator)
    assert client.get(reverse("custody:case", args=[wf_case.pk])).status_code == 200
    assert last("custody.viewed", district.investigator).case_id == wf_case.pk


def test_version_history_reads_and_links_are_audited_and_a_link_works_only_for_its_user(
        theft_case, district, make_user, api_as):
    from casehub.agencies.models import Role

    client = api_as(district.investigator)
    doc_id = client.get(upload(client, theft_case, files.text_pdf(1, "v"))["Location"]).json()["result"]["document"]
    assert client.get(f"/api/v1/documents/{doc_id}/versions/").status_code == 200
    assert last("document.versions_viewed", district.investigator).object_id == str(doc_id)

    direct = client.get(f"/api/v1/documents/{doc_id}/link/").json()["direct_url"]
    colleague = Client()
    colleague.force_login(make_user(district.police, [Role.INVESTIGATOR]))
    assert colleague.get(direct).status_code == 404  # someone else's link: as if it did not exist
    owner = Client()
    owner.force_login(district.investigator)
    response = owner.get(direct)
    assert response.status_code == 200
    used = last("object.downloaded", district.investigator)
    assert used.details["bound_to_user"] is True
    assert used.details["sha256"] == client.get(f"/api/v1/documents/{doc_id}/").json()["sha256"]


def test_refused_requests_are_recorded_at_most_ten_a_minute_per_user(theft_case, other_district, api_as):
    prober = api_as(other_district.investigator)
    for _ in range(15):
        assert prober.get(f"/api/v1/cases/{theft_case.pk}/").status_code == 404
    denied = list(AuditEvent.objects.filter(action="access.denied", actor_id=other_district.investigator.pk)
                  .order_by("sequence"))
    assert len(denied) == 10
    assert denied[0].details == {"method": "GET", "path": f"/api/v1/cases/{theft_case.pk}/", "status": 404}
    assert denied[-1].details["further_denials_this_minute_not_recorded"] is True
    # The browser's refusals too, and anonymous requests are not (they have no one to name).
    browser = Client()
    browser.force_login(other_district.prosecutor)
    assert browser.get(reverse("cases:detail", args=[theft_case.pk])).status_code == 404
    assert last("access.denied", other_district.prosecutor).details["status"] == 404
    before = AuditEvent.objects.count()
    assert APIClient().get(f"/api/v1/cases/{theft_case.pk}/").status_code in (401, 403)
    assert AuditEvent.objects.count() == before
