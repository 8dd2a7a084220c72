"""Change of jurisdiction (issue 15): the court's return of an indictment for lack of jurisdiction
(SPC Interpretation 2021 art. 219(1)(1)) and the hand-over from one procuratorate to the one with
jurisdiction (移送管辖, SPP Rules 2019 arts. 328, 391; CPL art. 172(2)).

张三 and 李四 are detained, 王五 is on bail. The court's return restarts nothing and signs nothing for
the custody; the procuratorate that receives the case counts its review period from its own
receipt and is the only one that signs custody notices from then on.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from casehub.clocks.counting import local_day
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock, ClockStatus
from casehub.custody.models import CertificateStatus, CustodyCertificate, CustodyNotice, CustodyRecord
from workflows import engine
from workflows.models import Transfer, TransferKind, TransferStatus

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _running(case, kind):
    return Clock.objects.filter(case=case, kind=kind, status__in=ACTIVE_STATUSES)


def _fire_as(drive, case, name, user, **inputs):
    with drive.capture(execute=True):
        result = engine.fire(case, name, acting_user=user, inputs=inputs)
    case.refresh_from_db()
    return result


@pytest.fixture
def returned(gang_case, drive, district, city):
    """Reviewed from 2 March 2026, indicted on 12 March, returned by the district court on 13 March
    because the intermediate court has jurisdiction."""
    with time_machine.travel(datetime(2026, 3, 2, 10, tzinfo=SHANGHAI), tick=False):
        drive.to_review(gang_case)
    with time_machine.travel(datetime(2026, 3, 12, 10, tzinfo=SHANGHAI), tick=False):
        drive.fire(gang_case, "indict", "prosecutor", facts="经审查查明……", charges="抢劫罪，可能判处无期徒刑")
    with time_machine.travel(datetime(2026, 3, 13, 10, tzinfo=SHANGHAI), tick=False):
        drive.fire(gang_case, "return_indictment_for_jurisdiction", "court_clerk", competent_court=city.court,
                   reason="可能判处无期徒刑，应由中级人民法院第一审（刑事诉讼法第二十一条）")
    return gang_case


def test_the_courts_return_for_jurisdiction_restarts_nothing_and_signs_no_custody_notice(returned, district):
    """SPC Interpretation 2021 art. 219(1)(1): the case goes back to the procuratorate that sent it.
    Its review period counts on from the receipt of 2 March (art. 172: nothing restarts it); the
    custody never left it, so the court signs no notice and the pending 换押证 are cancelled; SPP
    Rules arts. 328, 391: the procuratorate has 5 days to send the case on."""
    case = returned
    assert (case.stage, case.holder_agency) == ("prosecution_review", district.procuratorate)
    review = _running(case, ClockKind.REVIEW_PROSECUTION).get()
    assert local_day(review.started_at) == date(2026, 3, 2) and review.due_date == date(2026, 4, 2)
    assert not _running(case, ClockKind.COURT_ACCEPTANCE).exists()
    handover = _running(case, ClockKind.JURISDICTION_HANDOVER).get()
    assert (handover.agency, handover.due_date) == (district.procuratorate, date(2026, 3, 18))
    assert not CustodyNotice.objects.filter(agency=district.court).exists()
    assert not CustodyCertificate.objects.filter(case=case, status=CertificateStatus.ISSUED).exists()
    assert set(CustodyRecord.objects.filter(case=case).values_list("responsible_agency", flat=True)) == {
        district.procuratorate.pk}
    assert Transfer.objects.get(case=case, kind=TransferKind.INDICTMENT).status == TransferStatus.REJECTED


def test_the_procuratorate_cannot_send_the_indictment_back_to_the_court_that_declined(returned, drive):
    """SPP Rules 2019 art. 391: after the court changed jurisdiction, the case goes to the
    procuratorate that matches the competent court, not to the same court again."""
    with pytest.raises(engine.GuardFailed, match="第三百九十一条"):
        drive.fire(returned, "indict", "prosecutor", facts="经审查查明……", charges="抢劫罪")
    assert returned.stage == "prosecution_review"


def test_the_receiving_procuratorate_counts_its_review_period_from_its_own_receipt(returned, drive, district, city):
    """CPL art. 172(2): 改变管辖的，从改变后的人民检察院收到案件之日起计算审查起诉期限. The sending
    procuratorate's clocks stop when the case is accepted; the detained suspects' custody moves with
    the case (换押) and the receiving procuratorate's period bounds it; 王五 on bail has no custody
    record and is not touched."""
    case = returned
    old_review = _running(case, ClockKind.REVIEW_PROSECUTION).get()
    with pytest.raises(engine.GuardFailed, match="不能移送本院"):
        drive.fire(case, "transfer_jurisdiction", "prosecutor", to_agency=district.procuratorate, reason="管辖错误")
    with time_machine.travel(datetime(2026, 3, 16, 10, tzinfo=SHANGHAI), tick=False):
        drive.fire(case, "transfer_jurisdiction", "prosecutor", to_agency=city.procuratorate,
                   reason="可能判处无期徒刑，由与中级人民法院对应的人民检察院审查起诉")
    assert (case.stage, case.holder_agency) == ("jurisdiction_transfer", district.procuratorate)
    assert not _running(case, ClockKind.JURISDICTION_HANDOVER).exists()  # sent within the 5 days
    assert _running(case, ClockKind.REVIEW_PROSECUTION).get().pk == old_review.pk  # runs until received
    certificates = CustodyCertificate.objects.filter(case=case, status=CertificateStatus.ISSUED)
    assert sorted(certificates.values_list("person__name", flat=True)) == ["张三", "李四"]
    assert {c.to_agency_id for c in certificates} == {city.procuratorate.pk}

    notices_before = set(CustodyNotice.objects.filter(case=case).values_list("pk", flat=True))
    with time_machine.travel(datetime(2026, 3, 20, 10, tzinfo=SHANGHAI), tick=False):
        _fire_as(drive, case, "accept_jurisdiction_transfer", city.city_prosecutor)
    assert (case.stage, case.holder_agency) == ("prosecution_review", city.procuratorate)
    assert Clock.objects.get(pk=old_review.pk).status == ClockStatus.STOPPED
    review = _running(case, ClockKind.REVIEW_PROSECUTION).get()
    assert review.agency == city.procuratorate
    assert local_day(review.started_at) == date(2026, 3, 20) and review.due_date == date(2026, 4, 20)
    assert not _running(case, ClockKind.REVIEW_PROSECUTION).filter(agency=district.procuratorate).exists()
    for record in CustodyRecord.objects.filter(case=case):
        assert record.responsible_agency == city.procuratorate
        assert record.period_end == review.due_date
    new_notices = CustodyNotice.objects.filter(case=case).exclude(pk__in=notices_before)
    assert set(new_notices.values_list("agency", flat=True)) <= {city.procuratorate.pk}
    assert not CustodyRecord.objects.filter(person__name="王五").exists()
    assert case.persons.get(name="王五").custody_status == "bail"


def test_a_refused_change_of_jurisdiction_leaves_the_sender_with_its_own_period(returned, drive, district, city):
    """SPP Rules 2019 art. 328: the receiving procuratorate may refuse; the case comes back to the
    sender, whose review period counts on (nothing restarts it) and whose custody never moved."""
    case = returned
    review = _running(case, ClockKind.REVIEW_PROSECUTION).get()
    drive.fire(case, "transfer_jurisdiction", "prosecutor", to_agency=city.procuratorate, reason="管辖错误")
    _fire_as(drive, case, "reject_jurisdiction_transfer", city.city_prosecutor, reason="本院认为应由基层院管辖")
    assert (case.stage, case.holder_agency) == ("prosecution_review", district.procuratorate)
    again = _running(case, ClockKind.REVIEW_PROSECUTION).get()
    assert (again.pk, again.due_date) == (review.pk, review.due_date)
    assert not CustodyCertificate.objects.filter(case=case, status=CertificateStatus.ISSUED).exists()
    assert not CustodyNotice.objects.filter(agency=city.procuratorate).exists()
    assert set(CustodyRecord.objects.filter(case=case).values_list("responsible_agency", flat=True)) == {
        district.procuratorate.pk}


def test_the_handover_period_is_five_days_and_overdue_after(returned):
    """SPP Rules 2019 art. 328: five days from finding the case is not its own."""
    handover = _running(returned, ClockKind.JURISDICTION_HANDOVER).get()
    assert handover.due_date - local_day(handover.started_at) == timedelta(days=5)
