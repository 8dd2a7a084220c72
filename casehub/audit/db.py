"""Database-level protection of the audit tables: triggers that refuse UPDATE and DELETE.

The application never edits the trail (see :class:`~casehub.audit.models.AppendOnlyQuerySet`), but
an application guard only stops the application. These triggers stop every client that connects
with ordinary rights, including a mistaken ``UPDATE`` typed into a SQL console. Someone who may
disable triggers (the table owner, a superuser) can still rewrite rows; the hash chain and the
signed checkpoints in the write-once object store are what make that detectable.

The same SQL is used by the migration, by our ``flush`` override (tests and ``manage.py flush``
empty the database and must lift the guard for exactly that statement) and by the tests that
tamper with a row behind the application's back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction

# Tables that are append-only. AuditHead is *not* here: it is the append lock, updated each time.
PROTECTED_TABLES: tuple[str, ...] = ("audit_auditevent", "audit_auditcheckpoint")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION casehub_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
"""


def _table_exists(connection: Any, table: str) -> bool:
    return table in connection.introspection.table_names()


def _pg_install(cursor: Any, table: str) -> None:
    cursor.execute(_PG_FUNCTION)
    cursor.execute(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION casehub_audit_refuse_change()"
    )
    cursor.execute(
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION casehub_audit_refuse_change()"
    )


def _sqlite_install(cursor: Any, table: str) -> None:
    for op in ("UPDATE", "DELETE"):
        cursor.execute(
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, 'audit trail is append-only: {op} on {table} refused'); END"
        )


def install_triggers(connection: Any, tables: tuple[str, ...] = PROTECTED_TABLES) -> None:
    """Create the refusing triggers on every protected table that exists (idempotent on SQLite)."""
    with connection.cursor() as cursor:
        for table in tables:
            if not _table_exists(connection, table):
                continue
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
                _pg_install(cursor, table)
            elif connection.vendor == "sqlite":
                _sqlite_install(cursor, table)
            else:  # pragma: no cover - casehub supports PostgreSQL and SQLite only
                raise NotImplementedError(f"no append-only triggers for {connection.vendor}")


def drop_triggers(connection: Any, tables: tuple[str, ...] = PROTECTED_TABLES) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            if not _table_exists(connection, table):
                continue
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            else:
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


@contextmanager
def guard_lifted(connection: Any, tables: tuple[str, ...] = PROTECTED_TABLES) -> Iterator[None]:
    """Run a block with the triggers removed, in one transaction, and put them back.

    Both PostgreSQL and SQLite have transactional DDL, so the guard is never observed missing by
    another connection: either the whole block commits with the triggers re-created, or it rolls
    back. Only ``flush`` and tamper tests use this; no request path does.
    """
    with transaction.atomic(using=connection.alias):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # pending deferred FK checks would block the DDL
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        drop_triggers(connection, tables)
        yield
        install_triggers(connection, tables)
