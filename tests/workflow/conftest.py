"""Workflow fixtures: a case with a detained suspect and real documents, and a driver that
moves it through the process by firing transitions (and approving them) like the users would."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from casehub.cases.models import CustodyStatus, PersonRole
from casehub.cases.services import register_case
from casehub.dossier import services as dossier
from tests.dossier import files
from workflows import engine
from workflows.models import ApprovalRequest


@pytest.fixture
def make_case(district, tmp_path: Path):
    counter = {"n": 0}

    def _make(title: str = "张三涉嫌盗窃案", *, documents: int = 2, detained: bool = True):
        case = register_case(
            acting_user=district.investigator, title=title, summary="入室盗窃",
            persons=[{
                "role": PersonRole.SUSPECT, "name": "张三", "sex": "M", "id_number": "440307199001011234",
                "custody_status": CustodyStatus.DETAINED if detained else CustodyStatus.NOT_DETAINED,
                "custody_since": timezone.now() - timedelta(days=2) if detained else None,
                "detention_centre": district.detention if detained else None,
            }],
        )
        for i in range(documents):
            counter["n"] += 1
            path = files.write(tmp_path, f"{counter['n']}.pdf", files.text_pdf(2, f"doc{counter['n']}"))
            job = dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=path,
                                        title=f"证据材料{i + 1}", category="evidence")
            assert job.status == "done", job.message
        return case

    return _make


@pytest.fixture
def case(make_case):
    return make_case()


class Driver:
    """Fires transitions as the named district users; approvals by the agency's supervisor."""

    SUPERVISOR = {"police": "police_supervisor", "procuratorate": "procuratorate_supervisor",
                  "court": "court_supervisor"}

    def __init__(self, district, capture):
        self.district = district
        self.capture = capture  # runs on_commit work (verification) as a real commit would

    def fire(self, case, name: str, user: str, **inputs):
        actor = self.district.users[user]
        with self.capture(execute=True):
            result = engine.fire(case, name, acting_user=actor, inputs=inputs)
        if result.awaiting_approval:
            supervisor = self.district.users[self.SUPERVISOR[actor.agency.kind]]
            with self.capture(execute=True):
                result = engine.decide_approval(result.approval, acting_user=supervisor, approve=True,
                                                comment="同意")
        case.refresh_from_db()
        return result

    def to_review(self, case):
        """Police transfer for review; the procuratorate accepts."""
        self.fire(case, "transfer_for_review", "investigator", facts="2026年1月入室盗窃。", evidence="证人证言\n现场勘验")
        self.fire(case, "accept_review_transfer", "prosecutor")
        return case

    def to_execution(self, case):
        """After the judgment was served: the appeal windows pass with no appeal (CPL art. 230), the
        judgment takes effect, the court hands it to the police for execution (art. 264) and the
        police sign for it — the case closes."""
        import time_machine

        with time_machine.travel(timezone.now() + timedelta(days=11), tick=True):
            self.fire(case, "judgment_effective", "court_clerk")
            self.fire(case, "hand_over_for_execution", "court_clerk", executor="police")
            self.fire(case, "accept_execution", "investigator")
        return case

    def to_court(self, case):
        self.to_review(case)
        self.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪，刑法第二百六十四条。")
        self.fire(case, "docket_case", "court_clerk")
        return case


@pytest.fixture
def drive(district, django_capture_on_commit_callbacks):
    return Driver(district, django_capture_on_commit_callbacks)


@pytest.fixture
def pending_approvals():
    return ApprovalRequest.objects.filter(status="pending")


@pytest.fixture(autouse=True)
def _fresh_pki_cache():
    # Each test's PKI rows roll back with its transaction, but the per-process signer/trust cache
    # is keyed by a token that can repeat across tests (reported to the signing engineer); start
    # every test from an empty cache so a signer of a rolled-back root is never reused.
    from casehub.pki.services import invalidate_cache

    invalidate_cache()
    yield
    invalidate_cache()
