"""Issue #7 scenario through the real workflow engine: custody follows the case.

Police transfer a case with two detained suspects and one on bail → two signed certificates;
the detention centre acknowledges; a return for supplementary investigation sends custody back
with new certificates; the indictment hands it to the court; the deadline list on chosen
dates; a detention officer of another centre gets 404.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from casehub.clocks.counting import due_date
from casehub.clocks.models import Clock, ClockStatus
from casehub.custody.models import CertificateStatus, Channel, CustodyCertificate, CustodyRecord
from casehub.custody.selectors import transfer_stats
from casehub.objectstore.services import read_bytes
from casehub.pki.services import export_trust_pem
from tests.signing.pdfsig import pdfsig_verify
from workflows import definition as d

pytestmark = pytest.mark.django_db


def _certs(case, **filters):
    return list(CustodyCertificate.objects.filter(case=case, **filters).order_by("id"))


def _assert_signed(stored) -> None:
    ok, output = pdfsig_verify(read_bytes(stored), export_trust_pem())
    assert ok, output


def _review_end(case, agency):
    clock = Clock.objects.get(case=case, agency=agency, kind="review_prosecution", status=ClockStatus.RUNNING)
    return due_date(clock.started_at, months=clock.period_months, days=clock.period_days, custody=True).date


@pytest.mark.needs_poppler
def test_custody_follows_the_case_from_police_to_court(gang_case, drive, district, other_district, client):
    case = gang_case
    zhang, li = (case.persons.get(name=n) for n in ("张三", "李四"))

    # 1. Police transfer for review: one certificate per detained person, none for 王五 on bail.
    drive.fire(case, "transfer_for_review", "investigator", facts="结伙入室盗窃。", evidence="监控录像\n证人证言",
               to_agency=district.procuratorate.pk)
    issued = _certs(case)
    assert [c.person for c in issued] == [zhang, li]
    for cert in issued:
        assert (cert.from_agency, cert.to_agency, cert.status, cert.channel) == (
            district.police, district.procuratorate, CertificateStatus.ISSUED, Channel.ONLINE)
        assert cert.detention_centre == district.detention and cert.transfer == case.transfers.get()
        _assert_signed(cert.pdf)
    # Until the procuratorate accepts, the police remain responsible.
    assert CustodyRecord.objects.get(person=zhang).responsible_agency == district.police

    # 2. The procuratorate accepts: it takes custody over for its review period and countersigns.
    drive.fire(case, "accept_review_transfer", "prosecutor")
    end = _review_end(case, district.procuratorate)
    for cert in _certs(case):
        assert cert.status == CertificateStatus.TAKEN_OVER and cert.taken_over_by == district.prosecutor
        assert cert.period_end == end
        _assert_signed(cert.receipt_pdf)
    record = CustodyRecord.objects.get(person=zhang)
    assert (record.responsible_agency, record.period_end) == (district.procuratorate, end)

    # The centre's officers were told (in-app) of each certificate.
    assert district.detention_officer.notifications.filter(kind="custody").count() == 2

    # 3. The detention centre acknowledges from its inbox; acknowledging twice is harmless.
    client.force_login(district.detention_officer)
    inbox = client.get(reverse("custody:inbox")).content.decode()
    assert all(c.number in inbox for c in issued)
    first = issued[0]
    ack = reverse("custody:acknowledge", args=["certificate", first.pk])
    assert client.post(ack).status_code == 302
    first.refresh_from_db()
    when = first.acknowledged_at
    assert first.acknowledged_by == district.detention_officer and when is not None
    client.post(ack)
    first.refresh_from_db()
    assert first.acknowledged_at == when
    client.post(reverse("custody:acknowledge", args=["certificate", issued[1].pk]))
    page = client.get(reverse("custody:detainee", args=[record.pk])).content.decode()
    assert district.procuratorate.name in page and end.isoformat() in page
    assert "/dossier/" not in page  # the certificates, never the dossier

    # 4. Return for supplementary investigation: custody goes back to the police with new certificates.
    drive.fire(case, "return_for_supplementary", "prosecutor", reason="补充调取监控录像")
    back = _certs(case, from_agency=district.procuratorate)
    assert [c.person for c in back] == [zhang, li]
    supp = Clock.objects.get(case=case, kind="supplementary_investigation", status=ClockStatus.RUNNING)
    supp_end = due_date(supp.started_at, months=1, custody=True).date
    for cert in back:
        assert cert.to_agency == district.police and cert.status == CertificateStatus.TAKEN_OVER
        assert cert.period_end == supp_end
        _assert_signed(cert.pdf)
        _assert_signed(cert.receipt_pdf)
    assert CustodyRecord.objects.get(person=li).responsible_agency == district.police

    # 5. Re-transfer and acceptance, then indictment: the court holds custody once it dockets.
    drive.fire(case, "resubmit_for_review", "investigator", reason="已补充")
    drive.fire(case, "accept_review_transfer", "prosecutor")
    drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪", to_agency=district.court.pk)
    to_court = _certs(case, to_agency=district.court)
    assert len(to_court) == 2 and all(c.status == CertificateStatus.ISSUED for c in to_court)
    drive.fire(case, "docket_case", "court_clerk")
    assert case.stage == d.Stage.TRIAL
    trial = Clock.objects.get(case=case, kind="trial", status=ClockStatus.RUNNING)
    trial_end = due_date(trial.started_at, months=2, custody=True).date
    for record in CustodyRecord.objects.filter(case=case):
        assert (record.responsible_agency, record.period_end) == (district.court, trial_end)
    assert len(_certs(case)) == 8  # 2 persons × (police→proc, proc→police, police→proc, proc→court)

    # 6. Deadline list on chosen dates (a detention: listed 3 days before the end; overdue in red).
    url = reverse("custody:detainees")
    before = client.get(url, {"deadlines": 1, "on": (trial_end - timedelta(days=4)).isoformat()}).content.decode()
    assert "data-record=" not in before
    near = client.get(url, {"deadlines": 1, "on": (trial_end - timedelta(days=3)).isoformat()}).content.decode()
    assert near.count("data-record=") == 2 and "table-warning" in near
    late = client.get(url, {"deadlines": 1, "on": (trial_end + timedelta(days=1)).isoformat()}).content.decode()
    assert late.count('class="table-danger"') == 2 and "已超期 1 日" in late

    # 7. Another centre's officer: 404 on the detainee, the certificate and the acknowledgement.
    client.force_login(other_district.detention_officer)
    assert client.get(reverse("custody:detainee", args=[record.pk])).status_code == 404
    assert client.get(reverse("custody:pdf", args=["certificate", first.pk])).status_code == 404
    assert client.post(reverse("custody:acknowledge", args=["certificate", to_court[0].pk])).status_code == 404
    assert "data-record=" not in client.get(url).content.decode()

    # 8. What the metrics engineer reads: all online, two persons covered.
    stats = transfer_stats(first.issued_at - timedelta(days=1), first.issued_at + timedelta(days=1))
    assert (stats["online"], stats["paper"], stats["persons"], stats["rate"]) == (8, 0, 2, 1.0)
    assert stats["median_hours_to_take_over"] is not None


def test_acceptance_blocked_while_a_detained_person_has_no_custody_record(gang_case, drive, district):
    from casehub.cases.models import CustodyStatus, PersonRole
    from workflows.engine import GuardFailed

    # 赵六 is recorded as detained but nobody registered where he is held.
    gang_case.persons.create(role=PersonRole.SUSPECT, name="赵六", custody_status=CustodyStatus.DETAINED)
    drive.fire(gang_case, "transfer_for_review", "investigator", facts="……", evidence="证据")
    assert len(_certs(gang_case)) == 2
    with pytest.raises(GuardFailed, match="赵六"):
        drive.fire(gang_case, "accept_review_transfer", "prosecutor")
    gang_case.refresh_from_db()
    assert gang_case.stage == d.Stage.REVIEW_REQUESTED and gang_case.holder_agency == district.police
    assert all(c.status == CertificateStatus.ISSUED for c in _certs(gang_case))


def test_withdrawn_transfer_cancels_its_certificates(gang_case, drive, district):
    drive.fire(gang_case, "transfer_for_review", "investigator", facts="……", evidence="证据")
    drive.fire(gang_case, "withdraw_review_transfer", "investigator", reason="补充材料后重新移送")
    assert {c.status for c in _certs(gang_case)} == {CertificateStatus.CANCELLED}
    assert CustodyRecord.objects.filter(case=gang_case, responsible_agency=district.police).count() == 2
    # A new transfer is possible again (no certificate is left pending).
    drive.fire(gang_case, "transfer_for_review", "investigator", facts="……", evidence="证据")
    assert len(_certs(gang_case, status=CertificateStatus.ISSUED)) == 2


def test_indictment_refused_while_custody_still_sits_with_the_police(gang_case, drive, district):
    # The case reached the procuratorate, but custody of 李四 was never taken over (e.g. a paper
    # hand-over not registered): the indictment names him and changes nothing.
    drive.fire(gang_case, "transfer_for_review", "investigator", facts="……", evidence="证据",
               to_agency=district.procuratorate.pk)
    drive.fire(gang_case, "accept_review_transfer", "prosecutor")
    CustodyRecord.objects.filter(person__name="李四").update(responsible_agency=district.police)
    from workflows.engine import GuardFailed

    with pytest.raises(GuardFailed, match="李四"):
        drive.fire(gang_case, "indict", "prosecutor", facts="……", charges="盗窃罪", to_agency=district.court.pk)
    gang_case.refresh_from_db()
    assert gang_case.stage == d.Stage.PROSECUTION_REVIEW
    assert not CustodyCertificate.objects.filter(case=gang_case, to_agency=district.court).exists()
