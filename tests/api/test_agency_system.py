"""The reference agency system (examples/agency_system.py) against a live server: its mirror is
built from the feed and kept current by signed webhooks on a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import pytest

from casehub.api.credentials import register_client
from casehub.integration import webhooks
from casehub.integration.docs import DOC, render
from casehub.integration.models import WebhookEndpoint
from tests.api.test_webhooks import load_reference_client


@pytest.mark.django_db(transaction=True)
def test_the_procuratorate_system_mirrors_its_inbox_from_feed_and_webhooks(live_server, make_case, district,
                                                                            drive, tmp_path, settings):
    agency_system = load_reference_client()
    settings.CELERY_TASK_ALWAYS_EAGER = True
    token = register_client(acting_user=None, agency=district.procuratorate, name="检察业务系统",
                            role="prosecutor").token
    mirror = agency_system.Mirror(str(tmp_path / "mirror.sqlite3"))

    # Before the system connects: a package is sent (the system was down); the feed brings it.
    first = make_case("李四涉嫌诈骗案")
    drive.fire(first, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    assert agency_system.sync_feed(live_server.url, token, mirror) >= 1
    assert [row["status"] for row in mirror.inbox()] == ["pending"]
    cursor = mirror.cursor

    # The system starts its receiver and registers it (an administrator allowed the intranet address).
    secret = webhooks.new_secret()
    server = agency_system.serve(mirror, secret, "127.0.0.1", 0)
    try:
        WebhookEndpoint.objects.create(
            agency=district.procuratorate, url=f"http://127.0.0.1:{server.server_address[1]}/casehub",
            event_types=["package.sent", "package.accepted", "package.withdrawn"], allow_private_network=True,
            encrypted_secret=webhooks.seal_secret(secret, district.procuratorate.pk),
        )
        drive.fire(first, "accept_review_transfer", "prosecutor")
        second = make_case("王五涉嫌盗窃案")
        drive.fire(second, "transfer_for_review", "investigator", facts="事实", evidence="证据")
        by_webhook = [e for e in mirror.events() if e["via"] == "webhook"]
        assert {e["type"] for e in by_webhook} == {"package.accepted", "package.sent"}
        assert sorted(r["status"] for r in mirror.inbox()) == ["accepted", "pending"]
        # Reading the feed afterwards adds nothing twice: the webhook events are already there.
        known = {e["id"] for e in mirror.events()}
        agency_system.sync_feed(live_server.url, token, mirror)
        assert mirror.cursor > cursor
        added = [e for e in mirror.events() if e["id"] not in known]
        assert added and all(e["via"] == "feed" for e in added)
        assert all(e["type"] not in ("package.accepted", "package.sent") for e in added)
        assert len({e["id"] for e in mirror.events()}) == len(mirror.events())
    finally:
        server.shutdown()


def test_the_event_catalogue_in_docs_api_md_is_current():
    current = DOC.read_text(encoding="utf-8")
    assert render(current) == current, "run `python manage.py integration_docs` and commit docs/api.md"
