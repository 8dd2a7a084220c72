"""Webhooks: registered by a system client, signed per Standard Webhooks, sent from the outbox,
retried with back-off, dead after N failures, replayed by an administrator; SSRF refused."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from casehub.api.credentials import register_client
from casehub.audit.models import AuditEvent
from casehub.integration import webhooks
from casehub.integration.models import DeliveryStatus, FeedEntry, WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "agency_system.py"


def load_reference_client():
    spec = importlib.util.spec_from_file_location("agency_system", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Recorder(BaseHTTPRequestHandler):
    """A receiver that answers what the test tells it to and keeps what it got."""

    answers: list[int | str] = []
    received: list[tuple[dict, bytes]] = []
    release = threading.Event()

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, raw))
        if "/fail" in self.path:  # an endpoint that is down, whatever the test's script says
            answer: int | str = 500
        else:
            answer = type(self).answers.pop(0) if type(self).answers else 204
        if answer == "close":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if answer == "hang":
            type(self).release.wait(10)
            answer = 204
        self.send_response(int(answer))
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def recorder():
    Recorder.answers, Recorder.received = [], []
    Recorder.release = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    Recorder.release.set()
    server.shutdown()


@pytest.fixture
def police_system(district):
    issued = register_client(acting_user=district.police_admin, agency=district.police, name="警综平台",
                             role="investigator")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    return client


@pytest.fixture
def police_admin(district, api_as):
    return api_as(district.police_admin)


def _register(admin, url: str, types=("package.sent", "package.accepted")) -> tuple[WebhookEndpoint, str]:
    response = admin.post("/api/v1/webhooks/", {"url": url, "event_types": list(types),
                                               "allow_private_network": True}, format="json")
    assert response.status_code == 201, response.content
    return WebhookEndpoint.objects.get(pk=response.json()["id"]), response.json()["secret"]


def test_a_system_client_registers_an_https_endpoint_and_sees_the_secret_once(police_system):
    response = police_system.post("/api/v1/webhooks/", {"url": "https://93.184.216.34/casehub",
                                                        "event_types": ["package.sent"]}, format="json")
    assert response.status_code == 201, response.content
    secret = response.json()["secret"]
    assert secret.startswith("whsec_")
    listed = police_system.get("/api/v1/webhooks/").json()
    assert listed["results"][0]["url"] == "https://93.184.216.34/casehub"
    assert "secret" not in json.dumps(listed)
    endpoint = WebhookEndpoint.objects.get()
    assert secret.encode() not in bytes(endpoint.encrypted_secret)  # sealed at rest
    assert webhooks.open_secret(endpoint) == secret
    assert AuditEvent.objects.filter(action="webhook.registered").exists()


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://localhost/hook", "https://10.1.2.3/hook", "https://192.168.0.9/hook",
    "https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://[::ffff:127.0.0.1]/hook",
    "http://93.184.216.34/hook", "ftp://93.184.216.34/hook", "https://user:pw@93.184.216.34/hook",
])
def test_endpoints_into_the_platforms_own_network_are_refused(police_system, url):
    response = police_system.post("/api/v1/webhooks/", {"url": url, "event_types": ["package.sent"]}, format="json")
    assert response.status_code == 400, (url, response.content)
    assert WebhookEndpoint.objects.count() == 0


def test_only_an_administrator_may_allow_a_private_address(police_system, police_admin):
    body = {"url": "http://10.1.2.3/hook", "event_types": ["package.sent"], "allow_private_network": True}
    assert police_system.post("/api/v1/webhooks/", body, format="json").status_code == 403
    assert police_admin.post("/api/v1/webhooks/", body, format="json").status_code == 201


def test_an_investigators_personal_token_cannot_manage_webhooks(district, api_as):
    response = api_as(district.investigator).post("/api/v1/webhooks/", {"url": "https://93.184.216.34/h",
                                                                        "event_types": ["package.sent"]},
                                                  format="json")
    assert response.status_code == 403


def test_one_client_does_not_see_another_clients_endpoint(district, police_system, police_admin):
    endpoint, _ = _register(police_admin, "http://10.9.9.9/hook")
    assert police_system.get(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 404
    assert police_admin.get(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 200


def test_a_package_sent_reaches_the_receiver_signed_as_a_cloudevent(wf_case, district, drive, police_admin,
                                                                   recorder):
    endpoint, secret = _register(police_admin, recorder)
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    assert len(Recorder.received) == 1
    headers, raw = Recorder.received[0]
    body = Webhook(secret).verify(raw, headers)  # raises on a bad signature
    assert headers["content-type"] == "application/cloudevents+json"
    assert body["specversion"] == "1.0" and body["type"] == "casehub.package.sent"
    assert body["id"] == headers["webhook-id"]
    assert body["data"]["transfer"]["to_agency"] == district.procuratorate.code
    assert "张三" not in raw.decode()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    entry = FeedEntry.objects.get(pk=delivery.entry_id)
    assert str(entry.event_id) == body["id"] and entry.agency_id == district.police.pk


def test_a_failing_receiver_is_retried_with_back_off_then_dead_then_replayed(
        wf_case, drive, police_admin, recorder, settings, django_capture_on_commit_callbacks):
    settings.CASEHUB_WEBHOOK_MAX_ATTEMPTS = 3
    _register(police_admin, recorder, types=["package.sent"])
    Recorder.answers = [500, "close"]
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING and delivery.last_status_code == 500
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=30)
    # Not due yet: a second run sends nothing.
    assert webhooks.deliver(delivery.pk) is None
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert webhooks.deliver(delivery.pk) == DeliveryStatus.RETRYING  # the connection was closed
    delivery.refresh_from_db()
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=60)  # doubled
    Recorder.answers = [503]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert webhooks.deliver(delivery.pk) == DeliveryStatus.DEAD
    assert webhooks.due() == []

    endpoint = delivery.endpoint
    response = police_admin.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/", {"status": "dead"})
    assert response.status_code == 200 and response.json()["results"][0]["attempts"] == 3
    assert "data" not in response.json()["results"][0]["event"]
    first_id = Recorder.received[0][0]["webhook-id"]
    with django_capture_on_commit_callbacks(execute=True):
        replay = police_admin.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/replay/")
    assert replay.status_code == 202
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert {h["webhook-id"] for h, _ in Recorder.received} == {first_id}  # the same event each time
    assert len(Recorder.received) == 4


def test_a_worker_that_dies_mid_delivery_leaves_it_to_be_sent_again_with_the_same_id(wf_case, drive,
                                                                                     police_admin, recorder):
    endpoint, secret = _register(police_admin, recorder, types=["package.sent"])
    Recorder.answers = [500]
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert webhooks.claim(delivery.pk)  # a worker takes the lease ... and is killed before it records
    assert not webhooks.claim(delivery.pk)  # nobody else sends it meanwhile
    assert webhooks.due() == []
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert webhooks.due() == [delivery.pk]  # the lease ran out: the beat task queues it again
    assert webhooks.deliver(delivery.pk) == DeliveryStatus.DELIVERED
    ids = [h["webhook-id"] for h, _ in Recorder.received]
    assert len(ids) == 2 and len(set(ids)) == 1


def test_with_a_broker_a_transaction_publishes_one_wake_up_and_the_worker_sends_per_endpoint(
        wf_case, drive, police_admin, recorder, settings, monkeypatch):
    from casehub.integration import tasks

    first, _ = _register(police_admin, recorder, types=["package.sent", "case.transitioned", "approval.requested"])
    second, _ = _register(police_admin, recorder + "/second", types=["approval.requested"])
    wakes: list[None] = []
    drains: list[int] = []
    monkeypatch.setattr(tasks.wake_webhooks, "delay", lambda: wakes.append(None))
    monkeypatch.setattr(tasks.drain_webhook_endpoint, "delay", lambda pk: drains.append(pk))
    settings.CELERY_TASK_ALWAYS_EAGER = False
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    tasks.enqueuer.flush()
    # One wake-up message per committed transaction (the approval request, then the approved
    # transfer, which writes three events), or fewer when they fold into one; nothing sent or written.
    assert 1 <= len(wakes) <= 2 and Recorder.received == [] and not WebhookDelivery.objects.exists()
    assert tasks.wake_webhooks() == 2  # the worker: one drain task per endpoint with work ...
    assert sorted(drains) == [first.pk, second.pk]
    for pk in drains:
        tasks.drain_webhook_endpoint(pk)  # ... each sends its endpoint's events in feed order
    paths = [(h["webhook-id"], json.loads(raw)["type"]) for h, raw in Recorder.received]
    assert len(paths) == 4
    sent_first = [d.entry for d in WebhookDelivery.objects.filter(endpoint=first).order_by("id")]
    assert [e.type for e in sent_first] == ["approval.requested", "case.transitioned", "package.sent"]
    assert [(e.sequence, e.position) for e in sent_first] == sorted((e.sequence, e.position) for e in sent_first)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    drains.clear()
    assert tasks.deliver_due_webhooks() == 0 and drains == []  # the beat task finds nothing left


def test_with_a_redis_broker_no_wake_up_is_published_while_one_is_pending(settings, monkeypatch):
    from casehub.integration import tasks

    store: dict[str, bytes] = {}

    class FakeRedis:
        def set(self, key, value, nx=False, ex=None):
            if nx and key in store:
                return None
            store[key] = value
            return True

        def delete(self, key):
            store.pop(key, None)

    monkeypatch.setattr(tasks.wake_flag, "_redis", lambda: FakeRedis())
    monkeypatch.setattr(tasks.webhooks, "endpoints_with_work", lambda: [])
    published: list[None] = []
    monkeypatch.setattr(tasks.wake_webhooks, "delay", lambda: published.append(None))
    settings.CELERY_TASK_ALWAYS_EAGER = False
    for _ in range(3):
        tasks.request_wake()
        tasks.enqueuer.flush()
    assert len(published) == 1  # the first one is still queued: the later commits rely on it
    tasks.wake_webhooks()  # the worker takes it up (and clears the flag before it reads) ...
    tasks.request_wake()
    tasks.enqueuer.flush()
    assert len(published) == 2  # ... so the next commit publishes again


def test_with_a_broker_the_request_does_not_wait_for_it_and_a_broker_outage_loses_nothing(
        wf_case, drive, police_admin, recorder, settings, monkeypatch):
    from casehub.integration import tasks

    endpoint, _ = _register(police_admin, recorder, types=["approval.requested"])
    settings.CELERY_TASK_ALWAYS_EAGER = False
    publishing, release = threading.Event(), threading.Event()

    def slow_broker():  # the broker takes its time, then is found down
        publishing.set()
        release.wait(10)
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.wake_webhooks, "delay", slow_broker)
    from workflows import engine

    with drive.capture(execute=True):
        result = engine.fire(wf_case, "transfer_for_review", acting_user=drive.district.investigator,
                             inputs={"facts": "事实", "evidence": "证据"})
    assert result.awaiting_approval and publishing.wait(5)
    assert not release.is_set()  # the request returned while the message was still being published
    release.set()
    tasks.enqueuer.flush()
    # The message never reached the broker; the feed entry did not depend on it: the beat task
    # finds the endpoint behind its cursor and the worker sends the event.
    assert Recorder.received == [] and webhooks.endpoints_with_work() == [endpoint.pk]
    monkeypatch.setattr(tasks.drain_webhook_endpoint, "delay", lambda pk: tasks.drain_webhook_endpoint(pk))
    assert tasks.deliver_due_webhooks() == 1
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED and len(Recorder.received) == 1


def test_a_slow_endpoint_does_not_hold_the_request_in_the_embedded_default(wf_case, drive, police_admin, recorder,
                                                                           settings):
    """Eager mode sends from background threads: the transition returns while the sender still waits."""
    from unittest import mock

    from workflows import engine

    _register(police_admin, recorder, types=["approval.requested"])
    settings.CASEHUB_WEBHOOK_SYNC_FOR_TESTS = False
    started, release = threading.Event(), threading.Event()

    def slow_endpoint(pk, **kwargs):  # stands for an endpoint that does not answer
        started.set()
        release.wait(10)

    with mock.patch.object(webhooks, "drain", slow_endpoint), mock.patch.object(webhooks, "endpoints_with_work",
                                                                               lambda: [1]):
        with drive.capture(execute=True):
            result = engine.fire(wf_case, "transfer_for_review", acting_user=drive.district.investigator,
                                 inputs={"facts": "事实", "evidence": "证据"})
        assert result.awaiting_approval
        assert started.wait(5)  # the delivery is under way in its thread ...
        assert not release.is_set()  # ... and still waiting, while the request has long returned
    release.set()


def test_the_reference_client_refuses_tampered_and_stale_signatures(wf_case, drive, police_admin, tmp_path):
    agency_system = load_reference_client()
    mirror = agency_system.Mirror(str(tmp_path / "mirror.sqlite3"))
    secret = webhooks.new_secret()
    server = agency_system.serve(mirror, secret, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        body = json.dumps({"specversion": "1.0", "id": "evt-1", "type": "casehub.package.sent", "casehubsequence": 7,
                           "data": {"transfer": {"id": 1, "kind": "review_transfer", "from_agency": "GA1"}}}).encode()
        import httpx

        now = timezone.now()
        good = {"webhook-id": "evt-1", "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": Webhook(secret).sign("evt-1", now, body)}
        assert httpx.post(url, content=body, headers=good).status_code == 204
        assert httpx.post(url, content=body, headers=good).status_code == 204  # a redelivery ...
        assert len(mirror.events()) == 1  # ... applied once
        tampered = body.replace(b'"GA1"', b'"GA2"')
        assert httpx.post(url, content=tampered, headers=good).status_code == 401
        old = now - timedelta(hours=1)
        stale = {"webhook-id": "evt-1", "webhook-timestamp": str(int(old.timestamp())),
                 "webhook-signature": Webhook(secret).sign("evt-1", old, body)}
        assert httpx.post(url, content=body, headers=stale).status_code == 401
        other = webhooks.new_secret()
        forged = {**good, "webhook-signature": Webhook(other).sign("evt-1", now, body)}
        assert httpx.post(url, content=body, headers=forged).status_code == 401
        assert mirror.inbox() == [{"transfer_id": 1, "case_id": None, "kind": "review_transfer",
                                   "from_agency": "GA1", "status": "pending"}]
    finally:
        server.shutdown()


def test_a_rotated_secret_signs_the_next_delivery(wf_case, drive, police_admin, recorder):
    endpoint, old = _register(police_admin, recorder, types=["package.sent"])
    rotated = police_admin.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    headers, raw = Recorder.received[0]
    Webhook(new).verify(raw, headers)
    from standardwebhooks.webhooks import WebhookVerificationError

    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(raw, headers)


def test_rewrapping_the_key_encryption_key_keeps_webhook_secrets(police_admin, settings):
    import base64
    import os

    from casehub.pki.services import rewrap_keys

    endpoint, secret = _register(police_admin, "http://10.0.0.5/hook")
    old = settings.KEY_ENCRYPTION_KEY
    settings.KEY_ENCRYPTION_KEY = base64.b64encode(os.urandom(32)).decode()
    assert rewrap_keys(old) >= 1
    endpoint.refresh_from_db()
    assert webhooks.open_secret(endpoint) == secret


def test_a_deactivated_endpoint_gets_nothing_more(wf_case, drive, police_admin, recorder):
    endpoint, _ = _register(police_admin, recorder, types=["package.sent"])
    assert police_admin.delete(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 204
    drive.fire(wf_case, "transfer_for_review", "investigator", facts="事实", evidence="证据")
    assert Recorder.received == [] and not WebhookDelivery.objects.exists()
