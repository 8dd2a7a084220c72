"""The judgment reaches everyone in time and releases who the law releases (issue #17): delivery within
5 days of an announcement in court, immediately after a later announcement (CPL art. 202); a defendant
in custody is released on the announcement of an acquittal or exemption (art. 260) or of public
surveillance, probation or a supplementary penalty alone, or once custody has reached the sentence
(SPC Interpretation art. 170) — and the detention centre sees the release."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from casehub.cases.models import CustodyStatus
from casehub.clocks.models import Clock
from casehub.custody.models import CustodyNotice, CustodyRecord, RecordStatus
from workflows import judgment as judgments


def _announce(drive, case, *, in_court="yes", on="2026-03-02"):
    drive.fire(case, "announce_judgment", "judge", announced_on=on, in_court=in_court, verdict="见判决结果")


@pytest.mark.time_machine("2026-03-03T10:00:00+08:00")
def test_announced_in_court_the_judgment_is_delivered_within_five_days(case, drive, district):
    drive.to_court(case)
    judgments.record_decision(case, case.persons.get(), outcome="guilty", charge="盗窃罪", penalty="fixed_term",
                              term="二年", acting_user=district.judge)
    _announce(drive, case, in_court="yes", on="2026-03-02")
    clock = Clock.objects.get(case=case, kind__startswith="judgment_delivery")
    assert clock.kind == "judgment_delivery" and clock.period_days == 5
    # 7 March is a Saturday, but the defendant is in custody: not moved past it (art. 105(4)).
    assert clock.started_at.date() == date(2026, 3, 2) and clock.due_date == date(2026, 3, 7)


@pytest.mark.time_machine("2026-03-03T10:00:00+08:00")
def test_announced_on_a_later_date_the_judgment_is_delivered_immediately(case, drive, district):
    drive.to_court(case)
    judgments.record_decision(case, case.persons.get(), outcome="guilty", charge="盗窃罪", penalty="fixed_term",
                              term="二年", acting_user=district.judge)
    _announce(drive, case, in_court="no", on="2026-03-03")
    clock = Clock.objects.get(case=case, kind__startswith="judgment_delivery")
    assert clock.kind == "judgment_delivery_immediate" and clock.due_date == date(2026, 3, 4)
    # A prison sentence without probation: the defendant stays in custody.
    assert case.persons.get().custody_status in (CustodyStatus.DETAINED, CustodyStatus.ARRESTED)


def test_an_acquittal_releases_the_detainee_and_the_detention_centre_sees_it(case, drive, district, client):
    drive.to_court(case)
    person = case.persons.get()
    record = CustodyRecord.objects.get(person=person)
    assert record.status == RecordStatus.IN_CUSTODY
    judgments.record_decision(case, person, outcome="acquitted", acting_user=district.judge)
    _announce(drive, case)
    person.refresh_from_db()
    record.refresh_from_db()
    assert person.custody_status == CustodyStatus.RELEASED and person.measure_authority == district.court
    assert record.status == RecordStatus.RELEASED
    notice = CustodyNotice.objects.filter(record=record, kind="release").get()
    assert notice.agency == district.court
    client.force_login(district.detention_officer)
    listing = client.get(reverse("custody:detainees")).content.decode()
    assert person.name not in listing


@pytest.mark.parametrize("decision", [
    {"outcome": "guilty", "charge": "盗窃罪", "penalty": "fixed_term", "term": "一年", "probation": True},
    {"outcome": "guilty", "charge": "盗窃罪", "penalty": "public_surveillance", "term": "六个月"},
    {"outcome": "guilty", "charge": "盗窃罪", "penalty": "fine_only", "term": "人民币五千元"},
    {"outcome": "exempted", "charge": "盗窃罪"},
], ids=["probation", "public_surveillance", "fine_only", "exempted"])
def test_release_on_announcement_per_spc_interpretation_art_170(decision, case, drive, district):
    drive.to_court(case)
    person = case.persons.get()
    judgments.record_decision(case, person, acting_user=district.judge, **decision)
    _announce(drive, case)
    person.refresh_from_db()
    assert person.custody_status == CustodyStatus.RELEASED
    assert CustodyRecord.objects.get(person=person).status == RecordStatus.RELEASED


def test_probation_is_only_for_detention_or_fixed_term(case, drive, district):
    from django.core.exceptions import ValidationError

    drive.to_court(case)
    with pytest.raises(ValidationError):
        judgments.record_decision(case, case.persons.get(), outcome="guilty", charge="故意杀人罪", penalty="life",
                                  probation=True, acting_user=district.judge)
