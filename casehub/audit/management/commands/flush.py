"""``manage.py flush`` that can empty the append-only audit tables.

Django's flush (also run between transactional tests) deletes every row with ``DELETE`` (SQLite)
or ``TRUNCATE`` (PostgreSQL), which the audit triggers refuse. Emptying the whole database is the
one legitimate wholesale removal, so this command lifts the guard for that single transaction
and re-creates it before committing. It overrides Django's built-in command because apps'
commands take precedence over ``django.core``'s.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush
from django.db import connections

from casehub.audit.db import guard_lifted


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        with guard_lifted(connection):
            super().handle(**options)
