"""Recomputing the audit chain (and, in :mod:`casehub.audit.checkpoints`, its signed checkpoints).

Each row is checked on its own: its hash must be the hash of its own fields, its ``previous_hash``
must be the stored hash of the row before, and sequence numbers must run without gaps up to the
head. Checking rows independently (instead of stopping at the first break) means that an edited
row is reported alone — the rows after it still link to its *stored* hash — while a deleted row
shows as the gap where it was.

*Every* row is read, not only those up to the head: a row inserted behind the application's back
beyond the head, or one the writer stepped over (see :func:`casehub.audit.services.record_event`),
is reported as not written by casehub — whatever hash it carries — because the chain of the
platform's own rows does not pass through it.

Rows are read with keyset pagination over the unique ``sequence`` index in plain SQL: no ORM
model instances, no server-side cursor, the same code on PostgreSQL and SQLite.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection as default_connection

from casehub.audit.chain import GENESIS_HASH, fast_event_hash
from casehub.audit.models import AuditHead

MAX_FINDINGS = 100
EMPTY: dict[str, Any] = {}  # shared by every event without details; never mutated
BATCH_SIZE = 20_000


@dataclass(frozen=True)
class Finding:
    sequence: int
    message: str

    def __str__(self) -> str:
        return f"#{self.sequence}: {self.message}"


@dataclass
class VerificationReport:
    events_checked: int = 0
    head_sequence: int = 0
    checkpoints_checked: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    # The newest signed checkpoint: events after it are protected by the hash chain alone (someone
    # with database rights could cut or rewrite them consistently), so the report says how far back it is.
    newest_checkpoint_sequence: int | None = None
    newest_checkpoint_signed_at: datetime | None = None

    @property
    def events_after_newest_checkpoint(self) -> int:
        return self.head_sequence - (self.newest_checkpoint_sequence or 0)

    def newest_checkpoint_age(self, now: datetime | None = None) -> float | None:
        """Seconds since the newest checkpoint was signed (None without one)."""
        if self.newest_checkpoint_signed_at is None:
            return None
        return ((now or datetime.now(UTC)) - self.newest_checkpoint_signed_at).total_seconds()

    def checkpoint_summary(self) -> str:
        if self.newest_checkpoint_sequence is None:
            return ("no signed checkpoint yet: the whole trail is protected by the hash chain alone "
                    f"({self.head_sequence} events)")
        age = self.newest_checkpoint_age() or 0.0
        return (f"newest signed checkpoint #{self.newest_checkpoint_sequence}, "
                f"{self.events_after_newest_checkpoint} events behind the head, signed {age / 60:.0f} min ago; "
                "events after it are protected by the hash chain alone")

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_bad_sequence(self) -> int | None:
        return min((f.sequence for f in self.findings), default=None)

    @property
    def events_per_second(self) -> float:
        return self.events_checked / self.seconds if self.seconds else 0.0

    def add(self, sequence: int, message: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(sequence, message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "events_checked": self.events_checked, "head_sequence": self.head_sequence,
            "checkpoints_checked": self.checkpoints_checked, "first_bad_sequence": self.first_bad_sequence,
            "findings": [str(f) for f in self.findings], "seconds": round(self.seconds, 3),
            "newest_checkpoint": None if self.newest_checkpoint_sequence is None else {
                "sequence": self.newest_checkpoint_sequence,
                "signed_at": self.newest_checkpoint_signed_at.isoformat() if self.newest_checkpoint_signed_at else None,
                "events_behind_head": self.events_after_newest_checkpoint,
                "age_seconds": round(self.newest_checkpoint_age() or 0.0),
            },
        }


def _sqlite_iso(value: str) -> str:
    # Django stores aware datetimes on SQLite as naive UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]".
    if len(value) == 26:
        return value[:10] + "T" + value[11:] + "+00:00"
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC).isoformat(timespec="microseconds")


class _EpochIso:
    """Microseconds since the epoch → the writer's ``isoformat(timespec="microseconds")`` in UTC.

    The "YYYY-MM-DDTHH:MM:" part is cached per minute (consecutive events share it), which is
    several times cheaper than formatting on the server (to_char) or building datetimes per row.
    """

    def __init__(self) -> None:
        self._minute = -1
        self._prefix = ""

    def __call__(self, micros: int) -> str:
        seconds, fraction = divmod(micros, 1_000_000)
        minute, second = divmod(seconds, 60)
        if minute != self._minute:
            self._minute = minute
            self._prefix = datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:")
        return f"{self._prefix}{second:02d}.{fraction:06d}+00:00"


def _select(connection: Any) -> tuple[str, Callable[[Any], str]]:
    if connection.vendor == "postgresql":
        if connection.pg_version >= 140000:
            # extract(epoch) is numeric (exact) since PostgreSQL 14.
            at_sql = "(extract(epoch from occurred_at) * 1000000)::bigint"
        else:
            at_sql = ("extract(epoch from date_trunc('second', occurred_at))::bigint * 1000000"
                      " + extract(microseconds from occurred_at)::bigint %% 1000000")
        details_sql, convert = "details::text", _EpochIso()
    else:
        # CAST: no declared type, so sqlite3 hands back the stored text instead of parsing it.
        at_sql, details_sql, convert = "CAST(occurred_at AS TEXT)", "details", _sqlite_iso
    # Only constant fragments are interpolated; every value is a parameter.
    sql = (
        f"SELECT sequence, {at_sql}, actor_id, actor_label, agency_id, action, object_type, object_id, "  # noqa: S608
        f"case_id, {details_sql}, previous_hash, hash FROM audit_auditevent "
        "WHERE sequence > %s ORDER BY sequence LIMIT %s"
    )
    return sql, convert


def _batches_on_new_connection(batch_size: int, connections: Any) -> Iterator[list[tuple]]:
    # Runs in the fetch thread, where connections["default"] is that thread's own connection.
    yield from _batches(connections["default"], batch_size)


# The smallest BIGINT: the walk starts below any row, so even a forged row numbered 0 or less is read.
_BEFORE_EVERY_ROW = -(2**63)


def _batches(connection: Any, batch_size: int) -> Iterator[list[tuple]]:
    """Every row in sequence order, a batch at a time (keyset pagination on the unique index)."""
    sql, _convert = _select(connection)
    last = _BEFORE_EVERY_ROW
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, [last, batch_size])
            batch = cursor.fetchall()
            if not batch:
                return
            yield batch
            last = batch[-1][0]


def _prefetched(batches: Iterator[list[tuple]], depth: int = 2) -> Iterator[list[tuple]]:
    """Fetch the next batches in a thread while this one is hashed: the database and Python then
    work at the same time (psycopg releases the GIL while it waits for the server)."""
    import queue
    import threading

    from django.db import connections

    handoff: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    failure: list[BaseException] = []
    stop = threading.Event()

    def worker() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                handoff.put(batch)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(exc)
        finally:
            connections.close_all()  # this thread's own connection
            handoff.put(done)

    thread = threading.Thread(target=worker, name="verify-audit-fetch", daemon=True)
    thread.start()
    try:
        while True:
            batch = handoff.get()
            if batch is done:
                break
            yield batch
    finally:
        stop.set()
        while thread.is_alive():  # unblock a worker waiting on a full queue
            try:
                handoff.get_nowait()
            except queue.Empty:
                thread.join(0.05)
    if failure:
        raise failure[0]


def _head(connection: Any) -> tuple[int, str]:
    head = AuditHead.objects.using(connection.alias).filter(pk=1).first()
    return (head.sequence, head.hash) if head else (0, GENESIS_HASH)


def _beyond_head(connection: Any, head_sequence: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sequence FROM audit_auditevent WHERE sequence > %s ORDER BY sequence LIMIT %s",
                       [head_sequence, MAX_FINDINGS])
        return [row[0] for row in cursor.fetchall()]


def verify_chain(
    *, connection: Any = None, batch_size: int = BATCH_SIZE,
    watch: dict[int, str | None] | None = None,
    report: VerificationReport | None = None,
) -> VerificationReport:
    """Walk every row of the trail and check it against its neighbours and the head.

    Rows up to the head as it was when the walk started must all be there; rows appended while
    the walk runs are checked too. A row that the chain of the platform's own rows does not pass
    through (its ``previous_hash`` is not the last chain row's hash, and the next row links past
    it) is reported as not written by casehub; so is any row numbered beyond the head.

    ``watch`` maps sequence numbers to None; the walk fills in the stored hash of each one it
    meets. The checkpoint verifier uses it to compare signed head hashes with the chain without
    a second pass.
    """
    connection = connection or default_connection
    report = report or VerificationReport()
    started = time.perf_counter()
    head_sequence, head_hash = _head(connection)
    report.head_sequence = head_sequence
    watch = {} if watch is None else watch

    expected_seq = 1
    previous: str | None = GENESIS_HASH  # stored hash of the last row that belongs to the chain
    previous_seq, before_previous = 0, None  # that row's sequence, and the hash of the chain row before it
    # Rows after a broken link, not yet known to be the chain going on (the link into them was
    # rewritten) or rows the chain passes by (inserted behind the application's back).
    pending: list[tuple[int, str]] = []
    stray: list[int] = []
    stored_at_head: str | None = None
    checked = 0
    _sql, convert_at = _select(connection)
    loads, digest = json.loads, fast_event_hash
    batches = _batches(connection, batch_size)
    if connection.vendor == "postgresql" and not connection.in_atomic_block and connection.alias == "default":
        # Committed data only, read on a second connection: safe outside a transaction.
        from django.db import connections

        batches = _prefetched(_batches_on_new_connection(batch_size, connections))
    for batch in batches:
        checked += len(batch)
        for seq, at, actor, label, agency, action, otype, oid, case, details, prev, stored in batch:
            if digest(seq, convert_at(at), actor, label, agency, action, otype, oid, case,
                      EMPTY if details == "{}" else loads(details), prev) != stored:
                report.add(seq, "content does not match its hash (the row was altered)")
            if seq < 1:
                stray.append(seq)  # the chain starts at #1
                continue
            if seq != expected_seq:
                report.add(expected_seq, f"events {expected_seq}–{seq - 1} are missing")
                previous = before_previous = None  # the link over a gap cannot be checked
            if seq == head_sequence:
                stored_at_head = stored
            if seq in watch:
                watch[seq] = stored
            expected_seq = seq + 1
            if previous is None or prev == previous:
                stray.extend(s for s, _h in pending)
                pending.clear()
                previous_seq, before_previous, previous = seq, previous, stored
            elif not pending and before_previous is not None and prev == before_previous:
                # This row links past the last one: that one was slipped in (linked to the chain
                # by someone who knows the hashing rule) and the writer stepped over it.
                stray.append(previous_seq)
                previous_seq, previous = seq, stored
            elif pending and prev == pending[-1][1]:
                # The rows since the break link on: the link *into* them was rewritten. Both rows may
                # be self-consistent (a rewrite that recomputed the hash); the earlier one is where
                # the rewritten history can begin, so that is the sequence named.
                stray.extend(s for s, _h in pending[:-1])
                broken = pending[-1][0]
                report.add(broken - 1, f"its hash is not the previous_hash of #{broken}: "
                                       f"#{broken - 1} or #{broken} was rewritten")
                pending.clear()
                previous_seq, before_previous, previous = seq, None, stored
            else:
                pending.append((seq, stored))
                if len(pending) > MAX_FINDINGS:
                    stray.append(pending.pop(0)[0])
    report.events_checked = checked

    # The head as it is now: every row the platform appended during the walk is at or below it.
    now_sequence, now_hash = _head(connection)
    if pending and pending[-1] == (now_sequence, now_hash):
        # The newest row is the head's: it is the chain, the link into it was rewritten.
        stray.extend(s for s, _h in pending[:-1])
        report.add(now_sequence - 1, f"its hash is not the previous_hash of #{now_sequence}: "
                                     f"#{now_sequence - 1} or #{now_sequence} was rewritten")
    else:
        stray.extend(s for s, _h in pending)
    beyond = _beyond_head(connection, now_sequence)
    for seq in beyond:
        report.add(seq, f"is beyond the head (#{now_sequence}): not written by casehub")
    for seq in sorted(set(stray) - set(beyond)):
        report.add(seq, "is not part of the chain (the platform's rows link past it): not written by casehub")
    if expected_seq <= head_sequence:
        report.add(expected_seq, f"events {expected_seq}–{head_sequence} are missing (the head is #{head_sequence})")
    elif head_sequence and stored_at_head is not None and stored_at_head != head_hash:
        report.add(head_sequence, "the chain head does not match the last event")
    report.findings.sort(key=lambda f: f.sequence)
    report.seconds += time.perf_counter() - started
    return report


def verify_audit_trail(*, record: bool = False, actor: Any = None) -> VerificationReport:
    """The full check the command and the auditor's button run: chain plus signed checkpoints.

    With ``record`` the run itself becomes an audit event (who verified, with what result), appended
    after the walk so the report describes the chain as it was; and when the chain verified, the head
    (with that event) is signed as a new checkpoint, so the next run can tell if anything before it
    was cut or rewritten. A failed verification signs nothing.
    """
    from casehub.audit import checkpoints

    report = checkpoints.verify_with_checkpoints()
    if record:
        from casehub.audit.services import record_event

        record_event("audit.verified", actor=actor, details={
            "ok": report.ok, "events_checked": report.events_checked, "head_sequence": report.head_sequence,
            "checkpoints_checked": report.checkpoints_checked, "first_bad_sequence": report.first_bad_sequence,
        })
        if report.ok:
            checkpoints.sign_checkpoint()
    return report
