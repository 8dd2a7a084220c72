"""Extensions approved by a court that is not on the platform (issue #17): the court trying the case
records the approval it received on paper — its number and date — and the platform generates the
court's own signed 延长审理期限决定书 (CPL art. 208; SPC Interpretation art. 210). The second instance's
two months approved by the provincial high court (art. 243) are tested with the second instance in
test_execution_copies_and_separation.py."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from casehub.dossier.models import Document
from tests.fixtures.district import make_agency
from tests.workflow.conftest import case, drive, make_case  # noqa: F401 - fixtures
from workflows import engine, trial


def _extension_decisions(case):  # noqa: F811
    return Document.objects.filter(case=case, title="延长审理期限决定书", generated=True).order_by("id")


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_the_next_higher_court_off_the_platform_approves_on_paper_then_the_supreme_court(
        case, drive, district, time_machine):  # noqa: F811
    """Art. 208: 2 months, 3 by the trial court; the next-higher court's +3 months once where a death
    sentence is possible (SPC Interpretation art. 210) — here received on paper, since that court is not
    on the platform — then the Supreme People's Court's 1-3 months, each a signed decision of the court."""
    drive.to_review(case)
    drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="故意杀人罪，刑法第二百三十二条。")
    drive.fire(case, "docket_case", "court_clerk")
    clock = trial.trial_clock(case)
    drive.fire(case, "extend_trial", "judge", decision="案情复杂")
    blocked = dict((s.name, r) for s, r in engine.blocked_transitions(case, district.judge))
    assert "没有登记上一级人民法院" in blocked["request_higher_extension"][0]  # not through the platform

    time_machine.move_to("2026-04-20T10:00:00+08:00")
    with pytest.raises(engine.GuardFailed, match="不能晚于今天"):
        engine.fire(case, "record_higher_extension", acting_user=district.judge,
                    inputs={"ground": "death", "requested_on": date(2026, 4, 10), "decision": "（2026）粤高法刑他1号",
                            "approved_on": date(2026, 4, 21)})
    drive.fire(case, "record_higher_extension", "judge", ground="death", requested_on="2026-04-10",
               decision="（2026）粤高法刑他1号", approved_on="2026-04-18")
    clock.refresh_from_db()
    assert clock.period_months == 6 and "上一级人民法院批准延长三个月" in clock.extended_by
    decision = _extension_decisions(case).last()
    assert decision.author_agency == district.court  # the court's own decision, signed by it
    assert trial.higher_extension_granted(case)
    with pytest.raises(engine.GuardFailed, match="已批准延长一次"):  # once (SPC Interpretation art. 210)
        engine.fire(case, "record_higher_extension", acting_user=district.judge,
                    inputs={"ground": "death", "requested_on": date(2026, 4, 10), "decision": "再次",
                            "approved_on": date(2026, 4, 19)})

    drive.fire(case, "record_spc_extension", "judge", months=3, decision="（2026）最高法刑他1号",
               approved_on="2026-04-20")
    clock.refresh_from_db()
    assert clock.period_months == 9
    assert _extension_decisions(case).count() == 3  # the court's own, the higher court's, the SPC's


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_a_paper_approval_on_a_request_filed_less_than_15_days_before_expiry_is_refused(
        case, drive, district, time_machine):  # noqa: F811
    """SPC Interpretation art. 210: the request reaches the next-higher court at least 15 days before the
    period expires; the court records the day it filed it, and a later request extends nothing."""
    drive.to_review(case)
    drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="故意杀人罪，刑法第二百三十二条。")
    drive.fire(case, "docket_case", "court_clerk")
    drive.fire(case, "extend_trial", "judge", decision="案情复杂")
    due = trial.trial_clock(case).due_date
    time_machine.move_to(f"{due - timedelta(days=2)}T10:00:00+08:00")
    late = {"ground": "death", "requested_on": due - timedelta(days=14), "decision": "（2026）粤高法刑他3号",
            "approved_on": due - timedelta(days=3)}
    with pytest.raises(engine.GuardFailed, match="第二百一十条"):
        engine.fire(case, "record_higher_extension", acting_user=district.judge, inputs=late)
    assert not trial.higher_extension_granted(case)
    drive.fire(case, "record_higher_extension", "judge", **{**late, "requested_on": due - timedelta(days=15)})
    assert trial.higher_extension_granted(case)


def test_a_next_higher_court_on_the_platform_is_asked_through_it(case, drive, district):  # noqa: F811
    """Art. 208: where the next-higher court is on the platform, the request and its approval go through it
    (``request_higher_extension`` / ``approve_higher_extension``); no paper approval is recorded."""
    drive.to_review(case)
    drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="故意杀人罪，刑法第二百三十二条。")
    drive.fire(case, "docket_case", "court_clerk")
    district.court.parent = make_agency("court", "FY440300X", "深圳市中级人民法院（测试）", court_code="粤03X",
                                        region="440300")
    district.court.save(update_fields=["parent"])
    case.refresh_from_db()
    blocked = dict((s.name, r) for s, r in engine.blocked_transitions(case, district.judge))
    assert "通过平台报请" in blocked["record_higher_extension"][0]
