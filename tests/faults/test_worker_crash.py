"""A real Celery worker against Redis is killed (SIGKILL) in the middle of volume assembly and of
transfer verification: the task is redelivered (acks late), completes exactly once, and the
result is the same as an undisturbed run (THREAT_MODEL.md D2). A pickle message sent to the real
worker is refused without being unpickled (E3).
"""

from __future__ import annotations

import io
import time

import pikepdf
import pytest

from casehub.audit.models import AuditEvent
from casehub.cases.models import CustodyStatus
from casehub.cases.services import register_case

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("file_database")]


def _pdf(pages: int, label: str) -> bytes:
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(595, 842))
    pdf.docinfo["/Title"] = label
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _case_with_documents(district, tmp_path, title):
    from casehub.dossier import services as dossier

    case = register_case(acting_user=district.investigator, title=title, persons=[{
        "name": "钱七", "sex": "M", "custody_status": CustodyStatus.NOT_DETAINED}])
    for i, pages in enumerate((2, 3)):
        path = tmp_path / f"{title}-{i}.pdf"
        path.write_bytes(_pdf(pages, f"{title}-{i}"))
        job = dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=path,
                                    title=f"材料{i + 1}", category="evidence")
        assert job.status == "done", job.message
    return case


def _wait(predicate, timeout: float, workers, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    logs = "\n".join(w.output()[-3000:] for w in workers)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def _volume_shape(case):
    from casehub.dossier.models import Volume

    return [(v.part, v.number, v.status, v.page_count if hasattr(v, "page_count") else None,
             list(v.documents.order_by("position").values_list("title", flat=True)) if hasattr(v, "documents") else [])
            for v in Volume.objects.filter(case=case).order_by("part", "number")]


def test_worker_killed_during_volume_assembly_redelivers_and_assembles_once(district, tmp_path, celery_worker):
    from casehub.dossier.models import AssemblyJob, Volume
    from casehub.dossier.services import run_assembly_job

    # Undisturbed run, in-process, for comparison.
    control = _case_with_documents(district, tmp_path, "对照案")
    control_job = AssemblyJob.objects.create(case=control, agency=district.police, created_by=district.investigator,
                                             part="main")
    assert run_assembly_job(str(control_job.pk)).status == "done"

    case = _case_with_documents(district, tmp_path, "崩溃案")
    job = AssemblyJob.objects.create(case=case, agency=district.police, created_by=district.investigator, part="main")
    first = celery_worker(crash_in="casehub.dossier.services.assemble_volume")
    celery_worker.send("casehub.dossier.tasks.assemble_volumes", str(job.pk))
    first.wait_paused()
    first.kill()
    job.refresh_from_db()
    assert not job.is_finished, "the task finished before the crash point: the test proves nothing"

    killed_at = time.monotonic()
    second = celery_worker()
    # The platform's visibility timeout (here a few seconds, CASEHUB_TASK_VISIBILITY_TIMEOUT) brings
    # the task back, not kombu's default hour: well within a minute, worker start-up included.
    _wait(lambda: AssemblyJob.objects.get(pk=job.pk).is_finished, 60, [first, second], "the redelivered task")
    redelivered_after = time.monotonic() - killed_at
    job.refresh_from_db()
    assert job.status == "done", job.message
    assert redelivered_after < 60
    assert "assemble_volumes[" in second.output() and "succeeded" in second.output(), (
        "the second worker did not run the redelivered task")

    # Exactly once: one assembled volume, one assembly event per volume, same shape as the control.
    volumes = Volume.objects.filter(case=case)
    assert volumes.filter(status="assembled").count() == 1
    assembled_events = AuditEvent.objects.filter(case_id=case.pk, action__contains="assembled").count()
    control_events = AuditEvent.objects.filter(case_id=control.pk, action__contains="assembled").count()
    assert assembled_events == control_events
    shape = [row[1:] for row in _volume_shape(case)]
    control_shape = [row[1:] for row in _volume_shape(control)]
    assert shape == control_shape


def test_worker_killed_during_transfer_verification_redelivers_and_verifies_once(
        district, tmp_path, celery_worker, monkeypatch):
    from casehub.transfers import tasks as transfer_tasks
    from workflows import engine
    from workflows.models import Transfer, VerificationStatus

    case = _case_with_documents(district, tmp_path, "校验崩溃案")
    result = engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                         inputs={"facts": "事实", "evidence": "证据一"})
    # Verification is queued after commit; keep it from running in-process (eager) here.
    monkeypatch.setattr(transfer_tasks.verify_transfer, "delay", lambda *a, **kw: None)
    engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True, comment="同意")
    transfer = Transfer.objects.get(case=case)
    assert transfer.verification_status == VerificationStatus.PENDING

    first = celery_worker(crash_in="workflows.packaging._check_object")
    celery_worker.send("transfers.verify_transfer", transfer.pk)
    first.wait_paused()
    first.kill()
    transfer.refresh_from_db()
    assert transfer.verification_status == VerificationStatus.RUNNING  # left mid-way by the crash

    second = celery_worker()
    _wait(lambda: Transfer.objects.get(pk=transfer.pk).verification_status == VerificationStatus.PASSED, 90,
          [first, second], "the redelivered verification")
    events = AuditEvent.objects.filter(case_id=case.pk, action="transfer.verified")
    assert events.count() == 1, "verification recorded more than once"
    assert events.get().details["ok"] is True
    with pytest.raises(engine.TransitionError):
        engine.fire(case, "withdraw_review_transfer", acting_user=district.prosecutor)  # wrong party: refused
    engine.fire(case, "accept_review_transfer", acting_user=district.prosecutor)


def test_the_real_worker_refuses_a_pickle_message(tmp_path, celery_worker):
    marker = tmp_path / "unpickled"

    class Bomb:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    worker = celery_worker()
    celery_worker.send("casehub.clocks.tasks.check_clocks_task", Bomb(), serializer="pickle")
    celery_worker.send("casehub.audit.tasks.sign_checkpoint_task")  # a JSON message after it: still served
    _wait(lambda: "casehub.audit.tasks.sign_checkpoint_task" in worker.output() and "succeeded" in worker.output(),
          60, [worker], "the JSON task after the pickle one")
    assert not marker.exists(), "the worker unpickled a message"
    assert worker.alive
    output = worker.output()
    assert "ContentDisallowed" in output or "disallowed" in output.lower(), output[-2000:]


def test_the_broker_hands_unacknowledged_tasks_on_after_the_configured_visibility_timeout(settings):
    from casehub.celery import app

    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] == settings.CASEHUB_TASK_VISIBILITY_TIMEOUT == 900  # not kombu's hour
    assert options["unacked_restore_interval"] <= 10 and options["unacked_restore_throttle"] == 1


def test_an_ingest_that_outlives_the_visibility_timeout_runs_twice_and_files_one_document(
        district, tmp_path, celery_worker):
    """The trade-off of a visibility timeout shorter than a task: the broker hands the still-running
    task to a second worker. Both runs finish; the dossier holds the document once."""
    from casehub.dossier import services as dossier
    from casehub.dossier.models import Document, IngestJob

    case = register_case(acting_user=district.investigator, title="重复投递案", persons=[{
        "name": "钱七", "sex": "M", "custody_status": CustodyStatus.NOT_DETAINED}])
    source = tmp_path / "slow.pdf"
    source.write_bytes(_pdf(2, "slow"))
    staged, name, size = dossier._stage(source)
    job = IngestJob.objects.create(case=case, agency=district.police, created_by=district.investigator,
                                   category="evidence", title="询问笔录", original_filename=name,
                                   staged_path=str(staged), size=size)

    # The first worker stalls just before filing, for far longer than the visibility timeout ...
    slow = celery_worker(crash_in="casehub.dossier.services._record_document", pause=30)
    celery_worker.send("casehub.dossier.tasks.ingest_document", str(job.pk))
    slow.wait_paused()
    # ... so a second worker receives the same task and completes it meanwhile.
    fast = celery_worker()
    _wait(lambda: IngestJob.objects.get(pk=job.pk).status == "done", 28, [slow, fast], "the second delivery")
    assert slow.alive and "ingest_document[" in fast.output()
    # Then the first run wakes up and finishes too.
    _wait(lambda: "succeeded" in slow.output(), 60, [slow, fast], "the first delivery to finish")

    job.refresh_from_db()
    assert job.status == "done" and job.message == ""
    assert Document.objects.filter(case=case).count() == 1
    assert job.document_id == Document.objects.get(case=case).pk
    assert AuditEvent.objects.filter(case_id=case.pk, action="document.uploaded").count() == 1
    assert not AuditEvent.objects.filter(case_id=case.pk, action="document.rejected").exists()
