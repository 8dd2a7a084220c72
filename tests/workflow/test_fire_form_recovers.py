"""A refused submission never traps the transition form: it comes back filled, with the reason,
and the user can correct and resubmit without leaving the page."""

from __future__ import annotations

import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from workflows.models import ApprovalRequest


def fire_url(case, name):
    return reverse("transfers:fire", args=[case.pk, name])


def submit_button(page: str) -> str:
    return re.search(r'<button[^>]*id="transition-submit"[^>]*>', page).group(0)


def test_judge_enters_a_future_announcement_date_corrects_it_and_submits(case, district, client, drive):
    drive.to_court(case)
    client.force_login(district.judge)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    refused = client.post(fire_url(case, "announce_judgment"),
                          {"version": case.version, "announced_on": tomorrow, "verdict": "有期徒刑一年"})
    page = refused.content.decode()
    assert refused.status_code == 409 and "宣判日期不能晚于今天" in page
    assert "disabled" not in submit_button(page)          # the form is still usable
    assert tomorrow in page and "有期徒刑一年" in page      # and keeps what was typed
    case.refresh_from_db()
    assert case.stage == "trial"

    today = timezone.localdate().isoformat()
    accepted = client.post(fire_url(case, "announce_judgment"),
                           {"version": case.version, "announced_on": today, "verdict": "有期徒刑一年"})
    assert accepted.status_code == 302
    case.refresh_from_db()
    assert case.stage != "trial"


def test_a_stale_form_can_be_resubmitted_once_the_user_has_been_told(case, district, client, drive):
    client.force_login(district.investigator)
    stale = case.version
    drive.fire(case, "request_arrest", "investigator", reason="需要逮捕")
    drive.fire(case, "withdraw_arrest_request", "investigator", reason="撤回")
    told = client.post(fire_url(case, "request_arrest"), {"version": stale, "reason": "再次提请"})
    page = told.content.decode()
    assert told.status_code == 409 and "案件已被他人更新" in page and "再次提请" in page
    assert "disabled" not in submit_button(page)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    again = client.post(fire_url(case, "request_arrest"), {"version": version, "reason": "再次提请"})
    assert again.status_code == 302
    assert ApprovalRequest.objects.filter(status="pending").count() == 1


def test_a_blocked_transition_keeps_its_submit_button_disabled(case, district, client, drive):
    drive.to_review(case)
    for n in (1, 2):
        drive.fire(case, "return_for_supplementary", "prosecutor", reason=str(n))
        drive.fire(case, "resubmit_for_review", "investigator", reason="已补充")
        drive.fire(case, "accept_review_transfer", "prosecutor")
    client.force_login(district.prosecutor)
    page = client.post(fire_url(case, "return_for_supplementary"),
                       {"version": case.version, "reason": "第三次"}).content.decode()
    assert "补充侦查以二次为限" in page and "disabled" in submit_button(page)
