"""The demo cases are driven through the real engine and the command can run twice."""

from __future__ import annotations

from casehub.cases.models import Case, CaseStatus
from casehub.transfers.demo import create_demo_cases
from workflows import definition as d
from workflows.models import Transfer, VerificationStatus


def test_demo_cases_reach_their_stages_and_are_idempotent(district):
    create_demo_cases(district.users)
    stages = dict(Case.objects.values_list("title", "stage"))
    assert stages == {
        "李四涉嫌抢劫案": d.Stage.ARREST_REVIEW,
        "王五涉嫌诈骗案": d.Stage.PROSECUTION_REVIEW,
        "赵六涉嫌故意伤害案": d.Stage.SUPPLEMENTARY_INVESTIGATION,
        "孙七涉嫌盗窃案": d.Stage.TRIAL,
        "周八涉嫌危险驾驶案": d.Stage.CLOSED,
    }
    assert Case.objects.get(title="周八涉嫌危险驾驶案").status == CaseStatus.CLOSED
    assert all(t.verification_status == VerificationStatus.PASSED for t in Transfer.objects.all())
    transfers = Transfer.objects.count()
    create_demo_cases(district.users)
    assert Case.objects.count() == 5 and Transfer.objects.count() == transfers
