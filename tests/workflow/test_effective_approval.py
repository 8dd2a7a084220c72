"""What the diagram, docs/workflow.md, the fire page and the OpenAPI text say about approval is the
effective setting (after CASEHUB_WORKFLOW_APPROVALS), i.e. what the engine will do — not the
definition's default."""

from __future__ import annotations

import pytest
from django.urls import reverse

from casehub.api import workflow as api_workflow
from workflows import definition as d
from workflows import diagram

OVERRIDE = {"request_arrest": False, "accept_review_transfer": True}


@pytest.fixture
def overridden(settings):
    assert d.BY_NAME["request_arrest"].needs_approval and not d.BY_NAME["accept_review_transfer"].needs_approval
    settings.CASEHUB_WORKFLOW_APPROVALS = OVERRIDE


def _mermaid_edge(name: str) -> str:
    label = str(d.BY_NAME[name].label)
    return next(line for line in diagram.mermaid().splitlines() if line.endswith(f": {label}")
                or line.endswith(f": {label} ✎"))


def test_diagram_and_table_mark_the_approvals_the_deployment_configured(overridden):
    assert not _mermaid_edge("request_arrest").endswith("✎")
    assert _mermaid_edge("accept_review_transfer").endswith("✎")
    assert f'{d.BY_NAME["accept_review_transfer"].label} ✎' in diagram.dot()
    rows = {r["name"]: r for r in diagram.table_rows()}
    assert rows["request_arrest"]["approval"] is False and rows["accept_review_transfer"]["approval"] is True


def test_without_an_override_the_declared_default_is_shown(settings):
    settings.CASEHUB_WORKFLOW_APPROVALS = {}
    assert _mermaid_edge("request_arrest").endswith("✎")
    assert not _mermaid_edge("accept_review_transfer").endswith("✎")


@pytest.mark.django_db
def test_openapi_text_says_needs_approval_only_where_the_engine_will_ask_for_it(overridden, client):
    # The action views were built when casehub.api.workflow was imported, before the override.
    assert "request_arrest" in api_workflow.ACTION_VIEWS
    assert "Needs internal approval" in client.get("/api/v1/schema/").content.decode()  # YAML renders it
    schema = client.get("/api/v1/schema/?format=json").json()
    described = {op["operationId"]: op.get("description", "") for item in schema["paths"].values()
                 for op in item.values()}
    assert "Needs internal approval" not in described["cases_actions_request_arrest"]
    assert "Needs internal approval" in described["cases_actions_accept_review_transfer"]


def test_fire_page_submits_for_approval_only_where_the_engine_will_ask_for_it(case, district, client, settings):
    client.force_login(district.investigator)
    url = reverse("transfers:fire", args=[case.pk, "request_arrest"])
    page = client.get(url).content.decode()
    assert "提交审批" in page and "须经本机关审批人批准" in page
    settings.CASEHUB_WORKFLOW_APPROVALS = OVERRIDE
    page = client.get(url).content.decode()
    assert "提交审批" not in page and "须经本机关审批人批准" not in page and "确认办理" in page
