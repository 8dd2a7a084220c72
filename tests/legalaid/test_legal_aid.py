"""The justice bureau on the platform: legal-aid notices (CPL arts. 35, 278), duty-lawyer requests
(art. 36), the bureau assigning counsel within 3 days (Legal Aid Law art. 36), and what the assigned
lawyer may read (art. 40: the case file from the review for prosecution on, never the work file)."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from casehub.audit.models import AuditEvent
from casehub.clocks.models import Clock, ClockStatus
from casehub.legalaid import services
from casehub.legalaid.models import LegalAidRequest, RequestStatus
from casehub.legalaid.selectors import counsel_documents
from casehub.notifications.models import Notification
from tests.dossier import files

pytestmark = pytest.mark.django_db


def _notice(district, case, *, found_on, user="investigator", ground="minor"):
    return services.send_request(case, case.persons.get(), kind="defence", ground=ground, found_on=found_on,
                                 acting_user=district.users[user])


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_a_notice_sent_within_three_days_starts_the_bureaus_three_day_clock(district, case):
    """Found on 27 February, notified on 2 March: within the 3 days of Legal Aid Law art. 36 (due
    2 March, a Monday); the bureau's clock to assign counsel runs from the notice, due 5 March."""
    aid = _notice(district, case, found_on=date(2026, 2, 27))
    assert aid.bureau == district.justice and aid.from_agency == district.police
    assert aid.notice_clock.kind == "legal_aid_notice" and aid.notice_clock.agency == district.police
    assert aid.notice_clock.status == ClockStatus.STOPPED
    assert aid.notice_clock.due_date == date(2026, 3, 2)
    assert aid.assignment_clock.kind == "legal_aid_assignment" and aid.assignment_clock.agency == district.justice
    assert aid.assignment_clock.status == ClockStatus.RUNNING
    assert aid.assignment_clock.due_date == date(2026, 3, 5)
    event = AuditEvent.objects.get(action="legal_aid.requested")
    assert event.details["notice_on_time"] is True and event.details["ground"] == "minor"
    # The bureau's legal-aid officer is told, and sees it on the home page with its countdown.
    assert Notification.objects.filter(recipient=district.legal_aid_officer, kind="legal_aid").exists()


@pytest.mark.time_machine("2026-03-09T10:00:00+08:00")
def test_a_late_notice_is_recorded_late(district, case):
    aid = _notice(district, case, found_on=date(2026, 3, 2))  # due 5 March
    assert aid.notice_clock.due_date == date(2026, 3, 5)
    assert AuditEvent.objects.get(action="legal_aid.requested").details["notice_on_time"] is False


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_only_the_holder_may_notify_and_only_for_its_suspects(district, case):
    with pytest.raises(PermissionDenied):
        _notice(district, case, found_on=date(2026, 3, 1), user="prosecutor")  # the police hold the case
    with pytest.raises(ValidationError):
        _notice(district, case, found_on=date(2026, 3, 3))  # a date in the future
    with pytest.raises(ValidationError):
        _notice(district, case, found_on=date(2026, 3, 1), ground="no_counsel")  # not a ground of art. 35
    _notice(district, case, found_on=date(2026, 3, 1))
    with pytest.raises(ValidationError):
        _notice(district, case, found_on=date(2026, 3, 1))  # one notice per person
    # A duty-lawyer request (art. 36) is a separate request without a statutory clock.
    duty = services.send_request(case, case.persons.get(), kind="duty_lawyer", ground="minor",
                                 acting_user=district.investigator)
    assert duty.ground == "no_counsel" and duty.notice_clock is None and duty.assignment_clock is None


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_the_bureau_assigns_counsel_and_the_sender_is_told(district, case, client):
    aid = _notice(district, case, found_on=date(2026, 3, 1))
    client.force_login(district.legal_aid_officer)
    home = client.get(reverse("home")).content.decode()
    assert "张三" in home and reverse("legalaid:detail", args=[aid.pk]) in home
    page = client.get(reverse("legalaid:detail", args=[aid.pk])).content.decode()
    assert "张三" in page and "440307199001011234" not in page  # the bureau sees no identity number
    # The bureau does not get the case page or the dossier.
    assert client.get(reverse("cases:detail", args=[case.pk])).status_code in (403, 404)
    assert client.get(reverse("dossier:case", args=[case.pk])).status_code in (403, 404)
    response = client.post(reverse("legalaid:detail", args=[aid.pk]), {"lawyer": district.lawyer.pk})
    assert response.status_code == 302
    aid.refresh_from_db()
    assert aid.status == RequestStatus.ASSIGNED and aid.counsel == district.lawyer
    assert aid.counsel_firm == district.law_firm.name
    assert Clock.objects.get(pk=aid.assignment_clock_id).status == ClockStatus.STOPPED
    assert AuditEvent.objects.filter(action="legal_aid.counsel_assigned", actor=district.legal_aid_officer).exists()
    assert Notification.objects.filter(recipient=district.investigator, key=f"legal-aid-assigned-{aid.pk}").exists()
    # Assigned once: a second assignment is refused.
    assert client.post(reverse("legalaid:detail", args=[aid.pk]), {"lawyer": district.lawyer.pk}).status_code == 403
    # The case page shows the notice and the counsel to the police.
    client.force_login(district.investigator)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert district.lawyer.display_name in page and district.justice.name in page


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_a_lawyer_without_an_account_is_recorded_by_name(district, case):
    aid = _notice(district, case, found_on=date(2026, 3, 1))
    with pytest.raises(ValidationError):
        services.assign_counsel(aid, acting_user=district.legal_aid_officer)  # neither chosen nor named
    with pytest.raises(PermissionDenied):
        services.assign_counsel(aid, acting_user=district.investigator, name="李律师", firm="某所")
    services.assign_counsel(aid, acting_user=district.legal_aid_officer, name="李律师", firm="广东某律师事务所",
                            licence="14403200000000001")
    aid.refresh_from_db()
    assert aid.counsel is None and aid.counsel_name == "李律师" and aid.status == RequestStatus.ASSIGNED


def test_another_regions_bureau_and_lawyer_get_nothing(district, other_district, case, client):
    aid = services.send_request(case, case.persons.get(), kind="duty_lawyer", ground="no_counsel",
                                acting_user=district.investigator)
    with pytest.raises(PermissionDenied):
        services.assign_counsel(aid, acting_user=other_district.legal_aid_officer, lawyer=other_district.lawyer)
    with pytest.raises(ValidationError):  # a lawyer of another region's firm
        services.assign_counsel(aid, acting_user=district.legal_aid_officer, lawyer=other_district.lawyer)
    client.force_login(other_district.legal_aid_officer)
    assert client.get(reverse("legalaid:detail", args=[aid.pk])).status_code == 404


def test_counsel_reads_the_main_file_from_the_review_stage_on_never_the_work_file(
        district, case, drive, client, tmp_path):
    """CPL art. 40: from the day the procuratorate accepts the case for review, counsel reads the case
    file; the police's work file 副卷 is no part of it."""
    path = files.write(tmp_path, "work.pdf", files.text_pdf(1, "work"))
    from casehub.dossier import services as dossier

    job = dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=path,
                                title="侦查工作副卷材料", category="other", part="work")
    assert job.status == "done", job.message
    work_doc = case.documents.get(part="work")
    aid = services.send_request(case, case.persons.get(), kind="defence", ground="life_or_death",
                                found_on=timezone.localdate(), acting_user=district.investigator)
    services.assign_counsel(aid, acting_user=district.legal_aid_officer, lawyer=district.lawyer)
    client.force_login(district.lawyer)
    # Investigation stage: nothing yet.
    assert list(counsel_documents(aid)) == []
    page = client.get(reverse("legalaid:counsel", args=[aid.pk])).content.decode()
    assert 'id="counsel-not-yet"' in page
    main_doc = case.documents.filter(part="main").first()
    assert client.get(reverse("legalaid:counsel_document", args=[aid.pk, main_doc.pk])).status_code == 404

    drive.to_review(case)
    readable = set(counsel_documents(aid).values_list("pk", flat=True))
    main_docs = set(case.documents.filter(part="main", transfers__to_agency=district.procuratorate)
                    .values_list("pk", flat=True))
    assert main_docs and main_docs <= readable
    assert work_doc.pk not in readable
    page = client.get(reverse("legalaid:counsel", args=[aid.pk])).content.decode()
    assert "证据材料1" in page and "侦查工作副卷材料" not in page
    response = client.get(reverse("legalaid:counsel_document", args=[aid.pk, main_doc.pk]))
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body.startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="document.downloaded", actor=district.lawyer).exists()
    assert client.get(reverse("legalaid:counsel_document", args=[aid.pk, work_doc.pk])).status_code == 404
    # Counsel is no member of an agency: the case, dossier and document pages are not theirs.
    for url in (reverse("cases:detail", args=[case.pk]), reverse("dossier:case", args=[case.pk]),
                reverse("dossier:document_file", args=[main_doc.pk]), reverse("clocks:case", args=[case.pk])):
        assert client.get(url).status_code in (403, 404), url
    # Another lawyer of the same firm, not assigned, reads nothing.
    from casehub.accounts.services import create_user

    colleague = create_user(username="colleague", agency=district.law_firm, roles=["lawyer"], password=None)
    client.force_login(colleague)
    assert client.get(reverse("legalaid:counsel", args=[aid.pk])).status_code == 404
    assert client.get(reverse("legalaid:counsel_document", args=[aid.pk, main_doc.pk])).status_code == 404


def test_the_request_form_is_the_holders(district, case, client):
    client.force_login(district.investigator)
    url = reverse("legalaid:request", args=[case.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"person": case.persons.get().pk, "kind": "defence", "ground": "disability",
                                 "found_on": timezone.localdate().isoformat()})
    assert response.status_code == 302
    assert LegalAidRequest.objects.filter(case=case, ground="disability").exists()
    client.force_login(district.police_supervisor)  # sees the case, may not notify
    assert client.get(url).status_code == 403
