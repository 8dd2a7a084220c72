"""The audit trail can only grow: the application refuses edits and so does the database."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from casehub.audit.models import AppendOnlyError, AuditEvent
from casehub.audit.services import record_event

pytestmark = pytest.mark.django_db


def test_model_save_and_delete_of_an_existing_event_are_refused(trail):
    event = AuditEvent.objects.get(sequence=3)
    event.action = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(sequence=3).update(action="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(sequence__gt=5).delete()
    assert AuditEvent.objects.get(sequence=3).action == "test.action0"
    assert AuditEvent.objects.count() == 10


@pytest.mark.parametrize("sql", [
    "UPDATE audit_auditevent SET action = 'rewritten' WHERE sequence = 3",
    "DELETE FROM audit_auditevent WHERE sequence = 10",
    "DELETE FROM audit_auditevent",
])
def test_database_trigger_refuses_raw_update_and_delete(trail, sql):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert AuditEvent.objects.count() == 10
    assert AuditEvent.objects.get(sequence=3).action == "test.action0"


def test_truncate_is_refused_too_where_the_database_has_it(trail):
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute("TRUNCATE audit_auditevent")
    else:  # SQLite has no TRUNCATE; its "DELETE FROM t" truncate optimisation is off when triggers exist
        with connection.cursor() as c:
            c.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_auditevent'")
            assert {r[0] for r in c.fetchall()} == {"audit_auditevent_no_update", "audit_auditevent_no_delete"}
    assert AuditEvent.objects.count() == 10


def test_inserting_is_still_allowed_and_the_sequence_has_no_gaps(trail):
    event = record_event("test.more")
    assert event.sequence == 11
    assert event.previous_hash == trail[-1].hash


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_trail_and_keeps_the_guard():
    record_event("test.before_flush")
    call_command("flush", interactive=False, verbosity=0)
    assert AuditEvent.objects.count() == 0
    record_event("test.after_flush")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent")
    assert AuditEvent.objects.count() == 1
