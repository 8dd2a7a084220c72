"""A throwaway PostgreSQL database for a bench (not a bench itself: `make bench` skips files
starting with an underscore). ``BENCH_POSTGRES`` names the server, trust authentication assumed."""

from __future__ import annotations

import os

SERVER = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


def admin(sql: str) -> None:
    """Run one statement on the server's maintenance database, outside any transaction."""
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def fresh_database(name: str) -> None:
    """Drop and create database ``name``, point Django at it and migrate it."""
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"{SERVER}/{name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
