"""Bail and residential surveillance are limits per deciding authority (issue 15).

CPL art. 79: bail at most 12 months, residential surveillance at most 6. SPP Rules 2019 arts. 103,
113: when the case reaches the procuratorate it decides the measure anew and the period is counted
again. SPC Interpretation 2021 art. 162: the court decides within 7 days of receiving the case
whether the measure continues. One clock per decision, never one across the whole case.

张三 is detained; 李四's arrest is refused and he is put on bail; 王五 is on bail from the start.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from casehub.cases.models import CustodyStatus
from casehub.clocks.counting import local_day
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock, ClockStatus
from workflows import engine

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
MEASURE_KINDS = (ClockKind.BAIL, ClockKind.RESIDENTIAL_SURVEILLANCE)


def _at(day: date):
    return time_machine.travel(datetime(day.year, day.month, day.day, 10, tzinfo=SHANGHAI), tick=False)


def _people(case):
    return {p.name: p for p in case.persons.all()}


def _measure_clocks(case, **filters):
    return Clock.objects.filter(case=case, kind__in=MEASURE_KINDS, status__in=ACTIVE_STATUSES, **filters)


@pytest.fixture
def li_on_bail(gang_case, drive):
    """2 March 2026: 李四's arrest is refused and the police put him on bail (art. 91(3))."""
    li = _people(gang_case)["李四"]
    with _at(date(2026, 3, 2)):
        drive.fire(gang_case, "request_arrest", "investigator", reason="结伙盗窃", persons=[li.pk])
        drive.fire(gang_case, "accept_arrest_request", "prosecutor")
        drive.fire(gang_case, "refuse_arrest", "prosecutor", persons=[li.pk], refused_measure="bail",
                   reason="不符合逮捕条件，可以取保候审")
    return gang_case


def test_a_bail_decided_by_the_police_runs_twelve_months_for_the_police(li_on_bail, district):
    """Art. 79: each bail runs from its decision for the authority that decided it; 王五's bail at
    registration and 李四's bail on the refusal are the police's own; 张三 (detained) has none."""
    people = _people(li_on_bail)
    li = _measure_clocks(li_on_bail, person=people["李四"]).get()
    assert (li.kind, li.agency, li.period_months) == (ClockKind.BAIL, district.police, 12)
    assert local_day(li.started_at) == date(2026, 3, 2) and li.due_date == date(2027, 3, 2)
    wang = _measure_clocks(li_on_bail, person=people["王五"]).get()
    assert (wang.kind, wang.agency) == (ClockKind.BAIL, district.police)
    assert not _measure_clocks(li_on_bail, person=people["张三"]).exists()


def test_the_procuratorate_decides_anew_and_a_new_period_starts(li_on_bail, drive, district):
    """SPP Rules 2019 arts. 103, 113: the police's periods stop when the procuratorate receives the
    case; the procuratorate decides again — bail for 王五 (12 months), residential surveillance for
    李四 (6 months, art. 79) — each counted from its own decision. The detained 张三 cannot be named."""
    people = _people(li_on_bail)
    police_clocks = list(_measure_clocks(li_on_bail))
    with _at(date(2026, 4, 1)):
        drive.to_review(li_on_bail)
    assert all(Clock.objects.get(pk=c.pk).status == ClockStatus.STOPPED for c in police_clocks)
    assert not _measure_clocks(li_on_bail).exists()  # nothing runs across two authorities

    with pytest.raises(engine.GuardFailed, match="没有被取保候审或者监视居住"):
        drive.fire(li_on_bail, "redecide_measure", "prosecutor", persons=[people["张三"].pk], measure="bail",
                   reason="继续取保候审")
    with _at(date(2026, 4, 8)):
        drive.fire(li_on_bail, "redecide_measure", "prosecutor", persons=[people["王五"].pk], measure="bail",
                   reason="继续取保候审，不变更保证金")
        drive.fire(li_on_bail, "redecide_measure", "prosecutor", persons=[people["李四"].pk],
                   measure="residential_surveillance", reason="无力交纳保证金，变更为监视居住")
    wang = _measure_clocks(li_on_bail, person=people["王五"]).get()
    assert (wang.kind, wang.agency, wang.due_date) == (ClockKind.BAIL, district.procuratorate, date(2027, 4, 8))
    li = _measure_clocks(li_on_bail, person=people["李四"]).get()
    assert (li.kind, li.agency, li.due_date) == (ClockKind.RESIDENTIAL_SURVEILLANCE, district.procuratorate,
                                                 date(2026, 10, 8))
    li_person = li_on_bail.persons.get(name="李四")
    assert (li_person.custody_status, li_person.measure_authority) == (CustodyStatus.RESIDENTIAL_SURVEILLANCE,
                                                                       district.procuratorate)
    assert li_on_bail.persons.get(name="张三").custody_status == CustodyStatus.DETAINED


def test_the_court_decides_within_seven_days_whether_the_measure_continues(li_on_bail, drive, district):
    """SPC Interpretation 2021 art. 162: on docketing, a 7-day decision period runs for each person
    on bail or under surveillance (not for the detained 张三); the court's decision stops that
    person's period and, continuing the bail, starts the court's own 12 months (art. 79). The
    other person's 7 days run on."""
    people = _people(li_on_bail)
    with _at(date(2026, 4, 1)):
        drive.to_review(li_on_bail)
        drive.fire(li_on_bail, "redecide_measure", "prosecutor", measure="bail", reason="继续取保候审")
    procuratorate_clocks = list(_measure_clocks(li_on_bail))
    assert {c.agency for c in procuratorate_clocks} == {district.procuratorate} and len(procuratorate_clocks) == 2
    with _at(date(2026, 4, 20)):
        drive.fire(li_on_bail, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪")
        drive.fire(li_on_bail, "docket_case", "court_clerk")
    assert all(Clock.objects.get(pk=c.pk).status == ClockStatus.STOPPED for c in procuratorate_clocks)
    pending = Clock.objects.filter(case=li_on_bail, kind=ClockKind.COURT_MEASURE_DECISION, status__in=ACTIVE_STATUSES)
    assert sorted(pending.values_list("person__name", flat=True)) == ["李四", "王五"]
    assert {(c.agency, c.due_date) for c in pending} == {(district.court, date(2026, 4, 27))}

    with _at(date(2026, 4, 23)):
        drive.fire(li_on_bail, "decide_measure_at_court", "judge", persons=[people["王五"].pk], measure="bail",
                   reason="继续取保候审")
    assert list(pending.values_list("person__name", flat=True)) == ["李四"]  # his 7 days run on
    wang = _measure_clocks(li_on_bail, person=people["王五"]).get()
    assert (wang.kind, wang.agency, wang.due_date) == (ClockKind.BAIL, district.court, date(2027, 4, 23))
    assert not _measure_clocks(li_on_bail, person=people["李四"]).exists()


def test_lifting_a_measure_ends_its_period(li_on_bail, drive):
    """Art. 79: a measure lifted (解除) has no period left; the person is no longer on bail."""
    people = _people(li_on_bail)
    with _at(date(2026, 4, 1)):
        drive.to_review(li_on_bail)
        drive.fire(li_on_bail, "redecide_measure", "prosecutor", persons=[people["王五"].pk],
                   measure=CustodyStatus.RELEASED, reason="不需要继续采取强制措施")
    assert li_on_bail.persons.get(name="王五").custody_status == CustodyStatus.RELEASED
    assert not _measure_clocks(li_on_bail, person=people["王五"]).exists()
