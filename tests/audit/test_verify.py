"""verify_audit recomputes the chain and names the first row that was tampered with."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from casehub.audit.chain import event_hash
from casehub.audit.models import AuditEvent, AuditHead
from casehub.audit.verify import verify_chain

pytestmark = pytest.mark.django_db


def run_command(*args):
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def test_untouched_trail_verifies_and_the_command_exits_zero(trail):
    report = verify_chain()
    assert report.ok
    assert report.events_checked == report.head_sequence == trail[-1].sequence
    out = run_command("--no-record")
    assert f"checked {trail[-1].sequence} events" in out
    assert "audit trail verified" in out


def test_an_empty_trail_verifies():
    assert verify_chain().ok


def test_a_row_edited_behind_the_apps_back_is_found_exactly(trail, tamper_sql):
    victim = trail[3].sequence
    tamper_sql("UPDATE audit_auditevent SET details = %s WHERE sequence = %s", [json.dumps({"n": 400}), victim])
    report = verify_chain()
    assert [f.sequence for f in report.findings] == [victim]
    assert "altered" in report.findings[0].message
    with pytest.raises(CommandError) as excinfo:
        run_command("--no-record")
    assert excinfo.value.returncode == 1
    assert f"first bad sequence #{victim}" in str(excinfo.value)


@pytest.mark.parametrize("column,value", [
    ("actor_label", "someone-else"), ("action", "case.deleted"), ("object_id", "999"), ("case_id", 77),
    ("occurred_at", "2020-01-01 00:00:00"),
])
def test_every_hashed_column_is_covered(trail, tamper_sql, column, value):
    tamper_sql(f"UPDATE audit_auditevent SET {column} = %s WHERE sequence = %s", [value, trail[6].sequence])
    assert [f.sequence for f in verify_chain().findings] == [trail[6].sequence]


def test_a_rewrite_that_recomputes_the_hash_breaks_the_link_to_the_next_row(trail, tamper_sql):
    victim = trail[4]
    forged = event_hash(
        sequence=victim.sequence, occurred_at=victim.occurred_at, actor_id=None, actor_label="system", agency_id=None,
        action="forged", object_type="", object_id="", case_id=None, details={}, previous_hash=victim.previous_hash,
    )
    tamper_sql("UPDATE audit_auditevent SET action = 'forged', details = '{}', hash = %s WHERE sequence = %s",
               [forged, victim.sequence])
    report = verify_chain()
    assert [f.sequence for f in report.findings] == [victim.sequence]


def test_a_deleted_row_is_reported_as_the_gap_it_leaves(trail, tamper_sql):
    tamper_sql("DELETE FROM audit_auditevent WHERE sequence = %s", [trail[5].sequence])
    report = verify_chain()
    assert report.first_bad_sequence == trail[5].sequence
    assert "missing" in report.findings[0].message


def test_a_cut_off_tail_is_found_from_the_head(trail, tamper_sql):
    tamper_sql("DELETE FROM audit_auditevent WHERE sequence > %s", [trail[7].sequence])
    report = verify_chain()
    assert [f.sequence for f in report.findings] == [trail[8].sequence]


def test_a_cut_off_tail_with_the_head_moved_back_passes_the_chain_alone(trail, tamper_sql):
    """The chain by itself cannot see this; the signed checkpoints can (test_checkpoints.py)."""
    tamper_sql("DELETE FROM audit_auditevent WHERE sequence > %s", [trail[7].sequence])
    AuditHead.objects.filter(pk=1).update(sequence=trail[7].sequence, hash=trail[7].hash)
    assert verify_chain().ok


def test_small_batches_walk_the_same_chain(trail, tamper_sql):
    tamper_sql("UPDATE audit_auditevent SET actor_label = 'x' WHERE sequence = %s", [trail[8].sequence])
    report = verify_chain(batch_size=3)
    assert report.events_checked == trail[-1].sequence
    assert [f.sequence for f in report.findings] == [trail[8].sequence]


def test_the_json_report_and_the_recorded_verification_event(trail):
    out = run_command("--json")
    data = json.loads(out)
    assert data["ok"] is True and data["events_checked"] == trail[-1].sequence
    assert data["newest_checkpoint"] is None  # nothing was signed before this run
    # The run is recorded, then the verified head (with that event) is signed as a checkpoint.
    verified, made = AuditEvent.objects.get(action="audit.verified"), AuditEvent.objects.get(action="audit.checkpoint")
    assert verified.details["events_checked"] == trail[-1].sequence
    # (the platform's certificate is issued on first use, its events come before the signed head)
    assert made.details["sequence"] > verified.sequence and made.sequence == made.details["sequence"] + 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_walk_reads_ahead_and_still_names_the_row(tamper_sql):
    """On PostgreSQL, outside a transaction, batches are fetched by a second connection while the
    previous one is hashed; the result must be the same row-exact finding."""
    from casehub.audit.services import record_event

    events = [record_event("test.committed", details={"i": i}) for i in range(30)]
    assert verify_chain(batch_size=7).ok
    tamper_sql("UPDATE audit_auditevent SET action = 'x' WHERE sequence = %s", [events[17].sequence])
    report = verify_chain(batch_size=7)
    assert [f.sequence for f in report.findings] == [events[17].sequence]
    assert report.events_checked == events[-1].sequence


# --- rows inserted behind the application's back (an INSERT needs no trigger to be lifted) --------

def insert_row(sequence: int, *, previous_hash: str = "f" * 64, action: str = "case.closed",
               hash_: str | None = None) -> None:
    from datetime import UTC, datetime

    from django.db import connection

    at = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    if hash_ is None:  # a forger who knows the hashing rule makes the row self-consistent
        hash_ = event_hash(sequence=sequence, occurred_at=at, actor_id=None, actor_label="forger", agency_id=None,
                           action=action, object_type="", object_id="", case_id=None, details={},
                           previous_hash=previous_hash)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditevent (sequence, occurred_at, actor_label, action, object_type, object_id, "
            "details, previous_hash, hash) VALUES (%s, %s, 'forger', %s, '', '', '{}', %s, %s)",
            [sequence, at, action, previous_hash, hash_],
        )


@pytest.mark.parametrize("linked", [False, True], ids=["any-hash", "hash-recomputed-and-linked"])
def test_a_forged_row_appended_beyond_the_head_is_found(trail, linked):
    beyond = trail[-1].sequence + 1
    insert_row(beyond, previous_hash=trail[-1].hash if linked else "f" * 64, hash_=None if linked else "e" * 64)
    report = verify_chain()
    assert not report.ok
    assert report.first_bad_sequence == beyond
    assert any("beyond the head" in f.message and f.sequence == beyond for f in report.findings)
    with pytest.raises(CommandError):
        run_command("--no-record")


def test_a_forged_row_numbered_before_the_chain_is_found(trail):
    insert_row(0, previous_hash=trail[0].previous_hash)
    report = verify_chain()
    assert [f.sequence for f in report.findings] == [0]
    assert "not written by casehub" in report.findings[0].message


def test_a_stray_row_at_the_next_sequence_does_not_take_down_writes(trail, client):
    """The forged row would collide with the next event's unique sequence: the writer steps over it,
    says so in the trail, and every later event is appended as usual; the verifier names the stray."""
    from casehub.audit.services import record_event

    stray = trail[-1].sequence + 1
    insert_row(stray, previous_hash=trail[-1].hash)
    warning = record_event("test.after_the_forgery")  # would be an IntegrityError (a 500) before
    assert AuditEvent.objects.get(sequence=stray).actor_label == "forger"
    step = AuditEvent.objects.get(sequence=stray + 1)
    assert step.action == "audit.foreign_rows" and step.details == {"sequences": [stray]}
    assert step.previous_hash == trail[-1].hash  # the chain links past the forged row
    assert warning.sequence == stray + 2 and warning.previous_hash == step.hash
    assert client.post(reverse("login"), {"username": "nobody", "password": "x"}).status_code == 200
    assert AuditHead.objects.get().sequence == AuditEvent.objects.order_by("-sequence").first().sequence

    report = verify_chain()
    assert [f.sequence for f in report.findings] == [stray]
    assert "not part of the chain" in report.findings[0].message


def test_stray_rows_further_ahead_are_stepped_over_when_the_chain_reaches_them(trail):
    from casehub.audit.services import record_event

    ahead = trail[-1].sequence + 3
    insert_row(ahead)
    events = [record_event("test.filling", details={"i": i}) for i in range(4)]
    assert [e.sequence for e in events] == [ahead - 2, ahead - 1, ahead + 2, ahead + 3]
    assert AuditEvent.objects.get(sequence=ahead + 1).details == {"sequences": [ahead]}
    assert [f.sequence for f in verify_chain().findings] == [ahead]
