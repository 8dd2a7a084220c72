"""A sending transition prepares its heavy work before it locks anything (issue #14).

Rendering the generated document, assembling the 200-page volume, PAdES-signing it and writing
both to the object store happen in the *prepare* phase, outside any transaction; the durable
transaction then locks the case row, re-checks the version and writes the rows with the prepared
objects. These scenarios hold the prepare phase still (an event) and look at what the rest of the
platform can do meanwhile, and at what is left when the apply phase does not happen.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from casehub.audit.models import AuditEvent
from casehub.audit.services import record_event
from casehub.cases.models import Case, NumberSequence
from casehub.dossier import services as dossier
from casehub.dossier.models import Document, Volume, VolumeStatus
from casehub.objectstore import services as objectstore
from casehub.objectstore.models import StoredObject
from casehub.objectstore.sweep import run_sweep
from casehub.pdfgen import forms as pdfforms
from storage import StorageUnavailable
from workflows import definition as d
from workflows import engine
from workflows.models import Transfer, TransitionLog

SEND_INPUTS = {"facts": "2026年1月入室盗窃。", "evidence": "证人证言\n现场勘验"}


@pytest.fixture
def no_approval(settings):
    settings.CASEHUB_WORKFLOW_APPROVALS = {"transfer_for_review": False}


@pytest.fixture
def heavy_work(monkeypatch):
    """Record, in order, every volume build, every document rendering (by title) and the moment
    the engine locks the case row."""
    calls: list[str] = []
    build, render, lock = dossier._build_volume, pdfforms.render_form, engine._lock

    def _build_volume(recipe, agency):
        calls.append("volume")
        return build(recipe, agency)

    def render_form(title, *args, **kwargs):
        calls.append(str(title))
        return render(title, *args, **kwargs)

    def _lock(case):
        calls.append("LOCK")
        return lock(case)

    monkeypatch.setattr(dossier, "_build_volume", _build_volume)
    monkeypatch.setattr(pdfforms, "render_form", render_form)
    monkeypatch.setattr(engine, "_lock", _lock)
    return calls


def _locked_part(calls: list[str]) -> list[str]:
    """What ran after the case row was locked (the last lock: the send's own transaction)."""
    return calls[len(calls) - calls[::-1].index("LOCK"):]


def _nothing_written(case: Case, version: int, documents: int) -> None:
    case.refresh_from_db()
    assert (case.stage, case.version) == (d.Stage.INVESTIGATION, version)
    assert not TransitionLog.objects.filter(case=case, transition="transfer_for_review").exists()
    assert not Transfer.objects.filter(case=case).exists()
    assert Document.objects.filter(case=case).count() == documents  # no 起诉意见书 filed
    assert not Volume.objects.filter(case=case).exclude(status=VolumeStatus.DRAFT).exists()  # nothing sealed
    assert not NumberSequence.objects.filter(kind="prosecution_recommendation").exclude(last=0).exists()


@pytest.mark.django_db
def test_the_send_renders_assembles_and_signs_before_its_transaction(case, district, no_approval, heavy_work,
                                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = engine.fire(case, "transfer_for_review", acting_user=district.investigator, inputs=SEND_INPUTS)

    assert result.transfer is not None and result.transfer.volume_count == 1
    # The 起诉意见书 was rendered once and the volume built and signed once, both before the case was
    # locked; the transaction used the prepared bytes (only the custody certificate, a custody
    # step, is still rendered under the lock).
    assert heavy_work[:3] == ["起诉意见书", "volume", "LOCK"]
    assert _locked_part(heavy_work) == ["换押证"]
    generated = Document.objects.get(case=case, generated=True)
    volume = Volume.objects.get(case=case, status=VolumeStatus.ASSEMBLED)
    assert generated.volume_id == volume.pk and generated.title == "起诉意见书"
    # What travels is what was prepared: the stored volume verifies and lists the generated document.
    assert dossier.volume_signature_status(volume).valid
    assert any(doc["id"] == generated.pk for doc in result.transfer.manifest["documents"])
    recommendation = result.log.inputs["numbers"]["prosecution_recommendation"]
    assert recommendation.endswith("001号")


@pytest.mark.django_db
def test_an_approval_prepares_before_its_transaction_too(case, district, heavy_work,
                                                         django_capture_on_commit_callbacks):
    asked = engine.fire(case, "transfer_for_review", acting_user=district.investigator, inputs=SEND_INPUTS)
    assert asked.awaiting_approval and "volume" not in heavy_work
    heavy_work.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = engine.decide_approval(asked.approval, acting_user=district.police_supervisor, approve=True)
    assert result.transfer is not None
    assert heavy_work[:3] == ["起诉意见书", "volume", "LOCK"]
    assert _locked_part(heavy_work) == ["换押证"]


@pytest.mark.django_db
def test_a_number_taken_meanwhile_is_rendered_again_inside_with_the_issued_number(
        case, make_case, district, no_approval, heavy_work, monkeypatch, django_capture_on_commit_callbacks):
    """The prepared 起诉意见书 carries the number the counter would give next; if another case takes
    it first, the transaction issues the next one and renders the document (and the volume) again —
    correct, only slower."""
    other = make_case("李四涉嫌诈骗案")
    build = dossier._build_volume
    raced = []

    def take_the_number_first(recipe, agency):
        if not raced:
            raced.append(True)
            with django_capture_on_commit_callbacks(execute=True):
                engine.fire(other, "transfer_for_review", acting_user=district.investigator, inputs=SEND_INPUTS)
        return build(recipe, agency)

    monkeypatch.setattr(dossier, "_build_volume", take_the_number_first)
    with django_capture_on_commit_callbacks(execute=True):
        result = engine.fire(case, "transfer_for_review", acting_user=district.investigator, inputs=SEND_INPUTS)
    assert result.log.inputs["numbers"]["prosecution_recommendation"].endswith("002号")
    assert dossier.volume_signature_status(Volume.objects.get(case=case, status=VolumeStatus.ASSEMBLED)).valid


@pytest.mark.django_db
def test_storage_outage_while_preparing_is_a_side_effect_failure_and_writes_nothing(
        case, district, no_approval, monkeypatch):
    version, documents = case.version, Document.objects.filter(case=case).count()
    store = objectstore.get_store()

    def down(*args, **kwargs):
        raise StorageUnavailable("object store down", endpoint="test")

    monkeypatch.setattr(store, "put_bytes", down)
    with pytest.raises(engine.SideEffectFailed) as raised:
        engine.fire(case, "transfer_for_review", acting_user=district.investigator, inputs=SEND_INPUTS)

    assert "对象存储暂时不可用" in str(raised.value)
    _nothing_written(case, version, documents)
    failed = AuditEvent.objects.filter(case_id=case.pk, action="workflow.failed").get()
    assert failed.details["transition"] == "transfer_for_review"


@pytest.mark.django_db
def test_a_version_race_while_preparing_is_case_changed_and_leaves_only_unreferenced_objects(
        case, district, no_approval, monkeypatch, settings):
    """Another writer changes the case while the send is being prepared: the send is refused as
    CaseChanged, nothing of it is written, and its prepared objects are content nobody references
    (the storage sweep lists them as unreferenced)."""
    from casehub.custody.services import register_custody  # noqa: F401 - the custody app is installed

    version, documents = case.version, Document.objects.filter(case=case).count()
    build = dossier._build_volume
    prepared_shas: list[str] = []

    def another_writer_meanwhile(recipe, agency):
        data = build(recipe, agency)
        with engine.engine_writes(), transaction.atomic():  # e.g. a custody decision: the version moves on
            locked = Case.objects.select_for_update().get(pk=case.pk)
            locked.version += 1
            locked.save(update_fields=["version", "updated_at"])
        import hashlib

        prepared_shas.append(hashlib.sha256(data).hexdigest())
        return data

    monkeypatch.setattr(dossier, "_build_volume", another_writer_meanwhile)
    with pytest.raises(engine.CaseChanged):
        engine.fire(case, "transfer_for_review", acting_user=district.investigator, inputs=SEND_INPUTS)

    _nothing_written(case, version + 1, documents)
    assert prepared_shas and objectstore.get_store().exists(prepared_shas[0])
    assert not StoredObject.objects.filter(sha256=prepared_shas[0]).exists()
    unreferenced = []
    run_sweep(scope="all", on_problem=lambda p: unreferenced.append(p.sha256) if p.problem == "unreferenced" else None)
    assert prepared_shas[0] in unreferenced


@pytest.mark.django_db(transaction=True)
def test_while_a_send_is_prepared_other_writers_of_the_case_and_the_audit_chain_are_not_blocked(
        case, district, no_approval, monkeypatch):
    """The prepare phase holds no lock: while it is held still, another user's write to the same
    case (row lock + an audit event: the chain's head lock) goes through at once; then the send
    completes, because that write did not change the case's version."""
    entered, release = threading.Event(), threading.Event()
    build = dossier._build_volume
    seen: dict[str, object] = {}

    def held_still(recipe, agency):
        seen["in_transaction"] = connection.in_atomic_block
        entered.set()
        assert release.wait(60)
        return build(recipe, agency)

    monkeypatch.setattr(dossier, "_build_volume", held_still)
    outcome: dict[str, object] = {}

    def send():
        try:
            outcome["result"] = engine.fire(Case.objects.get(pk=case.pk), "transfer_for_review",
                                            acting_user=district.investigator, inputs=SEND_INPUTS)
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcome["error"] = exc
        finally:
            connection.close()

    sender = threading.Thread(target=send)
    sender.start()
    try:
        assert entered.wait(60), outcome
        assert seen["in_transaction"] is False
        # Another writer of the same case, while the send is being prepared: not blocked.
        done = threading.Event()

        def other_writer():
            try:
                with transaction.atomic():
                    Case.objects.select_for_update().get(pk=case.pk)
                    record_event("case.viewed", actor=district.police_supervisor, case=case.pk, obj=case)
                done.set()
            finally:
                connection.close()

        writer = threading.Thread(target=other_writer)
        writer.start()
        writer.join(20)
        assert done.is_set(), "the other writer was blocked by a send that was only being prepared"
        assert not TransitionLog.objects.filter(case=case, transition="transfer_for_review").exists()
    finally:
        release.set()
        sender.join(120)
    assert "error" not in outcome, outcome
    case.refresh_from_db()
    assert case.stage == d.Stage.REVIEW_REQUESTED
