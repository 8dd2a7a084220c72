"""Police closing: withdrawal of the case (撤销案件, CPL art. 163) and termination of one suspect's
investigation (终止侦查, MPS Provisions arts. 186(2), 187), approved by the police chief, also during
supplementary investigation; release with a certificate, the approving / returning procuratorate
told (art. 163; MPS Provisions art. 296(3)), the 3-day notice (MPS Provisions art. 189)."""

from __future__ import annotations

from datetime import date

import pytest

from casehub.cases.models import CustodyStatus, PersonRole
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import Clock
from casehub.dossier.models import Document
from casehub.objectstore.services import read_bytes
from tests.procedure.conftest import arrested, at, put_in_supplementary
from tests.workflow.test_generated_documents import assert_signed_by, text_of
from workflows import engine
from workflows.models import InvestigationTermination, Transfer, TransferKind

pytestmark = pytest.mark.time_machine(at("2026-11-02"))


def generated(case, title: str) -> Document:
    return Document.objects.filter(case=case, generated=True, title__startswith=title).latest("id")


@pytest.mark.needs_poppler
def test_withdrawal_during_supplementary_investigation_releases_the_arrested_person(new_case, district, fire):
    case = new_case(persons=[{"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.DETAINED,
                              "custody_since": at("2026-09-20"), "detention_centre": district.detention}])
    person = case.persons.get()
    arrested(person, district, since=at("2026-09-23"))
    put_in_supplementary(case, district, when=at("2026-10-28"))

    result = fire(case, "withdraw_case", "investigator", ground="no_crime", reason="经侦查，补充侦查查明财物系李四本人所有。")
    assert result.log.approved_by == district.police_supervisor  # MPS art. 187: the police chief approves
    case.refresh_from_db()
    person.refresh_from_db()
    assert case.status == "closed" and person.custody_status == CustodyStatus.RELEASED
    assert not Clock.objects.filter(case=case, kind=ClockKind.SUPPLEMENTARY_INVESTIGATION, status="running").exists()

    decision = read_bytes(generated(case, "撤销案件决定书").stored)
    assert_signed_by(decision, district.police)
    text = text_of(decision)
    assert "第一百六十三条" in text and "决定撤销此案" in text and "没有犯罪事实" in text
    assert "补充侦查查明财物系李四本人所有。根据" in text and "。。" not in text and "经侦查，补充" not in text
    assert "原批准逮捕的人民检察院" in text and "退查的人民检察院" in text and "三日以内告知" in text
    certificate = read_bytes(generated(case, "释放证明书").stored)
    assert_signed_by(certificate, district.police)
    assert "兹有李四" in text_of(certificate) and "撤销案件" in text_of(certificate)
    # The procuratorate that approved the arrest and returned the case receives the decision.
    sent = Transfer.objects.get(case=case, kind=TransferKind.POLICE_CLOSING)
    assert sent.to_agency == district.procuratorate and sent.from_agency == district.police

    notice = Clock.objects.get(case=case, kind=ClockKind.CLOSING_NOTICE)
    assert notice.agency == district.police and notice.due_date == date(2026, 11, 5)  # MPS art. 189: 3 days
    fire(case, "record_closing_notice", "investigator", notified="2026年11月3日电话告知李四及被害人王某。")
    notice.refresh_from_db()
    assert notice.status != "running"
    with pytest.raises(engine.GuardFailed, match="没有待告知"):
        fire(case, "record_closing_notice", "investigator", notified="再次")


def test_termination_of_one_suspect_releases_only_that_person_and_the_case_goes_on(new_case, district, fire):
    case = new_case(persons=[
        {"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.NOT_DETAINED},
        {"role": PersonRole.SUSPECT, "name": "王五", "custody_status": CustodyStatus.DETAINED,
         "custody_since": at("2026-10-30"), "detention_centre": district.detention},
    ])
    li, wang = case.persons.order_by("id")
    from casehub.custody.services import register_custody

    register_custody(wang, detention_centre=district.detention, measure="detained", since=wang.custody_since,
                     acting_user=district.investigator)
    with pytest.raises(engine.GuardFailed, match="应当撤销案件"):
        fire(case, "terminate_investigation", "investigator", persons=[li.pk, wang.pk], ground="not_the_offender",
             reason="均非作案人")
    fire(case, "terminate_investigation", "investigator", persons=[wang.pk], ground="not_the_offender",
         reason="监控录像显示王五案发时不在现场")
    case.refresh_from_db()
    wang.refresh_from_db()
    li.refresh_from_db()
    assert case.stage == "investigation" and case.status == "active"
    assert wang.custody_status == CustodyStatus.RELEASED and li.custody_status == CustodyStatus.NOT_DETAINED
    assert InvestigationTermination.objects.get(case=case).person == wang
    text = text_of(read_bytes(generated(case, "终止侦查决定书").stored))
    assert "决定对犯罪嫌疑人王五终止侦查，本案继续侦查" in text and "三日以内告知王五" in text
    assert "兹有王五" in text_of(read_bytes(generated(case, "释放证明书").stored))
    assert Clock.objects.filter(case=case, kind=ClockKind.CLOSING_NOTICE, status="running").exists()
    # The terminated person is no longer a suspect of the case's documents.
    from workflows import documents

    assert [p.name for p in documents.suspects(case)] == ["李四"]
