"""The feed is the webhooks' outbox: a change writes its feed entries and nothing else for webhooks;
the delivery worker walks each endpoint's cursor through its agency's feed, in order, under a lease,
and writes a delivery row (history, retries, replay) only when it takes an event up."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from casehub.integration import webhooks
from casehub.integration.models import (
    END_OF_SEQUENCE,
    DeliveryStatus,
    FeedEntry,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.api.test_webhooks import Recorder, _register, recorder  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def police_admin(district, api_as):
    return api_as(district.police_admin)


def _cursor(endpoint: WebhookEndpoint) -> tuple[int, int]:
    endpoint.refresh_from_db()
    return endpoint.cursor_sequence, endpoint.cursor_position


@pytest.fixture
def wake_requests(monkeypatch):
    """The wake-ups asked for after commits (then passed on to the worker, run here in-process)."""
    from casehub.integration import tasks

    asked: list[None] = []
    real = tasks.request_wake

    def count() -> None:
        asked.append(None)
        real()

    monkeypatch.setattr(tasks, "request_wake", count)
    return asked


def test_the_change_writes_no_delivery_row_and_asks_for_one_wake_up(wf_case, district, drive, police_admin,
                                                                   recorder, wake_requests):  # noqa: F811
    from workflows import engine

    for i in range(16):
        _register(police_admin, f"{recorder}/{i}", types=["approval.requested", "approval.cancelled"])
    with CaptureQueriesContext(connection) as queries, drive.capture(execute=False) as callbacks:
        result = engine.fire(wf_case, "transfer_for_review", acting_user=district.investigator,
                             inputs={"facts": "事实", "evidence": "证据"})
    sql = " ".join(q["sql"].lower() for q in queries.captured_queries)
    assert "integration_webhookdelivery" not in sql  # not written, not even read
    assert 'update "integration_webhookendpoint"' not in sql
    assert not WebhookDelivery.objects.exists() and Recorder.received == []
    for callback in callbacks:  # the commit
        callback()
    assert len(wake_requests) == 1  # one wake-up for the transaction, not one per endpoint
    # Now the worker has sent the event to all sixteen endpoints.
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 16
    assert len(Recorder.received) == 16
    with drive.capture(execute=True):
        engine.cancel_approval(result.approval, acting_user=district.investigator)
    assert len(wake_requests) == 2 and len(Recorder.received) == 32


def test_several_events_of_one_transaction_ask_for_a_single_wake_up(wf_case, district, drive, police_admin,
                                                                    recorder, wake_requests):  # noqa: F811
    from workflows import engine

    _register(police_admin, recorder, types=["package.sent", "case.transitioned", "approval.approved"])
    with drive.capture(execute=True):
        result = engine.fire(wf_case, "transfer_for_review", acting_user=district.investigator,
                             inputs={"facts": "事实", "evidence": "证据"})
    assert len(wake_requests) == 1
    # The supervisor's approval fires the transfer: three events for the police in one transaction.
    with drive.capture(execute=True):
        engine.decide_approval(result.approval, acting_user=district.users["police_supervisor"], approve=True,
                               comment="同意")
    assert len(wake_requests) == 2
    sent = [json_type(raw) for _h, raw in Recorder.received]
    assert sorted(sent) == ["casehub.approval.approved", "casehub.case.transitioned", "casehub.package.sent"]


def json_type(raw: bytes) -> str:
    import json

    return json.loads(raw)["type"]


def test_the_cursor_follows_the_sent_events_and_skips_types_not_subscribed(wf_case, district, drive,
                                                                           police_admin, recorder):  # noqa: F811
    endpoint, _ = _register(police_admin, recorder, types=["approval.requested"])
    start = _cursor(endpoint)
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    requested = FeedEntry.objects.get(agency=district.police, type="approval.requested")
    newest = FeedEntry.objects.filter(agency=district.police).order_by("-sequence", "-position").first()
    assert newest.sequence > requested.sequence  # the transfer's own events came after it
    # Sent: the one subscribed event; the cursor is past everything the agency's feed holds.
    assert [json_type(raw) for _h, raw in Recorder.received] == ["casehub.approval.requested"]
    assert _cursor(endpoint) == (requested.sequence, END_OF_SEQUENCE) and _cursor(endpoint) > start
    # Nothing more for this endpoint: no task walks it for events it does not want ...
    assert not webhooks.has_work(endpoint) and webhooks.endpoints_with_work() == []
    # ... and the next walk skips them all at once; walking again sends nothing twice.
    assert webhooks.drain(endpoint.pk) == 0 and len(Recorder.received) == 1
    assert _cursor(endpoint) == (newest.sequence, END_OF_SEQUENCE)


def test_a_failing_endpoint_holds_up_neither_the_others_nor_its_own_next_events(make_case, district, drive,
                                                                               police_admin, recorder):  # noqa: F811
    down, _ = _register(police_admin, f"{recorder}/fail", types=["package.sent"])
    up, _ = _register(police_admin, f"{recorder}/ok", types=["package.sent"])
    for title in ("甲案", "乙案"):
        drive.fire(make_case(title), "transfer_for_review", "investigator", facts="事实", evidence="证据")
    assert list(up.deliveries.values_list("status", flat=True)) == [DeliveryStatus.DELIVERED] * 2
    failed = list(down.deliveries.order_by("id"))
    assert [d.status for d in failed] == [DeliveryStatus.RETRYING] * 2  # both tried, both to retry
    assert _cursor(down) == _cursor(up)  # the cursor moved on past the failures
    ok_paths = [h for h, _raw in Recorder.received]
    assert len(ok_paths) == 4
    # In order, per endpoint: each endpoint got the first case's package before the second's.
    for endpoint in (up, down):
        sequences = list(endpoint.deliveries.order_by("id").values_list("entry__sequence", flat=True))
        assert sequences == sorted(sequences)


def test_an_endpoint_gets_what_happens_after_it_was_registered_and_after_it_was_re_enabled(
        make_case, district, drive, police_admin, recorder):  # noqa: F811
    drive.fire(make_case("登记前的案件"), "transfer_for_review", "investigator", facts="事实", evidence="证据")
    endpoint, _ = _register(police_admin, recorder, types=["package.sent"])
    newest = FeedEntry.objects.filter(agency=district.police).order_by("-sequence").first()
    assert _cursor(endpoint) == (newest.sequence, END_OF_SEQUENCE)
    assert not webhooks.has_work(endpoint)  # the past is in the feed, not pushed
    drive.fire(make_case("登记后的案件"), "transfer_for_review", "investigator", facts="事实", evidence="证据")
    assert endpoint.deliveries.count() == 1 and len(Recorder.received) == 1

    assert police_admin.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"active": False}, format="json").status_code == 200
    drive.fire(make_case("停用期间的案件"), "transfer_for_review", "investigator", facts="事实", evidence="证据")
    assert police_admin.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"active": True}, format="json").status_code == 200
    assert not webhooks.has_work(endpoint.__class__.objects.get(pk=endpoint.pk))
    drive.fire(make_case("重新启用后的案件"), "transfer_for_review", "investigator", facts="事实", evidence="证据")
    assert endpoint.deliveries.count() == 2 and len(Recorder.received) == 2


def test_a_dead_delivery_is_replayed_with_the_same_id_and_the_cursor_stays(wf_case, drive, police_admin,
                                                                           recorder, settings,  # noqa: F811
                                                                           django_capture_on_commit_callbacks):
    settings.CASEHUB_WEBHOOK_MAX_ATTEMPTS = 1
    endpoint, _ = _register(police_admin, recorder, types=["package.sent"])
    Recorder.answers = [500]
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    delivery = endpoint.deliveries.get()
    assert delivery.status == DeliveryStatus.DEAD and webhooks.due() == []
    cursor = _cursor(endpoint)
    with django_capture_on_commit_callbacks(execute=True):
        response = police_admin.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/replay/")
    assert response.status_code == 202
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert endpoint.deliveries.count() == 1 and _cursor(endpoint) == cursor
    ids = [h["webhook-id"] for h, _raw in Recorder.received]
    assert len(ids) == 2 and len(set(ids)) == 1


def test_two_workers_never_walk_one_endpoint_at_once(wf_case, drive, police_admin, recorder,  # noqa: F811
                                                     django_capture_on_commit_callbacks):
    endpoint, _ = _register(police_admin, recorder, types=["package.sent"])
    other = uuid.uuid4()
    assert webhooks._take_lease(endpoint.pk, other)  # a worker walks this endpoint ...
    with django_capture_on_commit_callbacks(execute=True):
        drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    assert Recorder.received == [] and not endpoint.deliveries.exists()  # ... so this one left it alone
    assert webhooks.drain(endpoint.pk) == 0
    # The first worker died: once its lease runs out, the next walk sends the event, once.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert webhooks.drain(endpoint.pk) == 1 and webhooks.drain(endpoint.pk) == 0
    assert len(Recorder.received) == 1 and endpoint.deliveries.get().status == DeliveryStatus.DELIVERED
    endpoint.refresh_from_db()
    assert endpoint.lease_token is None  # let go


def test_a_worker_that_lost_its_lease_takes_nothing_more_up(wf_case, drive, police_admin, recorder):  # noqa: F811
    endpoint, _ = _register(police_admin, recorder, types=["package.sent"])
    mine = uuid.uuid4()
    assert webhooks._take_lease(endpoint.pk, mine)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(lease_token=uuid.uuid4())  # taken over after expiry
    assert not webhooks._move(endpoint.pk, mine, (10**9, 0))
    assert _cursor(endpoint)[0] < 10**9


def test_an_endpoint_only_ever_gets_its_own_agencys_events(wf_case, district, drive, recorder):  # noqa: F811
    procuratorate = WebhookEndpoint.objects.create(
        agency=district.procuratorate, url=f"{recorder}/procuratorate", allow_private_network=True,
        event_types=["approval.requested", "package.sent"],
        encrypted_secret=webhooks.seal_secret(webhooks.new_secret(), district.procuratorate.pk))
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    # The approval request is the police's own business; the package is the procuratorate's too.
    got = [json_type(raw) for h, raw in Recorder.received]
    assert got == ["casehub.package.sent"]
    assert set(procuratorate.deliveries.values_list("entry__agency_id", flat=True)) == {district.procuratorate.pk}
    # A delivery row that pointed at another agency's entry is refused, not sent.
    police_entry = FeedEntry.objects.filter(agency=district.police).first()
    row = WebhookDelivery.objects.create(endpoint=procuratorate, entry=police_entry, next_attempt_at=timezone.now())
    assert webhooks.deliver(row.pk) == DeliveryStatus.RETRYING and len(Recorder.received) == 1


@pytest.mark.django_db(transaction=True)
def test_endpoints_from_before_the_cursor_keep_their_pending_deliveries_and_take_nothing_up_twice(
        wf_case, district, drive, recorder):  # noqa: F811
    from django.db.migrations.executor import MigrationExecutor

    drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    entry = FeedEntry.objects.filter(agency=district.police, type="package.sent").get()
    before = [("integration", "0002_feed_position_and_submitted_package")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldEndpoint = old.get_model("integration", "WebhookEndpoint")
    OldDelivery = old.get_model("integration", "WebhookDelivery")
    # The former outbox: the endpoint's delivery row was written with the event, and not yet sent.
    endpoint = OldEndpoint.objects.create(
        agency_id=district.police.pk, url=f"{recorder}/old", event_types=["package.sent"],
        allow_private_network=True, encrypted_secret=webhooks.seal_secret(webhooks.new_secret(), district.police.pk))
    pending = OldDelivery.objects.create(endpoint_id=endpoint.pk, entry_id=entry.pk, status="pending",
                                         next_attempt_at=timezone.now())

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(list(executor.loader.graph.leaf_nodes()))

    migrated = WebhookEndpoint.objects.get(pk=endpoint.pk)
    newest = FeedEntry.objects.filter(agency=district.police).order_by("-sequence").first()
    assert _cursor(migrated) == (newest.sequence, END_OF_SEQUENCE)
    assert not webhooks.has_work(migrated)  # the cursor takes nothing up twice ...
    assert webhooks.due() == [pending.pk]  # ... and the beat task sends the row that was pending
    assert webhooks.deliver(pending.pk) == DeliveryStatus.DELIVERED
    assert len(Recorder.received) == 1 and WebhookDelivery.objects.count() == 1
