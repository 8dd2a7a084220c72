"""One scenario per transition of the process definition, and per guard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from casehub.audit.models import AuditEvent
from casehub.cases import access
from casehub.cases.models import CaseStatus, CustodyStatus, NumberFormat, NumberKind
from casehub.clocks.models import Clock, ClockStatus
from casehub.dossier.models import Document
from workflows import definition as d
from workflows import engine
from workflows.models import (
    ApprovalRequest,
    Transfer,
    TransferStatus,
    TransitionLog,
    VerificationStatus,
)

FACTS = {"facts": "2026年1月3日夜，犯罪嫌疑人张三入室盗窃现金五千元。", "evidence": "被害人陈述\n现场勘验笔录"}


def running(case, kind):
    return Clock.objects.filter(case=case, kind=kind, status__in=[ClockStatus.RUNNING, ClockStatus.OVERDUE])


# --- arrest approval ---------------------------------------------------------------------------


def test_request_arrest_needs_supervisor_then_sends_signed_package_with_7_day_clock(case, district, drive):
    result = engine.fire(case, "request_arrest", acting_user=district.investigator, inputs={"reason": "需要逮捕"})
    assert result.awaiting_approval
    case.refresh_from_db()
    assert case.stage == d.Stage.INVESTIGATION and not case.transfers.exists()  # nothing left yet

    with drive.capture(execute=True):
        engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True, comment="同意")
    case.refresh_from_db()
    assert case.stage == d.Stage.ARREST_REQUESTED and case.holder_agency == district.police
    t = case.transfers.get()
    assert (t.kind, t.status, t.to_agency) == ("arrest_request", TransferStatus.SENT, district.procuratorate)
    assert t.verification_status == VerificationStatus.PASSED
    assert t.manifest["officer"]["username"] == district.investigator.username
    assert t.manifest["approved_by"] == district.police_supervisor.username
    clock = running(case, "arrest_decision").get()
    assert clock.agency == district.procuratorate
    assert (clock.due_date - timezone.localdate()).days >= 7  # art. 91: 7 days (later if a holiday ends it)
    # The sender may no longer act on the case; it waits for the answer.
    assert district.police.pk not in access.agencies_with(case, access.ACT)
    log = TransitionLog.objects.get(case=case, transition="request_arrest")
    assert (log.actor, log.approved_by, log.source, log.target) == (
        district.investigator, district.police_supervisor, "investigation", "arrest_requested")


def test_accept_arrest_request_gives_procuratorate_the_case(case, drive, district):
    drive.fire(case, "request_arrest", "investigator", reason="需要逮捕")
    drive.fire(case, "accept_arrest_request", "prosecutor")
    assert case.stage == d.Stage.ARREST_REVIEW and case.holder_agency == district.procuratorate
    t = case.transfers.get()
    assert t.status == TransferStatus.ACCEPTED and t.receipt["result"] == "accepted"
    assert t.receipt["manifest_sha256"] == t.manifest_sha256
    from workflows.packaging import verify_receipt

    assert verify_receipt(t)


def test_reject_arrest_request_returns_it_with_reason(case, drive, district):
    drive.fire(case, "request_arrest", "investigator", reason="需要逮捕")
    drive.fire(case, "reject_arrest_request", "prosecutor", reason="材料不全")
    assert case.stage == d.Stage.INVESTIGATION and case.holder_agency == district.police
    t = case.transfers.get()
    assert (t.status, t.decision_reason, t.receipt["result"]) == (TransferStatus.REJECTED, "材料不全", "rejected")
    assert not running(case, "arrest_decision").exists()
    assert district.police.pk in access.agencies_with(case, access.ACT)


def test_withdraw_arrest_request_before_acceptance(case, drive, district):
    drive.fire(case, "request_arrest", "investigator", reason="需要逮捕")
    drive.fire(case, "withdraw_arrest_request", "investigator", reason="嫌疑人已取保")
    assert case.stage == d.Stage.INVESTIGATION
    assert case.transfers.get().status == TransferStatus.WITHDRAWN
    assert district.police.pk in access.agencies_with(case, access.ACT)


def test_approve_arrest_marks_suspects_arrested_and_starts_custody_clock(case, drive, district):
    drive.fire(case, "request_arrest", "investigator", reason="需要逮捕")
    drive.fire(case, "accept_arrest_request", "prosecutor")
    drive.fire(case, "approve_arrest", "prosecutor")
    assert case.stage == d.Stage.INVESTIGATION and case.holder_agency == district.police
    suspect = case.persons.get()
    assert suspect.custody_status == CustodyStatus.ARRESTED
    assert running(case, "investigation_custody").get().person == suspect  # art. 156: 2 months
    assert not running(case, "arrest_decision").exists()
    assert case.numbers.filter(kind=NumberKind.ARREST_DECISION, agency=district.procuratorate).exists()
    decision = case.transfers.get(kind="arrest_decision")
    assert (decision.status, decision.to_agency, decision.requires_acceptance) == (
        TransferStatus.DELIVERED, district.police, False)


def test_refuse_arrest_releases_the_detained_suspect(case, drive, district):
    drive.fire(case, "request_arrest", "investigator", reason="需要逮捕")
    drive.fire(case, "accept_arrest_request", "prosecutor")
    drive.fire(case, "refuse_arrest", "prosecutor", reason="证据不足")
    assert case.stage == d.Stage.INVESTIGATION
    assert case.persons.get().custody_status == CustodyStatus.RELEASED


def test_arrest_request_needs_a_suspect_not_yet_arrested(case, drive, district):
    # The only way a suspect becomes arrested: the procuratorate approves it through the engine.
    drive.fire(case, "request_arrest", "investigator", reason="需要逮捕")
    drive.fire(case, "accept_arrest_request", "prosecutor")
    drive.fire(case, "approve_arrest", "prosecutor", reason="批准逮捕")
    assert case.persons.get().custody_status == CustodyStatus.ARRESTED
    with pytest.raises(engine.GuardFailed, match="没有可提请批准逮捕"):
        engine.fire(case, "request_arrest", acting_user=district.investigator, inputs={"reason": "x"})


# --- review for prosecution --------------------------------------------------------------------


def test_transfer_for_review_generates_recommendation_and_signs_the_whole_main_file(case, drive, district):
    drive.fire(case, "transfer_for_review", "investigator", **FACTS)
    assert case.stage == d.Stage.REVIEW_REQUESTED
    t = case.transfers.get()
    number = case.numbers.get(kind=NumberKind.PROSECUTION_RECOMMENDATION).number
    assert number.startswith("深龙公（刑）诉字〔")
    titles = [doc["title"] for doc in t.manifest["documents"]]
    assert titles == ["证据材料1", "证据材料2", "起诉意见书"] or sorted(titles) == sorted(
        ["证据材料1", "证据材料2", "起诉意见书"])
    recommendation = Document.objects.get(case=case, title="起诉意见书")
    assert recommendation.generated and recommendation.page_count >= 1
    assert t.document_count == 3 and t.volume_count >= 1 and t.dossier_complete
    assert t.page_count == sum(doc["page_count"] for doc in t.manifest["documents"])
    assert t.manifest["persons"][0]["custody_status"] == "detained"
    assert t.manifest["to"]["code"] == district.procuratorate.code


def test_transfer_for_review_needs_documents(make_case, district):
    empty = make_case("空卷案", documents=0)
    with pytest.raises(engine.GuardFailed, match="正卷中没有任何材料"):
        engine.fire(empty, "transfer_for_review", acting_user=district.investigator, inputs=FACTS)


def test_accept_review_transfer_starts_one_month_review_and_issues_number(case, drive, district):
    drive.to_review(case)
    assert case.holder_agency == district.procuratorate
    clock = running(case, "review_prosecution").get()
    assert clock.agency == district.procuratorate and clock.period_months == 1
    assert case.numbers.filter(kind=NumberKind.PROCURATORATE_REVIEW).count() == 1
    assert {district.police.pk, district.procuratorate.pk} == access.agencies_with(case, access.VIEW)
    assert access.agencies_with(case, access.ACT) == {district.procuratorate.pk}


def test_reject_review_transfer_goes_back_to_police(case, drive, district):
    drive.fire(case, "transfer_for_review", "investigator", **FACTS)
    drive.fire(case, "reject_review_transfer", "prosecutor", reason="卷宗不齐全")
    assert case.stage == d.Stage.INVESTIGATION and case.holder_agency == district.police
    assert case.transfers.get().status == TransferStatus.REJECTED
    assert district.procuratorate.pk not in access.agencies_with(case, access.VIEW)


def test_withdraw_review_transfer(case, drive, district):
    drive.fire(case, "transfer_for_review", "investigator", **FACTS)
    drive.fire(case, "withdraw_review_transfer", "investigator", reason="发现新证据")
    assert case.stage == d.Stage.INVESTIGATION
    assert case.transfers.get().status == TransferStatus.WITHDRAWN


def test_extend_review_adds_fifteen_days_once(case, drive, district):
    drive.to_review(case)
    before = running(case, "review_prosecution").get().due_date
    drive.fire(case, "extend_review", "prosecutor", decision="深龙检延〔2026〕1号：案情复杂")
    clock = running(case, "review_prosecution").get()
    assert clock.period_days == 15 and clock.due_date >= before + timedelta(days=15) - timedelta(days=3)
    assert "深龙检延" in clock.extended_by
    with pytest.raises(engine.GuardFailed, match="已延长过一次"):
        engine.fire(case, "extend_review", acting_user=district.prosecutor, inputs={"decision": "再延长"})


def test_return_for_supplementary_at_most_twice(case, drive, district):
    drive.to_review(case)
    for n in (1, 2):
        drive.fire(case, "return_for_supplementary", "prosecutor", reason=f"第{n}次补充侦查提纲")
        assert case.stage == d.Stage.SUPPLEMENTARY_INVESTIGATION and case.holder_agency == district.police
        supplementary = running(case, "supplementary_investigation").get()
        assert supplementary.agency == district.police  # art. 175: 1 month for the police
        assert not running(case, "review_prosecution").exists()
        drive.fire(case, "resubmit_for_review", "investigator", reason="已补充")
        drive.fire(case, "accept_review_transfer", "prosecutor")
        assert not running(case, "supplementary_investigation").exists()
        review = running(case, "review_prosecution").get()  # restarted in full
        assert review.period_months == 1
    before = AuditEvent.objects.count()
    with pytest.raises(engine.GuardFailed, match="补充侦查以二次为限"):
        engine.fire(case, "return_for_supplementary", acting_user=district.prosecutor, inputs={"reason": "第三次"})
    case.refresh_from_db()
    assert case.stage == d.Stage.PROSECUTION_REVIEW and AuditEvent.objects.count() == before
    assert case.numbers.filter(kind=NumberKind.PROCURATORATE_REVIEW).count() == 1  # re-transfer keeps it


def test_extension_is_per_review_period(case, drive, district):
    drive.to_review(case)
    drive.fire(case, "extend_review", "prosecutor", decision="延长一")
    drive.fire(case, "return_for_supplementary", "prosecutor", reason="补充")
    drive.fire(case, "resubmit_for_review", "investigator", reason="已补充")
    drive.fire(case, "accept_review_transfer", "prosecutor")
    drive.fire(case, "extend_review", "prosecutor", decision="延长二")  # a new period may be extended again
    assert running(case, "review_prosecution").get().period_days == 15


def test_non_prosecution_closes_the_case_releases_and_notifies_police(case, drive, district):
    drive.to_review(case)
    drive.fire(case, "decide_non_prosecution", "prosecutor", facts="情节显著轻微", legal_basis="刑事诉讼法第一百七十七条第一款")
    assert case.stage == d.Stage.CLOSED and case.status == CaseStatus.CLOSED
    assert case.persons.get().custody_status == CustodyStatus.RELEASED
    assert not Clock.objects.filter(case=case, status=ClockStatus.RUNNING).exists()
    notice = case.transfers.get(kind="non_prosecution")
    assert notice.to_agency == district.police and notice.status == TransferStatus.DELIVERED
    assert case.numbers.get(kind=NumberKind.NON_PROSECUTION).number.startswith("深龙检刑不诉〔")
    assert Document.objects.filter(case=case, title="不起诉决定书", generated=True).exists()
    assert access.agencies_with(case, access.ACT) == set()
    # Nobody acts on the closed case, except for the petitions the law still allows against a statutory
    # non-prosecution (art. 180; SPP Rules art. 381 — no person's appeal, art. 181 is for 177(2) only);
    # a late complaint (SPP Rules art. 382) cannot exist before seven days have passed.
    left = {s.name for s in engine.available_transitions(case, district.prosecutor)}
    assert left <= {"forward_victim_petition"}
    assert all(d.after_closing(d.BY_NAME[name]) for name in left)


# --- court --------------------------------------------------------------------------------------


def test_indict_sends_indictment_to_court(case, drive, district):
    drive.to_review(case)
    drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪")
    assert case.stage == d.Stage.COURT_FILING
    t = case.transfers.get(kind="indictment")
    assert t.to_agency == district.court and t.status == TransferStatus.SENT
    assert "起诉书" in [doc["title"] for doc in t.manifest["documents"]]
    assert case.numbers.get(kind=NumberKind.INDICTMENT).number.startswith("深龙检刑诉〔")
    assert not running(case, "review_prosecution").exists()


def test_docket_case_uses_the_courts_configured_number_format(case, drive, district):
    NumberFormat.objects.create(agency=district.court, kind=NumberKind.COURT_DOCKET,
                                pattern="({year}){court_code}{type_code}{seq}号")
    drive.to_court(case)
    year = timezone.localdate().year
    assert case.numbers.get(kind=NumberKind.COURT_DOCKET).number == f"({year})粤0307刑初1号"
    trial = running(case, "trial").get()
    assert trial.agency == district.court and trial.period_months == 2  # art. 208


def test_reject_indictment_returns_case_to_procuratorate(case, drive, district):
    drive.to_review(case)
    drive.fire(case, "indict", "prosecutor", facts="……", charges="盗窃罪")
    drive.fire(case, "reject_indictment", "court_clerk", reason="不属于本院管辖")
    assert case.stage == d.Stage.PROSECUTION_REVIEW and case.holder_agency == district.procuratorate
    assert running(case, "review_prosecution").exists()
    assert district.court.pk not in access.agencies_with(case, access.VIEW)


def test_withdraw_indictment(case, drive, district):
    drive.to_review(case)
    drive.fire(case, "indict", "prosecutor", facts="……", charges="盗窃罪")
    drive.fire(case, "withdraw_indictment", "prosecutor", reason="需补充证据")
    assert case.stage == d.Stage.PROSECUTION_REVIEW
    assert case.transfers.get(kind="indictment").status == TransferStatus.WITHDRAWN


def test_announce_and_deliver_judgment(case, drive, district):
    drive.to_court(case)
    with pytest.raises(engine.GuardFailed, match="不能晚于今天"):
        engine.fire(case, "announce_judgment", acting_user=district.judge,
                    inputs={"announced_on": timezone.localdate() + timedelta(days=1), "verdict": "x"})
    drive.fire(case, "announce_judgment", "judge", announced_on=timezone.localdate().isoformat(), verdict="有期徒刑一年")
    delivery = running(case, "judgment_delivery").get()  # art. 202: 5 days from the announcement
    assert (delivery.due_date - timezone.localdate()).days >= 5
    assert not running(case, "trial").exists()
    drive.fire(case, "deliver_judgment", "court_clerk")
    assert case.stage == d.Stage.APPEAL_PERIOD and case.status == CaseStatus.ACTIVE  # art. 230: may appeal
    assert {t.to_agency for t in case.transfers.filter(kind="judgment")} == {district.police, district.procuratorate}


# --- engine rules -------------------------------------------------------------------------------


def test_wrong_agency_or_role_is_refused_and_changes_nothing(case, district):
    before = AuditEvent.objects.count()
    with pytest.raises(engine.NotAllowed):
        engine.fire(case, "transfer_for_review", acting_user=district.prosecutor, inputs=FACTS)
    with pytest.raises(engine.NotAllowed):  # supervisors approve, they do not prepare
        engine.fire(case, "transfer_for_review", acting_user=district.police_supervisor, inputs=FACTS)
    assert AuditEvent.objects.count() == before and not Transfer.objects.exists()


def test_other_district_police_cannot_act(case, other_district):
    with pytest.raises(engine.NotAllowed, match="不是本案的承办机关"):
        engine.fire(case, "transfer_for_review", acting_user=other_district.investigator, inputs=FACTS)


def test_transition_from_the_wrong_stage_is_case_changed(case, district):
    with pytest.raises(engine.CaseChanged):
        engine.fire(case, "accept_review_transfer", acting_user=district.prosecutor, inputs={})


def test_stale_version_is_case_changed(case, district):
    with pytest.raises(engine.CaseChanged):
        engine.fire(case, "request_arrest", acting_user=district.investigator, inputs={"reason": "x"},
                    expected_version=case.version + 1)


def test_bad_inputs_name_every_field(case, district):
    with pytest.raises(engine.InvalidInputs) as info:
        engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                    inputs={"facts": "  ", "to_agency": "999999", "bogus": "x"})
    assert set(info.value.errors) == {"facts", "evidence", "to_agency", "bogus"}


def test_unknown_transition_is_refused(case, district):
    with pytest.raises(KeyError):
        engine.fire(case, "teleport", acting_user=district.investigator, inputs={})


def test_approval_rules(case, district, drive):
    result = engine.fire(case, "transfer_for_review", acting_user=district.investigator, inputs=FACTS)
    approval = result.approval
    # One pending approval per case.
    with pytest.raises(engine.GuardFailed, match="待审批"):
        engine.fire(case, "request_arrest", acting_user=district.investigator, inputs={"reason": "x"})
    # A supervisor of another agency may not decide it.
    with pytest.raises(engine.NotAllowed):
        engine.decide_approval(approval, acting_user=district.procuratorate_supervisor, approve=True)
    # Turning down needs a comment, and leaves the case where it was.
    with pytest.raises(engine.InvalidInputs):
        engine.decide_approval(approval, acting_user=district.police_supervisor, approve=False)
    engine.decide_approval(approval, acting_user=district.police_supervisor, approve=False, comment="证据不足")
    case.refresh_from_db()
    assert case.stage == d.Stage.INVESTIGATION and not Transfer.objects.exists()
    assert ApprovalRequest.objects.get().status == "rejected"
    with pytest.raises(engine.CaseChanged):  # decided once
        engine.decide_approval(approval, acting_user=district.police_supervisor, approve=True)


def test_requester_may_cancel_an_approval_request(case, district):
    result = engine.fire(case, "request_arrest", acting_user=district.investigator, inputs={"reason": "x"})
    with pytest.raises(engine.NotAllowed):
        engine.cancel_approval(result.approval, acting_user=district.police_supervisor)
    engine.cancel_approval(result.approval, acting_user=district.investigator)
    assert ApprovalRequest.objects.get().status == "cancelled"


def test_approval_requirement_is_configurable(case, district, settings, drive):
    settings.CASEHUB_WORKFLOW_APPROVALS = {"request_arrest": False}
    with drive.capture(execute=True):
        result = engine.fire(case, "request_arrest", acting_user=district.investigator, inputs={"reason": "x"})
    assert not result.awaiting_approval and result.transfer.status == TransferStatus.SENT


def test_available_transitions_follow_stage_and_user(case, drive, district):
    names = lambda user: {s.name for s in engine.available_transitions(case, district.users[user])}  # noqa: E731
    # one suspect: withdrawing the case, not terminating one suspect's investigation (MPS art. 186)
    assert names("investigator") == {"request_arrest", "transfer_for_review", "record_plea", "withdraw_case"}
    assert names("prosecutor") == set() and names("police_supervisor") == set()
    drive.fire(case, "transfer_for_review", "investigator", **FACTS)
    assert names("investigator") == {"withdraw_review_transfer"}
    assert names("prosecutor") == {"accept_review_transfer", "reject_review_transfer"}
    assert names("court_clerk") == set()


def test_every_transition_writes_one_log_row_and_one_workflow_audit_event(case, drive):
    drive.to_review(case)
    logs = TransitionLog.objects.filter(case=case).exclude(transition=d.REGISTER)
    events = AuditEvent.objects.filter(case_id=case.pk, action__startswith="workflow.").exclude(
        action="workflow.approval_requested")
    assert logs.count() == events.count() == 2
    event = events.get(action="workflow.accept_review_transfer")
    assert event.details["from"] == "review_requested" and event.details["to"] == "prosecution_review"
