"""The demo district includes a plea case, a non-prosecution and a withdrawal, driven through the
real engine (one test each, to keep each short), and loading again changes nothing."""

from __future__ import annotations

from casehub.cases.models import Case, CustodyStatus
from casehub.transfers import demo_procedure as demo
from workflows import definition as d
from workflows.models import PleaRecord, TransitionLog


def test_the_demo_plea_case_is_indicted_for_the_fast_track(district):
    demo.plea_case(district.users)
    case = Case.objects.get(title=demo.PLEA)
    assert case.stage == d.Stage.COURT_FILING
    assert PleaRecord.objects.get(case=case).statement is not None
    assert TransitionLog.objects.filter(case=case, transition="adopt_fast_track_review").exists()
    assert TransitionLog.objects.get(case=case, transition="indict").inputs["procedure"] == "speedy"


def test_the_demo_non_prosecution_is_a_discretionary_one(district):
    demo.non_prosecution_case(district.users)
    case = Case.objects.get(title=demo.NON_PROSECUTION)
    assert case.stage == d.Stage.CLOSED
    assert TransitionLog.objects.get(case=case, transition="decide_non_prosecution").inputs["kind"] == "discretionary"
    # Art. 181: the person's appeal is under review at the procuratorate that decided.
    assert case.clocks.get(kind="np_appeal_review").agency.kind == "procuratorate"


def test_the_demo_withdrawal_releases_the_suspect_and_loading_twice_changes_nothing(district):
    demo.withdrawn_case(district.users)
    case = Case.objects.get(title=demo.WITHDRAWAL)
    assert case.stage == d.Stage.CLOSED and case.persons.get().custody_status == CustodyStatus.RELEASED
    logs = TransitionLog.objects.count()
    demo.withdrawn_case(district.users)
    assert Case.objects.count() == 1 and TransitionLog.objects.count() == logs
