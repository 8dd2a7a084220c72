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
from casehub.cases.models import Case, NumberSequence, PersonRole
from casehub.cases.services import register_case
from casehub.custody import documents as custody_documents
from casehub.custody.models import CustodyCertificate, CustodyEvent, CustodyNotice
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


def _signed(stored: StoredObject) -> bool:
    """The stored PDF carries a valid signature and is the content its row names."""
    from casehub.pki.services import trust_store
    from signing.pades import verify_pdf

    return verify_pdf(objectstore.read_bytes(stored), trust_store(), expected_sha256=stored.sha256).valid


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
    # locked. Then the apply phase was rehearsed (the first lock, rolled back) to learn which custody
    # certificate it signs; the certificate was rendered and signed after that, outside any lock; the
    # transaction (the last lock) used the prepared bytes and rendered nothing.
    assert heavy_work == ["起诉意见书", "volume", "LOCK", "换押证", "LOCK"]
    assert _locked_part(heavy_work) == []
    certificate = CustodyCertificate.objects.get(case=case)
    assert certificate.number.endswith("1号") and _signed(certificate.pdf)
    # The rehearsal left nothing behind: no row points at content the store has not got.
    assert not StoredObject.objects.filter(key__startswith="rehearsal/").exists()
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
    assert heavy_work == ["起诉意见书", "volume", "LOCK", "换押证", "LOCK"]
    assert _locked_part(heavy_work) == []


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


@pytest.fixture
def two_suspects(district, tmp_path):
    """A case with two detained suspects and one uploaded piece of evidence."""
    from django.utils import timezone

    from casehub.custody.services import register_custody
    from tests.dossier import files

    since = timezone.now() - timezone.timedelta(days=1)
    case = register_case(acting_user=district.investigator, title="张三、李四涉嫌盗窃案", summary="结伙盗窃", persons=[
        {"role": PersonRole.SUSPECT, "name": name, "sex": "M", "id_number": f"44030719900101{n}"}
        for n, name in (("1234", "张三"), ("5678", "李四"))])
    for person in case.persons.order_by("id"):  # the police's own detention, with its custody record
        register_custody(person, detention_centre=district.detention, measure="detained", since=since,
                         acting_user=district.investigator)
    path = files.write(tmp_path, "evidence.pdf", files.text_pdf(2, "evidence"))
    job = dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=path,
                                title="证据材料", category="evidence")
    assert job.status == "done", job.message
    return case


@pytest.mark.django_db
def test_two_suspects_certificates_are_both_prepared_with_the_numbers_the_transaction_takes(
        two_suspects, district, no_approval, heavy_work, django_capture_on_commit_callbacks):
    """One 换押证 per detained suspect, each with its own number of the sender's series: the rehearsal
    learns both numbers (1 and 2), both certificates are rendered and signed outside the transaction,
    and the transaction renders neither again."""
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(two_suspects, "transfer_for_review", acting_user=district.investigator, inputs=SEND_INPUTS)

    assert heavy_work == ["起诉意见书", "volume", "LOCK", "换押证", "换押证", "LOCK"]
    assert _locked_part(heavy_work) == []
    certificates = list(CustodyCertificate.objects.filter(case=two_suspects).order_by("person_id"))
    assert [c.person.name for c in certificates] == ["张三", "李四"]
    assert sorted(c.number[-3:] for c in certificates) == ["〕1号", "〕2号"]
    assert all(_signed(c.pdf) for c in certificates)
    assert certificates[0].pdf_id != certificates[1].pdf_id


@pytest.mark.django_db
def test_two_suspects_arrest_decisions_and_notices_are_prepared_for_every_person(
        two_suspects, district, heavy_work, settings, django_capture_on_commit_callbacks):
    """批准逮捕 of two suspects takes two numbers of the 批捕 series and two of the notice series (one
    批准逮捕决定书 and one change notice per person): the prepare phase predicts the second 批捕 number
    too, and the rehearsal the notices, so nothing is rendered under the transaction's lock."""
    settings.CASEHUB_WORKFLOW_APPROVALS = {"request_arrest": False, "approve_arrest": False}
    with django_capture_on_commit_callbacks(execute=True):  # the package is verified after commit
        engine.fire(two_suspects, "request_arrest", acting_user=district.investigator,
                    inputs={"reason": "涉嫌盗窃，有逮捕必要。"})
    with django_capture_on_commit_callbacks(execute=True):
        engine.fire(two_suspects, "accept_arrest_request", acting_user=district.prosecutor, inputs={})
    heavy_work.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = engine.fire(two_suspects, "approve_arrest", acting_user=district.prosecutor, inputs={})

    # Prepare: both decisions (numbers 1 and 2) and the volume; rehearsal; both notices; apply.
    assert heavy_work == ["批准逮捕决定书", "批准逮捕决定书", "volume", "LOCK", "变更羁押期限通知书",
                          "变更羁押期限通知书", "LOCK"]
    numbers = result.log.inputs["numbers"]["arrest_decision"].split("、")
    assert len(numbers) == 2 and numbers[0] != numbers[1]
    notices = CustodyNotice.objects.filter(case=two_suspects, kind="arrest")
    assert notices.count() == 2 and all(_signed(n.pdf) for n in notices)


@pytest.mark.django_db
def test_a_case_changed_after_the_certificates_were_prepared_leaves_nothing_but_unreferenced_objects(
        two_suspects, district, no_approval, monkeypatch):
    """Another writer changes the case after the rehearsal and the signing of the certificates, before
    the transaction: the send is refused as CaseChanged; no certificate, custody event or number of it
    remains, and its signed certificates are content nobody references, which the sweep lists."""
    case = two_suspects
    version, documents = case.version, Document.objects.filter(case=case).count()
    sign = custody_documents._sign
    signed_shas: list[str] = []

    def sign_then_another_writer(pdf, agency, **kwargs):
        import hashlib

        data = sign(pdf, agency, **kwargs)
        signed_shas.append(hashlib.sha256(data).hexdigest())
        if len(signed_shas) == 2:  # both certificates are signed: a custody decision moves the case on
            with engine.engine_writes(), transaction.atomic():
                locked = Case.objects.select_for_update().get(pk=case.pk)
                locked.version += 1
                locked.save(update_fields=["version", "updated_at"])
        return data

    monkeypatch.setattr(custody_documents, "_sign", sign_then_another_writer)
    with pytest.raises(engine.CaseChanged):
        engine.fire(case, "transfer_for_review", acting_user=district.investigator, inputs=SEND_INPUTS)

    _nothing_written(case, version + 1, documents)
    assert not CustodyCertificate.objects.filter(case=case).exists()
    assert not CustodyEvent.objects.filter(record__case=case, kind="issued").exists()
    assert not NumberSequence.objects.filter(kind="custody_certificate").exclude(last=0).exists()
    assert len(signed_shas) == 2
    store = objectstore.get_store()
    assert all(store.exists(sha) for sha in signed_shas)
    assert not StoredObject.objects.filter(sha256__in=signed_shas).exists()
    unreferenced = []
    run_sweep(scope="all", on_problem=lambda p: unreferenced.append(p.sha256) if p.problem == "unreferenced" else None)
    assert set(signed_shas) <= set(unreferenced)
