"""Investigation custody after arrest, per person (issue 15): the recount of art. 160 (MPS Provisions 2020 arts.
151-152) and the psychiatric assessment that art. 149 does not count.

张三 is arrested on 2 March 2026; 李四 stays detained and 王五 on bail — neither is touched by a
decision about 张三.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from casehub.audit.models import AuditEvent
from casehub.clocks.counting import local_day
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock, ClockStatus
from casehub.custody.models import CustodyNotice, CustodyRecord, NoticeKind
from tests.procedure.conftest import extend_custody
from workflows import custody_terms, engine

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _at(day: date):
    return time_machine.travel(datetime(day.year, day.month, day.day, 10, tzinfo=SHANGHAI), tick=False)


def _people(case):
    return {p.name: p for p in case.persons.all()}


def _custody_clock(person):
    return Clock.objects.get(person=person, kind=ClockKind.INVESTIGATION_CUSTODY, status__in=ACTIVE_STATUSES)


@pytest.fixture
def arrested(gang_case, drive):
    """张三's arrest is approved on 2 March 2026: two months of investigation custody (art. 156)."""
    zhang = _people(gang_case)["张三"]
    with _at(date(2026, 3, 2)):
        drive.fire(gang_case, "request_arrest", "investigator", reason="入室盗窃", persons=[zhang.pk])
        drive.fire(gang_case, "accept_arrest_request", "prosecutor")
        drive.fire(gang_case, "approve_arrest", "prosecutor")
    zhang.refresh_from_db()
    assert _custody_clock(zhang).due_date == date(2026, 5, 2)
    return zhang


def test_art_160_recount_is_a_police_chiefs_decision_notified_to_the_detention_centre(arrested, gang_case, district):
    """Art. 160(1); MPS Provisions 2020 art. 151: another major crime discovered on 10 April is
    reported within 5 days; with the police chief's approval the art. 156 period counts again from
    the discovery; the detention centre receives a 变更羁押期限通知书 and the procuratorate that
    approved the arrest is told (备案). Nobody else's clock moves."""
    li = _people(gang_case)["李四"]
    li_clocks = {c.pk: c.due_date for c in Clock.objects.filter(person=li, status__in=ACTIVE_STATUSES)}
    old = _custody_clock(arrested)
    with _at(date(2026, 4, 13)):
        with pytest.raises(engine.NotAllowed):
            custody_terms.recount_investigation_custody(arrested, ground="another_crime", since=date(2026, 4, 10),
                                                        reason="发现另有抢劫罪", acting_user=district.investigator)
        with pytest.raises(ValidationError, match="五日以内"):
            custody_terms.recount_investigation_custody(arrested, ground="another_crime", since=date(2026, 4, 7),
                                                        reason="发现另有抢劫罪", acting_user=district.police_supervisor)
        new = custody_terms.recount_investigation_custody(
            arrested, ground="another_crime", since=date(2026, 4, 10), reason="发现另有抢劫罪",
            acting_user=district.police_supervisor)
    assert Clock.objects.get(pk=old.pk).status == ClockStatus.STOPPED
    assert (local_day(new.started_at), new.due_date, new.agency) == (date(2026, 4, 10), date(2026, 6, 10),
                                                                     district.police)
    notice = CustodyNotice.objects.get(person=arrested, kind=NoticeKind.RECALCULATION, reason__contains="另有重要罪行")
    assert (notice.agency, notice.new_end, notice.detention_centre) == (district.police, date(2026, 6, 10),
                                                                        district.detention)
    assert CustodyRecord.objects.get(person=arrested).period_end == date(2026, 6, 10)
    event = AuditEvent.objects.get(action="workflow.person_decision", details__decision="custody_recount")
    assert event.details["filed_with"] == district.procuratorate.code
    assert {c.pk: c.due_date for c in Clock.objects.filter(person=li, status__in=ACTIVE_STATUSES)} == li_clocks


def test_art_160_identification_counts_from_the_day_the_identity_is_established(arrested, district):
    """Art. 160(2); MPS Provisions 2020 art. 152: the period runs from the day the identity is
    established; the extensions of arts. 156-159 are available again for the new period."""
    with _at(date(2026, 4, 20)):
        new = custody_terms.recount_investigation_custody(
            arrested, ground="identified", since=date(2026, 4, 1), reason="查清真实身份",
            acting_user=district.police_supervisor)
    assert new.due_date == date(2026, 6, 1)
    extended = extend_custody(arrested, district, date(2026, 5, 20), district.prosecutor)  # paper: no city
    assert extended.new_end == date(2026, 7, 1) == _custody_clock(arrested).due_date


def test_psychiatric_assessment_time_is_not_counted(arrested, gang_case, district):
    """Art. 149: the 20 days of 张三's psychiatric assessment (10 to 30 March) are not counted: his
    custody period ends on 22 May instead of 2 May, and the clock, the detention centre's record and
    the notice agree. 李四's periods are not paused."""
    li = _people(gang_case)["李四"]
    li_clocks = {c.pk: (c.status, c.due_date) for c in Clock.objects.filter(person=li, status__in=ACTIVE_STATUSES)}
    with _at(date(2026, 3, 10)):
        paused = custody_terms.start_psychiatric_assessment(arrested, reason="委托司法精神病鉴定",
                                                            acting_user=district.investigator)
    assert [c.status for c in paused] == [ClockStatus.PAUSED]
    with _at(date(2026, 3, 30)):
        resumed = custody_terms.end_psychiatric_assessment(arrested, reason="鉴定意见已出具",
                                                           acting_user=district.investigator)
    clock = _custody_clock(arrested)
    assert [c.pk for c in resumed] == [clock.pk]
    assert clock.status == ClockStatus.RUNNING and clock.paused_days == 20
    assert clock.due_date == date(2026, 5, 2) + timedelta(days=20)
    notice = CustodyNotice.objects.filter(person=arrested).order_by("-issued_at").first()
    assert notice.new_end == clock.due_date == CustodyRecord.objects.get(person=arrested).period_end
    assert {c.pk: (c.status, c.due_date) for c in Clock.objects.filter(person=li, status__in=ACTIVE_STATUSES)} == li_clocks
    with pytest.raises(ValidationError, match="中止"):
        custody_terms.end_psychiatric_assessment(arrested, reason="再次", acting_user=district.investigator)
