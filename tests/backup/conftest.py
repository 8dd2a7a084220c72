"""Fixtures of the backup tests: the fault tests' SQLite database file (the scripts run in subprocesses)."""

from tests.faults.conftest import file_database  # noqa: F401  (fixture)
