"""Execution after the judgment took effect (issue #17), three scenarios driven through the engine:

- the documents sent to community correction are copied to the procuratorate and the police, each a
  signed package shown on their case page (Community Correction Law art. 20; SPC Interpretation art. 519);
- a convict in custody whose execution outside prison the court decided is handed over by the
  detention centre within 10 days, which ends the custody record (CPL art. 265; SPC Interpretation art.
  515);
- after the court above rules that two defendants were merely tried together (not a joint crime), the
  one who did not appeal is handed over for execution by the first-instance court on his own, while the
  appellant's case goes on (CPL arts. 233(2), 259, 264; SPC Interpretation arts. 389-390); on the way the
  second instance is extended by two months on the high court's paper approval (art. 243).
"""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from casehub.cases.models import CaseStatus, CustodyStatus
from casehub.clocks.models import Clock, ClockStatus
from casehub.custody.models import CustodyNotice, CustodyRecord, RecordStatus
from casehub.dossier.models import Document
from tests.workflow.conftest import case, drive, make_case  # noqa: F401 - fixtures
from tests.workflow.judged import (
    OUTSIDE,
    PRISON,
    PROBATION,
    appeal_goes_up,
    judged_and_effective,
    two_defendants_judged,
)
from workflows import engine, positions


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_community_correction_documents_are_copied_to_the_procuratorate_and_the_police(
        case, drive, district, time_machine, client):  # noqa: F811
    """Community Correction Law art. 20: the court sends the documents to community correction within 10
    days and copies them to the procuratorate and the police — a signed delivery each."""
    judged_and_effective(case, drive, district, time_machine, PROBATION)
    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="justice")
    copies = case.transfers.filter(kind="correction_copy").order_by("to_agency__kind")
    assert {t.to_agency for t in copies} == {district.procuratorate, district.police}
    for copy in copies:
        assert copy.from_agency == district.court and copy.manifest_signature and not copy.requires_acceptance
        assert copy.status == "delivered" and copy.documents.filter(title__startswith="执行通知书").exists()
        assert copy.verification_status == "passed"
    assert case.stage == "execution_sent"  # the copies hand nothing over: community correction signs for it
    for user in ("prosecutor", "investigator"):
        client.force_login(district.users[user])
        page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
        assert "社区矫正法律文书抄送" in page
    drive.fire(case, "accept_execution_correction", "correction_officer")
    assert case.status == CaseStatus.CLOSED


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_a_prison_sentence_is_not_copied(case, drive, district, time_machine):  # noqa: F811
    judged_and_effective(case, drive, district, time_machine, PRISON)
    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="police")
    assert not case.transfers.filter(kind="correction_copy").exists()


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_the_detention_centre_hands_over_for_execution_outside_prison_and_the_custody_record_ends(
        case, drive, district, time_machine, client):  # noqa: F811
    """SPC Interpretation art. 515: the detention centre hands a convict whose execution outside prison the
    court decided to community correction within 10 days; the record ends and the centre's list no longer
    shows the person."""
    judged_and_effective(case, drive, district, time_machine, OUTSIDE)
    person = case.persons.get()
    clock = Clock.objects.get(case=case, kind="outside_prison_handover")
    assert clock.agency == district.detention and clock.due_date == date(2026, 3, 23)
    with pytest.raises(engine.NotAllowed):  # the court's own officers do not act for the centre
        engine.fire(case, "hand_over_outside_prison", acting_user=district.court_clerk, inputs={})

    time_machine.move_to("2026-03-18T10:00:00+08:00")
    record = CustodyRecord.objects.get(person=person)
    client.force_login(district.detention_officer)  # the centre's officers act from the detainee's page
    page = reverse("custody:detainee", args=[record.pk])
    assert "hand-over-outside-prison" in client.get(page).content.decode()
    response = client.post(reverse("custody:hand_over_outside_prison", args=[record.pk]))
    assert response.status_code == 302 and response.url == reverse("custody:detainees")
    record.refresh_from_db()
    assert record.status == RecordStatus.EXECUTED
    assert "hand-over-outside-prison" not in client.get(page).content.decode()
    notice = CustodyNotice.objects.get(record=record, kind="execution")
    assert notice.agency == district.court and "第五百一十五条" in notice.reason
    clock.refresh_from_db()
    assert clock.status == ClockStatus.STOPPED
    person.refresh_from_db()
    assert person.custody_status == CustodyStatus.EXECUTED
    assert person.name not in client.get(reverse("custody:detainees")).content.decode()
    with pytest.raises(engine.NotAllowed):  # once: nobody is left to hand over
        engine.fire(case, "hand_over_outside_prison", acting_user=district.detention_officer, inputs={})

    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="justice")
    drive.fire(case, "accept_execution_correction", "correction_officer")
    assert case.status == CaseStatus.CLOSED


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_not_a_joint_crime_the_defendant_who_did_not_appeal_is_executed_separately(
        case, drive, district, city, time_machine, django_capture_on_commit_callbacks):  # noqa: F811
    """CPL art. 233(2); SPC Interpretation arts. 389-390: 张三 (in custody) did not appeal, 李四 did; the
    intermediate court rules they were merely tried together. 张三's first-instance judgment took effect when
    his window expired (art. 259): the first-instance court hands him over for execution within 10 days
    (art. 264) while the second instance goes on for 李四, whose execution later covers him alone."""
    zhang, li = two_defendants_judged(case, drive, district)
    appeal_goes_up(case, drive, time_machine, li)
    judge = city.intermediate_judge
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "docket_appeal", acting_user=city.intermediate_clerk, inputs={})
    blocked = dict((s.name, r) for s, r in engine.blocked_transitions(case, district.court_clerk))
    assert "没有认定本案不属于共同犯罪" in blocked["hand_over_separately"][0]  # not before the ruling

    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "rule_on_joint_crime", acting_user=judge,
                    inputs={"ruling": "separate", "reason": "二人分别实施盗窃，仅合并审理，不属于共同犯罪。"})
    clock = Clock.objects.get(case=case, kind="execution_handover", person=zhang)
    assert clock.agency == district.court and clock.period_days == 10

    with pytest.raises(engine.NotAllowed):  # the court above holds the case; the first-instance court hands over
        engine.fire(case, "hand_over_separately", acting_user=judge, inputs={"executor": "police"})
    drive.fire(case, "hand_over_separately", "court_clerk", executor="police")
    case.refresh_from_db()
    assert case.stage == "second_instance" and case.holder_agency == city.court
    package = case.transfers.get(transition="hand_over_separately")
    assert package.from_agency == district.court and package.to_agency == district.police
    assert package.manifest_signature and package.kind == "execution"
    notice = package.documents.get(title__startswith="执行通知书")
    assert notice.author_agency == district.court
    assert CustodyRecord.objects.get(person=zhang).status == RecordStatus.EXECUTED
    where = positions.positions(case)
    assert where[zhang.pk].code == "executed" and where[li.pk].code == "judged"  # 李四: not yet final
    clock.refresh_from_db()
    assert clock.status == ClockStatus.STOPPED
    with pytest.raises(engine.GuardFailed, match="全部交付执行"):
        engine.fire(case, "hand_over_separately", acting_user=district.court_clerk, inputs={"executor": "police"})

    # Art. 243: two more months approved by the provincial high court — not on the platform, received on
    # paper; the intermediate court issues its own signed 延长审理期限决定书.
    second = Clock.objects.get(case=case, kind="second_instance")
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "extend_second_instance", acting_user=judge,
                    inputs={"ground": "art158_4", "decision": "（2026）粤高法刑他2号", "approved_on": date(2026, 3, 13)})
    second.refresh_from_db()
    assert second.extensions.count() == 1
    assert Document.objects.get(case=case, title="延长审理期限决定书", generated=True).author_agency == city.court

    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "decide_second_instance", acting_user=judge,
                    inputs={"result": "upheld", "verdict": "驳回上诉，维持原判。"})
    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="police")
    last = case.transfers.filter(transition="hand_over_for_execution").get()
    titles = list(last.documents.filter(title__startswith="执行通知书").values_list("title", flat=True))
    assert titles == ["执行通知书", "执行通知书"]  # 张三's earlier one and 李四's alone (one per convict, no names)
    drive.fire(case, "accept_execution", "investigator")
    assert case.status == CaseStatus.CLOSED
