"""Signed checkpoints in the write-once store catch what the chain alone cannot: a rewritten tail."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from casehub.audit import checkpoints
from casehub.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from casehub.audit.services import record_event
from casehub.audit.tasks import sign_checkpoint_task
from casehub.objectstore.services import get_store, read_bytes, store_bytes

pytestmark = pytest.mark.django_db


def test_a_checkpoint_is_signed_stored_and_recorded(trail):
    checkpoint = checkpoints.sign_checkpoint()
    # The platform certificate is issued on first use (its own events come first), then the head is signed.
    assert checkpoint.sequence >= trail[-1].sequence
    assert checkpoint.head_hash == AuditEvent.objects.get(sequence=checkpoint.sequence).hash
    document = json.loads(read_bytes(checkpoint.stored_object.sha256))
    assert document["payload"]["sequence"] == checkpoint.sequence
    assert document["payload"]["previous_checkpoint"] is None
    assert get_store().stat(checkpoint.stored_object.sha256).content_type == checkpoints.CONTENT_TYPE
    made = AuditEvent.objects.get(action="audit.checkpoint")
    assert made.sequence == checkpoint.sequence + 1
    assert made.details["object"] == checkpoint.stored_object.sha256
    assert "casehub" in checkpoint.signer

    report = checkpoints.verify_with_checkpoints()
    assert report.ok, report.findings
    assert report.checkpoints_checked == 1


def test_nothing_new_means_no_new_checkpoint_and_the_next_one_links_back(trail):
    first = checkpoints.sign_checkpoint()
    assert checkpoints.sign_checkpoint() is None  # only its own "checkpoint made" event since
    record_event("test.more")
    second = sign_checkpoint_task.delay().get()
    assert second == AuditCheckpoint.objects.order_by("-sequence").first().sequence > first.sequence
    latest = AuditCheckpoint.objects.get(sequence=second)
    assert json.loads(read_bytes(latest.stored_object.sha256))["payload"]["previous_checkpoint"] == \
        first.stored_object.sha256
    report = checkpoints.verify_with_checkpoints()
    assert report.ok and report.checkpoints_checked == 2


def _rewrite_tail_from(keep: int, tamper_sql, forged_actions: list[str]) -> None:
    """What someone with database rights could do: cut the chain after ``keep`` and write a new,
    internally consistent tail (and move the head), also deleting the checkpoint rows."""
    kept = AuditEvent.objects.get(sequence=keep)
    tamper_sql("DELETE FROM audit_auditevent WHERE sequence > %s", [keep])
    tamper_sql("DELETE FROM audit_auditcheckpoint")
    AuditHead.objects.filter(pk=1).update(sequence=keep, hash=kept.hash)
    for action in forged_actions:
        record_event(action)


def test_a_rewritten_tail_with_checkpoint_rows_deleted_is_found_from_the_store(trail, tamper_sql):
    checkpoint = checkpoints.sign_checkpoint()
    signed_at = checkpoint.sequence
    victim = trail[5].sequence
    _rewrite_tail_from(victim - 1, tamper_sql, ["test.forged"] * 12)
    assert AuditCheckpoint.objects.count() == 0

    from casehub.audit.verify import verify_chain

    assert verify_chain().ok  # the chain by itself is consistent again

    report = checkpoints.verify_with_checkpoints()
    assert not report.ok
    assert report.first_bad_sequence == signed_at
    messages = " ".join(f.message for f in report.findings)
    assert "differs from the signed checkpoint" in messages
    assert "has no database row" in messages
    with pytest.raises(CommandError, match=f"first bad sequence #{signed_at}"):
        call_command("verify_audit", "--no-record")


def test_a_tail_cut_below_the_checkpoint_is_found(trail, tamper_sql):
    checkpoint = checkpoints.sign_checkpoint()
    keep = trail[6].sequence
    tamper_sql("DELETE FROM audit_auditevent WHERE sequence > %s", [keep])
    AuditHead.objects.filter(pk=1).update(sequence=keep, hash=trail[6].hash)
    report = checkpoints.verify_with_checkpoints()
    assert report.first_bad_sequence == keep + 1
    assert any(f"#{checkpoint.sequence} was signed" in f.message for f in report.findings)


def test_an_edited_checkpoint_row_is_caught_by_its_signed_document(trail, tamper_sql):
    checkpoint = checkpoints.sign_checkpoint()
    tamper_sql("UPDATE audit_auditcheckpoint SET head_hash = %s WHERE id = %s", ["f" * 64, checkpoint.pk])
    report = checkpoints.verify_with_checkpoints()
    assert [f.sequence for f in report.findings] == [checkpoint.sequence]
    assert "does not match its signed document" in report.findings[0].message


def test_a_checkpoint_signed_by_an_agency_instead_of_the_platform_is_rejected(trail, district):
    from casehub.pki.services import signer_for
    from signing import cms

    payload = {"type": checkpoints.DOCUMENT_TYPE, "version": 1, "sequence": 3, "head_hash": trail[2].hash,
               "signed_at": "2026-01-01T00:00:00.000000+00:00", "previous_checkpoint": None}
    signature = cms.sign_detached(checkpoints.canonical_json(payload), signer_for(district.police))
    store_bytes(checkpoints._document(payload, signature), content_type=checkpoints.CONTENT_TYPE)
    report = checkpoints.verify_with_checkpoints()
    assert not report.ok
    assert any("not by the platform" in f.message for f in report.findings)


def test_a_document_whose_payload_was_changed_after_signing_is_rejected(trail):
    checkpoint = checkpoints.sign_checkpoint()
    document = json.loads(read_bytes(checkpoint.stored_object.sha256))
    document["payload"]["sequence"] = 2
    store_bytes(json.dumps(document).encode(), content_type=checkpoints.CONTENT_TYPE)
    report = checkpoints.verify_with_checkpoints()
    assert any("signature is invalid" in f.message for f in report.findings)


# --- checkpoints without Celery beat (the embedded default) -----------------------------------------

@pytest.fixture
def checkpoint_every(settings):
    """Sign after every ``n`` events; forget what this process knew of the newest checkpoint."""
    def configure(events: int, minutes: float = 60) -> None:
        settings.CASEHUB_AUDIT_CHECKPOINT_EVERY_EVENTS = events
        settings.CASEHUB_AUDIT_CHECKPOINT_EVERY_MINUTES = minutes
        checkpoints._newest.clear()

    yield configure
    checkpoints._newest.clear()


def commit_events(capture, actions: list[str]) -> None:
    for action in actions:
        with capture(execute=True):  # each event in its own committed request
            record_event(action)


def test_without_beat_events_get_signed_after_commit_and_a_recomputed_rewrite_is_found(
        checkpoint_every, django_capture_on_commit_callbacks, tamper_sql):
    checkpoint_every(5)
    commit_events(django_capture_on_commit_callbacks, ["test.start"])  # 8 events from migrations before it
    first = AuditCheckpoint.objects.get()  # more than 5 events and no checkpoint yet: signed after the commit
    assert first.sequence == AuditEvent.objects.get(action="test.start").sequence + 1  # + the certificate's event
    commit_events(django_capture_on_commit_callbacks, [f"test.work{i}" for i in range(3)])
    assert AuditCheckpoint.objects.count() == 1  # 4 events since (with its own): not due yet
    commit_events(django_capture_on_commit_callbacks, ["test.work3"])
    second = AuditCheckpoint.objects.latest("sequence")
    assert second.sequence == first.sequence + 5
    assert AuditEvent.objects.get(sequence=second.sequence + 1).action == "audit.checkpoint"

    # Someone with database rights rewrites the history after the first checkpoint, recomputing hashes.
    _rewrite_tail_from(first.sequence + 1, tamper_sql, ["test.forged"] * 10)
    from casehub.audit.verify import verify_chain

    assert verify_chain().ok
    report = checkpoints.verify_with_checkpoints()
    assert not report.ok
    assert [f.sequence for f in report.findings if "was rewritten" in f.message] == [second.sequence]


def test_an_old_checkpoint_and_a_new_event_sign_again(checkpoint_every, django_capture_on_commit_callbacks):
    checkpoint_every(1000, minutes=0)  # every checkpoint is "old" at once
    commit_events(django_capture_on_commit_callbacks, ["test.a"])
    assert AuditCheckpoint.objects.count() == 0  # no checkpoint yet: only the event count starts one
    checkpoints.sign_checkpoint()
    commit_events(django_capture_on_commit_callbacks, ["test.b"])
    assert AuditCheckpoint.objects.count() == 2


def test_a_checkpoint_is_not_signed_over_a_chain_broken_since_the_last_one(trail, tamper_sql, checkpoint_every):
    checkpoints.sign_checkpoint()
    record_event("test.after")
    tamper_sql("UPDATE audit_auditevent SET previous_hash = %s WHERE action = 'test.after'", ["a" * 64])
    with pytest.raises(checkpoints.ChainBroken):
        checkpoints.sign_checkpoint()
    assert AuditCheckpoint.objects.count() == 1


def test_a_failing_checkpoint_after_commit_does_not_fail_the_request(
        checkpoint_every, django_capture_on_commit_callbacks, monkeypatch):
    checkpoint_every(1)

    def store_down(*args, **kwargs):
        raise OSError("object store unreachable")

    monkeypatch.setattr("casehub.objectstore.services.store_bytes", store_down)
    commit_events(django_capture_on_commit_callbacks, ["test.a", "test.b"])
    assert AuditEvent.objects.filter(action__startswith="test.").count() == 2
    assert AuditCheckpoint.objects.count() == 0


def test_verify_audit_signs_a_checkpoint_and_says_how_far_back_the_newest_one_is(trail):
    out = StringIO()
    call_command("verify_audit", "--no-record", stdout=out)
    assert "no signed checkpoint yet" in out.getvalue()
    call_command("verify_audit", stdout=StringIO())  # recorded: signs the verified head
    newest = AuditCheckpoint.objects.get()
    record_event("test.later")
    out = StringIO()
    call_command("verify_audit", "--no-record", stdout=out)
    head = AuditHead.objects.get().sequence
    assert f"newest signed checkpoint #{newest.sequence}, {head - newest.sequence} events behind the head" \
        in out.getvalue()


def test_cutting_the_newest_rows_of_a_quiet_trail_is_found(trail, tamper_sql):
    """The last verification signed the head; then the newest rows are deleted and the head rewound."""
    call_command("verify_audit", stdout=StringIO())
    last = AuditEvent.objects.order_by("-sequence").first()
    assert last.action == "audit.checkpoint"
    keep = AuditEvent.objects.get(sequence=last.sequence - 1)
    tamper_sql("DELETE FROM audit_auditevent WHERE sequence = %s", [last.sequence])
    AuditHead.objects.filter(pk=1).update(sequence=keep.sequence, hash=keep.hash)
    with pytest.raises(CommandError):
        call_command("verify_audit", "--no-record", stdout=StringIO())
    report = checkpoints.verify_with_checkpoints()
    assert [f.sequence for f in report.findings] == [last.sequence]
    assert "the event recording checkpoint" in report.findings[0].message


def test_a_failed_verification_signs_nothing(trail, tamper_sql):
    tamper_sql("UPDATE audit_auditevent SET action = 'x' WHERE sequence = %s", [trail[2].sequence])
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=StringIO())
    assert AuditCheckpoint.objects.count() == 0
