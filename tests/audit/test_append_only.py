"""The audit trail can only grow: the application refuses edits and so does the database."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from casehub.audit.models import AppendOnlyError, AuditEvent
from casehub.audit.services import record_event

pytestmark = pytest.mark.django_db


def test_model_save_and_delete_of_an_existing_event_are_refused(trail):
    total = AuditEvent.objects.count()
    event = AuditEvent.objects.get(pk=trail[2].pk)
    event.action = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=trail[2].pk).update(action="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(sequence__gt=trail[4].sequence).delete()
    assert AuditEvent.objects.get(pk=trail[2].pk).action == "test.action0"
    assert AuditEvent.objects.count() == total


@pytest.mark.parametrize("sql", [
    "UPDATE audit_auditevent SET action = 'rewritten' WHERE id = %(id)s",
    "DELETE FROM audit_auditevent WHERE id = %(id)s",
    "DELETE FROM audit_auditevent",
])
def test_database_trigger_refuses_raw_update_and_delete(trail, sql):
    total = AuditEvent.objects.count()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql % {"id": trail[2].pk})
    assert AuditEvent.objects.count() == total
    assert AuditEvent.objects.get(pk=trail[2].pk).action == "test.action0"


@pytest.mark.postgres  # SQLite has no TRUNCATE; its "DELETE FROM t" is refused above
def test_truncate_is_refused_too(trail):
    total = AuditEvent.objects.count()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as c:
        c.execute("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.count() == total


def test_inserting_is_still_allowed_and_the_sequence_has_no_gaps(trail):
    event = record_event("test.more")
    assert event.sequence == trail[-1].sequence + 1
    assert event.previous_hash == trail[-1].hash


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_trail_and_keeps_the_guard():
    record_event("test.before_flush")
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.filter(action="test.before_flush").exists()
    after = record_event("test.after_flush")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent")
    assert AuditEvent.objects.filter(pk=after.pk).exists()
