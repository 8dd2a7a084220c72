"""A long transaction collects its audit events and appends them in one locked step at its end
(``casehub.audit.services.deferred``): the chain's head is locked only for that step and the
commit, the chain stays exactly what appending one by one would have made, and nothing recorded
in work that was undone is ever appended."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from casehub.audit.models import AuditEvent, AuditHead
from casehub.audit.services import deferred, record_event
from casehub.audit.verify import verify_chain
from tests.audit.test_verify import insert_row


def _head_sequence() -> int:
    return AuditHead.objects.filter(pk=1).values_list("sequence", flat=True).get()


def _statements_from_the_head_lock(queries: list[dict]) -> list[str]:
    sql = [q["sql"] for q in queries]
    # The head is read FOR UPDATE (PostgreSQL; SQLite holds its write lock for the whole transaction).
    locks = [i for i, s in enumerate(sql) if s.startswith('SELECT "audit_audithead"') and "LIMIT 1" in s]
    assert len(locks) == 1, sql
    tail = sql[locks[0]:]
    if tail[-1].startswith("RELEASE SAVEPOINT"):  # the end of the block (the test runs in a transaction)
        tail.pop()
    return tail


def test_ten_events_of_one_transaction_are_appended_in_one_locked_step_and_the_chain_verifies(trail):
    before = _head_sequence()
    with CaptureQueriesContext(connection) as queries, transaction.atomic(), deferred():
        for i in range(10):
            assert record_event("test.step", details={"i": i}) is None  # not appended yet
        assert _head_sequence() == before  # nothing locked or written while the work goes on
    under_lock = _statements_from_the_head_lock(queries.captured_queries)
    if connection.vendor == "postgresql":
        # Under the lock: the head, then one statement that checks no row casehub did not write is
        # in the way, inserts all ten events and moves the head — nothing else of the transaction.
        assert len(under_lock) == 2, under_lock
        assert under_lock[1].startswith("WITH free AS") and under_lock[1].count("test.step") == 10
        assert 'INSERT INTO "audit_auditevent"' in under_lock[1] and 'UPDATE "audit_audithead"' in under_lock[1]
    else:
        # The head, one probe for rows casehub did not write, one INSERT of all ten events, the
        # head moved.
        assert len(under_lock) == 4, under_lock
        assert under_lock[1].startswith("SELECT") and "audit_auditevent" in under_lock[1]
        assert under_lock[2].startswith("INSERT INTO \"audit_auditevent\"") and under_lock[2].count("test.step") == 10
        assert under_lock[3].startswith("UPDATE \"audit_audithead\"")

    events = list(AuditEvent.objects.filter(action="test.step"))
    assert [e.sequence for e in events] == list(range(before + 1, before + 11))
    assert [e.details["i"] for e in events] == list(range(10))  # in the order they were recorded
    assert events[0].previous_hash == trail[-1].hash
    assert all(b.previous_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)  # when recorded
    assert AuditHead.objects.get().sequence == events[-1].sequence
    assert AuditHead.objects.get().hash == events[-1].hash
    assert verify_chain().ok


def test_events_of_a_transaction_that_rolls_back_are_never_appended(trail):
    before = AuditHead.objects.get().hash

    class Refused(Exception):
        pass

    with pytest.raises(Refused), transaction.atomic(), deferred():
        record_event("test.recorded_then_undone")
        raise Refused
    assert not AuditEvent.objects.filter(action="test.recorded_then_undone").exists()
    assert AuditHead.objects.get().hash == before
    assert record_event("test.next").previous_hash == before  # the chain goes on from the same head
    assert verify_chain().ok


def test_an_event_recorded_in_a_savepoint_that_rolls_back_is_dropped_the_others_appended(trail):
    with transaction.atomic(), deferred():
        record_event("test.kept", details={"n": 1})
        try:
            with transaction.atomic():  # a step tried and undone, the transaction goes on
                record_event("test.undone")
                raise ValueError
        except ValueError:
            pass
        with transaction.atomic():  # a step that succeeded inside its own savepoint
            record_event("test.kept", details={"n": 2})
    assert not AuditEvent.objects.filter(action="test.undone").exists()
    kept = list(AuditEvent.objects.filter(action="test.kept"))
    assert [e.details["n"] for e in kept] == [1, 2]
    assert kept[1].sequence == kept[0].sequence + 1 and kept[1].previous_hash == kept[0].hash
    assert verify_chain().ok


def test_a_nested_block_joins_the_outer_one_and_a_failed_inner_block_loses_only_its_own_events(trail):
    before = _head_sequence()
    with transaction.atomic(), deferred():
        record_event("test.outer", details={"n": 1})
        with deferred():
            record_event("test.inner")
        assert _head_sequence() == before  # the inner block did not append (nor lock) on its own
        try:
            with transaction.atomic(), deferred():
                record_event("test.inner_failed")
                raise ValueError
        except ValueError:
            pass
        record_event("test.outer", details={"n": 2})
    actions = list(AuditEvent.objects.filter(sequence__gt=before).values_list("action", flat=True))
    assert actions == ["test.outer", "test.inner", "test.outer"]
    assert verify_chain().ok


def test_a_batch_steps_over_a_row_casehub_did_not_write_and_says_so(trail):
    stray = trail[-1].sequence + 3
    insert_row(stray)
    with transaction.atomic(), deferred():
        for i in range(4):
            record_event("test.filling", details={"i": i})
    rows = list(AuditEvent.objects.filter(sequence__gt=trail[-1].sequence).values_list("sequence", "action"))
    assert rows == [(stray - 2, "test.filling"), (stray - 1, "test.filling"), (stray, "case.closed"),
                    (stray + 1, "audit.foreign_rows"), (stray + 2, "test.filling"), (stray + 3, "test.filling")]
    assert AuditEvent.objects.get(sequence=stray + 1).details == {"sequences": [stray]}
    assert [f.sequence for f in verify_chain().findings] == [stray]  # only the stray is reported


@pytest.mark.postgres  # real row locks: SQLite serialises whole transactions
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_on_postgresql_both_append_each_in_one_run_and_the_chain_is_intact():
    assert connection.vendor == "postgresql"
    record_event("test.start")
    writers, events_each = 4, 10
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait()
            with transaction.atomic(durable=True), deferred():
                for i in range(events_each):
                    record_event("test.concurrent", details={"writer": n, "i": i})
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    rows = list(AuditEvent.objects.filter(action="test.concurrent").values_list("sequence", "details"))
    assert len(rows) == writers * events_each
    # Each transaction's events form one unbroken run of the chain, in the order recorded.
    for start in range(0, len(rows), events_each):
        run = rows[start:start + events_each]
        assert len({d["writer"] for _s, d in run}) == 1
        assert [d["i"] for _s, d in run] == list(range(events_each))
    assert [s for s, _d in rows] == list(range(rows[0][0], rows[0][0] + writers * events_each))
    assert verify_chain().ok
