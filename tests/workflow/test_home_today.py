"""Each role's home page answers "what must I do today, and what is at risk": its running
clocks, its cases, its figures, and notifications that agree with the work still open."""

from __future__ import annotations

from django.urls import reverse

from casehub.agencies.models import Role
from casehub.notifications.models import Notification
from workflows import engine


def home_of(client, user) -> str:
    client.force_login(user)
    return client.get(reverse("home")).content.decode()


def panel(page: str, key: str) -> str:
    """The HTML of one home-page card (empty when the role has no such card)."""
    marker = f'data-inbox="{key}"'
    if marker not in page:
        return ""
    start = page.index(marker)
    return page[start:page.index("</ul>", start)]


def test_investigator_sees_the_month_long_supplementary_investigation_and_their_case(case, district, client, drive):
    drive.to_review(case)
    drive.fire(case, "return_for_supplementary", "prosecutor", reason="补充证据")
    home = home_of(client, district.investigator)
    clocks = panel(home, "clocks")
    assert "补充侦查期限" in clocks and "期限 1个月" in clocks  # due in a month, shown today
    mine = panel(home, "my-cases")
    assert case.title in mine and "本人承办" in mine and "补充侦查期限" in mine


def test_after_docketing_the_judge_finds_the_case_on_the_home_page(case, district, client, drive):
    assert case.title not in panel(home_of(client, district.judge), "my-cases")
    drive.to_court(case)
    mine = panel(home_of(client, district.judge), "my-cases")
    assert case.title in mine and reverse("cases:detail", args=[case.pk]) in mine


def test_cases_handed_over_leave_the_senders_list(case, district, client, drive):
    drive.to_review(case)
    assert case.title not in panel(home_of(client, district.investigator), "my-cases")
    assert case.title in panel(home_of(client, district.prosecutor), "my-cases")


def test_auditor_sees_headline_figures_and_no_case_list(case, district, client, drive):
    drive.to_review(case)
    home = home_of(client, district.auditor)
    figures = panel(home, "headline")
    assert "网上案件流转率：100.0%" in figures and "电子换押率" in figures and "超期未结期限：0" in figures
    assert reverse("metrics:dashboard") in figures
    assert panel(home, "my-cases") == ""


def test_opening_a_notification_reads_it_and_leads_to_its_page(case, district, client, drive):
    drive.to_review(case)
    drive.fire(case, "return_for_supplementary", "prosecutor", reason="补充证据")
    note = Notification.objects.filter(recipient=district.investigator, read_at__isnull=True).first()
    assert note is not None and note.url
    home = home_of(client, district.investigator)
    open_url = reverse("notifications:open", args=[note.pk])
    assert open_url in panel(home, "notifications")
    response = client.get(open_url)
    assert response.status_code == 302 and response["Location"] == note.url
    note.refresh_from_db()
    assert note.read_at is not None
    assert open_url not in panel(home_of(client, district.investigator), "notifications")


def test_another_users_notification_cannot_be_opened(case, district, client, drive):
    drive.to_review(case)
    note = Notification.objects.filter(recipient=district.prosecutor).first()
    client.force_login(district.investigator)
    assert client.get(reverse("notifications:open", args=[note.pk])).status_code == 404
    note.refresh_from_db()
    assert note.read_at is None


def test_mark_all_read_empties_the_home_panel(case, district, client, drive):
    drive.to_review(case)
    drive.fire(case, "return_for_supplementary", "prosecutor", reason="补充证据")
    client.force_login(district.investigator)
    assert Notification.objects.filter(recipient=district.investigator, read_at__isnull=True).exists()
    client.post(reverse("notifications:read"))
    assert not Notification.objects.filter(recipient=district.investigator, read_at__isnull=True).exists()
    assert "暂无待办" in panel(home_of(client, district.investigator), "notifications")


def test_approval_notices_go_once_the_approval_is_decided(case, district, client, make_user,
                                                          django_capture_on_commit_callbacks):
    second = make_user(district.police, [Role.SUPERVISOR])
    with django_capture_on_commit_callbacks(execute=True):
        result = engine.fire(case, "request_arrest", acting_user=district.investigator, inputs={"reason": "需要逮捕"})
    for supervisor in (district.police_supervisor, second):
        home = home_of(client, supervisor)
        assert "待审批" in panel(home, "notifications") and case.title in panel(home, "transfers-approvals")
    with django_capture_on_commit_callbacks(execute=True):
        engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True, comment="同意")
    for supervisor in (district.police_supervisor, second):
        home = home_of(client, supervisor)
        assert "待审批" not in panel(home, "notifications") and case.title not in panel(home, "transfers-approvals")


def test_approval_notices_go_when_the_request_is_withdrawn(case, district, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = engine.fire(case, "request_arrest", acting_user=district.investigator, inputs={"reason": "需要逮捕"})
    assert "待审批" in panel(home_of(client, district.police_supervisor), "notifications")
    with django_capture_on_commit_callbacks(execute=True):
        engine.cancel_approval(result.approval, acting_user=district.investigator)
    assert "待审批" not in panel(home_of(client, district.police_supervisor), "notifications")
