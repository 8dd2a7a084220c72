"""Withdrawal of the prosecution while the trial is postponed for supplementary investigation
(SPP Rules 2019 art. 421; SPC Interpretation 2021 art. 296; issue 15).

The procuratorate holds the case and the detained defendants' custody during the postponement; it
either asks to resume the trial or withdraws. The court that postponed the trial rules. A permitted
withdrawal ends the supplementary period and starts the 30 days for the non-prosecution decision
(art. 424(2)); the custody stays where it is, and only the procuratorate — the authority holding
the case — signs the change notices. 王五 on bail is not touched.
"""

from __future__ import annotations

import pytest

from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock, ClockStatus
from casehub.custody.models import CustodyNotice, CustodyRecord
from workflows import engine

pytestmark = [pytest.mark.django_db, pytest.mark.time_machine("2026-11-02T10:00:00+08:00")]


def _running(case, kind):
    return Clock.objects.filter(case=case, kind=kind, status__in=ACTIVE_STATUSES)


@pytest.fixture
def postponed(gang_case, drive):
    drive.to_court(gang_case)
    drive.fire(gang_case, "postpone_for_supplementary", "judge", reason="深龙检建延〔2026〕1号：需补充证据")
    assert gang_case.stage == "trial_supplementary"
    return gang_case


def test_a_withdrawal_during_supplementary_investigation_is_ruled_by_the_court_that_postponed(
        postponed, drive, district, time_machine):
    case = postponed
    supplementary = _running(case, ClockKind.TRIAL_SUPPLEMENTARY).get()
    # The trial-stage withdrawal is not the one: the court does not hold the case now.
    with pytest.raises(engine.CaseChanged):
        drive.fire(case, "request_prosecution_withdrawal", "prosecutor", ground="evidence", reason="证据发生变化")
    with pytest.raises(engine.GuardFailed, match="没有要求撤回起诉"):
        drive.fire(case, "permit_withdrawal_in_supplementary", "judge")
    drive.fire(case, "request_withdrawal_in_supplementary", "prosecutor", ground="evidence",
               reason="补充侦查后证据不足，不符合起诉条件。")
    assert case.stage == "trial_supplementary" and case.holder_agency == district.procuratorate
    with pytest.raises(engine.NotAllowed):
        drive.fire(case, "permit_withdrawal_in_supplementary", "prosecutor")

    notices_before = set(CustodyNotice.objects.filter(case=case).values_list("pk", flat=True))
    time_machine.move_to("2026-11-12T10:00:00+08:00")  # ten days into the month of supplementary investigation
    drive.fire(case, "permit_withdrawal_in_supplementary", "judge")
    assert (case.stage, case.holder_agency) == ("prosecution_review", district.procuratorate)
    assert Clock.objects.get(pk=supplementary.pk).status == ClockStatus.STOPPED
    withdrawn = _running(case, ClockKind.WITHDRAWN_PROSECUTION).get()
    assert withdrawn.agency == district.procuratorate and withdrawn.period_days == 30
    assert withdrawn.due_date != supplementary.due_date  # 12 December, not 2 December
    assert not _running(case, ClockKind.REVIEW_PROSECUTION).exists()  # no new review period
    for record in CustodyRecord.objects.filter(case=case):
        assert record.responsible_agency == district.procuratorate
        assert record.period_end == withdrawn.due_date
    new_notices = CustodyNotice.objects.filter(case=case).exclude(pk__in=notices_before)
    assert new_notices.exists() and set(new_notices.values_list("agency", flat=True)) == {district.procuratorate.pk}
    assert case.persons.get(name="王五").custody_status == "bail"
    # SPP Rules art. 424(3)-(5): prosecuting again needs new facts or new evidence.
    with pytest.raises(engine.GuardFailed, match="新的事实或者新的证据"):
        drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪")


def test_a_refused_withdrawal_leaves_the_supplementary_investigation_running(postponed, drive, district):
    case = postponed
    supplementary = _running(case, ClockKind.TRIAL_SUPPLEMENTARY).get()
    drive.fire(case, "request_withdrawal_in_supplementary", "prosecutor", ground="evidence", reason="证据不足。")
    # SPP Rules art. 421: while the withdrawal waits for the court's ruling, the trial is not resumed.
    with pytest.raises(engine.GuardFailed, match="第四百二十一条"):
        drive.fire(case, "return_after_supplementary", "prosecutor", reason="补充侦查完毕")
    drive.fire(case, "refuse_withdrawal_in_supplementary", "judge", reason="现有证据足以认定犯罪事实。")
    assert case.stage == "trial_supplementary"
    still = _running(case, ClockKind.TRIAL_SUPPLEMENTARY).get()
    assert (still.pk, still.due_date) == (supplementary.pk, supplementary.due_date)
    assert not CustodyNotice.objects.filter(case=case, agency=district.court).exclude(
        issued_at__lt=supplementary.started_at).exists()
    drive.fire(case, "return_after_supplementary", "prosecutor", reason="补充侦查完毕")
    assert case.stage == "trial"
