"""Writing the audit trail. Every service function calls :func:`record_event` inside its own
transaction, so an action and its audit row commit or roll back together.

Appending locks the chain's single head row until the transaction commits, so every audited action
of the platform (a page view, a download) waits for it. A long transaction — a transition that
assembles, signs and stores — therefore collects its events with :func:`deferred` and appends them
all, in one batch, at its very end: the head is locked only for those inserts and the commit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import models, transaction

from casehub.audit.actions import AuditAction, UndeclaredAuditAction, is_declared
from casehub.audit.chain import GENESIS_HASH, event_hash
from casehub.audit.checkpoints import schedule_if_due
from casehub.audit.models import AuditEvent, AuditHead

# Read-only projections of the trail (the integration feed) registered by the apps that own them,
# run in the event's transaction after its row is written. They may add rows of their own; they
# never change the event or the case.
_PROJECTIONS: list[Callable[[AuditEvent, models.Model | None], None]] = []


def register_projection(projection: Callable[[AuditEvent, models.Model | None], None]) -> None:
    """Add a projection of audit events (idempotent: an app's ``ready`` may run twice in tests)."""
    if projection not in _PROJECTIONS:
        _PROJECTIONS.append(projection)


FOREIGN_ROWS_ACTION = AuditAction.AUDIT_FOREIGN_ROWS


def _jsonable(details: dict[str, Any] | None) -> dict[str, Any]:
    # Round-trip so the stored JSON and the hashed JSON are the same value.
    return json.loads(json.dumps(details or {}, default=str, ensure_ascii=False))


logger = logging.getLogger(__name__)

# How many occupied sequence numbers after the head one probe reads (normally it finds none).
_PROBE = 16


def _first_free_sequence(after: int) -> int:
    """The first sequence number after ``after`` that no row occupies.

    Normally ``after + 1`` (one probe of the unique index that finds nothing). A row someone
    inserted behind the application's back, numbered where the chain would go next, is stepped
    over instead of collided with: its unique ``sequence`` must not turn every audited request
    into an error. ``verify_audit`` reports the row it stepped over.
    """
    candidate = after + 1
    while True:
        taken = list(AuditEvent.objects.filter(sequence__gte=candidate).order_by("sequence")
                     .values_list("sequence", flat=True)[:_PROBE])
        for seq in taken:
            if seq != candidate:
                return candidate
            candidate += 1
        if len(taken) < _PROBE:
            return candidate


def _append(
    *, sequence: int, previous_hash: str, action: str, actor: Any, agency: Any, obj: models.Model | None,
    case_id: int | None, details: dict[str, Any],
) -> AuditEvent:
    actor_id = getattr(actor, "pk", None)
    event = AuditEvent(
        sequence=sequence,
        occurred_at=datetime.now(UTC),
        actor_id=actor_id,
        actor_label=actor.get_username() if actor is not None else "system",
        agency_id=getattr(agency, "pk", agency),
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        case_id=case_id,
        details=details,
        previous_hash=previous_hash,
    )
    event.hash = event_hash(
        sequence=event.sequence, occurred_at=event.occurred_at, actor_id=event.actor_id,
        actor_label=event.actor_label, agency_id=event.agency_id, action=event.action,
        object_type=event.object_type, object_id=event.object_id, case_id=event.case_id,
        details=event.details, previous_hash=event.previous_hash,
    )
    event.save(force_insert=True)
    return event


_DEFERRED: ContextVar[list[tuple[AuditEvent, models.Model | None]] | None] = ContextVar(
    "casehub_audit_deferred", default=None)


@contextmanager
def deferred() -> Iterator[None]:
    """Collect the :func:`record_event` calls of the block and append them, in order and in one batch,
    when it ends without an exception (still inside the caller's transaction: they commit or roll
    back with it). Each event keeps the time it was recorded at."""
    buffer: list[tuple[AuditEvent, models.Model | None]] = []
    token = _DEFERRED.set(buffer)
    try:
        yield
    except BaseException:
        _DEFERRED.reset(token)
        raise
    _DEFERRED.reset(token)
    if buffer:
        _chain(buffer)


def record_event(
    action: str,
    *,
    actor: Any = None,
    agency: Any = None,
    obj: models.Model | None = None,
    case: Any = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent | None:
    """Append one event to the chain, in the caller's transaction (or a new one).

    ``actor`` is a user (or None for the platform itself); ``agency`` defaults to the actor's
    agency; ``case`` is a Case or its id. The head row is locked, so concurrent writers append
    one after another and the sequence has no gaps — except over rows the platform did not write,
    which are stepped over and named in an ``audit.foreign_rows`` event. Inside :func:`deferred`
    the event is appended when the block ends (and None is returned).
    """
    if not is_declared(action):
        # A programming error (casehub/audit/actions.py): fail loudly wherever tests run; in
        # production record the event anyway — the trail must not lose an action over its name.
        if not getattr(settings, "PRODUCTION", False):
            raise UndeclaredAuditAction(action)
        logger.error("audit trail: undeclared action %r recorded", action)
    if agency is None and actor is not None:
        agency = getattr(actor, "agency", None)
    case_id = getattr(case, "pk", case)
    if case_id is None and obj is not None and obj.__class__.__name__ == "Case":
        case_id = obj.pk
    # Everything but the event's place in the chain is settled now, before the head is locked.
    event = AuditEvent(
        occurred_at=datetime.now(UTC), actor_id=getattr(actor, "pk", None),
        actor_label=actor.get_username() if actor is not None else "system", agency_id=getattr(agency, "pk", agency),
        action=str(action), object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "", case_id=case_id, details=_jsonable(details),
    )
    buffer = _DEFERRED.get()
    if buffer is not None:
        buffer.append((event, obj))
        return None
    return _chain([(event, obj)])[-1]


def _chain(items: list[tuple[AuditEvent, models.Model | None]]) -> list[AuditEvent]:
    """Lock the head, give the events their sequence and hashes, insert them, move the head, run the
    projections: the only part of appending that holds the lock."""
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            AuditHead.objects.get_or_create(pk=1, defaults={"sequence": 0, "hash": GENESIS_HASH})
            head = AuditHead.objects.select_for_update().get(pk=1)
        sequence, previous = _first_free_sequence(head.sequence), head.hash
        if sequence != head.sequence + 1:
            skipped = list(range(head.sequence + 1, sequence))
            logger.error("audit trail: rows %s were not written by casehub; the chain steps over them", skipped)
            warning = _append(sequence=sequence, previous_hash=previous, action=FOREIGN_ROWS_ACTION, actor=None,
                              agency=None, obj=None, case_id=None, details={"sequences": skipped[:100]})
            sequence, previous = _first_free_sequence(warning.sequence), warning.hash
        events = []
        for event, _obj in items:
            event.sequence, event.previous_hash = sequence, previous
            event.hash = previous = event_hash(
                sequence=event.sequence, occurred_at=event.occurred_at, actor_id=event.actor_id,
                actor_label=event.actor_label, agency_id=event.agency_id, action=event.action,
                object_type=event.object_type, object_id=event.object_id, case_id=event.case_id,
                details=event.details, previous_hash=event.previous_hash,
            )
            events.append(event)
            if len(events) < len(items):
                sequence = _first_free_sequence(sequence) if _taken_after(sequence) else sequence + 1
        if len(events) == 1:
            events[0].save(force_insert=True)
        else:
            AuditEvent.objects.bulk_create(events)
        AuditHead.objects.filter(pk=1).update(sequence=events[-1].sequence, hash=events[-1].hash)
        for event, obj in items:
            for projection in _PROJECTIONS:
                projection(event, obj)
            schedule_if_due(event.sequence)
    return events


def _taken_after(sequence: int) -> bool:
    # Rows inserted behind the application's back are rare; one indexed probe per batch event.
    return AuditEvent.objects.filter(sequence=sequence + 1).exists()
