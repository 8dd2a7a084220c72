"""Three suspects in different measures, probed as an expert in criminal procedure would (issue #15):
张三 and 李四 detained (拘留), 王五 on bail (取保候审). A decision about one person does what its article
says to that person and nothing to the others; a case split for separate handling (分案处理) takes each
person's custody and clocks along, and art. 105(4) is decided again for each case's stage period.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from casehub.cases.models import CustodyStatus
from casehub.clocks.counting import local_day
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock
from casehub.custody.models import CustodyNotice, CustodyRecord, RecordStatus
from tests.custody.conftest import add_documents, gang_case  # noqa: F401 - fixture
from tests.workflow.conftest import drive  # noqa: F401 - fixture
from workflows import engine, separation

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
REASON = "有证据证明有犯罪事实，可能判处徒刑以上刑罚"


def _people(case):
    return {p.name: p for p in case.persons.all()}


def _running(person, kind):
    return Clock.objects.filter(person=person, kind=kind, status__in=ACTIVE_STATUSES)


def _arrest(driver, case, *persons):
    driver.fire(case, "request_arrest", "investigator", reason=REASON, persons=[p.pk for p in persons])
    driver.fire(case, "accept_arrest_request", "prosecutor")
    driver.fire(case, "approve_arrest", "prosecutor")


def test_refusing_one_leaves_the_arrested_and_the_bailed_co_suspects_alone_and_reconsideration_keeps_him_out(
        gang_case, drive, district):  # noqa: F811
    """Arts. 90, 91(3), 92; SPP Rules 2019 art. 290: 张三 is already arrested when 李四's arrest is
    refused. 李四 is released at once and his custody ends; 张三's investigation custody (art. 156)
    runs on unchanged — same clock, same end, no notice to the detention centre; 王五's bail and its
    period are untouched. The police ask for reconsideration: 李四 stays released while the
    procuratorate's 7 days run on their own clock, and nobody else's clock moves."""
    people = _people(gang_case)
    zhang, li, wang = people["张三"], people["李四"], people["王五"]
    _arrest(drive, gang_case, zhang)
    custody = _running(zhang, ClockKind.INVESTIGATION_CUSTODY).get()
    bail = _running(wang, ClockKind.BAIL).get()
    zhang_end = CustodyRecord.objects.get(person=zhang).period_end
    zhang_notices = CustodyNotice.objects.filter(person=zhang).count()

    drive.fire(gang_case, "request_arrest", "investigator", reason=REASON, persons=[li.pk])
    drive.fire(gang_case, "accept_arrest_request", "prosecutor")
    drive.fire(gang_case, "refuse_arrest", "prosecutor", reason="证据不足，不批准逮捕")

    people = _people(gang_case)
    assert people["李四"].custody_status == CustodyStatus.RELEASED
    assert CustodyRecord.objects.get(person=li).status == RecordStatus.RELEASED
    assert not Clock.objects.filter(person=li, status__in=ACTIVE_STATUSES).exists()
    assert people["张三"].custody_status == CustodyStatus.ARRESTED
    again = _running(zhang, ClockKind.INVESTIGATION_CUSTODY).get()
    assert (again.pk, again.due_date) == (custody.pk, custody.due_date)
    assert CustodyRecord.objects.get(person=zhang).period_end == zhang_end
    assert CustodyNotice.objects.filter(person=zhang).count() == zhang_notices
    assert people["王五"].custody_status == CustodyStatus.BAIL
    assert _running(wang, ClockKind.BAIL).get().due_date == bail.due_date

    clock = engine.request_arrest_reconsideration(li, reason="证据已经补强", acting_user=district.investigator)
    assert (clock.kind, clock.agency, clock.period_days) == (ClockKind.ARREST_RECONSIDERATION, district.procuratorate, 7)
    li.refresh_from_db()
    assert li.custody_status == CustodyStatus.RELEASED
    engine.decide_arrest_reconsideration(li, changed=False, reason="维持不批准逮捕决定", acting_user=district.prosecutor)
    li.refresh_from_db()
    assert li.custody_status == CustodyStatus.RELEASED and not _running(li, ClockKind.INVESTIGATION_CUSTODY).exists()
    assert _running(zhang, ClockKind.INVESTIGATION_CUSTODY).get().due_date == custody.due_date


def test_a_suspect_split_off_and_transferred_alone_leaves_the_others_clocks_with_the_police(
        gang_case, drive, district, tmp_path):  # noqa: F811
    """Art. 172 (review from receipt), art. 156; separate handling (另案处理): 张三 and 李四 are arrested;
    李四 is split into a case of his own and transferred for review alone. His investigation custody
    stops with the transfer and the procuratorate's review period bounds his custody — his 换押证 and the
    detention centre's record say the review clock's date; 张三's investigation custody runs on with the
    police, in the original case, as it was."""
    people = _people(gang_case)
    zhang, li = people["张三"], people["李四"]
    _arrest(drive, gang_case, zhang, li)
    zhang_clock = _running(zhang, ClockKind.INVESTIGATION_CUSTODY).get()
    apart = separation.split_case(gang_case, persons=[li], acting_user=district.investigator, reason="李四另案处理")
    add_documents(apart, district.investigator, tmp_path)
    drive.to_review(apart)

    review = Clock.objects.get(case=apart, kind=ClockKind.REVIEW_PROSECUTION, status__in=ACTIVE_STATUSES)
    assert review.custody and review.agency == district.procuratorate
    assert not _running(li, ClockKind.INVESTIGATION_CUSTODY).exists()
    record = CustodyRecord.objects.get(person=li)
    certificate = record.certificates.get()
    assert record.responsible_agency == district.procuratorate
    assert record.period_end == certificate.period_end == review.due_date

    gang_case.refresh_from_db()
    assert gang_case.stage == "investigation" and gang_case.holder_agency == district.police
    still = _running(zhang, ClockKind.INVESTIGATION_CUSTODY).get()
    assert (still.pk, still.agency, still.due_date) == (zhang_clock.pk, district.police, zhang_clock.due_date)
    assert CustodyRecord.objects.get(person=zhang).responsible_agency == district.police


@pytest.mark.time_machine(datetime(2026, 2, 14, 10, 0, tzinfo=SHANGHAI))
def test_art_105_4_is_decided_again_for_each_case_after_a_split(gang_case, drive, district):  # noqa: F811
    """Art. 105(4): a stage period ends on its last day, holiday or not, while any defendant of the case
    is in custody. The review period runs to Saturday 14 March 2026 while 张三 and 李四 are detained;
    split into a case of their own, it still does for them, but the case left with 王五 (on bail) alone
    runs to Monday 16 March. In the new case the release of 张三 does not move it — 李四 is still held."""
    from casehub.clocks.holidays_source import load_year

    load_year(2026)
    drive.to_review(gang_case)
    review = Clock.objects.get(case=gang_case, kind=ClockKind.REVIEW_PROSECUTION, status__in=ACTIVE_STATUSES)
    assert review.custody and review.due_date == date(2026, 3, 14)
    people = _people(gang_case)
    apart = separation.split_case(gang_case, persons=[people["张三"], people["李四"]],
                                  acting_user=district.prosecutor, reason="张三、李四另案处理")

    review.refresh_from_db()
    assert (review.custody, review.due_date) == (False, date(2026, 3, 16))
    theirs = Clock.objects.get(case=apart, kind=ClockKind.REVIEW_PROSECUTION, status__in=ACTIVE_STATUSES)
    assert (theirs.custody, theirs.due_date) == (True, date(2026, 3, 14))
    for name in ("张三", "李四"):
        assert CustodyRecord.objects.get(person__name=name).period_end == date(2026, 3, 14)

    engine.decide_custody(CustodyRecord.objects.get(person__name="张三"), kind="release", reason="变更强制措施，予以释放",
                          acting_user=district.prosecutor)
    theirs.refresh_from_db()
    assert theirs.due_date == date(2026, 3, 14)


def test_a_major_or_complex_case_gives_twenty_days_for_the_suspect_not_detained_only(gang_case, drive, district):  # noqa: F811
    """SPP Rules 2019 art. 282: the procuratorate decides on 王五 (on bail) within 15 days of receipt,
    within 20 in a major or complex case — its own finding, once, on the person's custody-terms page;
    张三 (detained) keeps 7 days (art. 91(3)) and cannot be given more; the police cannot do it."""
    from django.test import Client
    from django.urls import reverse

    from workflows import custody_terms

    people = _people(gang_case)
    zhang, wang = people["张三"], people["王五"]
    drive.fire(gang_case, "request_arrest", "investigator", reason=REASON, persons=[zhang.pk, wang.pk])
    drive.fire(gang_case, "accept_arrest_request", "prosecutor")
    fifteen = _running(wang, ClockKind.ARREST_DECISION_NOT_DETAINED).get()
    seven = _running(zhang, ClockKind.ARREST_DECISION).get()
    with pytest.raises(engine.NotAllowed):
        custody_terms.complex_arrest_decision(wang, reason="涉案人数众多", acting_user=district.investigator)
    with pytest.raises(ValidationError, match="七日"):
        custody_terms.complex_arrest_decision(zhang, reason="涉案人数众多", acting_user=district.prosecutor)

    page = Client()
    page.force_login(district.prosecutor)
    url = reverse("custody:terms", args=[gang_case.pk, wang.pk])
    assert 'value="complex"' in page.get(url).content.decode()
    assert page.post(url, {"action": "complex", "reason": "涉案人数众多，案情复杂"}).status_code == 302
    twenty = _running(wang, ClockKind.ARREST_DECISION_NOT_DETAINED).get()
    assert (twenty.pk, twenty.period_days) == (fifteen.pk, 20)
    assert twenty.due_date >= local_day(twenty.started_at) + timedelta(days=20) > fifteen.due_date
    assert _running(zhang, ClockKind.ARREST_DECISION).get().due_date == seven.due_date
    with pytest.raises(ValidationError, match="二十日"):
        custody_terms.complex_arrest_decision(wang, reason="再次认定", acting_user=district.prosecutor)


def test_police_changing_one_arrest_to_bail_tell_the_procuratorate_that_approved_it(
        gang_case, drive, district, django_capture_on_commit_callbacks):  # noqa: F811
    """Art. 96: 张三 and 李四 are arrested; the police change 张三's arrest to bail. The procuratorate that
    approved the arrest is notified (its officers, the audit names it); 张三's bail runs its own 12 months
    (art. 79); 李四's arrest and investigation custody are untouched."""
    from casehub.notifications.models import Notification

    people = _people(gang_case)
    zhang, li = people["张三"], people["李四"]
    _arrest(drive, gang_case, zhang, li)
    li_clock = _running(li, ClockKind.INVESTIGATION_CUSTODY).get()
    with django_capture_on_commit_callbacks(execute=True):
        engine.decide_custody(CustodyRecord.objects.get(person=zhang), kind="bail", reason="患有严重疾病，变更为取保候审",
                              acting_user=district.investigator)
    zhang.refresh_from_db()
    assert zhang.custody_status == CustodyStatus.BAIL and _running(zhang, ClockKind.BAIL).get().agency == district.police
    assert not _running(zhang, ClockKind.INVESTIGATION_CUSTODY).exists()
    told = Notification.objects.filter(recipient=district.prosecutor, case=gang_case, key__startswith=f"art96-{zhang.pk}-")
    assert told.count() == 1 and "第九十六条" in told.get().title
    from casehub.audit.models import AuditEvent

    event = AuditEvent.objects.filter(action="workflow.person_decision", details__decision="bail").get()
    assert event.details["notified"] == district.procuratorate.code
    li.refresh_from_db()
    assert li.custody_status == CustodyStatus.ARRESTED
    assert _running(li, ClockKind.INVESTIGATION_CUSTODY).get().due_date == li_clock.due_date


def test_refusing_the_arrest_of_a_suspect_on_bail_leaves_the_bail_running(gang_case, drive, district):  # noqa: F811
    """Arts. 90, 91(3): a refusal releases a *detained* suspect at once; it does not lift the bail of a
    suspect who was on bail when the arrest was requested (the bail is the police's own decision, art. 79,
    and runs its own period). 张三 (detained) and 王五 (bail) are requested and both refused: 张三 is
    released, 王五 stays on bail with the same period."""
    people = _people(gang_case)
    zhang, wang = people["张三"], people["王五"]
    bail = _running(wang, ClockKind.BAIL).get()
    drive.fire(gang_case, "request_arrest", "investigator", reason=REASON, persons=[zhang.pk, wang.pk])
    drive.fire(gang_case, "accept_arrest_request", "prosecutor")
    drive.fire(gang_case, "refuse_arrest", "prosecutor", reason="不符合逮捕条件")
    people = _people(gang_case)
    assert people["张三"].custody_status == CustodyStatus.RELEASED
    assert (people["王五"].custody_status, people["王五"].measure_authority) == (CustodyStatus.BAIL, district.police)
    assert _running(wang, ClockKind.BAIL).get().pk == bail.pk
    assert not _running(wang, ClockKind.ARREST_DECISION_NOT_DETAINED).exists()


def test_an_assessment_in_review_moves_the_stage_period_and_every_detainees_date_with_it(
        gang_case, drive, district):  # noqa: F811
    """Art. 149: 张三's psychiatric assessment during the review (10 days) is not counted, so the
    procuratorate's review period (art. 172) ends 10 days later. 李四 is held under the same review
    period: the detention centre's date for him follows it (a signed notice), so the clock and the
    detainee list never disagree; 王五 (bail) has no custody record to change."""
    import time_machine
    from django.utils import timezone

    from workflows import custody_terms

    drive.to_review(gang_case)
    people = _people(gang_case)
    review = Clock.objects.get(case=gang_case, kind=ClockKind.REVIEW_PROSECUTION, status__in=ACTIVE_STATUSES)
    li_record = CustodyRecord.objects.get(person=people["李四"])
    assert li_record.period_end == review.due_date
    custody_terms.start_psychiatric_assessment(people["张三"], reason="委托司法精神病鉴定", acting_user=district.prosecutor)
    with time_machine.travel(timezone.now() + timedelta(days=10), tick=False):
        custody_terms.end_psychiatric_assessment(people["张三"], reason="鉴定意见已出具", acting_user=district.prosecutor)
    review.refresh_from_db()
    assert review.paused_days == 10
    for name in ("张三", "李四"):
        assert CustodyRecord.objects.get(person__name=name).period_end == review.due_date, name
    assert CustodyNotice.objects.filter(person=people["李四"], new_end=review.due_date).exists()


def test_an_approved_arrest_of_a_suspect_on_bail_is_registered_as_arrest_when_executed(gang_case, drive, district):  # noqa: F811
    """Arts. 80, 93: 王五 was on bail when her arrest was approved together with 张三's. She is not in
    the detention centre yet: when the police execute the arrest they register her custody *as arrest* —
    not as a police detention, which would undo the procuratorate's decision and open a 3-day request
    period — and the centre's date is her art. 156 period's."""
    from django.utils import timezone

    from casehub.custody.services import register_custody

    people = _people(gang_case)
    zhang, wang = people["张三"], people["王五"]
    _arrest(drive, gang_case, zhang, wang)
    wang.refresh_from_db()
    assert wang.custody_status == CustodyStatus.ARRESTED and not _running(wang, ClockKind.BAIL).exists()
    with pytest.raises(ValidationError, match="应登记为逮捕"):
        register_custody(wang, detention_centre=district.detention, measure="detained", since=timezone.now(),
                         acting_user=district.investigator)
    record = register_custody(wang, detention_centre=district.detention, measure="arrested", since=timezone.now(),
                              acting_user=district.investigator)
    wang.refresh_from_db()
    assert wang.custody_status == CustodyStatus.ARRESTED and wang.measure_authority == district.procuratorate
    assert (record.measure, record.status, record.responsible_agency) == ("arrested", RecordStatus.IN_CUSTODY,
                                                                          district.police)
    assert record.period_end == _running(wang, ClockKind.INVESTIGATION_CUSTODY).get().due_date
    assert not _running(wang, ClockKind.ARREST_REQUEST).exists()
