"""verify_audit on both cores finds exactly what the one-process walk finds.

Rows are checked in runs: a run whose rows follow each other without a gap and link to each other
is checked for content only and the walk jumps to its end; any other run goes through the link
check row by row. On PostgreSQL, outside a transaction, worker processes check the runs (issue
#21: ≥ 300,000 events/s). Not a statute: the integrity of the trail itself (全程留痕).
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from casehub.audit.chain import event_hash
from casehub.audit.verify import verify_chain


def findings(**kwargs) -> list[tuple[int, str]]:
    return [(f.sequence, f.message) for f in verify_chain(**kwargs).findings]


def forge_link(tamper, row) -> None:
    """Rewrite a row and recompute its hash: it is self-consistent but the next row no longer links to it."""
    forged = event_hash(sequence=row.sequence, occurred_at=row.occurred_at, actor_id=None, actor_label="system",
                        agency_id=None, action="forged", object_type="", object_id="", case_id=None, details={},
                        previous_hash=row.previous_hash)
    tamper("UPDATE audit_auditevent SET action = 'forged', details = '{}', hash = %s WHERE sequence = %s",
           [forged, row.sequence])


TAMPERING = {
    "edited details": lambda tamper, t: tamper("UPDATE audit_auditevent SET details = %s WHERE sequence = %s",
                                               [json.dumps({"n": 400}), t[3].sequence]),
    "edited timestamp": lambda tamper, t: tamper("UPDATE audit_auditevent SET occurred_at = %s WHERE sequence = %s",
                                                 ["2020-01-01 00:00:00", t[6].sequence]),
    "rewritten with its hash": lambda tamper, t: forge_link(tamper, t[4]),
    "deleted row": lambda tamper, t: tamper("DELETE FROM audit_auditevent WHERE sequence = %s", [t[5].sequence]),
    "two deleted rows": lambda tamper, t: tamper("DELETE FROM audit_auditevent WHERE sequence IN (%s, %s)",
                                                 [t[2].sequence, t[8].sequence]),
    "cut tail": lambda tamper, t: tamper("DELETE FROM audit_auditevent WHERE sequence > %s", [t[7].sequence]),
}


@pytest.mark.django_db
@pytest.mark.parametrize("how", TAMPERING)
def test_runs_of_any_length_give_the_findings_of_one_pass(trail, tamper_sql, how):
    """Every split of the trail into runs (1 … 12 rows) reports the same rows as a single run."""
    TAMPERING[how](tamper_sql, trail)
    whole = findings()
    assert whole, "the tampering must be found"
    for size in range(1, 13):
        assert findings(batch_size=size) == whole, size


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", TAMPERING)
def test_worker_processes_find_exactly_what_one_process_finds(trail_committed, tamper_sql, how):
    trail = trail_committed
    assert verify_chain(workers=2, batch_size=4).ok
    TAMPERING[how](tamper_sql, trail)
    one = findings(batch_size=4)
    assert one
    assert findings(workers=2, batch_size=4) == one
    assert findings(workers=3, batch_size=1) == one


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_command_runs_workers_and_checks_every_event(trail_committed):
    from io import StringIO

    out = StringIO()
    call_command("verify_audit", "--no-record", "--workers", "2", stdout=out)
    report = verify_chain(workers=2, batch_size=3)
    assert report.ok and report.events_checked == report.head_sequence == trail_committed[-1].sequence
    assert f"checked {trail_committed[-1].sequence} events" in out.getvalue()


@pytest.fixture
def trail_committed(transactional_db):
    from casehub.audit.services import record_event

    return [record_event(f"test.action{i % 3}", details={"n": i, "note": f"笔录第{i}页", "nested": {"b": 1, "a": [i]}})
            for i in range(1, 31)]
