"""The demo cases are driven through the real engine and the command can run twice."""

from __future__ import annotations

from casehub.cases.models import Case, CaseStatus
from casehub.custody.models import CustodyRecord, RecordStatus
from casehub.transfers.demo import create_demo_cases
from workflows import definition as d
from workflows.models import Transfer, TransitionLog, VerificationStatus


def test_demo_cases_reach_their_stages_and_are_idempotent(district, city):
    users = {**district.users, **city.users}
    create_demo_cases(users)
    stages = dict(Case.objects.values_list("title", "stage"))
    assert stages == {
        "李四涉嫌抢劫案": d.Stage.ARREST_REVIEW,
        "王五涉嫌诈骗案": d.Stage.PROSECUTION_REVIEW,
        "赵六涉嫌故意伤害案": d.Stage.SUPPLEMENTARY_INVESTIGATION,
        "孙七涉嫌盗窃案": d.Stage.TRIAL,
        "周八涉嫌危险驾驶案": d.Stage.CLOSED,
        "吴九涉嫌故意伤害案": d.Stage.APPEAL_PERIOD,
        "钱十二涉嫌抢夺案": d.Stage.SECOND_INSTANCE,
    }
    # Executed (#17): the judgment took effect, the police signed for its execution, custody ended.
    executed = Case.objects.get(title="周八涉嫌危险驾驶案")
    assert executed.status == CaseStatus.CLOSED
    assert executed.transfers.get(kind="execution").receipt_signature
    assert CustodyRecord.objects.get(case=executed).status == RecordStatus.EXECUTED
    # On appeal: the defendant appealed within the window (art. 230).
    assert TransitionLog.objects.filter(case__title="吴九涉嫌故意伤害案", transition="record_appeal").exists()
    # On appeal at the intermediate court (arts. 231, 243): sent up after the window, docketed as 粤03 刑终.
    appealed = Case.objects.get(title="钱十二涉嫌抢夺案")
    assert appealed.holder_agency == city.court
    assert appealed.numbers.filter(number__contains="粤03刑终").exists()
    assert appealed.clocks.get(kind="second_instance").status == "running"
    assert all(t.verification_status == VerificationStatus.PASSED for t in Transfer.objects.all())
    transfers = Transfer.objects.count()
    create_demo_cases(users)
    assert Case.objects.count() == 7 and Transfer.objects.count() == transfers
