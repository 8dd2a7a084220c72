"""Celery accepts JSON only: a pickle message (remote code execution on unpickling) is refused.

THREAT_MODEL.md E3. The configuration is checked on the real app object, and a pickle-serialised
task message is pushed through kombu with the worker's own ``accept`` list: decoding must raise
ContentDisallowed *before* anything is unpickled (the payload would create a marker file if it ran).
"""

from __future__ import annotations

import pickle

from kombu import Connection, Exchange, Queue
from kombu.exceptions import ContentDisallowed

from casehub.celery import app


class _Bomb:
    """Unpickling this calls os.system-like code; here it only touches a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_app_accepts_and_emits_only_json():
    conf = app.conf
    assert list(conf.accept_content) == ["json"]
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    # If results were ever stored, they could not come back as pickle either.
    assert not conf.result_accept_content or list(conf.result_accept_content) == ["json"]


def test_acks_late_and_reject_on_worker_lost_for_redelivery():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_a_pickle_message_is_refused_before_unpickling(tmp_path):
    marker = tmp_path / "pwned"
    exchange = Exchange("casehub-test", type="direct")
    queue = Queue("casehub-test", exchange, routing_key="casehub-test")
    with Connection("memory://") as conn:
        producer = conn.Producer(serializer="pickle")
        producer.publish(
            {"args": [_Bomb(str(marker))], "kwargs": {}},
            exchange=exchange, routing_key="casehub-test", declare=[queue],
            headers={"task": "casehub.anything", "id": "x"},
        )
        received = []
        with conn.Consumer(queue, accept=app.conf.accept_content, callbacks=[lambda body, msg: received.append(body)],
                           on_decode_error=lambda msg, exc: received.append(exc)):
            conn.drain_events(timeout=2)
    assert len(received) == 1
    assert isinstance(received[0], ContentDisallowed)
    assert not marker.exists()
    # And the same bytes *would* have run code had pickle been accepted: the test is meaningful.
    pickle.loads(pickle.dumps(_Bomb(str(marker))))
    assert marker.exists()


def test_a_json_message_is_accepted_by_the_same_consumer():
    exchange = Exchange("casehub-test2", type="direct")
    queue = Queue("casehub-test2", exchange, routing_key="k")
    with Connection("memory://") as conn:
        conn.Producer(serializer="json").publish({"case": 1}, exchange=exchange, routing_key="k", declare=[queue])
        received = []
        with conn.Consumer(queue, accept=app.conf.accept_content, callbacks=[lambda body, msg: received.append(body)]):
            conn.drain_events(timeout=2)
    assert received == [{"case": 1}]


FORBIDDEN_PARAMETERS = {"user", "acting_user", "permissions", "allowed", "verified", "is_valid", "trusted"}


def test_tasks_take_ids_not_authority():
    """Tasks receive primary keys and re-read state from the database: a forged message can only
    name objects, never carry a user's permissions or a pre-computed verdict."""
    import inspect

    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if name.startswith("casehub.")}
    assert ours, "no casehub tasks registered: autodiscovery broke"
    for name, task in ours.items():
        for parameter in inspect.signature(task.run).parameters:
            assert parameter not in FORBIDDEN_PARAMETERS, (
                f"{name} takes {parameter!r}: a forged message could grant itself that"
            )
