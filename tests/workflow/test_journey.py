"""The whole journey through the engine: police → procuratorate → (police) → procuratorate → court →
judgment effective → execution → closed."""

from __future__ import annotations

import re

from casehub.cases.models import CaseStatus, CustodyStatus, NumberKind
from casehub.clocks.models import Clock, ClockStatus
from workflows import definition as d
from workflows.models import TransferStatus, TransitionLog, VerificationStatus


def test_case_travels_from_police_to_judgment(case, drive, district):
    drive.to_review(case)
    assert case.stage == d.Stage.PROSECUTION_REVIEW
    assert case.holder_agency == district.procuratorate
    review = Clock.objects.get(case=case, kind="review_prosecution", status=ClockStatus.RUNNING)
    assert review.agency == district.procuratorate

    drive.fire(case, "return_for_supplementary", "prosecutor", reason="补充调取监控录像")
    assert case.stage == d.Stage.SUPPLEMENTARY_INVESTIGATION and case.holder_agency == district.police
    assert Clock.objects.filter(case=case, kind="supplementary_investigation", status=ClockStatus.RUNNING,
                                agency=district.police).exists()

    drive.fire(case, "resubmit_for_review", "investigator", reason="已补充监控录像")
    drive.fire(case, "accept_review_transfer", "prosecutor")
    assert Clock.objects.filter(case=case, kind="review_prosecution", status=ClockStatus.RUNNING).count() == 1

    drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪")
    assert case.stage == d.Stage.COURT_FILING
    drive.fire(case, "docket_case", "court_clerk")
    assert case.stage == d.Stage.TRIAL and case.holder_agency == district.court
    docket = case.numbers.get(kind=NumberKind.COURT_DOCKET).number
    assert re.fullmatch(r"（\d{4}）粤0307刑初1号", docket), docket

    drive.fire(case, "announce_judgment", "judge", announced_on="2026-01-05", verdict="被告人张三犯盗窃罪，判处有期徒刑一年。")
    drive.fire(case, "deliver_judgment", "court_clerk")
    assert case.stage == d.Stage.APPEAL_PERIOD and case.status == CaseStatus.ACTIVE  # art. 230
    drive.to_execution(case)
    assert case.stage == d.Stage.CLOSED and case.status == CaseStatus.CLOSED
    assert not Clock.objects.filter(case=case, status=ClockStatus.RUNNING).exists()
    names = list(TransitionLog.objects.filter(case=case).values_list("transition", flat=True))
    assert names == ["register_case", "transfer_for_review", "accept_review_transfer", "return_for_supplementary",
                     "resubmit_for_review", "accept_review_transfer", "indict", "docket_case", "announce_judgment",
                     "deliver_judgment", "judgment_effective", "hand_over_for_execution", "accept_execution"]
    judgment = case.transfers.filter(kind="judgment")
    assert {t.to_agency for t in judgment} == {district.police, district.procuratorate}
    assert all(t.verification_status == VerificationStatus.PASSED for t in case.transfers.all())
    assert case.persons.get().custody_status == CustodyStatus.EXECUTED  # custody ended with execution
    assert case.transfers.filter(status=TransferStatus.ACCEPTED).count() == 4
