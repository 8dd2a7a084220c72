"""A sending transition appends its audit events in one step, as the last thing its transaction
does: the chain's head is locked for a handful of statements, not for the assembly, the signing
and the writes of the send (docs/workflow.md, *The audit lock*)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from casehub.audit.models import AuditEvent, AuditHead
from casehub.audit.verify import verify_chain
from workflows import engine


def test_a_sends_events_are_appended_in_one_locked_step_at_the_end_of_its_transaction(case, district, settings):
    settings.CASEHUB_WORKFLOW_APPROVALS = {"transfer_for_review": False}  # the send runs at once
    from casehub.pki.services import signer_for

    signer_for(district.police)  # the key's first use appends an event of its own: not measured here
    before = AuditHead.objects.get().sequence
    with CaptureQueriesContext(connection) as queries:
        engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                    inputs={"facts": "2026年1月入室盗窃。", "evidence": "证人证言\n现场勘验"})
    sql = [q["sql"] for q in queries.captured_queries]
    # The prepare phase and the rehearsal append nothing; the transaction locks the head once.
    locks = [i for i, s in enumerate(sql) if s.startswith('SELECT "audit_audithead"') and "LIMIT 1" in s]
    assert len(locks) == 1, [s[:80] for s in sql if "audit_" in s]
    under_lock = sql[locks[0]:]
    while under_lock and not under_lock[-1].startswith(("INSERT", "UPDATE")):
        under_lock.pop()  # the end of the (test-wrapped) transaction, and reads after it
    # The head, the events (one INSERT; on PostgreSQL in the same statement as the check for rows
    # casehub did not write and the head's move), the integration feed's rows in one INSERT:
    # nothing of the send itself.
    shapes = [s.split(" (")[0].split(" WHERE")[0][:40] for s in under_lock]
    if connection.vendor == "postgresql":
        assert shapes == ['SELECT "audit_audithead"."id", "audit_au', "WITH free AS",
                          'INSERT INTO "integration_feedentry"'], shapes
    else:
        assert shapes == ['SELECT "audit_audithead"."id", "audit_au', 'SELECT "audit_auditevent"."sequence" AS ',
                          'INSERT INTO "audit_auditevent"', 'UPDATE "audit_audithead" SET "sequence" ',
                          'INSERT INTO "integration_feedentry"'], shapes

    events = list(AuditEvent.objects.filter(sequence__gt=before))
    actions = [e.action for e in events]
    assert actions[-1] == "workflow.transfer_for_review"
    assert {"document.generated", "volume.sealed", "custody.certificates_issued"} <= set(actions)
    assert [e.sequence for e in events] == list(range(before + 1, before + 1 + len(events)))
    assert verify_chain().ok
