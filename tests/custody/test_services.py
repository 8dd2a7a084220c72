"""Custody services called directly: registration, guards, acknowledgement, notices, paper transfers."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from casehub.audit.models import AuditEvent
from casehub.cases import access
from casehub.cases.models import CustodyStatus, PersonRole
from casehub.cases.state import engine_writes
from casehub.clocks.counting import due_date
from casehub.clocks.models import Clock, ClockStatus
from casehub.custody import handlers, services
from casehub.custody.models import (
    CertificateStatus,
    Channel,
    CustodyCertificate,
    CustodyNotice,
    CustodyRecord,
    Measure,
    NoticeKind,
    RecordStatus,
)
from casehub.custody.selectors import deadline_list, transfer_stats
from casehub.objectstore.services import read_bytes

pytestmark = pytest.mark.django_db


def test_registration_opens_the_3_day_arrest_request_clock(gang_case, district):
    """Art. 91: a detention gives the police 3 days to request arrest (not a 30-day clock); the
    detention lasts at most until the procuratorate's 7 days after that."""
    zhang = gang_case.persons.get(name="张三")
    record = CustodyRecord.objects.get(person=zhang)
    clock = Clock.objects.get(case=gang_case, person=zhang, kind="arrest_request")
    assert clock.custody and clock.agency == district.police
    assert not Clock.objects.filter(case=gang_case, kind="detention").exists()
    assert clock.due_date == due_date(record.detained_at, days=3, custody=True).date
    assert record.period_end == due_date(record.detained_at, days=3 + 7, custody=True).date
    assert (record.responsible_agency, record.measure, record.status) == (
        district.police, Measure.DETENTION, RecordStatus.IN_CUSTODY)
    zhang.refresh_from_db()
    assert zhang.custody_status == CustodyStatus.DETAINED and zhang.detention_centre == district.detention
    assert AuditEvent.objects.filter(action="custody.registered", case_id=gang_case.pk).count() == 2


def test_bad_registrations_change_nothing(gang_case, district, other_district):
    wang = gang_case.persons.get(name="王五")
    now = timezone.now()
    with pytest.raises(PermissionDenied):  # the procuratorate does not hold the case
        services.register_custody(wang, detention_centre=district.detention, measure=Measure.DETENTION,
                                  since=now, acting_user=district.prosecutor)
    with pytest.raises(ValidationError):  # a court is not a detention centre
        services.register_custody(wang, detention_centre=district.court, measure=Measure.DETENTION, since=now,
                                  acting_user=district.investigator)
    with pytest.raises(ValidationError):
        services.register_custody(wang, detention_centre=district.detention, measure=Measure.DETENTION,
                                  since=now + timedelta(hours=1), acting_user=district.investigator)
    with pytest.raises(ValidationError):  # already registered
        services.register_custody(gang_case.persons.get(name="张三"), detention_centre=district.detention,
                                  measure=Measure.DETENTION, since=now, acting_user=district.investigator)
    victim = gang_case.persons.create(role=PersonRole.VICTIM, name="被害人")
    with pytest.raises(ValidationError):
        services.register_custody(victim, detention_centre=district.detention, measure=Measure.DETENTION,
                                  since=now, acting_user=district.investigator)
    assert CustodyRecord.objects.filter(case=gang_case).count() == 2
    wang.refresh_from_db()
    assert wang.custody_status == CustodyStatus.BAIL


def test_certificate_never_points_at_an_agency_that_does_not_hold_the_case(gang_case, district):
    with pytest.raises(ValidationError, match="承办机关"):
        services.issue_certificates(gang_case, from_agency=district.police, to_agency=district.court,
                                    reason="移送审查起诉", acting_user=district.investigator)
    with pytest.raises(ValidationError):  # nor at the sender itself
        services.issue_certificates(gang_case, from_agency=district.police, to_agency=district.police,
                                    reason="x", acting_user=district.investigator)
    assert not CustodyCertificate.objects.exists()


def test_check_ready_for_acceptance_names_each_unregistered_detainee(gang_case):
    assert services.check_ready_for_acceptance(gang_case) == []
    gang_case.persons.create(role=PersonRole.SUSPECT, name="赵六", custody_status=CustodyStatus.ARRESTED)
    reasons = services.check_ready_for_acceptance(gang_case)
    assert len(reasons) == 1 and "赵六" in reasons[0]


def _held_by_procuratorate(case, district):
    """What acceptance by the procuratorate does to the case row and permissions (test data: only
    the engine may write these, so the test opens the engine's write scope)."""
    with engine_writes():
        case.holder_agency = district.procuratorate
        case.stage = "prosecution_review"
        case.save(update_fields=["holder_agency", "stage"])
    access.grant(case, district.procuratorate, act=True)
    access.grant(case, district.police, act=False)


def test_declared_steps_of_a_delivered_custody_package_issue_and_take_over(gang_case, district):
    # The custody participant exercised without the engine: a package of a custody-moving kind
    # that is delivered (the recipient holds the case at once) issues certificates and takes over.
    from workflows.models import Transfer

    with engine_writes():
        gang_case.holder_agency = district.procuratorate
        gang_case.save(update_fields=["holder_agency"])
    transfer = Transfer.objects.create(case=gang_case, kind="supplementary_return", requires_acceptance=False,
                                       from_agency=district.police, to_agency=district.procuratorate,
                                       status="delivered", sent_by=district.investigator)
    transition = SimpleNamespace(name="test_deliver", label="测试移送",
                                 custody=("issue_certificates", "take_over_at_once", "notices"))
    handlers.run(transition, case=gang_case, target="prosecution_review", to_agency=district.procuratorate,
                 acting_user=district.investigator, transfer=transfer)
    certs = list(CustodyCertificate.objects.filter(transfer=transfer).order_by("id"))
    assert [c.person.name for c in certs] == ["张三", "李四"]
    assert all(c.status == CertificateStatus.TAKEN_OVER and c.receipt_pdf_id for c in certs)
    assert set(CustodyRecord.objects.values_list("responsible_agency", flat=True)) == {district.procuratorate.pk}


def test_arrest_request_package_does_not_move_custody(gang_case, district):
    transfer = SimpleNamespace(kind="arrest_request", from_agency=district.police, to_agency=district.procuratorate)
    spec = SimpleNamespace(name="request_arrest", label="提请批准逮捕", custody=("issue_certificates", "notices"))
    handlers.run(spec, case=gang_case, target="arrest_requested", to_agency=district.police,
                 acting_user=district.investigator, transfer=transfer)
    assert not CustodyCertificate.objects.exists() and not CustodyNotice.objects.exists()


def test_acknowledging_is_for_that_centre_only_and_idempotent(gang_case, district, other_district):
    record = CustodyRecord.objects.get(person__name="张三")
    notice = services.issue_notice(record, kind=NoticeKind.RECALCULATION, reason="重新计算", agency=district.police,
                                   acting_user=district.investigator)
    for outsider in (district.investigator, other_district.detention_officer):
        with pytest.raises(PermissionDenied):
            services.acknowledge(notice, acting_user=outsider)
    assert services.acknowledge(notice, acting_user=district.detention_officer) is True
    assert services.acknowledge(notice, acting_user=district.detention_officer) is False
    assert AuditEvent.objects.filter(action="custody.acknowledged").count() == 1
    notice.refresh_from_db()
    assert notice.acknowledged_by == district.detention_officer


def test_extension_notice_by_the_responsible_agency(gang_case, district):
    record = CustodyRecord.objects.get(person__name="李四")
    new_end = record.period_end + timedelta(days=10)
    with pytest.raises(PermissionDenied):
        services.issue_notice_by_user(record, kind=NoticeKind.EXTENSION, reason="x", acting_user=district.prosecutor)
    with pytest.raises(ValidationError):
        services.issue_notice_by_user(record, kind=NoticeKind.EXTENSION, reason=" ", acting_user=district.investigator)
    # A notice reports the period the clock runs; it cannot make a longer one (arts. 91, 156-160).
    with pytest.raises(ValidationError, match="不能另定届满日"):
        services.issue_notice_by_user(record, kind=NoticeKind.EXTENSION, reason="深龙公延〔2026〕1号",
                                      acting_user=district.investigator, new_end=new_end)
    previous, end = record.period_end, services.custody_period(record)[2]
    notice = services.issue_notice_by_user(record, kind=NoticeKind.EXTENSION, reason="深龙公延〔2026〕1号",
                                           acting_user=district.investigator, new_end=end)
    record.refresh_from_db()
    assert record.period_end == end
    assert (notice.previous_end, notice.new_end, notice.agency) == (previous, end, district.police)
    assert read_bytes(notice.pdf).startswith(b"%PDF") and notice.number.startswith("深龙公羁变〔")


def test_release_ends_custody_its_clocks_and_deadline_listing(gang_case, district):
    record = CustodyRecord.objects.get(person__name="张三")
    listed_on = record.period_end - timedelta(days=1)
    assert len(deadline_list(district.detention_officer, today=listed_on)) == 2
    services.issue_notice_by_user(record, kind=NoticeKind.RELEASE, reason="撤销案件，予以释放",
                                  acting_user=district.investigator)
    record.refresh_from_db()
    assert record.status == RecordStatus.RELEASED and record.ended_at is not None
    assert record.person.custody_status == CustodyStatus.RELEASED
    assert Clock.objects.get(person=record.person, kind="arrest_request").status == ClockStatus.STOPPED
    assert [r["record"].person.name for r in deadline_list(district.detention_officer, today=listed_on)] == ["李四"]
    with pytest.raises(ValidationError):
        services.issue_notice_by_user(record, kind=NoticeKind.EXTENSION, reason="x", acting_user=district.investigator)


def test_the_police_cannot_record_an_arrest_by_notice(gang_case, district):
    """Arrest is the procuratorate's decision (arts. 80, 87): no notice of the police records one."""
    li = CustodyRecord.objects.get(person__name="李四")
    with pytest.raises(ValidationError, match="逮捕须经人民检察院批准"):
        services.issue_notice_by_user(li, kind=NoticeKind.ARREST, reason="批准逮捕", acting_user=district.investigator)
    li.refresh_from_db()
    assert li.measure == Measure.DETENTION and li.person.custody_status == CustodyStatus.DETAINED
    assert not CustodyNotice.objects.filter(record=li).exists()


def test_deadline_list_uses_the_measure_window(gang_case, district):
    from casehub.cases.state import engine_writes

    zhang, li = (CustodyRecord.objects.get(person__name=n) for n in ("张三", "李四"))
    # Test data: 李四 as the procuratorate's approved arrest leaves him (the approval itself is
    # test_arrest_and_views.py::test_arrest_approval_turns_detention_into_arrest_by_signed_notice).
    with engine_writes():
        CustodyRecord.objects.filter(pk=li.pk).update(measure=Measure.ARREST)
    li.refresh_from_db()
    assert li.measure == Measure.ARREST
    CustodyRecord.objects.filter(pk=li.pk).update(period_end=zhang.period_end)
    officer = district.detention_officer
    names = lambda day, **kw: [r["record"].person.name for r in deadline_list(officer, today=day, **kw)]  # noqa: E731
    end = zhang.period_end
    assert names(end - timedelta(days=8)) == []
    assert names(end - timedelta(days=7)) == ["李四"]  # arrest: 7 days ahead
    assert names(end - timedelta(days=3)) == ["张三", "李四"]  # detention: 3 days ahead
    rows = deadline_list(officer, today=end + timedelta(days=2))
    assert [(r["overdue"], r["remaining"]) for r in rows] == [(True, -2), (True, -2)]
    assert names(end - timedelta(days=20), within=30) == ["张三", "李四"]


def test_paper_transfer_is_registered_and_counted(gang_case, district):
    _held_by_procuratorate(gang_case, district)
    zhang = gang_case.persons.get(name="张三")
    when = timezone.now() - timedelta(hours=3)
    with pytest.raises(ValidationError):
        services.register_paper_transfer(zhang, from_agency=district.police, to_agency=district.procuratorate,
                                         transferred_at=when, reference="", acting_user=district.prosecutor)
    with pytest.raises(ValidationError):  # the court does not hold the case
        services.register_paper_transfer(zhang, from_agency=district.police, to_agency=district.court,
                                         transferred_at=when, reference="纸1", acting_user=district.court_clerk)
    cert = services.register_paper_transfer(zhang, from_agency=district.police, to_agency=district.procuratorate,
                                            transferred_at=when, reference="深龙公换押〔2026〕88号",
                                            acting_user=district.prosecutor)
    assert (cert.channel, cert.status, cert.pdf) == (Channel.PAPER, CertificateStatus.TAKEN_OVER, None)
    assert CustodyRecord.objects.get(person=zhang).responsible_agency == district.procuratorate
    with pytest.raises(ValidationError):  # custody already moved: the police no longer hold 张三
        services.register_paper_transfer(zhang, from_agency=district.police, to_agency=district.procuratorate,
                                         transferred_at=when, reference="again", acting_user=district.prosecutor)
    stats = transfer_stats(when - timedelta(days=1), timezone.now() + timedelta(days=1))
    assert (stats["online"], stats["paper"], stats["persons"], stats["rate"]) == (0, 1, 1, 0.0)
