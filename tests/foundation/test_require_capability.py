"""One check for "may this role do this" (casehub.agencies.permissions.require_capability), used by
the UI views and the API: a role without the capability gets 403 with the reason, in both."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from casehub.agencies import permissions as p

pytestmark = pytest.mark.django_db


def test_a_role_without_the_capability_is_refused_with_the_reason(district):
    with pytest.raises(PermissionDenied, match="只有审计人员"):
        p.require_capability(district.investigator, p.VIEW_AUDIT, message="只有审计人员可以查看。")
    p.require_capability(district.investigator, p.VIEW_AUDIT, p.REGISTER_CASE)  # any one of them suffices


def test_ui_page_and_api_answer_403_for_the_same_missing_right(district, client):
    client.force_login(district.investigator)
    assert client.get(reverse("audit:list")).status_code == 403
    response = client.get("/api/v1/audit/events/")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
