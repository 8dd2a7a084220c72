"""Co-defendants at the second instance (CPL art. 233(2); SPC Interpretation 2021 arts. 389-390): one
defendant's appeal sends the whole case up; where a co-defendant neither appealed nor was protested
against, the second-instance court records whether the case is a joint crime (the whole case reviewed)
or defendants merely tried together, before it decides — until then the decision is flagged."""

from __future__ import annotations

import pytest

from tests.workflow.judged import appeal_goes_up, two_defendants_judged
from workflows import engine


def _second_instance(case, drive, district, city, time_machine, capture, *, appellants):
    two_defendants_judged(case, drive, district)
    appeal_goes_up(case, drive, time_machine, *(case.persons.get(name=n) for n in appellants))
    with capture(execute=True):
        engine.fire(case, "docket_appeal", acting_user=city.intermediate_clerk, inputs={})
    case.refresh_from_db()
    return case


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_a_co_defendant_who_did_not_appeal_is_flagged_until_the_court_rules_on_the_joint_crime(
        case, drive, district, city, time_machine, django_capture_on_commit_callbacks):
    _second_instance(case, drive, district, city, time_machine, django_capture_on_commit_callbacks,
                     appellants=["张三"])
    judge = city.intermediate_judge
    blocked = dict((s.name, r) for s, r in engine.blocked_transitions(case, judge))
    assert "李四" in blocked["decide_second_instance"][0] and "共同犯罪" in blocked["decide_second_instance"][0]
    assert "remand" in blocked
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "rule_on_joint_crime", acting_user=judge,
                    inputs={"ruling": "joint", "reason": "二人结伙入室盗窃，系共同犯罪。"})
        engine.fire(case, "decide_second_instance", acting_user=judge,
                    inputs={"result": "upheld", "verdict": "驳回上诉，维持原判。"})
    case.refresh_from_db()
    assert case.stage == "execution"


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_when_every_defendant_appealed_there_is_nothing_to_rule_on(
        case, drive, district, city, time_machine, django_capture_on_commit_callbacks):
    _second_instance(case, drive, district, city, time_machine, django_capture_on_commit_callbacks,
                     appellants=["张三", "李四"])
    judge = city.intermediate_judge
    names = {s.name for s in engine.available_transitions(case, judge)}
    assert "decide_second_instance" in names and "rule_on_joint_crime" not in names
