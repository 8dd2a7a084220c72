"""The person is the unit of arrest, custody and their clocks (issue 15).

Each scenario has three suspects in different measures — 张三 and 李四 detained (拘留), 王五 on bail
(取保候审) — and checks that a decision about one of them does what the article says to that
person and nothing to the others.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from casehub.cases.models import CaseNumber, CustodyStatus, NumberKind
from casehub.clocks.counting import local_day
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock, ClockStatus
from casehub.custody.models import CustodyNotice, CustodyRecord, NoticeKind, RecordStatus
from workflows.models import TransitionLog

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _people(case):
    return {p.name: p for p in case.persons.all()}


# Bail and residential surveillance run their own per-authority periods (art. 79, tests/custody/
# test_measures.py); the scenarios here are about arrest and custody clocks.
MEASURE_KINDS = (ClockKind.BAIL, ClockKind.RESIDENTIAL_SURVEILLANCE)


def _running(case, **filters):
    return Clock.objects.filter(case=case, status__in=ACTIVE_STATUSES, **filters).exclude(kind__in=MEASURE_KINDS)


def _request_and_accept(drive, case, **inputs):
    drive.fire(case, "request_arrest", "investigator", reason="有证据证明有犯罪事实，可能判处徒刑以上刑罚", **inputs)
    drive.fire(case, "accept_arrest_request", "prosecutor")


def test_request_names_only_the_detained_by_default_and_each_gets_a_decision_clock(gang_case, drive, district):
    """Arts. 87, 91(3); SPP Rules 2019 art. 282: the request lists the chosen persons; the decision
    period runs per person from the procuratorate's receipt — 7 days for a detained suspect."""
    people = _people(gang_case)
    _request_and_accept(drive, gang_case)
    log = TransitionLog.objects.get(case=gang_case, transition="request_arrest")
    assert log.inputs["persons"] == [people["张三"].pk, people["李四"].pk]  # 王五 (bail) is not requested
    decision = _running(gang_case, kind=ClockKind.ARREST_DECISION)
    assert sorted(decision.values_list("person__name", flat=True)) == ["张三", "李四"]
    for clock in decision:
        assert clock.agency == district.procuratorate and clock.custody  # art. 105(4): a detained person
        assert clock.due_date == local_day(clock.started_at) + timedelta(days=7)
    # The police's 3-day request clocks of the requested persons stopped with the request (art. 91(1)).
    assert not _running(gang_case, kind=ClockKind.ARREST_REQUEST).exists()
    assert not _running(gang_case, person=people["王五"]).exists()


def test_a_suspect_not_detained_gets_fifteen_days(gang_case, drive, district):
    """SPP Rules 2019 art. 282: for a suspect who is not detained the procuratorate decides within
    15 days of receipt; the detained co-suspect in the same request keeps 7."""
    people = _people(gang_case)
    _request_and_accept(drive, gang_case, persons=[people["张三"].pk, people["王五"].pk])
    zhang = _running(gang_case, person=people["张三"]).get()
    wang = _running(gang_case, person=people["王五"]).get()
    assert (zhang.kind, zhang.period_days) == (ClockKind.ARREST_DECISION, 7)
    assert (wang.kind, wang.period_days, wang.custody) == (ClockKind.ARREST_DECISION_NOT_DETAINED, 15, False)
    assert not _running(gang_case, kind__startswith="arrest_decision", person=people["李四"]).exists()


def test_refusing_one_suspect_releases_only_that_suspect(gang_case, drive, district):
    """Arts. 90, 91(3): the procuratorate decides on each person; the one not approved is released
    at once and their custody ends; the approved one is arrested; the co-suspect on bail is untouched.
    Each decision has its number from its own series (批捕 / 不批捕)."""
    people = _people(gang_case)
    wang_before = (people["王五"].custody_status, people["王五"].measure_since, people["王五"].measure_authority_id)
    _request_and_accept(drive, gang_case)
    drive.fire(gang_case, "approve_arrest", "prosecutor", refused=[people["李四"].pk], reason="张三批准，李四不批准")

    people = _people(gang_case)
    assert people["张三"].custody_status == CustodyStatus.ARRESTED
    assert people["张三"].measure_authority == district.procuratorate
    assert people["李四"].custody_status == CustodyStatus.RELEASED
    assert (people["王五"].custody_status, people["王五"].measure_since,
            people["王五"].measure_authority_id) == wang_before

    assert list(_running(gang_case).values_list("person__name", "kind")) == [
        ("张三", ClockKind.INVESTIGATION_CUSTODY)]
    assert CustodyRecord.objects.get(person=people["李四"]).status == RecordStatus.RELEASED
    assert CustodyRecord.objects.get(person=people["张三"]).status == RecordStatus.IN_CUSTODY
    # The decision reaches the detention centre per person (the request itself only brought each
    # detainee's end date forward to the decision day: recalculation notices, signed by the police).
    decided = CustodyNotice.objects.filter(case=gang_case).exclude(kind=NoticeKind.RECALCULATION)
    assert dict(decided.values_list("person__name", "kind")) == {"李四": NoticeKind.RELEASE, "张三": NoticeKind.ARREST}
    assert set(decided.values_list("agency", flat=True)) == {district.procuratorate.pk}

    numbers = {n.person.name: n for n in CaseNumber.objects.filter(case=gang_case, person__isnull=False)}
    assert numbers["张三"].kind == NumberKind.ARREST_DECISION and "检刑批" in numbers["张三"].number
    assert numbers["李四"].kind == NumberKind.ARREST_REFUSAL and "检刑不批" in numbers["李四"].number
    assert numbers["张三"].sequence == numbers["李四"].sequence == 1  # two series, not one
    assert "王五" not in numbers


def test_the_decision_must_cover_every_requested_person_and_no_one_else(gang_case, drive, district):
    """Art. 90: one decision per requested person — approving only some without deciding the others,
    or deciding about a person who was not requested, is refused and changes nothing."""
    from workflows import engine

    people = _people(gang_case)
    _request_and_accept(drive, gang_case)
    with pytest.raises(engine.GuardFailed, match="李四"):
        engine.fire(gang_case, "approve_arrest", acting_user=district.prosecutor,
                    inputs={"persons": [people["张三"].pk]})
    with pytest.raises(engine.GuardFailed):
        engine.fire(gang_case, "refuse_arrest", acting_user=district.prosecutor,
                    inputs={"persons": [people["王五"].pk], "reason": "x"})
    assert _people(gang_case)["张三"].custody_status == CustodyStatus.DETAINED


def test_refusal_with_bail_changes_the_measure_and_ends_custody(gang_case, drive, district):
    """Art. 91(3): a person not arrested is released, or — if the investigation goes on and the
    conditions are met — put on bail by the police; the detention centre is told by a notice."""
    _request_and_accept(drive, gang_case)
    drive.fire(gang_case, "refuse_arrest", "prosecutor", refused_measure="bail", reason="不符合逮捕条件")
    people = _people(gang_case)
    for name in ("张三", "李四"):
        assert people[name].custody_status == CustodyStatus.BAIL
        assert people[name].measure_authority == district.police  # the police decide the bail
        assert CustodyRecord.objects.get(person=people[name]).status == RecordStatus.BAIL
    assert not _running(gang_case).exists()
    # Art. 79: each bail is the police's own decision and runs its own 12 months.
    bail = Clock.objects.filter(case=gang_case, kind=ClockKind.BAIL, status__in=ACTIVE_STATUSES)
    assert sorted(bail.values_list("person__name", flat=True)) == ["张三", "李四", "王五"]
    assert {c.agency for c in bail} == {district.police}
    assert sorted(CustodyNotice.objects.filter(case=gang_case).exclude(kind=NoticeKind.RECALCULATION)
                  .values_list("kind", flat=True)) == [NoticeKind.BAIL, NoticeKind.BAIL]


def test_a_second_approval_touches_no_one_elses_clock(gang_case, drive, district, time_machine):
    """Arts. 90, 156: approving 李四's arrest ten days after 张三's neither restarts 张三's
    investigation-custody period nor arrests 王五, who is on bail."""
    people = _people(gang_case)
    _request_and_accept(drive, gang_case, persons=[people["张三"].pk])
    drive.fire(gang_case, "approve_arrest", "prosecutor")
    zhang_clock = _running(gang_case, person=people["张三"]).get()
    assert zhang_clock.kind == ClockKind.INVESTIGATION_CUSTODY

    time_machine.move_to(timezone.now() + timedelta(days=10))
    _request_and_accept(drive, gang_case)  # the default: the detained ones still not arrested — 李四
    assert TransitionLog.objects.filter(transition="request_arrest").latest("id").inputs["persons"] == [
        people["李四"].pk]
    drive.fire(gang_case, "approve_arrest", "prosecutor")

    again = _running(gang_case, person=people["张三"]).get()
    assert (again.pk, again.started_at, again.due_date) == (zhang_clock.pk, zhang_clock.started_at,
                                                           zhang_clock.due_date)
    assert Clock.objects.filter(person=people["张三"], kind=ClockKind.INVESTIGATION_CUSTODY).count() == 1
    people = _people(gang_case)
    assert people["李四"].custody_status == CustodyStatus.ARRESTED
    assert people["王五"].custody_status == CustodyStatus.BAIL
    assert not Clock.objects.filter(person=people["王五"]).exclude(kind=ClockKind.BAIL).exists()


def test_detention_opens_the_three_day_request_clock_overdue_on_day_four(district, gang_case):
    """Art. 91(1): the police request arrest approval within 3 days of detention — not 30 days."""
    from casehub.clocks.tasks import check_clocks

    people = _people(gang_case)
    clock = _running(gang_case, person=people["张三"]).get()
    detained = CustodyRecord.objects.get(person=people["张三"]).detained_at
    assert (clock.kind, clock.agency, clock.custody) == (ClockKind.ARREST_REQUEST, district.police, True)
    assert clock.due_date == local_day(detained) + timedelta(days=3)
    # The detention centre's period: the request period plus the procuratorate's 7 days (art. 91(3)).
    assert CustodyRecord.objects.get(person=people["张三"]).period_end == clock.due_date + timedelta(days=7)
    check_clocks(clock.due_date)
    assert Clock.objects.get(pk=clock.pk).status == ClockStatus.RUNNING
    check_clocks(clock.due_date + timedelta(days=1))
    assert Clock.objects.get(pk=clock.pk).status == ClockStatus.OVERDUE


def test_the_withdrawn_request_does_not_stop_the_request_period(gang_case, drive, district):
    """Art. 91(1): a request taken back was never filed — the 3-day period counts on, unchanged."""
    people = _people(gang_case)
    before = _running(gang_case, person=people["张三"]).get()
    drive.fire(gang_case, "request_arrest", "investigator", reason="提请", persons=[people["张三"].pk])
    assert not _running(gang_case, person=people["张三"], kind=ClockKind.ARREST_REQUEST).exists()
    drive.fire(gang_case, "withdraw_arrest_request", "investigator", reason="补充材料")
    after = _running(gang_case, person=people["张三"]).get()
    assert (after.pk, after.kind, after.due_date) == (before.pk, ClockKind.ARREST_REQUEST, before.due_date)
    assert not _running(gang_case, kind=ClockKind.ARREST_DECISION).exists()


def test_request_period_extended_with_a_reason_is_not_overdue_on_day_four(district, gang_case):
    """Art. 91(1), MPS Provisions 2020 art. 129: the 3-day period may be extended by 1-4 days in
    special cases, approved by a county-level police chief (the agency's approving officer) with
    the reason recorded; the detention centre learns the new end by a notice."""
    from django.core.exceptions import ValidationError

    from casehub.clocks.tasks import check_clocks
    from workflows import engine

    zhang = _people(gang_case)["张三"]
    clock = _running(gang_case, person=zhang).get()
    with pytest.raises(engine.NotAllowed):
        engine.extend_arrest_request(zhang, days=2, category="special", reason="案情复杂",
                                     acting_user=district.investigator)
    with pytest.raises(ValidationError):
        engine.extend_arrest_request(zhang, days=5, category="special", reason="案情复杂",
                                     acting_user=district.police_supervisor)
    extended = engine.extend_arrest_request(zhang, days=2, category="special", reason="需核实身份",
                                            acting_user=district.police_supervisor)
    assert extended.due_date == clock.due_date + timedelta(days=2)
    extension = extended.extensions.get()
    assert "特殊情况" in extension.decision and "需核实身份" in extension.decision
    assert extension.decided_by == district.police_supervisor
    check_clocks(clock.due_date + timedelta(days=1))  # day 4
    assert Clock.objects.get(pk=clock.pk).status == ClockStatus.RUNNING
    record = CustodyRecord.objects.get(person=zhang)
    notice = CustodyNotice.objects.get(person=zhang, kind=NoticeKind.EXTENSION)
    assert record.period_end == notice.new_end == extended.due_date + timedelta(days=7)
    # Roaming/serial/gang suspects: up to 30 days in all (art. 91(2)).
    li = _people(gang_case)["李四"]
    li_clock = engine.extend_arrest_request(li, days=27, category="roaming", reason="结伙多次作案",
                                            acting_user=district.police_supervisor)
    assert li_clock.period_days == 30


def _load_2026():
    from casehub.clocks.holidays_source import load_year

    load_year(2026)


@pytest.mark.time_machine(datetime(2026, 2, 14, 10, 0, tzinfo=SHANGHAI))
def test_detained_persons_review_period_ending_on_a_saturday_ends_that_day(district, gang_case, drive):
    """Art. 105(4): the review period (art. 172) of a case whose suspects are in custody ends on its
    last day even on a Saturday; the clock, the 换押证 and the detention centre's record agree."""
    _load_2026()
    drive.to_review(gang_case)
    review = _running(gang_case, kind=ClockKind.REVIEW_PROSECUTION).get()
    assert review.custody and review.due_date == date(2026, 3, 14)  # a Saturday, not Monday 16 March
    for name in ("张三", "李四"):
        record = CustodyRecord.objects.get(person__name=name)
        certificate = record.certificates.get()
        assert record.period_end == certificate.period_end == review.due_date
    # The police's clocks stopped with the transfer: the request periods of the detained persons.
    assert not _running(gang_case, agency=district.police).exists()


@pytest.mark.time_machine(datetime(2026, 9, 24, 10, 0, tzinfo=SHANGHAI))
def test_detained_persons_decision_period_ending_in_national_day_ends_that_day(district, gang_case, drive):
    """Art. 105(4): 张三 is detained, so the procuratorate's 7 days end on 1 October (National Day)
    and the detention centre's record says the same."""
    _load_2026()
    zhang = _people(gang_case)["张三"]
    _request_and_accept(drive, gang_case, persons=[zhang.pk])
    clock = _running(gang_case, person=zhang).get()
    assert clock.custody and clock.due_date == date(2026, 10, 1)
    assert CustodyRecord.objects.get(person=zhang).period_end == date(2026, 10, 1)


@pytest.mark.time_machine(datetime(2026, 9, 16, 10, 0, tzinfo=SHANGHAI))
def test_a_period_of_a_person_not_in_custody_moves_past_national_day(district, gang_case, drive):
    """Art. 105(4) a contrario: 王五 is on bail, so the 15-day decision period whose last day is
    1 October ends on the first working day after the holiday."""
    _load_2026()
    wang = _people(gang_case)["王五"]
    _request_and_accept(drive, gang_case, persons=[wang.pk])
    clock = _running(gang_case, person=wang).get()
    assert not clock.custody and clock.due_date == date(2026, 10, 8)


def test_a_transfer_stops_the_senders_custody_clocks(gang_case, drive, district):
    """Arts. 156, 172: investigation custody ends with the investigation — once the procuratorate
    accepts the transfer its review period bounds the custody, not the police's clock."""
    zhang = _people(gang_case)["张三"]
    _request_and_accept(drive, gang_case, persons=[zhang.pk])
    drive.fire(gang_case, "approve_arrest", "prosecutor")
    custody = _running(gang_case, person=zhang).get()
    drive.to_review(gang_case)
    assert Clock.objects.get(pk=custody.pk).status == ClockStatus.STOPPED
    review = _running(gang_case, kind=ClockKind.REVIEW_PROSECUTION).get()
    assert CustodyRecord.objects.get(person=zhang).period_end == review.due_date


def test_court_returning_the_indictment_restarts_nothing_and_signs_no_custody_notice(gang_case, drive, district):
    """Art. 172 / SPC Interpretation 2021 art. 219: the court's refusal of an indictment gives the
    procuratorate no fresh review period; the custody never moved, so the court signs no notice."""
    drive.to_review(gang_case)
    review = _running(gang_case, kind=ClockKind.REVIEW_PROSECUTION).get()
    notices_before = CustodyNotice.objects.count()
    drive.fire(gang_case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪")
    assert not _running(gang_case, kind=ClockKind.REVIEW_PROSECUTION).exists()
    acceptance = _running(gang_case, kind=ClockKind.COURT_ACCEPTANCE).get()  # SPC Interpretation art. 219
    assert (acceptance.agency, acceptance.period_days, acceptance.custody) == (district.court, 7, True)
    drive.fire(gang_case, "reject_indictment", "court_clerk", reason="材料不全")
    assert Clock.objects.get(pk=acceptance.pk).status == ClockStatus.STOPPED
    again = _running(gang_case, kind=ClockKind.REVIEW_PROSECUTION).get()
    assert (again.pk, again.started_at, again.due_date) == (review.pk, review.started_at, review.due_date)
    assert not CustodyNotice.objects.filter(agency=district.court).exists()
    assert CustodyNotice.objects.count() == notices_before
    assert set(CustodyRecord.objects.filter(case=gang_case).values_list("responsible_agency", flat=True)) == {
        district.procuratorate.pk}


def test_non_prosecution_ends_every_measure_and_empties_the_detainee_list(client, gang_case, drive, district):
    """Art. 178: on a non-prosecution decision a detained person is released at once (and bail is
    lifted); the detention centre's list no longer shows them."""
    from django.urls import reverse

    drive.to_review(gang_case)
    drive.fire(gang_case, "decide_non_prosecution", "prosecutor", facts="情节轻微", legal_basis="刑事诉讼法第一百七十七条第二款")
    assert set(gang_case.persons.values_list("custody_status", flat=True)) == {CustodyStatus.RELEASED}
    assert set(CustodyRecord.objects.filter(case=gang_case).values_list("status", flat=True)) == {
        RecordStatus.RELEASED}
    assert not _running(gang_case).exists()
    client.force_login(district.detention_officer)
    assert "data-record=" not in client.get(reverse("custody:detainees")).content.decode()


def test_reconsideration_and_review_run_on_their_own_clocks_while_the_person_stays_released(
        gang_case, drive, district, make_user):
    """Art. 92; MPS Provisions 2020 art. 141; SPP Rules 2019 arts. 290-291: the police ask the
    procuratorate that refused 李四's arrest to reconsider (7 days to decide), then the higher
    procuratorate to review (15 days); 李四 stays released throughout, and when the review changes
    the refusal 李四 is arrested — and only 李四."""
    from casehub.agencies.models import AgencyKind, Role
    from tests.fixtures.district import make_agency
    from workflows import engine

    city = make_agency(AgencyKind.PROCURATORATE, "JC440300", "深圳市人民检察院", abbreviation="深", region="440300")
    district.procuratorate.parent = city
    district.procuratorate.save(update_fields=["parent"])
    city_prosecutor = make_user(city, [Role.PROSECUTOR])
    people = _people(gang_case)
    li = people["李四"]
    _request_and_accept(drive, gang_case)
    drive.fire(gang_case, "approve_arrest", "prosecutor", refused=[li.pk])

    asked = engine.request_arrest_reconsideration(li, reason="证据足以证明其参与盗窃", acting_user=district.investigator)
    assert (asked.kind, asked.agency, asked.period_days) == (
        ClockKind.ARREST_RECONSIDERATION, district.procuratorate, 7)
    assert _people(gang_case)["李四"].custody_status == CustodyStatus.RELEASED
    with pytest.raises(engine.NotAllowed):
        engine.decide_arrest_reconsideration(li, changed=True, reason="x", acting_user=city_prosecutor)
    engine.decide_arrest_reconsideration(li, changed=False, reason="维持不批准逮捕决定", acting_user=district.prosecutor)
    assert Clock.objects.get(pk=asked.pk).status == ClockStatus.STOPPED
    assert _people(gang_case)["李四"].custody_status == CustodyStatus.RELEASED

    review = engine.request_arrest_review(li, reason="提请复核", acting_user=district.investigator)
    assert (review.kind, review.agency, review.period_days) == (ClockKind.ARREST_REVIEW_HIGHER, city, 15)
    zhang_custody = _running(gang_case, person=people["张三"]).get()
    engine.decide_arrest_review(li, changed=True, reason="复核决定变更，应予逮捕", acting_user=city_prosecutor)

    people = _people(gang_case)
    assert people["李四"].custody_status == CustodyStatus.ARRESTED
    assert _running(gang_case, person=li).get().kind == ClockKind.INVESTIGATION_CUSTODY
    assert CustodyRecord.objects.get(person=li).status == RecordStatus.IN_CUSTODY
    assert people["王五"].custody_status == CustodyStatus.BAIL
    same = _running(gang_case, person=people["张三"]).get()
    assert (same.pk, same.due_date) == (zhang_custody.pk, zhang_custody.due_date)


def test_reconsideration_after_five_days_is_refused(gang_case, drive, district, time_machine):
    """MPS Provisions 2020 art. 141: the request to reconsider comes within 5 days of the refusal."""
    from django.core.exceptions import ValidationError

    from workflows import engine

    li = _people(gang_case)["李四"]
    _request_and_accept(drive, gang_case)
    drive.fire(gang_case, "approve_arrest", "prosecutor", refused=[li.pk])
    time_machine.move_to(timezone.now() + timedelta(days=6))
    with pytest.raises(ValidationError, match="五日"):
        engine.request_arrest_reconsideration(li, reason="迟到的复议", acting_user=district.investigator)
    assert not Clock.objects.filter(person=li, kind=ClockKind.ARREST_RECONSIDERATION).exists()


def test_case_page_shows_each_persons_measure_authority_and_clocks(client, gang_case, drive, district):
    """The case page shows each person's own procedural state: measure, deciding authority, clocks."""
    from django.urls import reverse

    people = _people(gang_case)
    _request_and_accept(drive, gang_case, persons=[people["张三"].pk])
    drive.fire(gang_case, "approve_arrest", "prosecutor")
    client.force_login(district.investigator)
    page = client.get(reverse("cases:detail", args=[gang_case.pk])).content.decode()
    rows = {name: page.split(f'data-person="{p.pk}"', 1)[1].split("</tr>", 1)[0] for name, p in people.items()}
    assert 'data-measure="arrested"' in rows["张三"] and district.procuratorate.name in rows["张三"]
    assert 'data-clock="investigation_custody"' in rows["张三"]
    assert 'data-measure="detained"' in rows["李四"] and 'data-clock="arrest_request"' in rows["李四"]
    assert 'data-measure="bail"' in rows["王五"] and 'data-clock="arrest' not in rows["王五"]
    assert 'data-clock="bail"' in rows["王五"]  # art. 79: the police's own bail period
