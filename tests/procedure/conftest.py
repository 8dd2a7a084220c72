"""Pre-trial paths beyond the main line (plea, non-prosecution, police closing), built fast.

The transfer for review and its acceptance are tested end to end in tests/workflow; here a case is
*put* into the stage a scenario starts from (:func:`put_in_review`, :func:`put_in_supplementary`):
the rows those transitions would have written (stage and holder, permissions, the accepted package,
the transition log, the review clock), without assembling and signing volumes. Every step the
scenario is about is then fired through :func:`workflows.engine.fire` like a user would.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from casehub.cases import access
from casehub.cases.models import CustodyStatus, PersonRole
from casehub.cases.services import register_case
from casehub.cases.state import engine_writes
from casehub.clocks import services as clocks
from casehub.clocks.kinds import ClockKind
from tests.workflow.conftest import Driver
from workflows.definition import Stage
from workflows.models import Transfer, TransferKind, TransferStatus, TransitionLog

CHINA = "+08:00"


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00{CHINA}")


@pytest.fixture
def new_case(district):
    def _make(title: str = "李四涉嫌盗窃案", *, persons: list[dict[str, Any]] | None = None):
        return register_case(
            acting_user=district.investigator, title=title, summary="盗窃",
            persons=persons or [{"role": PersonRole.SUSPECT, "name": "李四", "sex": "M",
                                 "id_number": "440307199202021234", "birth_date": date(1992, 2, 2),
                                 "custody_status": CustodyStatus.NOT_DETAINED}],
        )
    return _make


def _log(case, transition: str, source: str, target: str, *, actor, from_agency, to_agency, when) -> None:
    TransitionLog.objects.create(case=case, transition=transition, source=source, target=target, actor=actor,
                                 actor_agency=actor.agency, from_agency=from_agency, to_agency=to_agency,
                                 occurred_at=when, case_version=case.version)


def put_in_review(case, district, *, when: datetime):
    """The case as ``transfer_for_review`` + ``accept_review_transfer`` leave it at ``when``."""
    police, procuratorate = district.police, district.procuratorate
    with engine_writes():
        case.stage, case.holder_agency = Stage.PROSECUTION_REVIEW, procuratorate
        case.version += 1
        case.save(update_fields=["stage", "holder_agency", "version", "updated_at"])
    access.grant(case, procuratorate, act=True)
    access.grant(case, police, act=False)
    Transfer.objects.create(case=case, kind=TransferKind.REVIEW_TRANSFER, from_agency=police,
                            to_agency=procuratorate, status=TransferStatus.ACCEPTED, sent_at=when, decided_at=when,
                            sender_stage=Stage.INVESTIGATION, transition="transfer_for_review")
    _log(case, "transfer_for_review", Stage.INVESTIGATION, Stage.REVIEW_REQUESTED, actor=district.investigator,
         from_agency=police, to_agency=police, when=when)
    _log(case, "accept_review_transfer", Stage.REVIEW_REQUESTED, Stage.PROSECUTION_REVIEW,
         actor=district.prosecutor, from_agency=police, to_agency=procuratorate, when=when)
    clocks.open_clock(case, ClockKind.REVIEW_PROSECUTION, agency=procuratorate, start=when,
                      decision="受理审查起诉（刑事诉讼法第一百七十二条）")
    case.refresh_from_db()
    return case


@pytest.fixture
def fire(district, django_capture_on_commit_callbacks):
    return Driver(district, django_capture_on_commit_callbacks).fire


@pytest.fixture
def upload(district, tmp_path: Path):
    """A scanned, signed document uploaded to the case by ``user`` (its dossier)."""
    from casehub.dossier import services as dossier
    from tests.dossier import files

    def _upload(case, title: str, user: str = "prosecutor", *, category: str = "procedural"):
        path = files.write(tmp_path, f"{title}.pdf", files.text_pdf(1, title))
        job = dossier.ingest_upload(case=case, acting_user=district.users[user], uploaded_file_or_path=path,
                                    title=title, category=category)
        assert job.status == "done", job.message
        return job.document
    return _upload


@pytest.fixture(autouse=True)
def _fresh_pki_cache():
    from casehub.pki.services import invalidate_cache

    invalidate_cache()
    yield
    invalidate_cache()


def record_returns(case, district, n: int, *, when: datetime) -> None:
    """``n`` earlier returns for supplementary investigation, as ``return_for_supplementary`` logs them
    (the count SPP Rules arts. 350, 367 read; the return itself is tested in tests/workflow)."""
    for _ in range(n):
        _log(case, "return_for_supplementary", Stage.PROSECUTION_REVIEW, Stage.SUPPLEMENTARY_INVESTIGATION,
             actor=district.prosecutor, from_agency=district.procuratorate, to_agency=district.police, when=when)


@pytest.fixture
def city_procuratorate(district, make_user):
    """The next-higher procuratorate (it reviews, art. 179) with one prosecutor."""
    from casehub.agencies.models import Role
    from tests.fixtures.district import make_agency

    city = make_agency("procuratorate", "JC440300", "深圳市人民检察院", abbreviation="深", region="440300")
    district.procuratorate.parent = city
    district.procuratorate.save(update_fields=["parent"])
    district.users["city_prosecutor"] = make_user(city, [Role.PROSECUTOR], username="city_prosecutor")
    return city


def put_in_supplementary(case, district, *, when: datetime):
    """The case as ``return_for_supplementary`` leaves it: back with the police, the procuratorate
    that returned it reading it, its package delivered, one return logged."""
    put_in_review(case, district, when=when)
    police, procuratorate = district.police, district.procuratorate
    with engine_writes():
        case.stage, case.holder_agency = Stage.SUPPLEMENTARY_INVESTIGATION, police
        case.version += 1
        case.save(update_fields=["stage", "holder_agency", "version", "updated_at"])
    access.grant(case, police, act=True)
    access.grant(case, procuratorate, act=False)
    clocks.stop_clocks(case, [ClockKind.REVIEW_PROSECUTION], at=when, reason="return_for_supplementary")
    Transfer.objects.create(case=case, kind=TransferKind.SUPPLEMENTARY_RETURN, from_agency=procuratorate,
                            to_agency=police, status=TransferStatus.DELIVERED, sent_at=when, decided_at=when,
                            requires_acceptance=False, sender_stage=Stage.PROSECUTION_REVIEW,
                            transition="return_for_supplementary")
    record_returns(case, district, 1, when=when)
    clocks.open_clock(case, ClockKind.SUPPLEMENTARY_INVESTIGATION, agency=police, start=when,
                      decision="退回补充侦查（刑事诉讼法第一百七十五条）")
    case.refresh_from_db()
    return case


def arrested(person, district, *, since: datetime) -> None:
    """``person`` in custody under an arrest the procuratorate approved (as ``approve_arrest`` leaves it)."""
    from casehub.custody.models import CustodyRecord
    from casehub.custody.services import register_custody

    register_custody(person, detention_centre=district.detention, measure="detained", since=since,
                     acting_user=district.investigator)
    with engine_writes():
        person.custody_status, person.measure_since = CustodyStatus.ARRESTED, since
        person.measure_authority = district.procuratorate
        person.save(update_fields=["custody_status", "measure_since", "measure_authority"])
        record = CustodyRecord.objects.get(person=person)
        record.measure = "arrested"
        record.save(update_fields=["measure"])


def extend_custody(person, district, on: date, decider, **kw: Any):
    """An extension of custody after arrest as the law routes it, all on ``on`` (arts. 156, 158, 159;
    SPP Rules 2019 arts. 309-313): the police request it, the procuratorate that approved the arrest
    forwards it (when there is one above to forward to), ``decider`` — of the deciding procuratorate, or
    of the one that records its paper decision — approves."""
    import time_machine

    from workflows import custody_terms

    with time_machine.travel(at(on.isoformat()), tick=False):
        ext = custody_terms.request_extension(person, reason="案情复杂，需继续侦查", acting_user=district.investigator,
                                              **kw)
        if ext.recorded_by_id != ext.received_by_id:
            ext = custody_terms.forward_extension(ext, opinion="建议批准", acting_user=district.prosecutor)
        paper = "上级院延〔2026〕1号" if ext.decided_by_id != ext.recorded_by_id else ""
        return custody_terms.decide_extension(ext, approve=True, reason="同意延长", acting_user=decider,
                                              paper_reference=paper)
