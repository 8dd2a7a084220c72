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

import hashlib
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


def _select(connection: Any) -> tuple[str, Callable[[], Callable[[Any], str] | None]]:
    """The columns to read, and a factory of the converter of the timestamp column to ISO text
    (None: the database already writes it as ``isoformat(timespec="microseconds")`` in UTC)."""
    if connection.vendor == "postgresql":
        # to_char writes every field at fixed width whatever the session's DateStyle.
        at_sql = """to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00'"""
        return (f"sequence, {at_sql}, actor_id, actor_label, agency_id, action, object_type, object_id, "
                "case_id, details::text, previous_hash, hash"), lambda: None
    # CAST: no declared type, so sqlite3 hands back the stored text instead of parsing it.
    return ("sequence, CAST(occurred_at AS TEXT), actor_id, actor_label, agency_id, action, object_type, "
            "object_id, case_id, details, previous_hash, hash"), lambda: _sqlite_iso


# The reference reading of rows on PostgreSQL: the timestamp as exact microseconds since the epoch
# (extract(epoch) is numeric, exact, since PostgreSQL 14; the project needs 15).
_REFERENCE_SQL = (
    "SELECT sequence, (extract(epoch from occurred_at) * 1000000)::bigint, actor_id, actor_label, agency_id, "
    "action, object_type, object_id, case_id, details::text, previous_hash, hash FROM audit_auditevent "
    "WHERE sequence = ANY(%s) ORDER BY sequence"
)


def _keyset_sql(columns: str) -> str:
    # Only constant fragments are interpolated; every value is a parameter.
    return (f"SELECT {columns} FROM audit_auditevent WHERE sequence > %s "  # noqa: S608
            "ORDER BY sequence LIMIT %s")


def _range_sql(columns: str) -> str:
    return (f"SELECT {columns} FROM audit_auditevent WHERE sequence >= %s AND sequence < %s "  # noqa: S608
            "ORDER BY sequence")


def _batches_on_new_connection(batch_size: int, after: int, connections: Any) -> Iterator[list[tuple]]:
    # Runs in the fetch thread, where connections["default"] is that thread's own connection.
    yield from _batches(connections["default"], batch_size, after)


# The smallest BIGINT: the walk starts below any row, so even a forged row numbered 0 or less is read.
_BEFORE_EVERY_ROW = -(2**63)


def _batches(connection: Any, batch_size: int, after: int = _BEFORE_EVERY_ROW) -> Iterator[list[tuple]]:
    """Every row numbered above ``after`` in sequence order, a batch at a time (keyset pagination)."""
    sql = _keyset_sql(_select(connection)[0])
    last = after
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


@dataclass
class _Chunk:
    """What checking one run of rows (in sequence order) found, for the walk to merge in order.

    ``rows`` go through the link check one by one: all of them when the run is irregular (a gap,
    a link that does not hold, a row numbered below 1, fewer than three rows), otherwise only the
    first two. In a regular run every later row links to the one before and follows it without a
    gap, so after the first two the link check would only step forward; ``tail`` says where it
    ends up (last sequence, its stored hash, the stored hash before it) and ``tail_altered`` lists
    the rows of the tail whose content does not match their hash.
    """

    count: int
    rows: list[tuple[int, str, str, bool]]
    tail: tuple[int, str, str] | None = None
    tail_altered: list[int] = field(default_factory=list)
    tail_seen: dict[int, str] = field(default_factory=dict)  # stored hashes of watched rows in the tail
    last_sequence: int = 0


# json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode
# runs this C encoder in one shot; building it once per process saves ~2 µs a row. No circular
# check: a value parsed from JSON text has no cycles.
_details_encoder = json.encoder.c_make_encoder(
    None, str, json.encoder.encode_basestring, None, ":", ",", True, False, True)


def _details_text(details: str) -> str:
    return "".join(_details_encoder(json.loads(details), 0))


def _altered(rows: list[tuple], convert_at: Callable[[Any], str] | None) -> list[int]:
    """Sequence numbers of the rows whose content does not hash to their stored hash.

    The canonical text of each row (:func:`casehub.audit.chain.event_hash`, keys in sorted order)
    is written the way :func:`~casehub.audit.chain.fast_event_hash` writes it, in one f-string,
    except that on PostgreSQL the database formats the timestamp: a row whose text does not hash
    to its stored hash is checked again the reference way before it is reported (``recheck`` in
    :func:`_check_rows`), so this shortcut can only save time, never hide a change.
    """
    enc, details_text, sha = json.encoder.encode_basestring, _details_text, hashlib.sha256
    altered: list[int] = []
    for seq, at, actor, label, agency, action, otype, oid, case, details, prev, stored in rows:
        text = (f'{{"action":{enc(action)},"actor":{"null" if actor is None else actor},"actor_label":{enc(label)},'
                f'"agency":{"null" if agency is None else agency},'
                f'"at":"{at if convert_at is None else convert_at(at)}","case":{"null" if case is None else case},'
                f'"details":{"{}" if details == "{}" else details_text(details)},"object":[{enc(otype)},{enc(oid)}],'
                f'"prev":{enc(prev)},"seq":{seq}}}')
        if sha(text.encode()).hexdigest() != stored:
            altered.append(seq)
    return altered


def _check_rows(rows: list[tuple], convert_at: Callable[[Any], str] | None, watched: frozenset[int],
                recheck: Callable[[list[int]], list[int]] | None = None) -> _Chunk:
    """Recompute every row's hash (independent of every other row) and see whether the run is regular.

    ``recheck`` takes the sequence numbers that did not match and returns those that do not match
    when hashed by the reference code either (:func:`casehub.audit.chain.fast_event_hash`).
    """
    altered = _altered(rows, convert_at)
    if altered and recheck is not None:
        altered = recheck(altered)
    n = len(rows)
    seqs = [r[0] for r in rows]
    prevs = [r[10] for r in rows]
    storeds = [r[11] for r in rows]
    # Sequences are unique and sorted: the run has no gap when its span equals its length.
    regular = n >= 3 and seqs[0] >= 1 and seqs[-1] - seqs[0] == n - 1 and prevs[1:] == storeds[:-1]
    bad = set(altered)
    if not regular:
        return _Chunk(n, [(s, p, h, s in bad) for s, p, h in zip(seqs, prevs, storeds, strict=True)],
                      last_sequence=seqs[-1] if n else 0)
    first = seqs[0]
    return _Chunk(
        n, [(seqs[i], prevs[i], storeds[i], seqs[i] in bad) for i in (0, 1)],
        tail=(seqs[-1], storeds[-1], storeds[-2]),
        tail_altered=[s for s in altered if s >= first + 2],
        tail_seen={s: storeds[s - first] for s in watched if first + 2 <= s <= seqs[-1]},
        last_sequence=seqs[-1],
    )


def _reference_recheck(cursor: Any, vendor: str) -> Callable[[list[int]], list[int]] | None:
    """On PostgreSQL: read the rows again with the timestamp as an exact integer and hash them
    with the reference code (the fast path trusts the database's formatting of the timestamp)."""
    if vendor != "postgresql":
        return None  # SQLite: the fast path reads the same text the reference does

    def recheck(sequences: list[int]) -> list[int]:
        cursor.execute(_REFERENCE_SQL, [sequences])
        convert = _EpochIso()
        return [seq for seq, at, actor, label, agency, action, otype, oid, case, details, prev, stored
                in cursor.fetchall()
                if fast_event_hash(seq, convert(at), actor, label, agency, action, otype, oid, case,
                                   EMPTY if details == "{}" else json.loads(details), prev) != stored]
    return recheck


class _Walk:
    """The link check: every row against its neighbours and the head, fed in sequence order."""

    def __init__(self, report: VerificationReport, head_sequence: int, watch: dict[int, str | None]) -> None:
        self.report, self.head_sequence, self.watch = report, head_sequence, watch
        self.expected_seq = 1
        self.previous: str | None = GENESIS_HASH  # stored hash of the last row that belongs to the chain
        self.previous_seq, self.before_previous = 0, None  # its sequence, the hash of the chain row before it
        # Rows after a broken link, not yet known to be the chain going on (the link into them was
        # rewritten) or rows the chain passes by (inserted behind the application's back).
        self.pending: list[tuple[int, str]] = []
        self.stray: list[int] = []
        self.stored_at_head: str | None = None
        self.checked = 0

    def chunk(self, chunk: _Chunk) -> None:
        self.checked += chunk.count
        for row in chunk.rows:
            self.row(*row)
        if chunk.tail is None:
            return
        # A regular run: after its first two rows nothing is pending and the last one fed is the
        # chain's (see _Chunk); every later row then only steps forward.
        if self.pending or self.previous != chunk.rows[-1][2]:
            raise AssertionError("audit verifier: a regular run did not leave the walk on the chain")
        for seq in chunk.tail_altered:
            self.report.add(seq, "content does not match its hash (the row was altered)")
        for seq, stored in chunk.tail_seen.items():
            if seq == self.head_sequence:
                self.stored_at_head = stored
            if seq in self.watch:
                self.watch[seq] = stored
        last, stored, before = chunk.tail
        self.expected_seq = last + 1
        self.previous_seq, self.before_previous, self.previous = last, before, stored

    def row(self, seq: int, prev: str, stored: str, altered: bool) -> None:
        report = self.report
        if altered:
            report.add(seq, "content does not match its hash (the row was altered)")
        if seq < 1:
            self.stray.append(seq)  # the chain starts at #1
            return
        if seq != self.expected_seq:
            report.add(self.expected_seq, f"events {self.expected_seq}–{seq - 1} are missing")
            self.previous = self.before_previous = None  # the link over a gap cannot be checked
        if seq == self.head_sequence:
            self.stored_at_head = stored
        if seq in self.watch:
            self.watch[seq] = stored
        self.expected_seq = seq + 1
        pending = self.pending
        if self.previous is None or prev == self.previous:
            self.stray.extend(s for s, _h in pending)
            pending.clear()
            self.previous_seq, self.before_previous, self.previous = seq, self.previous, stored
        elif not pending and self.before_previous is not None and prev == self.before_previous:
            # This row links past the last one: that one was slipped in (linked to the chain
            # by someone who knows the hashing rule) and the writer stepped over it.
            self.stray.append(self.previous_seq)
            self.previous_seq, self.previous = seq, stored
        elif pending and prev == pending[-1][1]:
            # The rows since the break link on: the link *into* them was rewritten. Both rows may
            # be self-consistent (a rewrite that recomputed the hash); the earlier one is where
            # the rewritten history can begin, so that is the sequence named.
            self.stray.extend(s for s, _h in pending[:-1])
            broken = pending[-1][0]
            report.add(broken - 1, f"its hash is not the previous_hash of #{broken}: "
                                   f"#{broken - 1} or #{broken} was rewritten")
            pending.clear()
            self.previous_seq, self.before_previous, self.previous = seq, None, stored
        else:
            pending.append((seq, stored))
            if len(pending) > MAX_FINDINGS:
                self.stray.append(pending.pop(0)[0])


# --- Both cores: processes check ranges of rows ------------------------------------------------
# Each row's hash is checked on its own, so worker processes (forked, each with its own database
# connection) check ranges of sequence numbers while this process runs the link check over what
# they found, in order. Used on PostgreSQL outside a transaction (the workers read committed data).

_worker: dict[str, Any] = {}


def _worker_start(connect: Callable[[], Any], sql: str, converter: Callable[[], Callable[[Any], str] | None]) -> None:
    from multiprocessing.util import Finalize

    # A forked worker never touches the parent's connection (closing it here would end it there).
    _worker["connection"], _worker["sql"], _worker["converter"] = connect(), sql, converter
    Finalize(None, _worker["connection"].close, exitpriority=10)


def _worker_check(task: tuple[int, int, frozenset[int]]) -> _Chunk:
    low, high, watched = task
    with _worker["connection"].cursor() as cursor:
        cursor.execute(_worker["sql"], [low, high])
        rows = cursor.fetchall()
        return _check_rows(rows, _worker["converter"](), watched, _reference_recheck(cursor, "postgresql"))


def default_workers() -> int:
    """One worker process per core the process may run on."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _can_fork_workers(connection: Any) -> bool:
    return (connection.vendor == "postgresql" and not connection.in_atomic_block
            and connection.alias == "default")


def _parallel_chunks(connection: Any, workers: int, batch_size: int, head_sequence: int,
                     watched: frozenset[int]) -> Iterator[_Chunk]:
    """Rows below #1, then #1 … the head in ranges checked by ``workers`` processes, in order."""
    import multiprocessing

    import psycopg

    columns, converter = _select(connection)
    sql = _range_sql(columns)
    with connection.cursor() as cursor:
        cursor.execute(sql, [_BEFORE_EVERY_ROW, 1])
        below = cursor.fetchall()
        if below:
            yield _check_rows(below, converter(), watched, _reference_recheck(cursor, connection.vendor))
    params = connection.get_connection_params()

    def connect() -> Any:
        return psycopg.connect(**params, autocommit=True)

    tasks = [(low, min(low + batch_size, head_sequence + 1), watched)
             for low in range(1, head_sequence + 1, batch_size)]
    if not tasks:
        return
    pool = multiprocessing.get_context("fork").Pool(min(workers, len(tasks)), initializer=_worker_start,
                                                    initargs=(connect, sql, converter))
    try:
        yield from pool.imap(_worker_check, tasks)
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()  # the workers close their connections and exit
    finally:
        pool.join()


def verify_chain(
    *, connection: Any = None, batch_size: int = BATCH_SIZE,
    watch: dict[int, str | None] | None = None,
    report: VerificationReport | None = None,
    workers: int = 1,
) -> VerificationReport:
    """Walk every row of the trail and check it against its neighbours and the head.

    Rows up to the head as it was when the walk started must all be there; rows appended while
    the walk runs are checked too. A row that the chain of the platform's own rows does not pass
    through (its ``previous_hash`` is not the last chain row's hash, and the next row links past
    it) is reported as not written by casehub; so is any row numbered beyond the head.

    ``watch`` maps sequence numbers to None; the walk fills in the stored hash of each one it
    meets. The checkpoint verifier uses it to compare signed head hashes with the chain without
    a second pass.

    With ``workers`` > 1 on PostgreSQL outside a transaction, that many processes recompute the
    hashes of ranges of rows up to the head (each row is checkable on its own) and this process
    links their results in order; the findings are the same as with one.
    """
    connection = connection or default_connection
    report = report or VerificationReport()
    started = time.perf_counter()
    head_sequence, head_hash = _head(connection)
    report.head_sequence = head_sequence
    watch = {} if watch is None else watch
    walk = _Walk(report, head_sequence, watch)
    watched = frozenset(watch) | {head_sequence}
    _columns, converter = _select(connection)
    convert_at = converter()

    after = _BEFORE_EVERY_ROW
    if workers > 1 and _can_fork_workers(connection):
        for chunk in _parallel_chunks(connection, workers, batch_size, head_sequence, watched):
            walk.chunk(chunk)
        after = max(head_sequence, 0)
    batches = _batches(connection, batch_size, after)
    if connection.vendor == "postgresql" and not connection.in_atomic_block and connection.alias == "default":
        # Committed data only, read on a second connection: safe outside a transaction.
        from django.db import connections

        batches = _prefetched(_batches_on_new_connection(batch_size, after, connections))
    with connection.cursor() as cursor:
        recheck = _reference_recheck(cursor, connection.vendor)
        for batch in batches:
            walk.chunk(_check_rows(batch, convert_at, watched, recheck))
    report.events_checked = walk.checked
    expected_seq, pending, stray = walk.expected_seq, walk.pending, walk.stray

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
    elif head_sequence and walk.stored_at_head is not None and walk.stored_at_head != head_hash:
        report.add(head_sequence, "the chain head does not match the last event")
    report.findings.sort(key=lambda f: f.sequence)
    report.seconds += time.perf_counter() - started
    return report


def verify_audit_trail(*, record: bool = False, actor: Any = None, workers: int = 1) -> VerificationReport:
    """The full check the command and the auditor's button run: chain plus signed checkpoints.

    With ``record`` the run itself becomes an audit event (who verified, with what result), appended
    after the walk so the report describes the chain as it was; and when the chain verified, the head
    (with that event) is signed as a new checkpoint, so the next run can tell if anything before it
    was cut or rewritten. A failed verification signs nothing. ``workers``: see :func:`verify_chain`
    (the command uses every core; web and Celery processes keep to one).
    """
    from casehub.audit import checkpoints

    report = checkpoints.verify_with_checkpoints(workers=workers)
    if record:
        from casehub.audit.services import record_event

        record_event("audit.verified", actor=actor, details={
            "ok": report.ok, "events_checked": report.events_checked, "head_sequence": report.head_sequence,
            "checkpoints_checked": report.checkpoints_checked, "first_bad_sequence": report.first_bad_sequence,
        })
        if report.ok:
            checkpoints.sign_checkpoint()
    return report
