"""The change feed: each agency reads its own events, in order, from a durable cursor."""

from __future__ import annotations

import json

import pytest

from casehub.integration.catalogue import EVENT_TYPES
from casehub.integration.models import FeedEntry

pytestmark = pytest.mark.django_db


def _read_all(client, after: int = 0, limit: int = 100, **params) -> tuple[list[dict], int]:
    events: list[dict] = []
    while True:
        response = client.get("/api/v1/events/", {"after": after, "limit": limit, **params})
        assert response.status_code == 200, response.content
        body = response.json()
        events.extend(body["events"])
        after = body["next_after"]
        if not body["has_more"]:
            return events, after


def _types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def test_police_and_procuratorate_each_see_the_transfer_from_their_side(wf_case, district, drive, api_as):
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="2026年1月入室盗窃。", evidence="证人证言")
    police, _ = _read_all(api_as(district.investigator))
    prosecutor = api_as(district.prosecutor)
    received, cursor = _read_all(prosecutor)

    assert {"approval.requested", "approval.approved", "case.transitioned", "package.sent"} <= set(_types(police))
    assert "package.sent" in _types(received)
    assert "approval.requested" not in _types(received)  # another agency's internal approval
    sent = next(e for e in received if e["type"] == "package.sent")
    assert sent["data"]["transfer"]["from_agency"] == district.police.code
    assert sent["data"]["transfer"]["to_agency"] == district.procuratorate.code
    assert sent["data"]["case"]["id"] == wf_case.pk
    assert len(sent["data"]["transfer"]["manifest_sha256"]) == 64

    drive.fire(wf_case, "accept_review_transfer", "prosecutor")
    newer, _ = _read_all(prosecutor, after=cursor)
    assert "package.accepted" in _types(newer)
    assert "clock.opened" in _types(newer)  # the review period of art. 172 starts on receipt
    assert all(e["sequence"] > cursor for e in newer)
    police_after, _ = _read_all(api_as(district.investigator))
    assert "package.accepted" in _types(police_after)  # the sender learns of the receipt


def test_the_detention_centre_sees_the_custody_transfer_and_nothing_of_the_dossier(wf_case, district, drive,
                                                                                   api_as):
    drive.to_review(wf_case)
    events, _ = _read_all(api_as(district.detention_officer))
    types = set(_types(events))
    assert {"custody.certificate_issued", "custody.certificate_taken_over"} <= types
    assert not types & {"package.sent", "package.accepted", "document.added", "approval.requested"}
    issued = next(e for e in events if e["type"] == "custody.certificate_issued")
    assert issued["data"]["certificate"]["detention_centre"] == district.detention.code


def test_events_carry_no_names_or_identity_numbers(wf_case, district, drive, api_as):
    drive.to_review(wf_case)
    for user in (district.investigator, district.prosecutor, district.detention_officer):
        events, _ = _read_all(api_as(user))
        text = json.dumps(events, ensure_ascii=False)
        assert events and "张三" not in text and "440307199001011234" not in text


def test_another_district_sees_nothing_of_this_districts_cases(wf_case, district, other_district, drive, api_as):
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据",
               to_agency=district.procuratorate)
    drive.fire(wf_case, "accept_review_transfer", "prosecutor")
    for user in (other_district.investigator, other_district.prosecutor, other_district.detention_officer):
        events, _ = _read_all(api_as(user))
        assert events == []


def test_paging_one_by_one_gives_every_event_once_and_in_order(wf_case, district, drive, api_as):
    drive.to_review(wf_case)
    client = api_as(district.prosecutor)
    whole, end = _read_all(client, limit=500)
    paged, paged_end = _read_all(client, limit=1)
    assert [(e["sequence"], e["type"]) for e in paged] == [(e["sequence"], e["type"]) for e in whole]
    assert len({e["id"] for e in paged}) == len(paged)
    assert [e["sequence"] for e in whole] == sorted(e["sequence"] for e in whole)
    assert paged_end == end
    # A client that stored the cursor and comes back later gets nothing twice.
    assert _read_all(client, after=end)[0] == []


def test_a_client_may_ask_for_some_types_only(wf_case, district, drive, api_as):
    drive.to_review(wf_case)
    events, _ = _read_all(api_as(district.prosecutor), type=["package.sent", "package.accepted"])
    assert set(_types(events)) == {"package.sent", "package.accepted"}
    bad = api_as(district.prosecutor).get("/api/v1/events/", {"type": "no.such"})
    assert bad.status_code == 400


@pytest.mark.parametrize("who", ["police_admin", "auditor"])
def test_roles_without_case_work_may_not_read_the_feed(district, api_as, who):
    response = api_as(district.users[who]).get("/api/v1/events/")
    assert response.status_code == 403


def test_anonymous_callers_are_refused(client):
    assert client.get("/api/v1/events/").status_code == 401


def test_every_written_event_type_is_in_the_catalogue(wf_case, district, drive):
    drive.to_court(wf_case)
    written = set(FeedEntry.objects.values_list("type", flat=True))
    assert written and written <= set(EVENT_TYPES)


def test_a_transition_that_rolls_back_leaves_no_event(wf_case, district, monkeypatch):
    from casehub.pki import services as pki
    from workflows import engine

    result = engine.fire(wf_case, "transfer_for_review", acting_user=district.investigator,
                         inputs={"facts": "事实", "evidence": "证据"})
    assert result.awaiting_approval
    before = set(FeedEntry.objects.values_list("pk", flat=True))

    def broken(*args, **kwargs):
        raise pki.PkiError("signer unavailable")

    monkeypatch.setattr(pki, "signer_for", broken)
    with pytest.raises(engine.SideEffectFailed):
        engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True)
    assert set(FeedEntry.objects.values_list("pk", flat=True)) == before
