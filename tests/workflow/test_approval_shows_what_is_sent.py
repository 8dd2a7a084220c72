"""Approvers do not approve blind: the approval page links the case, lists the documents that
will travel and names the document the transition generates; once approved, it links the package."""

from __future__ import annotations

from django.urls import reverse

from workflows import engine


def test_supervisor_sees_the_case_the_package_contents_and_the_generated_document(
        case, district, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                             inputs={"facts": "入室盗窃", "evidence": "证人证言"})
    assert result.awaiting_approval
    client.force_login(district.police_supervisor)
    url = reverse("transfers:approval", args=[result.approval.pk])
    page = client.get(url).content.decode()
    assert f'href="{reverse("cases:detail", args=[case.pk])}" id="approval-case"' in page
    preview = page[page.index('id="package-preview"'):]
    for doc in case.documents.filter(is_current=True, part="main"):
        assert reverse("dossier:document", args=[doc.pk]) in preview and doc.title in preview
    assert "起诉意见书" in preview and "发送时将自动封存组卷" in preview  # drafts: nothing assembled yet

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"action": "approve", "comment": "同意"})
    page = client.get(url).content.decode()
    transfer = case.transfers.get(kind="review_transfer")
    sent = page[page.index('id="approval-sent"'):]
    assert reverse("transfers:detail", args=[transfer.pk]) in sent
    recommendation = transfer.documents.get(generated=True)
    assert recommendation.title == "起诉意见书"
    assert reverse("dossier:document", args=[recommendation.pk]) in sent
    assert 'id="package-preview"' not in page


def test_the_officer_sees_the_same_preview_before_sending(case, district, client):
    client.force_login(district.investigator)
    page = client.get(reverse("transfers:fire", args=[case.pk, "transfer_for_review"])).content.decode()
    assert 'id="package-preview"' in page and "起诉意见书" in page and "证据材料1" in page


def test_a_transition_that_sends_nothing_shows_no_package(case, district, client, drive):
    drive.to_review(case)
    client.force_login(district.prosecutor)
    page = client.get(reverse("transfers:fire", args=[case.pk, "extend_review"])).content.decode()
    # Nothing travels (no package list, no recipient); the decision it generates is still named.
    assert 'id="package-documents"' not in page and 'id="package-recipients"' not in page
    assert "将移送的内容" not in page and "延长审查起诉期限决定书" in page


def test_the_case_page_says_what_awaits_approval_and_the_requester_can_withdraw_it(
        case, district, client, django_capture_on_commit_callbacks):
    client.force_login(district.investigator)
    assert 'id="case-pending"' not in client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    result = engine.fire(case, "request_arrest", acting_user=district.investigator, inputs={"reason": "需要逮捕"})
    approval_url = reverse("transfers:approval", args=[result.approval.pk])
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    notice = page[page.index('id="case-pending"'):]
    assert "提请批准逮捕" in notice and "investigator" in notice and approval_url in notice and "查看或撤回" in notice
    client.post(approval_url, {"action": "cancel"})
    assert 'id="case-pending"' not in client.get(reverse("cases:detail", args=[case.pk])).content.decode()


def test_a_refused_decision_comes_back_with_the_comment_as_typed(case, district, client, monkeypatch):
    result = engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                         inputs={"facts": "入室盗窃", "evidence": "证人证言"})

    def refused(*args, **kwargs):
        raise engine.GuardFailed(["卷宗材料已变动，请核对后再审批"])

    monkeypatch.setattr(engine, "decide_approval", refused)
    client.force_login(district.police_supervisor)
    url = reverse("transfers:approval", args=[result.approval.pk])
    response = client.post(url, {"action": "approve", "comment": "同意移送，材料已逐页核对。"})
    assert response.status_code == 200  # not a redirect that drops what was typed
    assert [str(m) for m in response.context["messages"]] == ["卷宗材料已变动，请核对后再审批"]
    page = response.content.decode()
    assert ">同意移送，材料已逐页核对。</textarea>" in page and 'id="approve"' in page
    result.approval.refresh_from_db()
    assert result.approval.status == "pending"
