"""Four eyes: nobody approves their own outgoing transfer or decision (THREAT_MODEL.md E4).

A user holding both the investigator and the supervisor role (a small agency) prepares a transfer
and then tries to approve it — through the engine and through the approval page.
"""

from __future__ import annotations

import io

import pikepdf
import pytest
from django.urls import reverse

from casehub.agencies.models import Role
from casehub.cases.services import register_case
from workflows import engine
from workflows.models import ApprovalRequest

pytestmark = pytest.mark.django_db


def _pdf() -> bytes:
    doc = pikepdf.new()
    doc.add_blank_page(page_size=(595, 842))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


@pytest.fixture
def both_roles(district, make_user):
    return make_user(district.police, [Role.INVESTIGATOR, Role.SUPERVISOR], username="one_person_agency")


@pytest.fixture
def requested(both_roles, tmp_path):
    from casehub.dossier import services as dossier

    case = register_case(acting_user=both_roles, title="四眼原则测试案", persons=[{"name": "吴九", "sex": "M"}])
    (tmp_path / "a.pdf").write_bytes(_pdf())
    job = dossier.ingest_upload(case=case, acting_user=both_roles, uploaded_file_or_path=tmp_path / "a.pdf",
                                title="证据", category="evidence")
    assert job.status == "done", job.message
    result = engine.fire(case, "transfer_for_review", acting_user=both_roles,
                         inputs={"facts": "事实", "evidence": "证据一"})
    assert result.awaiting_approval
    return case, result.approval


def test_the_engine_refuses_approving_ones_own_request(both_roles, requested):
    case, approval = requested
    with pytest.raises(engine.NotAllowed):
        engine.decide_approval(approval, acting_user=both_roles, approve=True, comment="自批")
    approval.refresh_from_db()
    case.refresh_from_db()
    assert approval.status == "pending" and case.stage == "investigation"


def test_the_approval_page_refuses_it_too(both_roles, requested, client):
    case, approval = requested
    client.force_login(both_roles)
    client.post(reverse("transfers:approval", args=[approval.pk]), {"action": "approve", "comment": "自批"})
    assert ApprovalRequest.objects.get(pk=approval.pk).status == "pending"
    case.refresh_from_db()
    assert case.stage == "investigation"


def test_another_supervisor_may_approve(district, requested):
    case, approval = requested
    engine.decide_approval(approval, acting_user=district.police_supervisor, approve=True, comment="同意")
    case.refresh_from_db()
    assert case.stage == "review_requested"
