"""``manage.py verify_audit``: recompute the audit chain and its signed checkpoints.

Exit status 0 when everything matches; 1 when something does not, after printing the first bad
sequence number and every finding (at most 100). It says how far back the newest signed checkpoint
is (the events after it are protected by the hash chain alone) and, when the trail verified and the
run is recorded, signs a new one. On PostgreSQL the hashes are recomputed by one process per core
(``--workers``). ``--json`` prints the report as JSON for monitoring.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from casehub.audit.verify import default_workers, verify_audit_trail


class Command(BaseCommand):
    help = "Recompute the audit hash chain and verify the signed checkpoints."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("--no-record", action="store_true",
                            help="do not append an audit.verified event for this run")
        parser.add_argument("--workers", type=int, default=None,
                            help="processes that recompute hashes (PostgreSQL; default: one per core)")

    def handle(self, *args: Any, **options: Any) -> None:
        workers = options["workers"] or default_workers()
        report = verify_audit_trail(record=not options["no_record"], workers=workers)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False))
        else:
            self.stdout.write(
                f"checked {report.events_checked} events (head #{report.head_sequence}) and "
                f"{report.checkpoints_checked} checkpoints in {report.seconds:.2f} s "
                f"({report.events_per_second:,.0f} events/s)"
            )
            self.stdout.write(report.checkpoint_summary())
            for finding in report.findings:
                self.stdout.write(f"  {finding}")
        if not report.ok:
            raise CommandError(f"audit trail verification FAILED: first bad sequence #{report.first_bad_sequence}",
                               returncode=1)
        if not options["json"]:
            self.stdout.write(self.style.SUCCESS("audit trail verified"))
