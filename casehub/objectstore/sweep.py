"""The integrity sweep: re-hash stored objects and report what is missing or corrupt, and who owns it.

Run by ``manage.py verify_storage`` and, periodically, by the Celery beat entry
``objectstore-verify-storage`` (interval: ``settings.CASEHUB_STORAGE_SWEEP_INTERVAL``). Each run
leaves a :class:`~casehub.objectstore.models.StorageSweep` row, shown to auditors at
/objects/sweeps/, and one audit event.

"Owning records" are found by introspecting every relation that points at StoredObject, including
hidden ones (``related_name="+"``), so an app that adds a ForeignKey is covered without telling
this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from casehub.audit.services import record_event
from casehub.objectstore.models import StorageSweep, StoredObject
from casehub.objectstore.services import get_store, owners_by_object
from storage import CHUNK_SIZE, IntegrityError, ObjectNotFound, ObjectStore, StorageError, StorageUnavailable
from storage.base import key_for, sha256_from_key

BATCH = 500
# The sweep row keeps at most this many problem details (the counts are always exact and the
# command prints every problem); a store that lost everything should not produce a huge row.
MAX_STORED_PROBLEMS = 1000

MISSING = "missing"
CORRUPT = "corrupt"
UNREADABLE = "unreadable"
UNREFERENCED = "unreferenced"


@dataclass
class Problem:
    problem: str  # missing | corrupt | unreadable | unreferenced
    sha256: str
    key: str
    detail: str = ""
    owners: list[str] = field(default_factory=list)

    def line(self) -> str:
        owners = ", ".join(self.owners) if self.owners else "no owning record"
        return f"{self.problem.upper():<12} {self.key}  owners: {owners}" + (f"  ({self.detail})" if self.detail else "")


@dataclass
class Tally:
    objects: int = 0
    bytes: int = 0
    missing: int = 0
    corrupt: int = 0
    unreferenced: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        if problem.problem == MISSING:
            self.missing += 1
        elif problem.problem == UNREFERENCED:
            self.unreferenced += 1
        else:
            self.corrupt += 1
        if len(self.problems) < MAX_STORED_PROBLEMS:
            self.problems.append(problem)


def _check(store: ObjectStore, sha256: str, recorded_size: int | None) -> tuple[int, Problem | None]:
    """Re-hash one object; return (bytes read, problem or None). StorageUnavailable propagates."""
    key = key_for(sha256)
    read = 0
    try:
        with store.open(sha256) as reader:
            while chunk := reader.read(CHUNK_SIZE):
                read += len(chunk)
    except ObjectNotFound:
        return read, Problem(MISSING, sha256, key, "not in the store")
    except IntegrityError as exc:
        return read, Problem(CORRUPT, sha256, key, str(exc))
    except StorageUnavailable:
        raise
    except StorageError as exc:
        return read, Problem(UNREADABLE, sha256, key, str(exc))
    if recorded_size is not None and read != recorded_size:
        return read, Problem(CORRUPT, sha256, key, f"content is {read} bytes, the record says {recorded_size}")
    return read, None


def _batched(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_sweep(
    *,
    scope: str = StorageSweep.Scope.REFERENCED,
    trigger: str = "command",
    actor: Any = None,
    on_problem: Callable[[Problem], None] | None = None,
) -> StorageSweep:
    """Verify every object the database references (``scope="all"``: every object in the store).

    Returns the saved sweep. If the store becomes unreachable the sweep is saved as FAILED with
    the error and :class:`storage.StorageUnavailable` is raised.
    """
    if scope not in StorageSweep.Scope.values:
        raise ValueError(f"unknown sweep scope {scope!r}")
    store = get_store()
    # The "running" row is committed on its own so auditors see a sweep in progress; the result
    # and its audit event are written together at the end (a sweep can take hours: it must not
    # hold a transaction open meanwhile).
    sweep = StorageSweep.objects.create(scope=scope, trigger=trigger, store=store.description,
                                        started_at=datetime.now(UTC))
    tally = Tally()
    report = on_problem or (lambda problem: None)
    error = ""
    try:
        rows = StoredObject.objects.order_by("pk").values_list("pk", "sha256", "size").iterator(chunk_size=BATCH)
        for batch in _batched(rows, BATCH):
            found: list[tuple[int, Problem]] = []
            for pk, sha256, size in batch:
                read, problem = _check(store, sha256, size)
                tally.objects += 1
                tally.bytes += read
                if problem:
                    found.append((pk, problem))
            owners = owners_by_object(pk for pk, _ in found)
            for pk, problem in found:
                problem.owners = owners.get(pk, [])
                tally.add(problem)
                report(problem)
        if scope == StorageSweep.Scope.ALL:
            for keys in _batched(store.iter_keys(), BATCH):
                shas = {sha: key for key in keys if (sha := sha256_from_key(key))}
                known = set(StoredObject.objects.filter(sha256__in=shas).values_list("sha256", flat=True))
                for sha256 in sorted(shas.keys() - known):
                    read, problem = _check(store, sha256, None)
                    tally.objects += 1
                    tally.bytes += read
                    # Content nobody references (e.g. stored by a transaction that rolled back):
                    # reported for information; it is still write-once and still checked.
                    unreferenced = Problem(UNREFERENCED, sha256, shas[sha256], "no database record")
                    tally.add(unreferenced)
                    report(unreferenced)
                    if problem:
                        tally.add(problem)
                        report(problem)
    except Exception as exc:
        # Unreachable store (or anything else): the run is recorded as failed, never left "running".
        _finish(sweep, tally, StorageSweep.Status.FAILED, f"{type(exc).__name__}: {exc}", actor)
        raise
    status = StorageSweep.Status.PROBLEMS if (tally.missing or tally.corrupt) else StorageSweep.Status.OK
    _finish(sweep, tally, status, error, actor)
    return sweep


def _finish(sweep: StorageSweep, tally: Tally, status: str, error: str, actor: Any) -> None:
    with transaction.atomic():
        sweep.status = status
        sweep.finished_at = datetime.now(UTC)
        sweep.objects_checked = tally.objects
        sweep.bytes_checked = tally.bytes
        sweep.missing_count = tally.missing
        sweep.corrupt_count = tally.corrupt
        sweep.unreferenced_count = tally.unreferenced
        sweep.problems = [asdict(p) for p in tally.problems]
        sweep.error = error
        sweep.save()
        record_event(
            "objectstore.sweep",
            actor=actor,
            obj=sweep,
            details={
                "scope": sweep.scope, "status": status, "trigger": sweep.trigger,
                "objects": tally.objects, "bytes": tally.bytes, "missing": tally.missing,
                "corrupt": tally.corrupt, "unreferenced": tally.unreferenced, "error": error[:500],
                "problem_keys": [p.key for p in tally.problems if p.problem != UNREFERENCED][:50],
            },
        )

