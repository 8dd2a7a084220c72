"""Release when the time in custody has reached the sentence (SPC Interpretation 2021 art. 170(3)) is
computed from the custody record, not ticked by the judge: custody before the judgment counts one day
for one day of 拘役 or 有期徒刑 (Criminal Law arts. 44, 47). A defendant whose term ends on or before
the announcement is released on it; a co-defendant whose term runs on stays in custody. The detention
centre receives a signed release notice stating the ground and the days counted."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from casehub.cases.models import CustodyStatus, PersonRole
from casehub.cases.persons import add_person
from casehub.custody.models import CustodyNotice, CustodyRecord, RecordStatus
from casehub.custody.services import register_custody
from workflows import judgment as judgments
from workflows import sentence
from workflows.models import JudgmentDecision

DETENTION = {"outcome": "guilty", "charge": "盗窃罪", "penalty": "criminal_detention", "term": "三个月"}
PRISON = {"outcome": "guilty", "charge": "盗窃罪", "penalty": "fixed_term", "term": "一年六个月，并处罚金人民币五千元"}


@pytest.mark.parametrize(("text", "months", "days"), [
    ("三个月", 3, 0), ("一年六个月，并处罚金人民币五千元", 18, 0), ("1年6个月", 18, 0), ("十五年", 180, 0),
    ("有期徒刑二年", 24, 0), ("二十日", 0, 20), ("六个月（缓刑一年）", 6, 0),
])
def test_the_recorded_term_is_read_as_a_length(text, months, days):
    term = sentence.parse_term(text)
    assert term is not None and (term.months, term.days) == (months, days)


@pytest.mark.parametrize("text", ["", "人民币五千元", "依法从轻"])
def test_a_term_without_a_length_is_not_guessed(text):
    assert sentence.parse_term(text) is None


def _two_detained_defendants(make_case, district):
    case = make_case()  # 张三, detained two days ago
    li = add_person(case, acting_user=district.investigator, data={
        "role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.DETAINED,
        "custody_since": timezone.now() - timedelta(days=2), "detention_centre": district.detention})
    if not CustodyRecord.objects.filter(person=li).exists():
        register_custody(li, detention_centre=district.detention, measure="detained", since=li.custody_since,
                         acting_user=district.investigator)
    return case


def test_custody_reaching_the_sentence_releases_only_that_defendant_and_the_detention_centre_sees_why(
        make_case, drive, district, client, time_machine):
    time_machine.move_to("2026-01-02T10:00:00+08:00")
    case = _two_detained_defendants(make_case, district)  # both in custody from 31 December 2025
    time_machine.move_to("2026-03-30T10:00:00+08:00")
    drive.to_court(case)
    zhang, li = case.persons.get(name="张三"), case.persons.get(name="李四")
    assert sentence.custody_start(zhang) == date(2025, 12, 31)
    judgments.record_decision(case, zhang, acting_user=district.judge, **DETENTION)
    judgments.record_decision(case, li, acting_user=district.judge, **PRISON)

    # The judge sees what custody has served before announcing (three months from 31 December end on
    # 30 March: that day included, art. 47).
    client.force_login(district.judge)
    page = client.get(reverse("transfers:judgment", args=[case.pk])).content.decode()
    block = page[page.index(f'id="p{zhang.pk}-served"'):]
    assert "羁押90日" in block and "2026年3月30日届满" in block and "第一百七十条第三项" in block.split("</p>")[0]
    assert "第一百七十条第三项" not in page[page.index(f'id="p{li.pk}-served"'):].split("</p>")[0]
    assert f'name="p{zhang.pk}-custody_reached_term"' not in page  # nothing to tick: it is computed

    drive.fire(case, "announce_judgment", "judge", announced_on="2026-03-30", in_court="yes", verdict="见判决结果")
    zhang.refresh_from_db()
    li.refresh_from_db()
    assert zhang.custody_status == CustodyStatus.RELEASED
    assert li.custody_status in (CustodyStatus.DETAINED, CustodyStatus.ARRESTED)
    assert CustodyRecord.objects.get(person=li).status == RecordStatus.IN_CUSTODY
    record = CustodyRecord.objects.get(person=zhang)
    assert record.status == RecordStatus.RELEASED
    notice = CustodyNotice.objects.get(record=record, kind="release")
    assert notice.agency == district.court
    assert "第一百七十条第三项" in notice.reason and "羁押90日" in notice.reason

    client.force_login(district.detention_officer)  # the detention centre no longer holds him
    listing = client.get(reverse("custody:detainees")).content.decode()
    assert "张三" not in listing and "李四" in listing


def test_a_day_short_of_the_sentence_the_defendant_stays_in_custody(make_case, drive, district, time_machine):
    time_machine.move_to("2026-01-02T10:00:00+08:00")
    case = make_case()
    time_machine.move_to("2026-03-30T10:00:00+08:00")
    drive.to_court(case)
    person = case.persons.get()
    judgments.record_decision(case, person, acting_user=district.judge, **DETENTION)
    assert JudgmentDecision.objects.get(person=person).release_ground(date(2026, 3, 29)) == ""
    drive.fire(case, "announce_judgment", "judge", announced_on="2026-03-29", in_court="no", verdict="见判决结果")
    person.refresh_from_db()
    assert person.custody_status in (CustodyStatus.DETAINED, CustodyStatus.ARRESTED)
    assert not CustodyNotice.objects.filter(person=person, kind="release").exists()


@pytest.mark.parametrize(("start", "text", "end"), [
    (date(2026, 2, 28), "二年", date(2028, 2, 27)), (date(2025, 12, 31), "三个月", date(2026, 3, 30)),
    (date(2026, 1, 31), "一个月", date(2026, 2, 28)), (date(2026, 3, 1), "二十日", date(2026, 3, 20)),
])
def test_the_term_ends_the_day_before_its_corresponding_day(start, text, end):
    """Criminal Law art. 47: the day of detention is the first day of the term."""
    assert sentence.parse_term(text).end(start) == end
