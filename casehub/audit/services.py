"""Writing the audit trail. Every service function calls :func:`record_event` inside its own
transaction, so an action and its audit row commit or roll back together.

Appending locks the chain's single head row until the transaction commits, so every audited action
of the platform (a page view, a download) waits for it. A long transaction — a transition that
assembles, signs and stores — therefore collects its events with :func:`deferred` and appends them
all at its very end: the head is locked only for those inserts and the commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.db import models, transaction

from casehub.audit.chain import GENESIS_HASH, event_hash
from casehub.audit.models import AuditEvent, AuditHead


def _jsonable(details: dict[str, Any] | None) -> dict[str, Any]:
    # Round-trip so the stored JSON and the hashed JSON are the same value.
    return json.loads(json.dumps(details or {}, default=str, ensure_ascii=False))


_DEFERRED: ContextVar[list[dict[str, Any]] | None] = ContextVar("casehub_audit_deferred", default=None)


@contextmanager
def deferred() -> Iterator[None]:
    """Collect the :func:`record_event` calls of the block and append them, in order, when it ends
    without an exception (still inside the caller's transaction: they commit or roll back with it).
    Each event keeps the time it was recorded at."""
    buffer: list[dict[str, Any]] = []
    token = _DEFERRED.set(buffer)
    try:
        yield
    except BaseException:
        _DEFERRED.reset(token)
        raise
    _DEFERRED.reset(token)
    if buffer:
        _chain([_unchained(**kwargs) for kwargs in buffer])


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
    one after another and the sequence has no gaps. Inside :func:`deferred` the event is appended
    when the block ends (and None is returned).
    """
    buffer = _DEFERRED.get()
    kwargs = {"action": action, "actor": actor, "agency": agency, "obj": obj, "case": case,
              "details": _jsonable(details),
              "occurred_at": datetime.now(UTC)}
    if buffer is not None:
        buffer.append(kwargs)
        return None
    return _append(**kwargs)


def _unchained(*, action: str, actor: Any, agency: Any, obj: models.Model | None, case: Any,
               details: dict[str, Any] | None, occurred_at: datetime) -> AuditEvent:
    """The event without its place in the chain (sequence, previous hash, hash) — built before the
    head is locked."""
    if agency is None and actor is not None:
        agency = getattr(actor, "agency", None)
    case_id = getattr(case, "pk", case)
    if case_id is None and obj is not None and obj.__class__.__name__ == "Case":
        case_id = obj.pk
    return AuditEvent(
        occurred_at=occurred_at,
        actor_id=getattr(actor, "pk", None),
        actor_label=actor.get_username() if actor is not None else "system",
        agency_id=getattr(agency, "pk", agency),
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        case_id=case_id,
        details=_jsonable(details),
    )


def _chain(events: list[AuditEvent]) -> list[AuditEvent]:
    """Lock the head, give ``events`` their sequence and hashes, insert them, move the head: the only
    part of appending that holds the lock."""
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            AuditHead.objects.get_or_create(pk=1, defaults={"sequence": 0, "hash": GENESIS_HASH})
            head = AuditHead.objects.select_for_update().get(pk=1)
        sequence, previous = head.sequence, head.hash
        for event in events:
            sequence += 1
            event.sequence, event.previous_hash = sequence, previous
            event.hash = previous = event_hash(
                sequence=event.sequence, occurred_at=event.occurred_at, actor_id=event.actor_id,
                actor_label=event.actor_label, agency_id=event.agency_id, action=event.action,
                object_type=event.object_type, object_id=event.object_id, case_id=event.case_id,
                details=event.details, previous_hash=event.previous_hash,
            )
        if len(events) == 1:
            events[0].save(force_insert=True)
        else:
            AuditEvent.objects.bulk_create(events)
        AuditHead.objects.filter(pk=1).update(sequence=sequence, hash=previous)
    return events


def _append(**kwargs: Any) -> AuditEvent:
    return _chain([_unchained(**kwargs)])[0]
