"""Issue #15: separate handling (分案/另案处理) and joining (并案) of cases.

A split moves chosen suspects into a new case: their custody records, certificates and clocks
follow them unchanged (no period restarts: CPL art. 105 counts from the original event), the
case's stage clocks run on in the new case with the same due date, and the documents marked as
concerning them go with them, so the new case's package carries them. A join brings another
case's persons (with custody and clocks) into this one and closes it.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from casehub.audit.models import AuditEvent
from casehub.cases.models import Case, CaseStatus, PersonRole
from casehub.cases.services import register_case
from casehub.clocks.models import Clock, ClockStatus
from casehub.custody.models import CertificateStatus, CustodyCertificate, CustodyRecord, Measure
from casehub.custody.services import register_custody
from casehub.dossier import services as dossier
from casehub.dossier.models import Document
from tests.dossier import files
from workflows import definition as d
from workflows import separation
from workflows.models import Transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_client_for(db):
    from rest_framework.test import APIClient

    from casehub.api.credentials import issue_personal_token

    def _client(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_personal_token(acting_user=user, name='t').token}")
        return client

    return _client


def _upload(case, user, tmp_path, title: str, concerns=()):
    path = files.write(tmp_path, f"{case.pk}-{title}.pdf", files.text_pdf(1, title))
    job = dossier.ingest_upload(case=case, acting_user=user, uploaded_file_or_path=path, title=title,
                                category="evidence")
    assert job.status == "done", job.message
    doc = Document.objects.get(case=case, title=title)
    if concerns:
        dossier.mark_concerns(doc, persons=list(concerns), acting_user=user)
    return doc


def _snapshot(person):
    """What must not change when the person changes case: custody and every clock of theirs."""
    record = CustodyRecord.objects.get(person=person)
    return {
        "record": (record.pk, record.responsible_agency_id, record.measure, record.status, record.period_end,
                   record.detained_at),
        "clocks": sorted((c.pk, c.kind, c.status, c.started_at, c.due_date, c.agency_id)
                         for c in Clock.objects.filter(person=person)),
        "certificates": sorted((c.pk, c.status, c.period_end) for c in CustodyCertificate.objects.filter(person=person)),
    }


def test_split_keeps_custody_and_clocks_and_the_package_carries_the_persons_documents(
        gang_case, drive, district, client, tmp_path):
    case = gang_case
    zhang, li, wang = (case.persons.get(name=n) for n in ("张三", "李四", "王五"))
    # The police mark 李四's interrogation record and 张三's; the rest concerns the whole case.
    li_record = _upload(case, district.investigator, tmp_path, "李四讯问笔录", concerns=[li])
    _upload(case, district.investigator, tmp_path, "张三讯问笔录", concerns=[zhang])
    drive.to_review(case)  # sealed and sent: the police's documents are bound into volumes now
    # The procuratorate adds a document about 李四 after acceptance (not bound yet).
    li_hearing = _upload(case, district.prosecutor, tmp_path, "听取李四辩护人意见笔录", concerns=[li])
    assert case.stage == d.Stage.PROSECUTION_REVIEW
    li_before, zhang_before = _snapshot(li), _snapshot(zhang)
    review = Clock.objects.get(case=case, kind="review_prosecution", status=ClockStatus.RUNNING)

    client.force_login(district.prosecutor)
    page = client.get(reverse("transfers:split", args=[case.pk])).content.decode()
    assert "李四" in page and "王五" in page
    response = client.post(reverse("transfers:split", args=[case.pk]),
                           {"persons": [li.pk], "reason": "李四系另起犯意，分案处理"})
    assert response.status_code == 302, response.content.decode()[:2000]
    new = Case.objects.exclude(pk=case.pk).get()
    assert response["Location"] == reverse("cases:detail", args=[new.pk])

    # The new case: same holder and stage, its own number of the procuratorate, 李四 only.
    assert (new.holder_agency, new.stage, new.status) == (district.procuratorate, case.stage, CaseStatus.ACTIVE)
    assert list(new.persons.all()) == [li]
    assert "检刑受" in new.numbers.get().number
    assert set(case.persons.values_list("name", flat=True)) == {"张三", "王五"}
    # 李四's custody and clocks followed him, untouched; 张三's did not move.
    li.refresh_from_db()
    assert li.case == new
    assert _snapshot(li) == li_before and _snapshot(zhang) == zhang_before
    assert CustodyRecord.objects.get(person=li).case == new
    assert all(c.case_id == new.pk for c in CustodyCertificate.objects.filter(person=li))
    assert all(c.case_id == new.pk for c in Clock.objects.filter(person=li))
    assert all(c.case_id == case.pk for c in Clock.objects.filter(person=zhang))
    # The review period runs on in the new case from the same start to the same due date (no restart).
    copied = Clock.objects.get(case=new, kind="review_prosecution")
    assert (copied.started_at, copied.due_date, copied.status, copied.agency) == (
        review.started_at, review.due_date, ClockStatus.RUNNING, district.procuratorate)
    review.refresh_from_db()
    assert review.status == ClockStatus.RUNNING  # the original case's period runs on too
    # Documents: 李四's sealed record is copied (the sent volume keeps its own), the unbound one moved.
    assert set(new.documents.values_list("title", flat=True)) == {"李四讯问笔录", "听取李四辩护人意见笔录"}
    li_hearing.refresh_from_db()
    assert li_hearing.case == new
    assert Document.objects.filter(pk=li_record.pk, case=case).exists()
    assert list(new.documents.get(title="李四讯问笔录").concerns.all()) == [li]
    assert not new.documents.filter(title__in=["张三讯问笔录", "证据材料1"]).exists()
    # Audited on both cases; both histories say so; the police still see the new case.
    assert AuditEvent.objects.filter(action="case.split", case_id__in=[case.pk, new.pk]).count() == 2
    assert new.transition_log.get().transition == separation.SPLIT
    client.force_login(district.investigator)
    assert client.get(reverse("cases:detail", args=[new.pk])).status_code == 200

    # The package for 李四's case carries the documents marked for him, and his custody goes with it.
    drive.fire(new, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪", to_agency=district.court.pk)
    package = Transfer.objects.get(case=new, kind="indictment")
    carried = set(package.documents.values_list("title", flat=True))
    assert carried == {"李四讯问笔录", "听取李四辩护人意见笔录", "起诉书"}  # + the indictment it generated
    assert package.dossier_complete  # every carried document bound into the new case's volume
    cert = CustodyCertificate.objects.get(person=li, to_agency=district.court)
    assert cert.status == CertificateStatus.ISSUED and cert.case == new
    assert not CustodyCertificate.objects.filter(person=zhang, to_agency=district.court).exists()


def test_split_refuses_what_it_cannot_do(gang_case, district, other_district, client, api_client_for):
    case = gang_case
    zhang, li, wang = (case.persons.get(name=n) for n in ("张三", "李四", "王五"))
    with pytest.raises(ValidationError):  # someone must stay
        separation.split_case(case, persons=[zhang, li, wang], acting_user=district.investigator, reason="全部")
    with pytest.raises(ValidationError):  # a reason is needed
        separation.split_case(case, persons=[li], acting_user=district.investigator, reason=" ")
    # Not the holder (the procuratorate has not received it) and another district do not see the
    # case: 404. The supervisor sees it but does not prepare cases: 403 (the one rule, casehub.cases.doors).
    for user, status in ((district.prosecutor, 404), (other_district.investigator, 404),
                         (district.police_supervisor, 403)):
        client.force_login(user)
        assert client.post(reverse("transfers:split", args=[case.pk]),
                           {"persons": [li.pk], "reason": "越权"}).status_code == status
    assert Case.objects.count() == 1
    # Through the API: the same doors, then the holder's investigator splits 李四 off.
    url = f"/api/v1/cases/{case.pk}/split/"
    body = {"persons": [li.pk], "reason": "李四在逃，另案处理"}
    assert api_client_for(other_district.investigator).post(url, body, format="json").status_code == 404
    assert api_client_for(district.prosecutor).post(url, body, format="json").status_code == 404
    assert api_client_for(district.police_supervisor).post(url, body, format="json").status_code == 403
    r = api_client_for(district.investigator).post(url, body, format="json")
    assert r.status_code == 201, r.content
    new = Case.objects.get(pk=r.json()["case"])
    assert r.json()["persons"] == [li.pk] and "公（刑）立字" in r.json()["numbers"][0]
    assert CustodyRecord.objects.get(person=li).case == new
    assert Clock.objects.get(person=li, kind="arrest_request").case == new


def _detained_case(district, name, id_number):
    case = register_case(acting_user=district.investigator, title=f"{name}盗窃案", summary="",
                         persons=[{"role": PersonRole.SUSPECT, "name": name, "sex": "M", "id_number": id_number}])
    from datetime import timedelta

    from django.utils import timezone

    register_custody(case.persons.get(), detention_centre=district.detention, measure=Measure.DETENTION,
                     since=timezone.now() - timedelta(days=1), acting_user=district.investigator)
    return case


def test_join_brings_persons_with_custody_and_clocks_and_closes_the_other(
        gang_case, district, other_district, api_client_for, tmp_path):
    kept = gang_case
    other = _detained_case(district, "赵六", "440307199003033456")
    zhao = other.persons.get()
    doc = _upload(other, district.investigator, tmp_path, "赵六讯问笔录", concerns=[zhao])
    zhao_before = _snapshot(zhao)
    zhang_before = _snapshot(kept.persons.get(name="张三"))

    # Another district's investigator, or the court: 404; the supervisor cannot prepare cases: 403.
    for user in (other_district.investigator, district.court_clerk):
        r = api_client_for(user).post(f"/api/v1/cases/{kept.pk}/join/", {"other": other.pk, "reason": "越权"},
                                      format="json")
        assert r.status_code == 404
    r = api_client_for(district.police_supervisor).post(f"/api/v1/cases/{kept.pk}/join/",
                                                        {"other": other.pk, "reason": "越权"}, format="json")
    assert r.status_code == 403

    r = api_client_for(district.investigator).post(f"/api/v1/cases/{kept.pk}/join/",
                                                   {"other": other.pk, "reason": "系同伙作案，并案侦查"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["case"] == kept.pk and zhao.pk in r.json()["persons"]
    zhao.refresh_from_db()
    other.refresh_from_db()
    assert zhao.case == kept
    assert _snapshot(zhao) == zhao_before  # the arrest-request clock of the detention runs on, same due date
    assert _snapshot(kept.persons.get(name="张三")) == zhang_before
    assert CustodyRecord.objects.get(person=zhao).case == kept
    assert Clock.objects.get(person=zhao, kind="arrest_request").case == kept
    assert (other.status, other.stage) == (CaseStatus.CLOSED, d.Stage.CLOSED)
    doc.refresh_from_db()
    assert doc.case == kept
    assert AuditEvent.objects.filter(action="case.joined").count() == 2
    # A closed case cannot be joined again.
    with pytest.raises(ValidationError):
        separation.join_cases(kept, other, acting_user=district.investigator, reason="再并")


def test_join_refuses_cases_at_different_stages(gang_case, district, drive, api_client_for):
    other = _detained_case(district, "赵六", "440307199003033456")
    drive.to_review(gang_case)  # now held by the procuratorate
    r = api_client_for(district.investigator).post(f"/api/v1/cases/{other.pk}/join/",
                                                   {"other": gang_case.pk, "reason": "并案"}, format="json")
    # The police still see the case they sent, but no longer hold it: 403 with the reason.
    assert r.status_code == 403 and "承办机关" in r.json()["message"]
    assert other.persons.count() == 1


def test_marking_the_persons_a_document_concerns(gang_case, district, other_district, client, api_client_for):
    case = gang_case
    li = case.persons.get(name="李四")
    doc = case.documents.get()
    client.force_login(district.investigator)
    page = client.get(reverse("dossier:document", args=[doc.pk])).content.decode()
    assert 'id="concerns-form"' in page
    assert client.post(reverse("dossier:document_concerns", args=[doc.pk]), {"persons": [li.pk]}).status_code == 302
    assert list(doc.concerns.all()) == [li]
    assert AuditEvent.objects.filter(action="document.concerns_changed").exists()
    r = api_client_for(district.investigator).post(f"/api/v1/documents/{doc.pk}/concerns/", {"persons": []},
                                                   format="json")
    assert r.status_code == 200 and r.json()["persons"] == []
    for user in (other_district.investigator, district.prosecutor):
        client.force_login(user)
        assert client.post(reverse("dossier:document_concerns", args=[doc.pk]),
                           {"persons": [li.pk]}).status_code == 404
        assert api_client_for(user).post(f"/api/v1/documents/{doc.pk}/concerns/", {"persons": [li.pk]},
                                         format="json").status_code == 404
    assert not doc.concerns.exists()
