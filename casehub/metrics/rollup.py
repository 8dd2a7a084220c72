"""Keeping the dashboard's rollup tables in step with the base rows, and rebuilding them.

Every rollup row is a sum of *contributions*: each transfer, certificate, clock and stage stay
contributes to a few rollup keys (a pure function of the row, :func:`row_contributions`), and each
counted thing (a case in a direction, a person, a hand-over) contributes its chain of occurrence
days to :class:`~casehub.metrics.models.FirstSeenDay` (:func:`entity_contributions`).

Incrementally, in the saving transaction, with no signal receivers: the rolled-up models
(:class:`RolledUp`: transfers, custody certificates, clocks, stage stays) call :func:`before` and
:func:`after` from their own ``save()``/``delete()``. :func:`before` computes the contributions of
the row and of the things it belongs to as they are in the database *before* the change (locking
the thing's anchor row first, so two writers of one case or person take turns); :func:`after`
computes them *after*; the difference is added to the rollups with
``INSERT … ON CONFLICT … DO UPDATE SET n = n + excluded.n``. So the rollups commit or roll back
with the change.

A write that bypasses ``save()`` cannot desynchronise the dashboard by accident: a queryset
``update()``/``bulk_update()`` naming a field that feeds a rollup, a queryset ``delete()`` and
``bulk_create()`` raise :class:`RollupBypassed` — unless they run inside :func:`bulk_change`, which
takes the same before/after difference for the rows it names (``clocks.services.stop_clocks``
stops clocks that way), or inside :func:`bulk_load` for data loads that run ``manage.py
rebuild_metrics`` afterwards (``bench/metrics.py`` writes with COPY, which Django never sees). :func:`rebuild` computes the same contributions from the
base tables and replaces the rollups; :func:`snapshot` lets a test (or ``rebuild_metrics --check``)
compare the two.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from casehub.metrics import models as m
from casehub.metrics import tracking

NO_PREVIOUS = date(1, 1, 1)
STAY_BUCKET_SECONDS = 3600  # stage durations in whole hours
ACCEPT_BUCKET_MICROSECONDS = 60_000_000  # acceptance times in whole minutes
LEVELS = ("d", "m", "y")

# table -> (model, key columns, value columns)
SPECS: dict[str, tuple[type, tuple[str, ...], tuple[str, ...]]] = {
    "transfer": (m.TransferDay, ("day", "from_agency_id", "to_agency_id", "kind", "mode", "e_complete"), ("n",)),
    "cert": (m.CertificateDay, ("day", "from_agency_id", "to_agency_id", "channel", "without_transfer"), ("n",)),
    "clock": (m.ClockDay, ("day", "kind", "agency_id"), ("met", "late")),
    "hist": (m.DurationBucket, ("metric", "level", "start", "category", "agency_id", "bucket"), ("n",)),
    "first": (m.FirstSeenDay, ("metric", "day", "prev_day", "agency_id", "direction"), ("n",)),
}

TRANSFER_FIELDS = ("id", "case_id", "kind", "mode", "status", "from_agency_id", "to_agency_id", "sent_at",
                   "electronic", "dossier_complete", "requires_acceptance", "decided_at")
CERT_FIELDS = ("id", "person_id", "transfer_id", "channel", "status", "from_agency_id", "to_agency_id", "issued_at")
CLOCK_FIELDS = ("id", "kind", "agency_id", "status", "stopped_at", "due_date")
STAY_FIELDS = ("id", "stage", "agency_id", "left_at", "seconds")

Deltas = dict[tuple[str, tuple[Any, ...]], list[int]]


def local_day(at: datetime) -> date:
    """The day in the platform's time zone (settings.TIME_ZONE, whatever zone a request activated)."""
    return timezone.localtime(at, timezone.get_default_timezone()).date()


def level_start(level: str, day: date) -> date:
    if level == "y":
        return day.replace(month=1, day=1)
    if level == "m":
        return day.replace(day=1)
    return day


def stay_hours(seconds: int) -> int:
    """A stay's whole seconds, rounded to the nearest hour (half up)."""
    return (int(seconds) + STAY_BUCKET_SECONDS // 2) // STAY_BUCKET_SECONDS


def accept_minutes(sent_at: datetime, decided_at: datetime) -> int:
    """Answer − send, rounded to the nearest whole minute (half up), exactly (integer microseconds)."""
    delta = decided_at - sent_at
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return (micros + ACCEPT_BUCKET_MICROSECONDS // 2) // ACCEPT_BUCKET_MICROSECONDS


def _add(out: Deltas, table: str, key: tuple[Any, ...], values: tuple[int, ...], sign: int = 1) -> None:
    cell = out.get((table, key))
    if cell is None:
        out[(table, key)] = [sign * v for v in values]
    else:
        for i, v in enumerate(values):
            cell[i] += sign * v


def _hist(out: Deltas, metric: str, day: date, category: str, agency_id: int, bucket: int, sign: int) -> None:
    for level in LEVELS:
        _add(out, "hist", (metric, level, level_start(level, day), category, agency_id, bucket), (1,), sign)


# --- one row's own contributions ---------------------------------------------------------------------------

def transfer_rows(row: dict[str, Any], out: Deltas, sign: int = 1) -> None:
    if row["status"] != "withdrawn":
        _add(out, "transfer", (local_day(row["sent_at"]), row["from_agency_id"], row["to_agency_id"], row["kind"],
                               row["mode"], bool(row["electronic"] and row["dossier_complete"])), (1,), sign)
    if (row["mode"] == "online" and row["requires_acceptance"] and row["status"] in ("accepted", "rejected")
            and row["decided_at"] is not None):
        _hist(out, "accept", local_day(row["decided_at"]), row["kind"], row["to_agency_id"],
              accept_minutes(row["sent_at"], row["decided_at"]), sign)


def cert_rows(row: dict[str, Any], out: Deltas, sign: int = 1) -> None:
    if row["status"] != "cancelled":
        _add(out, "cert", (local_day(row["issued_at"]), row["from_agency_id"], row["to_agency_id"], row["channel"],
                           row["transfer_id"] is None), (1,), sign)


def clock_rows(row: dict[str, Any], out: Deltas, sign: int = 1) -> None:
    if row["status"] == "stopped" and row["stopped_at"] is not None:
        day = local_day(row["stopped_at"])
        met = day <= row["due_date"]
        _add(out, "clock", (day, row["kind"], row["agency_id"]), (int(met), int(not met)), sign)


def stay_rows(row: dict[str, Any], out: Deltas, sign: int = 1) -> None:
    if row["left_at"] is not None and row["seconds"] is not None:
        _hist(out, "stay", local_day(row["left_at"]), row["stage"], row["agency_id"], stay_hours(row["seconds"]), sign)


# --- things counted once per period (FirstSeenDay chains) -------------------------------------------------

def _chain(out: Deltas, metric: str, agency_id: int, direction: str, days: Iterable[date], sign: int) -> None:
    previous = NO_PREVIOUS
    for day in sorted(set(days)):
        _add(out, "first", (metric, day, previous, agency_id, direction), (1,), sign)
        previous = day


def direction_of(kinds: dict[int, str], from_id: int, to_id: int) -> str:
    return f"{kinds.get(from_id, '')}>{kinds.get(to_id, '')}"


def case_chain(occurrences: list[tuple[date, str]], out: Deltas, sign: int = 1) -> None:
    """One case's transfers (day, direction): the case counts once per direction."""
    by_direction: dict[str, list[date]] = defaultdict(list)
    for day, direction in occurrences:
        by_direction[direction].append(day)
    for direction, days in by_direction.items():
        _chain(out, "case", 0, direction, days, sign)


def person_chain(occurrences: list[tuple[date, str, int, str]], out: Deltas, sign: int = 1) -> None:
    """One person's certificates (day, channel, sending agency, direction)."""
    groups: dict[tuple[str, int, str], list[date]] = defaultdict(list)
    for day, channel, from_id, direction in occurrences:
        for suffix in ("", "_online") if channel == "online" else ("",):
            groups[("person" + suffix, 0, "")].append(day)
            groups[("person_dir" + suffix, 0, direction)].append(day)
            groups[("person_row" + suffix, from_id, direction)].append(day)
    for (metric, agency_id, direction), days in groups.items():
        _chain(out, metric, agency_id, direction, days, sign)


def handover_chain(occurrences: list[tuple[date, int, str]], out: Deltas, sign: int = 1) -> None:
    """One online hand-over's certificates (day, sending agency, direction)."""
    groups: dict[tuple[int, str], list[date]] = defaultdict(list)
    for day, from_id, direction in occurrences:
        groups[(from_id, direction)].append(day)
    for (from_id, direction), days in groups.items():
        _chain(out, "handover", from_id, direction, days, sign)


def _kinds(ids: Iterable[int]) -> dict[int, str]:
    from casehub.agencies.models import Agency

    return dict(Agency.objects.filter(pk__in=set(ids)).values_list("pk", "kind"))


def _case_occurrences(case_id: int) -> list[tuple[date, str]]:
    from workflows.models import Transfer

    rows = list(Transfer.objects.filter(case_id=case_id).exclude(status="withdrawn")
                .values_list("sent_at", "from_agency_id", "to_agency_id"))
    kinds = _kinds([r[1] for r in rows] + [r[2] for r in rows])
    return [(local_day(at), direction_of(kinds, f, t)) for at, f, t in rows]


def _person_occurrences(person_id: int) -> list[tuple[date, str, int, str]]:
    from casehub.custody.models import CustodyCertificate

    rows = list(CustodyCertificate.objects.filter(person_id=person_id).exclude(status="cancelled")
                .values_list("issued_at", "channel", "from_agency_id", "to_agency_id"))
    kinds = _kinds([r[2] for r in rows] + [r[3] for r in rows])
    return [(local_day(at), ch, f, direction_of(kinds, f, t)) for at, ch, f, t in rows]


def _handover_occurrences(transfer_id: int) -> list[tuple[date, int, str]]:
    from casehub.custody.models import CustodyCertificate

    rows = list(CustodyCertificate.objects.filter(transfer_id=transfer_id).exclude(status="cancelled")
                .values_list("issued_at", "from_agency_id", "to_agency_id"))
    kinds = _kinds([r[1] for r in rows] + [r[2] for r in rows])
    return [(local_day(at), f, direction_of(kinds, f, t)) for at, f, t in rows]


def _lock(model_label: str, pk: int) -> None:
    from django.apps import apps

    list(apps.get_model(model_label).objects.select_for_update().filter(pk=pk).values_list("pk"))


# --- incremental maintenance (called by the rolled-up models' save()/delete()) --------------------------------------------------------------------

def _entities(sender_label: str, row: dict[str, Any] | None) -> set[tuple[str, int]]:
    if row is None:
        return set()
    if sender_label == "workflows.transfer":
        return {("case", row["case_id"])} if row["case_id"] is not None else set()
    if sender_label == "custody.custodycertificate":
        out = {("person", row["person_id"])}
        if row["transfer_id"] is not None:
            out.add(("handover", row["transfer_id"]))
        return out
    return set()


def _entity_contributions(entities: Iterable[tuple[str, int]], out: Deltas, sign: int) -> None:
    for kind, pk in sorted(entities):
        if kind == "case":
            case_chain(_case_occurrences(pk), out, sign)
        elif kind == "person":
            person_chain(_person_occurrences(pk), out, sign)
        elif kind == "handover":
            handover_chain(_handover_occurrences(pk), out, sign)


_ANCHOR = {"case": "cases.Case", "person": "cases.Person", "handover": "workflows.Transfer"}
_ROWS = {
    "workflows.transfer": (TRANSFER_FIELDS, transfer_rows),
    "custody.custodycertificate": (CERT_FIELDS, cert_rows),
    "clocks.clock": (CLOCK_FIELDS, clock_rows),
    "metrics.stagestay": (STAY_FIELDS, stay_rows),
}


def _current(sender: type, pk: Any) -> dict[str, Any] | None:
    if pk is None:
        return None
    fields, _fn = _ROWS[sender._meta.label_lower]
    return sender._default_manager.filter(pk=pk).values(*fields).first()


def _before(sender: type, instance: Any) -> None:
    label = sender._meta.label_lower
    old = None if instance._state.adding else _current(sender, instance.pk)
    entities = _entities(label, old)
    new_entities = set()
    if label == "workflows.transfer" and instance.case_id is not None:
        new_entities.add(("case", instance.case_id))
    elif label == "custody.custodycertificate":
        new_entities.add(("person", instance.person_id))
        if instance.transfer_id is not None:
            new_entities.add(("handover", instance.transfer_id))
    entities |= new_entities
    for kind, pk in sorted(entities):
        _lock(_ANCHOR[kind], pk)
    out: Deltas = {}
    if old is not None:
        _ROWS[label][1](old, out, -1)
    _entity_contributions(entities, out, -1)
    instance._metrics_rollup = (out, entities)


def _after(sender: type, instance: Any, deleted: bool) -> None:
    label = sender._meta.label_lower
    out, entities = getattr(instance, "_metrics_rollup", ({}, set()))
    instance._metrics_rollup = ({}, set())
    new = None if deleted else _current(sender, instance.pk)
    if new is not None:
        _ROWS[label][1](new, out, 1)
    _entity_contributions(entities, out, 1)
    apply(out)


def before(model: type, instance: Any) -> None:
    """Take the row's (and its things') contributions as the database has them now."""
    _before(model, instance)


def after(model: type, instance: Any, *, deleted: bool = False) -> None:
    """Add the difference between now and :func:`before` to the rollups."""
    _after(model, instance, deleted=deleted)


def rolled_fields(model: type) -> set[str]:
    """Fields whose value feeds a rollup (or links a row to the thing it is counted for)."""
    fields, _fn = _ROWS[model._meta.label_lower]
    return {f for f in fields if f != "id"} | {"case_id", "person_id", "transfer_id"}


@contextmanager
def bulk_change(model: type, pks: Iterable[int]) -> Iterator[None]:
    """Bulk writes to the rows ``pks`` of ``model``, with their rollups kept in step (in the caller's
    transaction): contributions before, the writes, contributions after."""
    pks = sorted(set(pks))
    instances = list(model._default_manager.filter(pk__in=pks))
    for instance in instances:
        _before(model, instance)
    token = tracking.BULK.set(True)
    try:
        yield
    finally:
        tracking.BULK.reset(token)
    for instance in instances:
        _after(model, instance, deleted=not model._default_manager.filter(pk=instance.pk).exists())


def _adapt(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return connection.ops.adapt_datefield_value(value)
    return value


def apply(deltas: Deltas) -> None:
    """Add ``deltas`` to the rollups (upsert), in the current transaction."""
    by_table: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for (table, key), values in deltas.items():
        if any(values):
            by_table[table].append(tuple(_adapt(k) for k in key) + tuple(values))
    if not by_table:
        return
    with connection.cursor() as cursor:
        for table, rows in sorted(by_table.items()):
            model, keys, vals = SPECS[table]
            db_table = model._meta.db_table
            cols = [model._meta.get_field(k).column if not k.endswith("_id") else k for k in keys + vals]
            key_cols = cols[:len(keys)]
            sql = (f"INSERT INTO {db_table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "  # noqa: S608
                   f"ON CONFLICT ({', '.join(key_cols)}) DO UPDATE SET "
                   + ", ".join(f"{v} = {db_table}.{v} + excluded.{v}" for v in vals))
            cursor.executemany(sql, sorted(rows))


# --- rebuild and comparison ----------------------------------------------------------------------------------

def _iterate(qs: Any, fields: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    return qs.values(*fields).iterator(chunk_size=20_000)


def compute_from_base() -> Deltas:
    """Every rollup row, computed from the base tables (the same contribution functions)."""
    from casehub.agencies.models import Agency
    from casehub.clocks.models import Clock
    from casehub.custody.models import CustodyCertificate
    from workflows.models import Transfer

    kinds = dict(Agency.objects.values_list("pk", "kind"))
    out: Deltas = {}
    cases: dict[int, list[tuple[date, str]]] = defaultdict(list)
    for row in _iterate(Transfer.objects.order_by(), TRANSFER_FIELDS):
        transfer_rows(row, out)
        if row["case_id"] is not None and row["status"] != "withdrawn":
            cases[row["case_id"]].append((local_day(row["sent_at"]),
                                          direction_of(kinds, row["from_agency_id"], row["to_agency_id"])))
    for occurrences in cases.values():
        case_chain(occurrences, out)
    del cases
    persons: dict[int, list[tuple[date, str, int, str]]] = defaultdict(list)
    handovers: dict[int, list[tuple[date, int, str]]] = defaultdict(list)
    for row in _iterate(CustodyCertificate.objects.order_by(), CERT_FIELDS):
        cert_rows(row, out)
        if row["status"] == "cancelled":
            continue
        day, direction = local_day(row["issued_at"]), direction_of(kinds, row["from_agency_id"], row["to_agency_id"])
        persons[row["person_id"]].append((day, row["channel"], row["from_agency_id"], direction))
        if row["transfer_id"] is not None:
            handovers[row["transfer_id"]].append((day, row["from_agency_id"], direction))
    for occurrences in persons.values():
        person_chain(occurrences, out)
    for occurrences in handovers.values():
        handover_chain(occurrences, out)
    for row in _iterate(Clock.objects.filter(status="stopped").order_by(), CLOCK_FIELDS):
        clock_rows(row, out)
    for row in _iterate(m.StageStay.objects.filter(left_at__isnull=False).order_by(), STAY_FIELDS):
        stay_rows(row, out)
    return out


_PG_LEVEL_START = ("CASE lv.level WHEN 'd' THEN x.day WHEN 'm' THEN date_trunc('month', x.day)::date "
                   "ELSE date_trunc('year', x.day)::date END")
_PG_LEVELS = "(VALUES ('d'), ('m'), ('y')) AS lv(level)"


def _rebuild_postgresql(cursor: Any) -> None:
    """The same contributions as :func:`compute_from_base`, aggregated by PostgreSQL itself (a
    million cases in minutes rather than an hour of Python). The rebuild-equals-incremental test
    runs this path on PostgreSQL and the Python one on SQLite."""
    tz = timezone.get_default_timezone_name()
    cursor.execute(
        "INSERT INTO metrics_transferday (day, from_agency_id, to_agency_id, kind, mode, e_complete, n) "
        "SELECT (sent_at AT TIME ZONE %s)::date, from_agency_id, to_agency_id, kind, mode, "
        "COALESCE(electronic AND dossier_complete, false), count(*) FROM transfers_transfer "
        "WHERE status <> 'withdrawn' GROUP BY 1, 2, 3, 4, 5, 6", [tz])
    cursor.execute(
        "INSERT INTO metrics_durationbucket (metric, level, start, category, agency_id, bucket, n) "  # noqa: S608 - constant fragments
        f"SELECT 'accept', lv.level, {_PG_LEVEL_START}, x.kind, x.agency_id, x.bucket, count(*) FROM "
        "(SELECT (decided_at AT TIME ZONE %s)::date AS day, kind, to_agency_id AS agency_id, "
        " floor((extract(epoch FROM (decided_at - sent_at)) * 1000000 + %s) / %s)::int AS bucket "
        " FROM transfers_transfer WHERE mode = 'online' AND requires_acceptance "
        " AND status IN ('accepted', 'rejected') AND decided_at IS NOT NULL) x "
        f"CROSS JOIN {_PG_LEVELS} GROUP BY 1, 2, 3, 4, 5, 6",
        [tz, ACCEPT_BUCKET_MICROSECONDS // 2, ACCEPT_BUCKET_MICROSECONDS])
    cursor.execute(
        "INSERT INTO metrics_durationbucket (metric, level, start, category, agency_id, bucket, n) "  # noqa: S608 - constant fragments
        f"SELECT 'stay', lv.level, {_PG_LEVEL_START}, x.stage, x.agency_id, x.bucket, count(*) FROM "
        "(SELECT (left_at AT TIME ZONE %s)::date AS day, stage, agency_id, "
        " ((seconds + %s) / %s)::int AS bucket FROM metrics_stagestay "
        " WHERE left_at IS NOT NULL AND seconds IS NOT NULL) x "
        f"CROSS JOIN {_PG_LEVELS} GROUP BY 1, 2, 3, 4, 5, 6",
        [tz, STAY_BUCKET_SECONDS // 2, STAY_BUCKET_SECONDS])
    cursor.execute(
        "INSERT INTO metrics_certificateday (day, from_agency_id, to_agency_id, channel, without_transfer, n) "
        "SELECT (issued_at AT TIME ZONE %s)::date, from_agency_id, to_agency_id, channel, transfer_id IS NULL, "
        "count(*) FROM custody_custodycertificate WHERE status <> 'cancelled' GROUP BY 1, 2, 3, 4, 5", [tz])
    cursor.execute(
        "INSERT INTO metrics_clockday (day, kind, agency_id, met, late) "
        "SELECT x.day, x.kind, x.agency_id, count(*) FILTER (WHERE x.day <= x.due_date), "
        "count(*) FILTER (WHERE x.day > x.due_date) FROM "
        "(SELECT (stopped_at AT TIME ZONE %s)::date AS day, kind, agency_id, due_date FROM clocks_clock "
        " WHERE status = 'stopped' AND stopped_at IS NOT NULL) x GROUP BY 1, 2, 3", [tz])
    # Occurrences of the things counted once per period.
    cursor.execute(
        "CREATE TEMPORARY TABLE metrics_rebuild_occ ON COMMIT DROP AS "
        "SELECT 'case'::text AS src, t.case_id AS ent, NULL::text AS channel, 0 AS from_id, "
        " fa.kind || '>' || ta.kind AS direction, (t.sent_at AT TIME ZONE %s)::date AS day "
        "FROM transfers_transfer t JOIN agencies_agency fa ON fa.id = t.from_agency_id "
        "JOIN agencies_agency ta ON ta.id = t.to_agency_id WHERE t.case_id IS NOT NULL AND t.status <> 'withdrawn' "
        "UNION ALL "
        "SELECT 'cert', c.person_id, c.channel, c.from_agency_id, fa.kind || '>' || ta.kind, "
        " (c.issued_at AT TIME ZONE %s)::date "
        "FROM custody_custodycertificate c JOIN agencies_agency fa ON fa.id = c.from_agency_id "
        "JOIN agencies_agency ta ON ta.id = c.to_agency_id WHERE c.status <> 'cancelled' "
        "UNION ALL "
        "SELECT 'handover', c.transfer_id, c.channel, c.from_agency_id, fa.kind || '>' || ta.kind, "
        " (c.issued_at AT TIME ZONE %s)::date "
        "FROM custody_custodycertificate c JOIN agencies_agency fa ON fa.id = c.from_agency_id "
        "JOIN agencies_agency ta ON ta.id = c.to_agency_id WHERE c.status <> 'cancelled' AND c.transfer_id IS NOT NULL",
        [tz, tz, tz])
    chains = (
        # metric, source, agency column, direction column, extra condition
        ("case", "case", "0", "direction", "true"),
        ("person", "cert", "0", "''", "true"),
        ("person_online", "cert", "0", "''", "channel = 'online'"),
        ("person_dir", "cert", "0", "direction", "true"),
        ("person_dir_online", "cert", "0", "direction", "channel = 'online'"),
        ("person_row", "cert", "from_id", "direction", "true"),
        ("person_row_online", "cert", "from_id", "direction", "channel = 'online'"),
        ("handover", "handover", "from_id", "direction", "true"),
    )
    for metric, src, agency, direction, condition in chains:
        # Constant SQL fragments from the tuple above; values are parameters.
        cursor.execute(
            "INSERT INTO metrics_firstseenday (metric, day, prev_day, agency_id, direction, n) "  # noqa: S608
            "SELECT %s, day, prev, agency, direction, count(*) FROM ("
            " SELECT day, agency, direction, COALESCE(lag(day) OVER (PARTITION BY ent, agency, direction "
            "  ORDER BY day), DATE '0001-01-01') AS prev FROM ("
            f"  SELECT DISTINCT ent, {agency} AS agency, {direction} AS direction, day FROM metrics_rebuild_occ "
            f"  WHERE src = %s AND {condition}) d) c GROUP BY day, prev, agency, direction",
            [metric, src])
    cursor.execute("DROP TABLE metrics_rebuild_occ")


def rebuild() -> dict[str, int]:
    """Replace every rollup with what the base tables say (one transaction)."""
    with transaction.atomic():
        # Readers of the rollups wait for the new contents instead of seeing them half-filled.
        for model, _keys, _vals in SPECS.values():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"LOCK TABLE {model._meta.db_table} IN ACCESS EXCLUSIVE MODE")
            model.objects.all().delete()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                _rebuild_postgresql(cursor)
            return {table: model.objects.count() for table, (model, _k, _v) in SPECS.items()}
        deltas = compute_from_base()
        counts: dict[str, int] = {}
        for table, (model, keys, vals) in SPECS.items():
            objs = [model(**dict(zip(keys + vals, key + tuple(values), strict=True)))
                    for (t, key), values in deltas.items() if t == table and any(values)]
            model.objects.bulk_create(objs, batch_size=5000)
            counts[table] = len(objs)
    return counts


def snapshot() -> dict[str, dict[tuple[Any, ...], tuple[int, ...]]]:
    """The rollups' contents, all-zero rows left out (a rollup row can fall back to zero)."""
    out: dict[str, dict[tuple[Any, ...], tuple[int, ...]]] = {}
    for table, (model, keys, vals) in SPECS.items():
        out[table] = {tuple(r[:len(keys)]): tuple(r[len(keys):])
                      for r in model.objects.values_list(*keys, *vals) if any(r[len(keys):])}
    return out


def expected_snapshot() -> dict[str, dict[tuple[Any, ...], tuple[int, ...]]]:
    out: dict[str, dict[tuple[Any, ...], tuple[int, ...]]] = {t: {} for t in SPECS}
    for (table, key), values in compute_from_base().items():
        if any(values):
            out[table][key] = tuple(values)
    return out

