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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction

from casehub.audit.actions import AuditAction, UndeclaredAuditAction, is_declared
from casehub.audit.chain import GENESIS_HASH, event_hash
from casehub.audit.checkpoints import schedule_if_due
from casehub.audit.models import AuditEvent, AuditHead


# Read-only projections of the trail (the integration feed) registered by the apps that own them.
# A projection has two steps: ``prepare(event, obj)`` runs *before* the head is locked (the event
# has everything but its place in the chain; the queries a projection needs run here) and returns
# what ``write(pairs)`` — called once per appended batch, under the head lock, with the events now
# numbered — inserts. They may add rows of their own; they never change the event or the case.
@dataclass(frozen=True)
class Projection:
    prepare: Callable[[AuditEvent, models.Model | None], Any]
    write: Callable[[list[tuple[AuditEvent, Any]]], None]


_PROJECTIONS: list[Projection] = []


def register_projection(prepare: Callable[[AuditEvent, models.Model | None], Any],
                        write: Callable[[list[tuple[AuditEvent, Any]]], None]) -> None:
    """Add a projection of audit events (idempotent: an app's ``ready`` may run twice in tests)."""
    projection = Projection(prepare, write)
    if projection not in _PROJECTIONS:
        _PROJECTIONS.append(projection)


FOREIGN_ROWS_ACTION = AuditAction.AUDIT_FOREIGN_ROWS


def _jsonable(details: dict[str, Any] | None) -> dict[str, Any]:
    # Round-trip so the stored JSON and the hashed JSON are the same value.
    return json.loads(json.dumps(details or {}, default=str, ensure_ascii=False))


logger = logging.getLogger(__name__)

# How far past the numbers a batch needs one probe for rows the platform did not write looks.
_PROBE = 16


class _FreeSequences:
    """The sequence numbers after the head that no row occupies, in order, one probe per window.

    Normally the probe of the unique index finds nothing and the batch takes ``head + 1 …
    head + n``. A row someone inserted behind the application's back, numbered where the chain
    would go next, is stepped over instead of collided with: its unique ``sequence`` must not turn
    every audited request into an error. ``verify_audit`` reports the row it stepped over.
    """

    def __init__(self, after: int, count: int) -> None:
        self.candidate = after + 1
        self.window = max(count, 1) + _PROBE
        self._load(self.candidate)

    def _load(self, start: int) -> None:
        self.start, self.stop = start, start + self.window
        self.taken = set(AuditEvent.objects.filter(sequence__gte=self.start, sequence__lt=self.stop)
                         .values_list("sequence", flat=True))

    def next(self) -> tuple[int, list[int]]:
        """The next free number, and the occupied numbers stepped over to reach it."""
        skipped = []
        while True:
            if self.candidate >= self.stop:
                self._load(self.candidate)
            if self.candidate not in self.taken:
                self.candidate += 1
                return self.candidate - 1, skipped
            skipped.append(self.candidate)
            self.candidate += 1


def _numbered(event: AuditEvent, sequence: int, previous_hash: str) -> AuditEvent:
    event.sequence, event.previous_hash = sequence, previous_hash
    event.hash = event_hash(
        sequence=event.sequence, occurred_at=event.occurred_at, actor_id=event.actor_id,
        actor_label=event.actor_label, agency_id=event.agency_id, action=event.action,
        object_type=event.object_type, object_id=event.object_id, case_id=event.case_id,
        details=event.details, previous_hash=event.previous_hash,
    )
    return event


def _foreign_rows_warning(skipped: list[int]) -> AuditEvent:
    logger.error("audit trail: rows %s were not written by casehub; the chain steps over them", skipped)
    return AuditEvent(occurred_at=datetime.now(UTC), actor_id=None, actor_label="system", agency_id=None,
                      action=str(FOREIGN_ROWS_ACTION), object_type="", object_id="", case_id=None,
                      details={"sequences": skipped[:100]})


class _Kept:
    """A no-op on-commit callback that marks one deferred event: Django drops the callbacks of a
    savepoint that rolls back, so an event whose marker is gone at the flush was recorded in work
    that was undone, and is not appended."""

    def __call__(self) -> None:
        return None


_DEFERRED: ContextVar[list[tuple[AuditEvent, models.Model | None, _Kept | None]] | None] = ContextVar(
    "casehub_audit_deferred", default=None)


@contextmanager
def deferred() -> Iterator[None]:
    """Collect the :func:`record_event` calls of the block and append them, in order and in one batch,
    when it ends without an exception — the block's last statement, still inside the caller's
    transaction (they commit or roll back with it; ``on_commit`` would be too late: the events must
    be in the transaction). The head is locked only for that batch and the commit that follows.

    Each event keeps the time it was recorded at. An event recorded inside a savepoint that was
    rolled back is dropped, as it would have been had it been appended at once; so is everything
    the block recorded when it raises. Nested blocks join the outermost one.
    """
    outer = _DEFERRED.get()
    if outer is not None:  # nested: the outermost block appends, at its end
        mark = len(outer)
        try:
            yield
        except BaseException:
            del outer[mark:]
            raise
        return
    buffer: list[tuple[AuditEvent, models.Model | None, _Kept | None]] = []
    token = _DEFERRED.set(buffer)
    try:
        yield
    finally:
        _DEFERRED.reset(token)
    if buffer:
        _flush(buffer)


def _flush(buffer: list[tuple[AuditEvent, models.Model | None, _Kept | None]]) -> None:
    if connection.in_atomic_block:
        live = {id(func) for _sids, func, _robust in connection.run_on_commit}
        items = [(event, obj) for event, obj, kept in buffer if kept is None or id(kept) in live]
    else:  # a block outside any transaction (the engine never does that): what committed stays committed
        items = [(event, obj) for event, obj, _kept in buffer]
    if not items:
        return
    if connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1:
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED on PostgreSQL: the checks of
        # every row this transaction wrote would run at COMMIT, under the head lock. Run them now.
        # Only when the transaction ends after this block (the outermost one): a caller's longer
        # transaction keeps its deferred checks for whatever it does next.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    _chain(items)


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
        kept = None
        if connection.in_atomic_block:
            kept = _Kept()
            transaction.on_commit(kept)
        buffer.append((event, obj, kept))
        return None
    return _chain([(event, obj)])[-1]


def _chain(items: list[tuple[AuditEvent, models.Model | None]]) -> list[AuditEvent]:
    """Append ``items`` in order: the projections prepare (their queries) first, then
    :func:`_locked_append` — the only part of appending that holds the head's lock."""
    prepared = [[projection.prepare(event, obj) for event, obj in items] for projection in _PROJECTIONS]
    return _locked_append(items, prepared)


def _locked_append(items: list[tuple[AuditEvent, models.Model | None]], prepared: list[list[Any]]) -> list[AuditEvent]:
    """Lock the head, number and hash the events, insert them and move the head (on PostgreSQL one
    statement, :func:`_append_in_one_statement`), let the projections write theirs (one statement
    each). The lock is held until the transaction commits: nothing else should follow in it."""
    # No savepoint: inside a transaction an error here must fail the caller's transaction anyway
    # (an action whose audit row was not written cannot commit), and it is a statement less.
    with transaction.atomic(savepoint=False):
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            AuditHead.objects.get_or_create(pk=1, defaults={"sequence": 0, "hash": GENESIS_HASH})
            head = AuditHead.objects.select_for_update().get(pk=1)
        rows = _append_in_one_statement(head, items) if connection.vendor == "postgresql" else None
        if rows is None:
            rows = _append_stepping_over(head, items)
        events = [event for event, _obj in items]
        for projection, results in zip(_PROJECTIONS, prepared, strict=True):
            projection.write(list(zip(events, results, strict=True)))
        schedule_if_due(rows[-1].sequence)
    return events


def _append_stepping_over(head: AuditHead, items: list[tuple[AuditEvent, models.Model | None]]) -> list[AuditEvent]:
    """Number the events after the head, stepping over rows casehub did not write (each run of them
    announced by an ``audit.foreign_rows`` event), insert them and move the head."""
    free = _FreeSequences(head.sequence, len(items))
    previous = head.hash
    rows: list[AuditEvent] = []
    for event, _obj in items:
        sequence, skipped = free.next()
        if skipped:
            rows.append(_numbered(_foreign_rows_warning(skipped), sequence, previous))
            previous = rows[-1].hash
            sequence, _again = free.next()  # a row right after the warning's: stepped over silently
        rows.append(_numbered(event, sequence, previous))
        previous = event.hash
    AuditEvent.objects.bulk_create(rows)
    AuditHead.objects.filter(pk=1).update(sequence=rows[-1].sequence, hash=rows[-1].hash)
    return rows


_COLUMNS = ("sequence", "occurred_at", "actor", "actor_label", "agency", "action", "object_type", "object_id",
            "case_id", "details", "previous_hash", "hash")


def _append_in_one_statement(head: AuditHead, items: list[tuple[AuditEvent, models.Model | None]]) -> list[AuditEvent] | None:
    """PostgreSQL, the usual case: the events take ``head + 1 … head + n``. One statement checks that
    no row occupies those numbers, inserts the events and moves the head — one round trip under the
    lock instead of three. None (and nothing written) if a row is in the way: the caller then steps
    over it. The statement starts after the head's lock was granted, so (READ COMMITTED) it sees
    every row the previous holder committed."""
    previous = head.hash
    rows = []
    for offset, (event, _obj) in enumerate(items, start=1):
        rows.append(_numbered(event, head.sequence + offset, previous))
        previous = event.hash
    fields = [AuditEvent._meta.get_field(name) for name in _COLUMNS]
    quote = connection.ops.quote_name
    casts = [f"%s::{field.db_type(connection)}" for field in fields]
    values = ", ".join(f"({', '.join(casts)})" for _row in rows)
    params: list[Any] = [head.sequence + 1, rows[-1].sequence]
    for row in rows:
        params.extend(field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields)
    params.extend([rows[-1].sequence, rows[-1].hash])
    columns = ", ".join(quote(field.column) for field in fields)
    table, head_table = quote(AuditEvent._meta.db_table), quote(AuditHead._meta.db_table)
    # Only identifiers of this app's models and placeholders are interpolated; every value is a parameter.
    free = f"SELECT NOT EXISTS (SELECT 1 FROM {table} WHERE {quote('sequence')} BETWEEN %s AND %s) AS ok"  # noqa: S608
    sql = (
        f"WITH free AS ({free}), "  # noqa: S608
        f"inserted AS (INSERT INTO {table} ({columns}) SELECT * FROM (VALUES {values}) AS v "
        f"WHERE (SELECT ok FROM free) RETURNING {quote('id')}, {quote('sequence')}), "
        f"moved AS (UPDATE {head_table} SET {quote('sequence')} = %s, {quote('hash')} = %s "
        f"WHERE {quote('id')} = 1 AND (SELECT ok FROM free) RETURNING 1) "
        f"SELECT {quote('id')}, {quote('sequence')} FROM inserted ORDER BY {quote('sequence')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = cursor.fetchall()
    if not inserted:
        return None
    assert [seq for _pk, seq in inserted] == [row.sequence for row in rows], inserted
    for row, (pk, _seq) in zip(rows, inserted, strict=True):
        row.pk = pk
        row._state.adding = False
        row._state.db = connection.alias
    return rows
