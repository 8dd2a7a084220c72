"""What changed in a re-sent package: its documents against the previous package on the same route.

A case returned for supplementary investigation (or a package refused and sent again) travels the
same route twice. The reader of the second package wants to know what is new since the first. Both
packages carry a signed manifest that lists each document by id; the comparison reads only the two
manifests and, to tell a correction from a new document, the ``supersedes`` chain of the documents.

- **new**: in this package, not in the previous one, and not a correction of a document that was;
- **replaced**: a correction (``supersedes``, over any number of steps) of a document of the previous
  package — shown with the title it replaces;
- **removed**: in the previous package and neither in this one nor corrected by one of it (withdrawn
  from the dossier, or no longer sent).

The previous package is the latest earlier online package of the same case, kind, sender and
receiver, whatever became of it (accepted, refused, withdrawn).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workflows.models import Transfer, TransferMode


@dataclass
class PackageChanges:
    previous: Transfer
    new: list[dict[str, Any]] = field(default_factory=list)
    replaced: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)  # (this, previous)
    removed: list[dict[str, Any]] = field(default_factory=list)
    marks: dict[int, str] = field(default_factory=dict)  # document id in this package → "new" | "replaced"
    replaces: dict[int, str] = field(default_factory=dict)  # document id → title of the one it replaces
    withdrawn: set[int] = field(default_factory=set)  # ids of removed documents withdrawn from the dossier

    @property
    def any(self) -> bool:
        return bool(self.new or self.replaced or self.removed)


def previous_package(transfer: Transfer) -> Transfer | None:
    if transfer.case_id is None or transfer.mode != TransferMode.ONLINE:
        return None
    return (Transfer.objects.filter(case_id=transfer.case_id, kind=transfer.kind, mode=TransferMode.ONLINE,
                                    from_agency_id=transfer.from_agency_id, to_agency_id=transfer.to_agency_id)
            .filter(sent_at__lte=transfer.sent_at).exclude(pk=transfer.pk)
            .exclude(sent_at=transfer.sent_at, pk__gt=transfer.pk)
            .order_by("-sent_at", "-id").first())


def _documents(manifest: Any) -> list[dict[str, Any]]:
    docs = manifest.get("documents") if isinstance(manifest, dict) else None
    return [d for d in docs or [] if isinstance(d, dict) and isinstance(d.get("id"), int)]


def package_changes(transfer: Transfer, previous: Transfer | None = None) -> PackageChanges | None:
    """The changes of ``transfer`` against the previous package on its route; None for a first package."""
    previous = previous or previous_package(transfer)
    if previous is None:
        return None
    current, before = _documents(transfer.manifest), _documents(previous.manifest)
    before_by_id = {d["id"]: d for d in before}
    current_ids = {d["id"] for d in current}
    # The case's corrections, to follow a document back to the one it replaces.
    Document = transfer.documents.model  # casehub.dossier sits above this package (no import)
    rows = Document.objects.filter(case_id=transfer.case_id).values_list("pk", "supersedes_id", "withdrawn_at")
    supersedes = {pk: parent for pk, parent, _ in rows if parent}
    withdrawn = {pk for pk, _, when in rows if when is not None}
    changes = PackageChanges(previous=previous)
    covered: set[int] = set()
    for doc in current:
        if doc["id"] in before_by_id:
            continue
        parent, seen = supersedes.get(doc["id"]), set()
        while parent is not None and parent not in before_by_id and parent not in seen:
            seen.add(parent)
            parent = supersedes.get(parent)
        if parent is not None and parent in before_by_id:
            old = before_by_id[parent]
            covered.add(parent)
            changes.replaced.append((doc, old))
            changes.marks[doc["id"]] = "replaced"
            changes.replaces[doc["id"]] = str(old.get("title", ""))
        else:
            changes.new.append(doc)
            changes.marks[doc["id"]] = "new"
    changes.removed = [d for d in before if d["id"] not in current_ids and d["id"] not in covered]
    changes.withdrawn = {d["id"] for d in changes.removed if d["id"] in withdrawn}
    return changes


def mark_changes(documents: list[Any], changes: PackageChanges | None) -> list[Any]:
    """The manifest's document entries, each with ``change`` ("new", "replaced" or "") and, for a
    correction, ``replaces`` (the title it replaces), for the package page."""
    marks = changes.marks if changes is not None else {}
    replaces = changes.replaces if changes is not None else {}
    return [{**d, "change": marks.get(d.get("id"), ""), "replaces": replaces.get(d.get("id"), "")}
            if isinstance(d, dict) else d for d in documents]
