"""Regenerate the event catalogue in docs/api.md (a test fails when it is stale)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from casehub.integration.docs import DOC, render


class Command(BaseCommand):
    help = "Write the event catalogue of the change feed and webhooks into docs/api.md."

    def handle(self, *args: Any, **options: Any) -> None:
        current = DOC.read_text(encoding="utf-8")
        updated = render(current)
        if updated != current:
            DOC.write_text(updated, encoding="utf-8")
        self.stdout.write(f"{DOC}: event catalogue {'updated' if updated != current else 'up to date'}")
