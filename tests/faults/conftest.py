"""Fixtures of the fault tests: a real Celery worker, and a SQLite database file for threads and processes."""

import pytest
from django.db import connection, connections

from tests.fixtures.celery_worker import celery_worker  # noqa: F401  (fixture; see tests/fixtures/celery_worker.py)


@pytest.fixture
def file_database(tmp_path):
    """On SQLite, run on a database *file*, as the embedded default does in production.

    pytest-django's SQLite test database lives in shared-cache memory, where a second connection
    gets "table is locked" at once instead of waiting for the lock like a file database (busy
    timeout, BEGIN IMMEDIATE). That would test the test harness, not casehub. So the migrated,
    empty test database is copied to a file for the duration of the test; a raw connection keeps
    the in-memory one alive for the tests that follow. On PostgreSQL this fixture does nothing.
    """
    import sqlite3

    if connection.vendor != "sqlite":
        yield
        return
    settings_dict = connections.settings["default"]
    memory_name = settings_dict["NAME"]
    keeper = sqlite3.connect(memory_name, uri=True) if str(memory_name).startswith("file:") else None
    if keeper is None:  # already a file database
        yield
        return
    target = sqlite3.connect(tmp_path / "concurrency.sqlite3")
    keeper.backup(target)
    target.close()
    # Rename first: Django's SQLite backend ignores close() while NAME is an in-memory database.
    settings_dict["NAME"] = str(tmp_path / "concurrency.sqlite3")
    connections.close_all()
    try:
        yield
    finally:
        connections.close_all()
        settings_dict["NAME"] = memory_name
        connection.ensure_connection()  # back on the in-memory database before the keeper lets go
        keeper.close()
