"""Trial procedures and their periods (issue #17): the court records the procedure on docketing and
each has its own period (CPL arts. 208, 220, 225); extensions within the trial court, from the
next-higher court once and from the Supreme People's Court (art. 208; SPC Interpretation art. 210);
conversion counts the new period from the decision (arts. 221, 226; SPC Interpretation arts. 368,
376); postponement for supplementary investigation recounts the period on return (arts. 204-205,
208(3); SPC Interpretation art. 274); suspension pauses it (art. 206)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from casehub.cases.models import CaseNumber
from casehub.clocks.counting import add_months, local_day
from casehub.clocks.models import Clock, ClockStatus
from workflows import engine, trial


def _docket(drive, case, **inputs):
    drive.to_review(case)
    drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪，刑法第二百六十四条。")
    drive.fire(case, "docket_case", "court_clerk", **inputs)
    return case


def _trial_clock(case):
    return trial.trial_clock(case)


def _last_day(clock):
    """The period's last day before any holiday moves it (CPL art. 105)."""
    return add_months(local_day(clock.started_at), clock.period_months) + timedelta(
        days=clock.period_days + clock.paused_days)


def test_docketing_offers_only_the_first_instance_code_and_records_the_speedy_procedure(case, drive, district):
    """Art. 225: 速裁 within 10 days; extended within the court to 15 days where the possible sentence
    exceeds one year — once. 刑终 is a second-instance code: a first-instance docketing refuses it."""
    drive.to_review(case)
    drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪")
    with pytest.raises(engine.InvalidInputs):
        engine.fire(case, "docket_case", acting_user=district.court_clerk, inputs={"type_code": "刑终"})
    drive.fire(case, "docket_case", "court_clerk", procedure="speedy")
    assert CaseNumber.objects.get(case=case, kind="court_docket").number.endswith("刑初1号")
    assert trial.procedure(case) == trial.SPEEDY
    clock = _trial_clock(case)
    assert clock.kind == "trial_speedy" and (clock.period_months, clock.period_days) == (0, 10)

    drive.fire(case, "extend_trial", "judge", decision="可能判处有期徒刑一年以上")
    clock.refresh_from_db()
    assert (clock.period_months, clock.period_days) == (0, 15) and clock.due_date >= _last_day(clock)
    assert "第二百二十五条" in clock.extended_by
    with pytest.raises(engine.GuardFailed):
        engine.fire(case, "extend_trial", acting_user=district.judge, inputs={"decision": "再次延长"})


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_converting_summary_to_ordinary_counts_the_new_period_from_the_decision(case, drive, district, time_machine):
    """Art. 220: 简易 within 20 days (extended to 1.5 months within the court); art. 221 and SPC
    Interpretation art. 368: converted to the ordinary procedure, the 2 months run from the decision."""
    _docket(drive, case, procedure="summary")
    summary = _trial_clock(case)
    assert summary.kind == "trial_summary" and (summary.period_months, summary.period_days) == (0, 20)
    drive.fire(case, "extend_trial", "judge", decision="可能判处有期徒刑三年以上")
    summary.refresh_from_db()
    assert (summary.period_months, summary.period_days) == (1, 15)

    time_machine.move_to("2026-03-12T10:00:00+08:00")
    drive.fire(case, "convert_procedure", "judge", procedure="ordinary", reason="案情复杂，不宜适用简易程序")
    summary.refresh_from_db()
    assert summary.status == ClockStatus.STOPPED
    ordinary = _trial_clock(case)
    assert ordinary.kind == "trial" and local_day(ordinary.started_at).isoformat() == "2026-03-12"
    assert _last_day(ordinary).isoformat() == "2026-05-12" and ordinary.extended_by == ""
    assert trial.procedure(case) == trial.ORDINARY
    with pytest.raises(engine.GuardFailed):  # never back, never again
        engine.fire(case, "convert_procedure", acting_user=district.judge,
                    inputs={"procedure": "summary", "reason": "改回"})


def test_speedy_cannot_be_converted_back_and_summary_only_forward(case, drive, district):
    """Art. 226: a 速裁 case may become 简易 or ordinary; SPC Interpretation art. 376."""
    _docket(drive, case, procedure="speedy")
    drive.fire(case, "convert_procedure", "judge", procedure="summary", reason="被告人对量刑建议有异议")
    assert _trial_clock(case).kind == "trial_summary" and trial.procedure(case) == trial.SUMMARY
    assert not trial.own_extension_used(case)


def test_ordinary_extensions_own_court_higher_court_once_then_supreme_court(case, drive, district, city,
                                                                             django_capture_on_commit_callbacks):
    """Art. 208: 2 months, at most 3 by the trial court; +3 months once by the next-higher court where a
    death sentence is possible (SPC Interpretation art. 210); then the SPC, 1-3 months at a time."""
    _docket(drive, case)
    clock = _trial_clock(case)
    assert clock.kind == "trial" and (clock.period_months, clock.period_days) == (2, 0)
    drive.fire(case, "extend_trial", "judge", decision="案情复杂")
    clock.refresh_from_db()
    assert clock.period_months == 3

    drive.fire(case, "request_higher_extension", "judge", ground="death", reason="可能判处死刑")
    available = {s.name for s in engine.available_transitions(case, city.intermediate_judge)}
    assert {"approve_higher_extension", "refuse_higher_extension"} <= available
    # Another district's court is not the court above.
    with pytest.raises(engine.NotAllowed):
        engine.fire(case, "approve_higher_extension", acting_user=district.judge, inputs={"decision": "越权"})
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(case, "approve_higher_extension", acting_user=city.intermediate_judge,
                    inputs={"decision": "（2026）粤03刑他1号"})
    clock.refresh_from_db()
    assert clock.period_months == 6 and "上一级人民法院批准延长三个月" in clock.extended_by
    case.refresh_from_db()
    assert case.holder_agency == district.court  # the court above approved; it holds nothing
    with pytest.raises(engine.GuardFailed):  # once only
        engine.fire(case, "request_higher_extension", acting_user=district.judge,
                    inputs={"ground": "civil", "reason": "再次"})

    with pytest.raises(engine.GuardFailed):
        engine.fire(case, "record_spc_extension", acting_user=district.judge,
                    inputs={"months": 4, "decision": "最高法批准", "approved_on": timezone.localdate()})
    drive.fire(case, "record_spc_extension", "judge", months=2, decision="最高人民法院（2026）最高法刑他1号",
               approved_on=timezone.localdate())
    clock.refresh_from_db()
    assert clock.period_months == 8


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_the_higher_court_is_asked_at_least_fifteen_days_before_expiry(case, drive, district, city, time_machine):
    """SPC Interpretation art. 210: a request filed later than 15 days before the period ends is refused."""
    _docket(drive, case)
    due = _trial_clock(case).due_date
    time_machine.move_to(f"{due - timedelta(days=14)}T10:00:00+08:00")
    reasons = dict((s.name, r) for s, r in engine.blocked_transitions(case, district.judge))
    assert "期限届满十五日以前" in reasons["request_higher_extension"][0]


def test_a_summary_case_cannot_go_to_the_higher_court(case, drive, district, city):
    _docket(drive, case, procedure="summary")
    with pytest.raises(engine.GuardFailed, match="普通程序"):
        engine.fire(case, "request_higher_extension", acting_user=district.judge,
                    inputs={"ground": "civil", "reason": "附带民事诉讼"})


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_postponement_for_supplementary_investigation_recounts_the_trial_period(case, drive, district, time_machine):
    """Arts. 204(2), 205: at the procuratorate's proposal the court postpones; the procuratorate has one
    month; on return the trial period is counted afresh (art. 208(3)). At most twice (SPC Interp. 274)."""
    _docket(drive, case)
    first = _trial_clock(case)
    time_machine.move_to("2026-03-20T10:00:00+08:00")
    drive.fire(case, "postpone_for_supplementary", "judge", reason="深龙检建延〔2026〕1号：需补充证据")
    assert case.stage == "trial_supplementary" and case.holder_agency == district.procuratorate
    first.refresh_from_db()
    assert first.status == ClockStatus.STOPPED
    supplementary = Clock.objects.get(case=case, kind="trial_supplementary")
    assert supplementary.agency == district.procuratorate and supplementary.period_months == 1
    transfer = case.transfers.get(kind="trial_supplementary")
    assert transfer.to_agency == district.procuratorate

    time_machine.move_to("2026-04-10T10:00:00+08:00")
    drive.fire(case, "return_after_supplementary", "prosecutor", reason="补充证据已收集")
    assert case.stage == "trial" and case.holder_agency == district.court
    recounted = _trial_clock(case)
    assert recounted.pk != first.pk and local_day(recounted.started_at).isoformat() == "2026-04-10"
    assert _last_day(recounted).isoformat() == "2026-06-10"
    supplementary.refresh_from_db()
    assert supplementary.status == ClockStatus.STOPPED

    drive.fire(case, "postpone_for_supplementary", "judge", reason="第二次建议")
    drive.fire(case, "return_after_supplementary", "prosecutor", reason="补充完毕")
    reasons = dict((s.name, r) for s, r in engine.blocked_transitions(case, district.judge))
    assert "不得超过两次" in reasons["postpone_for_supplementary"][0]


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_suspension_pauses_the_period_and_resumption_continues_with_the_days_left(case, drive, district,
                                                                                  time_machine):
    """Art. 206: the suspended time is not counted; resumed, the period continues with what was left."""
    _docket(drive, case, procedure="summary")
    clock = _trial_clock(case)
    left = (clock.due_date - timezone.localdate()).days
    time_machine.move_to("2026-03-06T10:00:00+08:00")
    drive.fire(case, "suspend_trial", "judge", ground="illness", reason="被告人住院治疗")
    assert case.stage == "trial_suspended"
    clock.refresh_from_db()
    assert clock.status == ClockStatus.PAUSED and clock.remaining_days() == left - 4
    assert "announce_judgment" not in {s.name for s in engine.available_transitions(case, district.judge)}

    time_machine.move_to("2026-03-26T10:00:00+08:00")
    assert clock.remaining_days() == left - 4  # frozen while suspended
    drive.fire(case, "resume_trial", "judge")
    clock.refresh_from_db()
    assert case.stage == "trial" and clock.status == ClockStatus.RUNNING and clock.paused_days == 20
    assert _last_day(clock).isoformat() == "2026-04-11"  # 20 days + 20 suspended


def test_the_clerk_sees_the_court_number_before_confirming_and_the_case_page_names_the_procedure(
        case, drive, district, client):
    from django.urls import reverse

    drive.to_review(case)
    drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪")
    client.force_login(district.court_clerk)
    page = client.get(reverse("transfers:fire", args=[case.pk, "docket_case"])).content.decode()
    number = page[page.index('id="package-numbers"'):]
    assert "粤0307刑初1号" in number and 'value="刑初"' in page and 'value="刑终"' not in page
    client.post(reverse("transfers:fire", args=[case.pk, "docket_case"]),
                {"version": case.version, "type_code": "刑初", "procedure": "summary"})
    assert CaseNumber.objects.get(case=case, kind="court_docket").number.endswith("粤0307刑初1号")
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "简易程序" in page[page.index('id="case-procedure"'):][:200]
