"""Issue #15: a custody transfer that went with a paper hand-over is registered by the receiver
and counts in the e-custody-transfer rate's denominator.

The case stays with its holder on the platform (a paper registration moves no case); the
receiving procuratorate registers the paper hand-over through the engine, then the custody
transfer of each detained person that went with it (the SPP/MPS custody-transfer rules: a
custody transfer accompanies every transfer for review, return and indictment of a detained
person, on paper or online).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from casehub.audit.models import AuditEvent
from casehub.cases.models import PersonRole
from casehub.cases.services import register_case
from casehub.custody import services
from casehub.custody.models import CertificateStatus, Channel, CustodyCertificate, CustodyRecord, Measure
from tests.custody.conftest import add_documents
from workflows import engine

pytestmark = pytest.mark.django_db


def _detained_case(district, tmp_path, name: str, id_number: str):
    case = register_case(acting_user=district.investigator, title=f"{name}盗窃案", summary="入室盗窃",
                         persons=[{"role": PersonRole.SUSPECT, "name": name, "sex": "M", "id_number": id_number}])
    register_custody = services.register_custody
    register_custody(case.persons.get(), detention_centre=district.detention, measure=Measure.DETENTION,
                     since=timezone.now() - timedelta(days=2), acting_user=district.investigator)
    add_documents(case, district.investigator, tmp_path)
    return case


def _paper_review_transfer(district, case):
    return engine.register_paper_transfer(
        acting_user=district.prosecutor, from_agency=district.police, kind="review_transfer",
        received_on=timezone.localdate(), volumes=1, pages=40, reason="补充侦查后以纸质卷宗重新移送",
        case=case, external_reference="深龙公（刑）诉字〔2026〕31号")


@pytest.fixture
def cases(district, drive, tmp_path):
    """赵六's case goes online for review (one online certificate); 孙七's goes online for review,
    back online for supplementary investigation (two online certificates) and then returns to the
    procuratorate on paper."""
    online = _detained_case(district, tmp_path, "赵六", "440307199003033456")
    drive.to_review(online)
    mixed = _detained_case(district, tmp_path, "孙七", "440307199104044567")
    drive.to_review(mixed)
    drive.fire(mixed, "return_for_supplementary", "prosecutor", reason="补充调取监控录像")
    assert mixed.holder_agency == district.police
    return online, mixed


def test_a_paper_hand_over_carries_its_custody_transfer_into_the_rate(cases, district, client):
    online, mixed = cases
    sun = mixed.persons.get()
    record = CustodyRecord.objects.get(person=sun)
    assert record.responsible_agency == district.police
    handover = _paper_review_transfer(district, mixed)
    mixed.refresh_from_db()
    assert mixed.holder_agency == district.police  # the paper registration moves no case

    # Through the case's custody page, as the receiving prosecutor.
    client.force_login(district.prosecutor)
    page = client.get(reverse("custody:case", args=[mixed.pk])).content.decode()
    assert "深龙公（刑）诉字〔2026〕31号" in page  # the hand-over to choose
    when = timezone.now() - timedelta(hours=1)
    response = client.post(reverse("custody:case", args=[mixed.pk]), {
        "action": "paper", "person": sun.pk, "handover": handover.pk, "reference": "深龙公换押〔2026〕77号",
        "transferred_at": timezone.localtime(when).strftime("%Y-%m-%dT%H:%M"),
        "period_end": (timezone.localdate() + timedelta(days=30)).isoformat()}, follow=True)
    assert response.status_code == 200
    cert = CustodyCertificate.objects.get(person=sun, channel=Channel.PAPER)
    assert (cert.transfer, cert.from_agency, cert.to_agency, cert.status, cert.paper_reference) == (
        handover, district.police, district.procuratorate, CertificateStatus.TAKEN_OVER, "深龙公换押〔2026〕77号")
    record.refresh_from_db()
    assert (record.responsible_agency, record.stage) == (district.procuratorate, "prosecution_review")
    assert record.period_end == timezone.localdate() + timedelta(days=30)
    assert AuditEvent.objects.filter(action="custody.paper_registered", object_id=str(cert.pk)).exists()

    # Registering the same person for the same hand-over again is refused, on the page and in the service.
    again = client.post(reverse("custody:case", args=[mixed.pk]), {
        "action": "paper", "person": sun.pk, "handover": handover.pk, "reference": "重复",
        "transferred_at": timezone.localtime(when).strftime("%Y-%m-%dT%H:%M")}, follow=True)
    assert "已经登记" in again.content.decode()
    with pytest.raises(ValidationError, match="已经登记"):
        services.register_paper_transfer(sun, from_agency=district.police, to_agency=district.procuratorate,
                                         transferred_at=when, reference="重复", acting_user=district.prosecutor,
                                         paper_transfer=handover)
    assert CustodyCertificate.objects.filter(person=sun, channel=Channel.PAPER).count() == 1

    # The dashboard: 3 online certificates (赵六 → procuratorate; 孙七 → procuratorate and back) + 1 paper.
    client.force_login(district.auditor)
    board = client.get(reverse("metrics:dashboard")).context["board"]
    assert (board.custody_all.numerator, board.custody_all.denominator) == (3, 4)
    assert board.custody_all.percent == "75.0%"
    body = client.get(reverse("metrics:dashboard")).content.decode()
    assert 'data-rate="custody">75.0%<' in body


def test_the_paper_custody_transfer_needs_a_fitting_paper_hand_over(cases, district):
    online, mixed = cases
    sun = mixed.persons.get()
    when = timezone.now() - timedelta(hours=1)
    # Without a paper hand-over, the receiver must hold the case (the police still do).
    with pytest.raises(ValidationError, match="承办机关"):
        services.register_paper_transfer(sun, from_agency=district.police, to_agency=district.procuratorate,
                                         transferred_at=when, reference="纸1", acting_user=district.prosecutor)
    # Another case's hand-over does not fit.
    other = _paper_review_transfer(district, online)
    with pytest.raises(ValidationError, match="不是本案"):
        services.register_paper_transfer(sun, from_agency=district.police, to_agency=district.procuratorate,
                                         transferred_at=when, reference="纸1", acting_user=district.prosecutor,
                                         paper_transfer=other)
    # Only the receiver of the hand-over registers its custody transfer.
    handover = _paper_review_transfer(district, mixed)
    with pytest.raises(PermissionDenied):
        services.register_paper_transfer(sun, from_agency=district.police, to_agency=district.procuratorate,
                                         transferred_at=when, reference="纸1", acting_user=district.investigator,
                                         paper_transfer=handover)
    # A paper arrest request moves no custody.
    arrest = engine.register_paper_transfer(
        acting_user=district.prosecutor, from_agency=district.police, kind="arrest_request",
        received_on=timezone.localdate(), volumes=1, pages=5, reason="纸质提请", case=mixed)
    with pytest.raises(ValidationError, match="不转移羁押"):
        services.register_paper_transfer(sun, from_agency=district.police, to_agency=district.procuratorate,
                                         transferred_at=when, reference="纸1", acting_user=district.prosecutor,
                                         paper_transfer=arrest)
    assert not CustodyCertificate.objects.filter(channel=Channel.PAPER).exists()


def test_other_agencies_get_404_and_register_nothing(cases, district, other_district, client):
    online, mixed = cases
    sun = mixed.persons.get()
    handover = _paper_review_transfer(district, mixed)
    data = {"action": "paper", "person": sun.pk, "handover": handover.pk, "reference": "越权",
            "transferred_at": timezone.localtime(timezone.now()).strftime("%Y-%m-%dT%H:%M")}
    for user in (other_district.prosecutor, district.court_clerk):
        client.force_login(user)
        assert client.get(reverse("custody:case", args=[mixed.pk])).status_code == 404
        assert client.post(reverse("custody:case", args=[mixed.pk]), data).status_code == 404
    assert not CustodyCertificate.objects.filter(channel=Channel.PAPER).exists()
