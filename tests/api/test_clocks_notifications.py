"""Clocks and notifications through the API."""

from __future__ import annotations

import pytest

from casehub.notifications.models import Notification
from casehub.notifications.services import notify

pytestmark = pytest.mark.django_db


def test_the_review_clock_runs_for_the_procuratorate_only(wf_case, district, drive, api_as):
    drive.to_review(wf_case)
    prosecutor = api_as(district.prosecutor)
    clocks = prosecutor.get("/api/v1/clocks/").json()["results"]
    review = next(c for c in clocks if c["kind"] == "review_prosecution")
    assert review["agency"]["code"] == "JC440307" and review["status"] == "running"
    assert review["remaining_days"] >= 28 and review["kind_label"] == "审查起诉期限"
    assert prosecutor.get("/api/v1/clocks/?due_within=0").json()["results"] == []
    # The police still see the case, and its clocks, but none of them is the police's to run.
    police = api_as(district.investigator)
    assert all(c["agency"]["code"] != "JC440307" for c in police.get("/api/v1/clocks/").json()["results"])
    case_clocks = police.get(f"/api/v1/cases/{wf_case.pk}/clocks/").json()["results"]
    assert "review_prosecution" in {c["kind"] for c in case_clocks}


def test_clocks_of_another_agencys_case_are_404_and_bad_filters_400(wf_case, other_district, district, api_as):
    assert api_as(other_district.investigator).get(f"/api/v1/cases/{wf_case.pk}/clocks/").status_code == 404
    response = api_as(district.investigator).get("/api/v1/clocks/?due_within=-1")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "due_within"
    assert api_as(district.auditor).get("/api/v1/clocks/").status_code == 403


def test_notifications_are_your_own_and_can_be_marked_read(district, api_as):
    notify([district.prosecutor], kind="clock.warning", title="审查起诉期限将届满", key="k1")
    notify([district.prosecutor], kind="clock.warning", title="第二条", key="k2")
    notify([district.judge], kind="clock.warning", title="别人的", key="k3")
    client = api_as(district.prosecutor)
    unread = client.get("/api/v1/notifications/?unread=true").json()["results"]
    assert [n["title"] for n in unread] == ["第二条", "审查起诉期限将届满"]
    assert client.post("/api/v1/notifications/read/", {"ids": [unread[0]["id"]]}, format="json").json() == {
        "marked": 1}
    assert len(client.get("/api/v1/notifications/?unread=true").json()["results"]) == 1
    assert client.post("/api/v1/notifications/read/", {}, format="json").json() == {"marked": 1}
    # Someone else's id marks nothing.
    other = Notification.objects.get(recipient=district.judge)
    assert client.post("/api/v1/notifications/read/", {"ids": [other.pk]}, format="json").json() == {"marked": 0}
    assert Notification.objects.get(pk=other.pk).read_at is None
