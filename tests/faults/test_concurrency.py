"""20 threads at once on one case: the same transition, conflicting transitions, the same upload
(THREAT_MODEL.md T6). Only legal outcomes: exactly one winner, no duplicates, no deadlock, and the
audit chain still verifies.

Each thread has its own database connection (``transaction=True``: the data is committed, so the
threads see it). On PostgreSQL (CI) the engine's row lock is what serialises them; on SQLite the
write lock taken at BEGIN IMMEDIATE does, with the engine retrying on "locked" — the assertions
are the same for both.
"""

from __future__ import annotations

import io
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pikepdf
import pytest
from django.db import connection, connections

from casehub.audit.verify import verify_chain
from casehub.cases.models import CustodyStatus
from casehub.cases.services import register_case
from workflows import engine
from workflows.models import ApprovalRequest, Transfer, TransitionLog

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("file_database")]

THREADS = 20
TIMEOUT = 120  # seconds for all threads: a deadlock fails the test instead of hanging it


def _pdf(label: str = "same") -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.docinfo["/Title"] = label
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _race(jobs):
    """Run callables at the same moment (a barrier), each in its own thread and connection."""
    barrier = threading.Barrier(len(jobs))

    def run(job):
        try:
            barrier.wait(timeout=30)
            return ("ok", job())
        except Exception as exc:  # noqa: BLE001 - the outcome is what we assert on
            return ("error", exc)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(run, job) for job in jobs]
        return [f.result(timeout=TIMEOUT) for f in futures]


def _case_with_document(district, tmp_path, title="并发测试案"):
    from casehub.dossier import services as dossier

    case = register_case(acting_user=district.investigator, title=title, persons=[{
        "name": "赵六", "sex": "M", "custody_status": CustodyStatus.NOT_DETAINED}])
    (tmp_path / "a.pdf").write_bytes(_pdf("doc"))
    job = dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=tmp_path / "a.pdf",
                                title="证据", category="evidence")
    assert job.status == "done", job.message
    return case


def _refused(outcomes):
    return [o for kind, o in outcomes if kind == "error"]


def _assert_only_refusals(errors):
    unexpected = [e for e in errors if not isinstance(e, engine.TransitionError)]
    assert not unexpected, f"errors other than a clean refusal: {unexpected!r}"


def _assert_chain_ok():
    report = verify_chain()
    assert report.ok, report.as_dict()


def test_same_transition_twenty_times_gives_one_request_then_one_transfer(district, tmp_path):
    case = _case_with_document(district, tmp_path)
    inputs = {"facts": "事实", "evidence": "证据一"}
    outcomes = _race([lambda: engine.fire(case.__class__.objects.get(pk=case.pk), "transfer_for_review",
                                          acting_user=district.investigator, inputs=inputs)] * THREADS)
    winners = [o for kind, o in outcomes if kind == "ok"]
    assert len(winners) == 1, outcomes
    _assert_only_refusals(_refused(outcomes))
    assert ApprovalRequest.objects.filter(case=case).count() == 1

    approval = ApprovalRequest.objects.get(case=case)
    outcomes = _race([lambda: engine.decide_approval(ApprovalRequest.objects.get(pk=approval.pk),
                                                     acting_user=district.police_supervisor, approve=True,
                                                     comment="同意")] * THREADS)
    assert sum(1 for kind, _o in outcomes if kind == "ok") == 1, outcomes
    _assert_only_refusals(_refused(outcomes))
    case.refresh_from_db()
    assert case.stage == "review_requested"
    assert Transfer.objects.filter(case=case).count() == 1
    assert TransitionLog.objects.filter(case=case, transition="transfer_for_review").count() == 1
    assert case.numbers.filter(kind="prosecution_recommendation").count() == 1
    _assert_chain_ok()


def test_conflicting_transitions_on_a_pending_package_have_one_winner(district, tmp_path,
                                                                      django_capture_on_commit_callbacks):
    case = _case_with_document(district, tmp_path)
    result = engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                         inputs={"facts": "事实", "evidence": "证据一"})
    engine.decide_approval(result.approval, acting_user=district.police_supervisor, approve=True, comment="同意")
    transfer = Transfer.objects.get(case=case)
    transfer.refresh_from_db()
    assert transfer.verification_status == "passed"  # verification ran after the commit

    def fresh():
        return case.__class__.objects.get(pk=case.pk)

    jobs = (
        [lambda: engine.fire(fresh(), "accept_review_transfer", acting_user=district.prosecutor)] * 7
        + [lambda: engine.fire(fresh(), "reject_review_transfer", acting_user=district.prosecutor,
                               inputs={"reason": "卷宗不齐全"})] * 7
        + [lambda: engine.fire(fresh(), "withdraw_review_transfer", acting_user=district.investigator)] * 6
    )
    outcomes = _race(jobs)
    winners = [o for kind, o in outcomes if kind == "ok"]
    assert len(winners) == 1, outcomes
    _assert_only_refusals(_refused(outcomes))
    won = winners[0].spec.name
    case.refresh_from_db()
    transfer.refresh_from_db()
    logs = Counter(TransitionLog.objects.filter(case=case).values_list("transition", flat=True))
    assert logs[won] == 1
    assert sum(logs[n] for n in ("accept_review_transfer", "reject_review_transfer", "withdraw_review_transfer")) == 1
    if won == "accept_review_transfer":
        assert (case.stage, case.holder_agency) == ("prosecution_review", district.procuratorate)
        assert transfer.status == "accepted"
    else:
        assert (case.stage, case.holder_agency) == ("investigation", district.police)
        assert transfer.status != "accepted"
    _assert_chain_ok()


def test_twenty_uploads_of_the_same_file_store_one_object(district, tmp_path):
    from casehub.dossier import services as dossier
    from casehub.dossier.models import Document, IngestJob
    from casehub.objectstore.models import StoredObject

    case = register_case(acting_user=district.investigator, title="并发上传测试案")
    data = _pdf("uploaded twenty times")
    paths = []
    for i in range(THREADS):
        path = tmp_path / f"copy{i}.pdf"
        path.write_bytes(data)
        paths.append(path)

    def upload(path):
        return lambda: dossier.ingest_upload(case=case, acting_user=district.investigator,
                                             uploaded_file_or_path=path, title="同一份笔录", category="evidence")

    outcomes = _race([upload(p) for p in paths])
    crashed = _refused(outcomes)
    assert not crashed, f"uploads raised instead of finishing: {crashed!r}"
    jobs = IngestJob.objects.filter(case=case)
    assert jobs.count() == THREADS
    assert set(jobs.values_list("status", flat=True)) <= {"done", "failed"}, "a job was left unfinished"
    failed = [j.message for j in jobs.filter(status="failed")]
    assert all("内部错误" not in m for m in failed), f"internal errors under concurrency: {failed}"
    # One object in the store, however many documents refer to it.
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    assert StoredObject.objects.filter(sha256=sha).count() == 1
    documents = Document.objects.filter(case=case)
    assert documents.count() == jobs.filter(status="done").count() >= 1
    assert {d.stored.sha256 for d in documents} == {sha}
    # Positions in the volume are distinct (no two documents in the same slot).
    positions = [(d.volume_id, d.position) for d in documents if hasattr(d, "position")]
    assert len(positions) == len(set(positions))
    _assert_chain_ok()
    assert connection.vendor in ("sqlite", "postgresql")
