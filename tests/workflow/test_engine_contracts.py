"""Contracts others build on: the case_transitioned signal (after commit, observers only), the
definition as data (diagram and table derived from it), paper registrations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from casehub.audit.models import AuditEvent
from casehub.transfers.services import register_paper_transfer
from workflows import definition as d
from workflows import diagram, engine
from workflows.models import Transfer, TransferMode, TransitionLog
from workflows.signals import case_transitioned


def test_signal_is_sent_after_commit_with_the_documented_arguments(case, drive, district):
    seen = []

    def receiver(sender, **kw):
        from django.db import connection

        seen.append({**kw, "in_atomic": connection.in_atomic_block})

    case_transitioned.connect(receiver)
    try:
        drive.fire(case, "transfer_for_review", "investigator", facts="x", evidence="y")
        drive.fire(case, "accept_review_transfer", "prosecutor")
    finally:
        case_transitioned.disconnect(receiver)
    send, accept = seen
    assert (send["transition"].name, send["source"], send["target"]) == (
        "transfer_for_review", "investigation", "review_requested")
    assert send["from_agency"] == send["to_agency"] == district.police  # pending: holder unchanged
    assert send["acting_user"] == district.police_supervisor  # the approver made it happen
    assert send["transfer"].kind == "review_transfer" and send["log"].transition == "transfer_for_review"
    assert (accept["from_agency"], accept["to_agency"]) == (district.police, district.procuratorate)
    assert accept["transfer"] == send["transfer"]


def test_the_signal_waits_for_the_commit(case, district, django_capture_on_commit_callbacks, settings):
    settings.CASEHUB_WORKFLOW_APPROVALS = {"request_arrest": False}
    seen = []
    case_transitioned.connect(lambda sender, **kw: seen.append(kw["transition"].name), weak=False,
                              dispatch_uid="test.seen")
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            engine.fire(case, "request_arrest", acting_user=district.investigator, inputs={"reason": "需要逮捕"})
        assert seen == []  # nothing is sent while the transition's transaction is open
        for callback in callbacks:
            callback()
    finally:
        case_transitioned.disconnect(dispatch_uid="test.seen")
    assert seen == ["request_arrest"]


def test_a_failing_receiver_cannot_veto_or_undo_a_transition(case, district, drive):
    def refuse(sender, **kw):
        raise RuntimeError("a receiver that tries to refuse")

    drive.fire(case, "transfer_for_review", "investigator", facts="x", evidence="y")
    case_transitioned.connect(refuse)
    try:
        with pytest.raises(RuntimeError):  # the observer's own error, after the commit
            drive.fire(case, "accept_review_transfer", "prosecutor")
    finally:
        case_transitioned.disconnect(refuse)
    case.refresh_from_db()
    assert case.stage == d.Stage.PROSECUTION_REVIEW and case.holder_agency == district.procuratorate
    assert TransitionLog.objects.filter(transition="accept_review_transfer").exists()
    assert not AuditEvent.objects.filter(action="workflow.failed").exists()


def test_a_bug_in_a_declared_participant_rolls_everything_back_with_an_incident(case, district, drive, monkeypatch):
    from casehub.custody import handlers

    def broken(step):
        raise RuntimeError("custody transfer could not be issued")

    drive.fire(case, "transfer_for_review", "investigator", facts="x", evidence="y")
    events = AuditEvent.objects.count()
    monkeypatch.setitem(handlers.STEPS, "take_over", broken)
    with pytest.raises(engine.TransitionCrashed) as failed:  # a bug, not an outage: no retry invitation
        engine.fire(case, "accept_review_transfer", acting_user=district.prosecutor, inputs={})
    assert isinstance(failed.value.__cause__, RuntimeError) and failed.value.incident
    case.refresh_from_db()
    assert case.stage == d.Stage.REVIEW_REQUESTED and case.holder_agency == district.police
    assert Transfer.objects.get().status == "sent" and not Transfer.objects.get().receipt_sha256
    assert not TransitionLog.objects.filter(transition="accept_review_transfer").exists()
    # Only the record of the failed attempt, written after the rollback.
    assert list(AuditEvent.objects.order_by("sequence")[events:].values_list("action", flat=True)) == ["workflow.failed"]
    assert not case.clocks.filter(kind="review_prosecution").exists()


def test_definition_is_consistent_and_complete():
    assert d.check_definition() == []
    names = {t.name for t in d.TRANSITIONS}
    required = {"register_case", "request_arrest", "approve_arrest", "refuse_arrest", "transfer_for_review",
                "accept_review_transfer", "reject_review_transfer", "extend_review", "return_for_supplementary",
                "decide_non_prosecution", "indict", "docket_case", "reject_indictment", "announce_judgment",
                "deliver_judgment", "withdraw_review_transfer", "withdraw_indictment", "withdraw_arrest_request"}
    assert required <= names
    for t in d.TRANSITIONS:
        for guard in t.guards:
            from workflows.guards import GUARDS

            assert guard in GUARDS, (t.name, guard)
            doc = GUARDS[guard].__doc__
            assert "art." in doc.lower() or "Not a statute" in doc, f"guard {guard} must cite its article"


def test_diagram_and_table_show_exactly_the_definition():
    mermaid = diagram.mermaid()
    for source, target, t in diagram.edges():
        assert f"{'[*]' if source == '__start__' else source} --> {target}: {t.label}" in mermaid
    assert mermaid.count("-->") == len(diagram.edges()) + 1  # + closed --> [*]
    assert [r["name"] for r in diagram.table_rows()] == [t.name for t in d.TRANSITIONS]
    svg = diagram.svg()
    assert svg is None or (svg.startswith("<svg") and "审查起诉" in svg)


def test_docs_table_is_generated_from_the_definition():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "workflow.md").read_text("utf-8")
    assert diagram.markdown_table() in doc, "run: python manage.py workflow_docs > docs/workflow.md"
    assert diagram.mermaid() in doc
    assert diagram.participants_table() in doc, "every participant of every transition is documented"
    assert diagram.decisions_table() in doc


def test_docs_workflow_md_is_exactly_what_the_command_writes():
    """Prose written into docs/workflow.md by hand would be lost at the next regeneration: it
    belongs in the command's text (or another file under docs/)."""
    from pathlib import Path

    from workflows.management.commands.workflow_docs import render

    doc = (Path(__file__).resolve().parents[2] / "docs" / "workflow.md").read_text("utf-8")
    assert doc == render(), "edit workflows/management/commands/workflow_docs.py, then run: python manage.py workflow_docs"


def test_paper_registration_counts_as_an_offline_transfer(district):
    t = register_paper_transfer(
        acting_user=district.prosecutor, from_agency=district.police, kind="review_transfer",
        received_on=timezone.localdate(), volumes=3, pages=412, reason="嫌疑人案卷在平台上线前已移送",
        external_reference="深龙公（刑）诉字〔2026〕17号",
    )
    assert (t.mode, t.electronic, t.to_agency, t.paper_pages, t.status) == (
        TransferMode.PAPER, False, district.procuratorate, 412, "accepted")
    assert AuditEvent.objects.filter(action="transfer.paper_registered", object_id=str(t.pk)).exists()


# Values are made inside the test (a lambda), not at collection: "three days ahead" must be read
# from the test's own clock (CASEHUB_TEST_NOW may pin it to another year).
@pytest.mark.parametrize("bad, field", [
    (lambda: {"received_on": timezone.localdate() + timedelta(days=3)}, "received_on"),
    (lambda: {"pages": 0}, "pages"),
    (lambda: {"reason": " "}, "reason"),
    (lambda: {"external_reference": ""}, "external_reference"),
    (lambda: {"kind": "teleport"}, "kind"),
])
def test_paper_registration_refuses_bad_input(district, bad, field):
    args = dict(acting_user=district.prosecutor, from_agency=district.police, kind="review_transfer",
                received_on=timezone.localdate(), volumes=1, pages=10, reason="纸质", external_reference="某案")
    args.update(bad())
    with pytest.raises(ValidationError) as info:
        register_paper_transfer(**args)
    assert field in info.value.message_dict
    assert not Transfer.objects.exists()


def test_paper_registration_needs_the_capability(district):
    with pytest.raises(PermissionDenied):
        register_paper_transfer(acting_user=district.auditor, from_agency=district.police, kind="review_transfer",
                                received_on=timezone.localdate(), volumes=1, pages=1, reason="x",
                                external_reference="y")
