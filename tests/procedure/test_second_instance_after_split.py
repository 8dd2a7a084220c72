"""After the court above rules that two defendants were merely tried together (not a joint crime), the
one who did not appeal is split off and handed over for execution on his own; the second-instance
decision rules on the appellant alone and names only him (CPL art. 233(2); SPC Interpretation arts.
389-390)."""

from __future__ import annotations

import pytest

from casehub.clocks.models import Clock
from tests.procedure.test_decision_numbers import texts
from tests.workflow.conftest import case, drive, make_case  # noqa: F401 - fixtures
from tests.workflow.judged import PRISON, PROBATION, appeal_goes_up, two_defendants_judged
from workflows import engine
from workflows import judgment as judgments


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_the_second_instance_decision_names_only_the_defendants_it_rules_on(
        case, drive, district, city, time_machine, django_capture_on_commit_callbacks):  # noqa: F811
    zhang, li = two_defendants_judged(case, drive, district)
    appeal_goes_up(case, drive, time_machine, li)
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
    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="police")
    notices = texts(case, "执行通知书")  # 张三's (first instance alone), then 李四's naming the final ruling
    assert "刑终" not in notices[0] and "（2026）粤03刑终1号刑事裁定驳回上诉" in notices[-1] and "李四" in notices[-1]


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_a_split_off_defendant_on_probation_is_sent_to_community_correction_with_copies(
        case, drive, district, city, time_machine, django_capture_on_commit_callbacks):  # noqa: F811
    """Community Correction Law art. 20; SPC Interpretation art. 519: 张三 (probation, did not appeal) is split
    off and handed to community correction by the first-instance court; the documents are copied to the
    procuratorate and the police, each a signed package, while the second instance goes on for 李四."""
    zhang, li = two_defendants_judged(case, drive, district, 张三=PROBATION)
    appeal_goes_up(case, drive, time_machine, li)
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "docket_appeal", acting_user=city.intermediate_clerk, inputs={})
        engine.fire(case, "rule_on_joint_crime", acting_user=city.intermediate_judge,
                    inputs={"ruling": "separate", "reason": "二人分别实施盗窃，不属于共同犯罪。"})
    with pytest.raises(engine.GuardFailed, match="刑罚不符"):  # 张三's sentence is not the police's to execute
        engine.fire(case, "hand_over_separately", acting_user=district.court_clerk, inputs={"executor": "police"})
    drive.fire(case, "hand_over_separately", "court_clerk", executor="justice")
    package = case.transfers.get(transition="hand_over_separately", kind="execution")
    assert package.to_agency == district.justice and package.from_agency == district.court
    copies = case.transfers.filter(kind="correction_copy")
    assert {t.to_agency for t in copies} == {district.procuratorate, district.police}
    for copy in copies:
        assert copy.from_agency == district.court and copy.manifest_signature and copy.verification_status == "passed"
        (notice,) = copy.documents.filter(title__startswith="执行通知书")
        assert notice.author_agency == district.court
    (text,) = texts(case, "执行通知书")
    assert "罪犯张三" in text and "社区矫正" in text and "李四" not in text
    case.refresh_from_db()
    assert case.stage == "second_instance" and case.holder_agency == city.court


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_after_a_remand_only_the_remanded_defendant_is_retried_and_gets_an_appeal_window(
        case, drive, district, city, time_machine, django_capture_on_commit_callbacks):  # noqa: F811
    """CPL arts. 236(1)(3), 241; SPC Interpretation art. 390: 张三, split off and executed, is not before the
    retrial court; the remand ruling sets aside only 李四's part and the retried judgment opens 李四's window
    alone."""
    zhang, li = two_defendants_judged(case, drive, district)
    appeal_goes_up(case, drive, time_machine, li)
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "docket_appeal", acting_user=city.intermediate_clerk, inputs={})
        engine.fire(case, "rule_on_joint_crime", acting_user=city.intermediate_judge,
                    inputs={"ruling": "separate", "reason": "二人分别实施盗窃，不属于共同犯罪。"})
    drive.fire(case, "hand_over_separately", "court_clerk", executor="police")
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "remand", acting_user=city.intermediate_judge, inputs={"reason": "事实不清、证据不足"})
    (text,) = texts(case, "刑事裁定书（发回重审）")
    assert "对原审被告人李四的判决部分" in text and "张三" not in text.replace(case.title, "")

    time_machine.move_to("2026-03-20T10:00:00+08:00")
    judgments.record_decision(case, li, acting_user=district.judge, **PRISON)
    drive.fire(case, "announce_judgment", "judge", announced_on="2026-03-20", in_court="yes", verdict="见判决结果")
    drive.fire(case, "deliver_judgment", "court_clerk")
    windows = Clock.objects.filter(case=case, kind="appeal_period", started_at__date__gte="2026-03-20")
    assert list(windows.values_list("person__name", flat=True)) == ["李四"]
