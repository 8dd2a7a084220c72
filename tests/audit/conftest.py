"""Helpers for tampering with the audit trail the way someone with database rights could."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from casehub.audit.db import install_triggers


@pytest.fixture(autouse=True)
def _trail_tests_may_record_test_codes(monkeypatch):
    """The tests of the trail itself (chain, verify, checkpoints, pages) append events named
    ``test.*`` that no code records; everywhere else only declared actions may be recorded."""
    from casehub.audit import services

    real = services.is_declared
    monkeypatch.setattr(services, "is_declared", lambda action: action.startswith("test.") or real(action))


def tamper(sql: str, params: list[Any] | tuple[Any, ...] = ()) -> None:
    """Run raw SQL on the audit table behind the application's back.

    PostgreSQL: the way a DBA would — disable the trigger, write, enable it again. SQLite has no
    DISABLE TRIGGER: drop the triggers and re-create them.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Deferred FK checks pending from this test's inserts would block ALTER TABLE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            tables = ("audit_auditevent", "audit_auditcheckpoint")
            for table in tables:
                if table in connection.introspection.table_names():
                    cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            cursor.execute(sql, params)
            for table in tables:
                if table in connection.introspection.table_names():
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        else:
            for table, op in (("audit_auditevent", "update"), ("audit_auditevent", "delete"),
                              ("audit_auditcheckpoint", "update"), ("audit_auditcheckpoint", "delete")):
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}")
            cursor.execute(sql, params)
            install_triggers(connection)


@pytest.fixture
def tamper_sql() -> Callable[..., None]:
    return tamper


@pytest.fixture
def trail(db):
    """Ten ordinary events from a few actors, committed to the chain."""
    from casehub.audit.services import record_event

    return [
        record_event(f"test.action{i % 3}", details={"n": i, "note": f"笔录第{i}页", "nested": {"b": 1, "a": [i]}})
        for i in range(1, 11)
    ]

