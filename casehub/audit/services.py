"""Writing the audit trail. Every service function calls :func:`record_event` inside its own
transaction, so an action and its audit row commit or roll back together."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import models, transaction

from casehub.audit.chain import GENESIS_HASH, event_hash
from casehub.audit.models import AuditEvent, AuditHead

# Read-only projections of the trail (the integration feed) registered by the apps that own them,
# run in the event's transaction after its row is written. They may add rows of their own; they
# never change the event or the case.
_PROJECTIONS: list[Callable[[AuditEvent, models.Model | None], None]] = []


def register_projection(projection: Callable[[AuditEvent, models.Model | None], None]) -> None:
    """Add a projection of audit events (idempotent: an app's ``ready`` may run twice in tests)."""
    if projection not in _PROJECTIONS:
        _PROJECTIONS.append(projection)


def _jsonable(details: dict[str, Any] | None) -> dict[str, Any]:
    # Round-trip so the stored JSON and the hashed JSON are the same value.
    return json.loads(json.dumps(details or {}, default=str, ensure_ascii=False))


def record_event(
    action: str,
    *,
    actor: Any = None,
    agency: Any = None,
    obj: models.Model | None = None,
    case: Any = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction (or a new one).

    ``actor`` is a user (or None for the platform itself); ``agency`` defaults to the actor's
    agency; ``case`` is a Case or its id. The head row is locked, so concurrent writers append
    one after another and the sequence has no gaps.
    """
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            AuditHead.objects.get_or_create(pk=1, defaults={"sequence": 0, "hash": GENESIS_HASH})
            head = AuditHead.objects.select_for_update().get(pk=1)
        if agency is None and actor is not None:
            agency = getattr(actor, "agency", None)
        case_id = getattr(case, "pk", case)
        if case_id is None and obj is not None and obj.__class__.__name__ == "Case":
            case_id = obj.pk
        actor_id = getattr(actor, "pk", None)
        actor_label = actor.get_username() if actor is not None else "system"
        event = AuditEvent(
            sequence=head.sequence + 1,
            occurred_at=datetime.now(UTC),
            actor_id=actor_id,
            actor_label=actor_label,
            agency_id=getattr(agency, "pk", agency),
            action=action,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            case_id=case_id,
            details=_jsonable(details),
            previous_hash=head.hash,
        )
        event.hash = event_hash(
            sequence=event.sequence, occurred_at=event.occurred_at, actor_id=event.actor_id,
            actor_label=event.actor_label, agency_id=event.agency_id, action=event.action,
            object_type=event.object_type, object_id=event.object_id, case_id=event.case_id,
            details=event.details, previous_hash=event.previous_hash,
        )
        event.save(force_insert=True)
        AuditHead.objects.filter(pk=1).update(sequence=event.sequence, hash=event.hash)
        for projection in _PROJECTIONS:
            projection(event, obj)
        return event
