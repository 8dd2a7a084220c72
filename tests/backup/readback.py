"""Read every case back completely and print a digest (run with the platform's environment).

``python -m tests.backup.readback`` prints one JSON object: per case its particulars, persons,
numbers, clocks, transition log, transfers (with manifest/receipt hashes) and every document and
volume — each re-read from the object store through the verifying reader, so a missing or
altered object fails here. The backup test compares the digest of the original installation
with that of the restored one.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any


def _rows(qs, *fields: str) -> list[list[Any]]:
    return [[str(v) for v in row] for row in qs.values_list(*fields)]


def digest() -> dict[str, Any]:
    from casehub.audit.models import AuditEvent
    from casehub.cases.models import Case
    from casehub.clocks.models import Clock
    from casehub.dossier.models import Document, Volume
    from casehub.objectstore.services import open_object
    from workflows.models import Transfer, TransitionLog

    def content(stored) -> str | None:
        if stored is None:
            return None
        h = hashlib.sha256()
        with open_object(stored) as reader:
            for chunk in reader:
                h.update(chunk)
        assert h.hexdigest() == stored.sha256
        return stored.sha256

    cases = {}
    for case in Case.objects.order_by("pk"):
        cases[str(case.pk)] = {
            "case": [case.title, case.summary, case.stage, case.status, case.holder_agency.code, case.version],
            "persons": _rows(case.persons.order_by("pk"), "name", "id_number", "custody_status"),
            "numbers": _rows(case.numbers.order_by("pk"), "kind", "number"),
            "clocks": _rows(Clock.objects.filter(case=case).order_by("pk"), "kind", "status", "due_date"),
            "log": _rows(TransitionLog.objects.filter(case=case).order_by("pk"), "transition", "source", "target"),
            "transfers": _rows(Transfer.objects.filter(case=case).order_by("pk"), "kind", "status",
                               "manifest_sha256", "verification_status"),
            "documents": [[d.title, content(d.stored)] for d in Document.objects.filter(case=case).order_by("pk")],
            "volumes": [[v.part, v.number, v.status, content(getattr(v, "assembled", None))]
                        for v in Volume.objects.filter(case=case).order_by("pk")],
        }
    # (The audit trail is compared by restore.sh against the manifest's head; verify_storage adds
    # an event of its own after the restore, so a count here would differ by design.)
    return {"cases": cases, "audit_events_of_cases": AuditEvent.objects.filter(case_id__isnull=False)
            .exclude(action__startswith="storage.").count()}


if __name__ == "__main__":  # pragma: no cover - run by the test in a subprocess
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casehub.settings")
    import django

    django.setup()
    print(json.dumps(digest(), ensure_ascii=False, sort_keys=True))
