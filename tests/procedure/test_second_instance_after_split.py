"""After the court above rules that two defendants were merely tried together (not a joint crime), the
one who did not appeal is split off and handed over for execution on his own; the second-instance
decision rules on the appellant alone and names only him (CPL art. 233(2); SPC Interpretation arts.
389-390)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from casehub.cases.models import CustodyStatus, PersonRole
from casehub.cases.persons import add_person
from tests.procedure.test_decision_numbers import texts
from tests.workflow.conftest import case, drive, make_case  # noqa: F401 - fixtures
from workflows import engine
from workflows import judgment as judgments

PRISON = {"outcome": "guilty", "charge": "盗窃罪", "penalty": "fixed_term", "term": "二年"}


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_the_second_instance_decision_names_only_the_defendants_it_rules_on(
        case, drive, district, city, time_machine, django_capture_on_commit_callbacks):  # noqa: F811
    add_person(case, acting_user=district.investigator,
               data={"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.NOT_DETAINED})
    drive.to_court(case)
    zhang, li = case.persons.get(name="张三"), case.persons.get(name="李四")
    for person in (zhang, li):
        judgments.record_decision(case, person, acting_user=district.judge, **PRISON)
    drive.fire(case, "announce_judgment", "judge", announced_on=timezone.localdate().isoformat(), in_court="yes",
               verdict="见判决结果")
    drive.fire(case, "deliver_judgment", "court_clerk")
    drive.fire(case, "record_appeal", "court_clerk", persons=[li.pk], reason="量刑过重")
    time_machine.move_to("2026-03-13T10:00:00+08:00")
    drive.fire(case, "forward_appeal", "court_clerk")
    judge = city.intermediate_judge
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "docket_appeal", acting_user=city.intermediate_clerk, inputs={})
        engine.fire(case, "rule_on_joint_crime", acting_user=judge,
                    inputs={"ruling": "separate", "reason": "二人分别实施盗窃，仅合并审理，不属于共同犯罪。"})
    drive.fire(case, "hand_over_separately", "court_clerk", executor="police")
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "decide_second_instance", acting_user=judge,
                    inputs={"result": "upheld", "verdict": "驳回上诉，维持原判。"})
    (text,) = texts(case, "刑事裁定书（第二审）")
    assert "上诉人（原审被告人）李四" in text and "原审被告人李四不服" in text
    assert "张三" not in text.replace(case.title, "")  # split off: his judgment took effect on its own (SPC Interp. art. 390)
