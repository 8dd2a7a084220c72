"""A case of district A with everything hanging off it that has a URL, for the security tests.

Objects are created through the services the features expose; every object a URL rule needs is
an attribute here. When a feature adds a URL, add the object it needs (and a rule in
test_cross_agency.py): an endpoint the test cannot fill fails the test.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from casehub.cases.models import Case, Person
from casehub.cases.services import register_case


@dataclass
class Scenario:
    district: Any
    case: Case
    person: Person
    secrets: list[str]  # particulars of the police-only case: never shown outside its police readers
    # particulars of the sent cases: shown to the police and the procuratorate of district A (and the
    # detention centre, which holds the suspect), never to anyone else
    shared_secrets: list[str] = field(default_factory=list)
    # every person's full ID number: shown only to roles with view_person_id (test_person_id.py)
    id_numbers: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        extra = self.__dict__.get("extra", {})
        if name in extra:
            return extra[name]
        raise AttributeError(f"the security scenario has no {name!r} (create it in tests/security/scenario.py); "
                             f"scenario problems: {self.__dict__.get('problems')}")


def build(district: Any, capture: Any, *, hostile: bool = False) -> Scenario:
    """``capture`` is pytest-django's django_capture_on_commit_callbacks (verification runs on commit).

    ``hostile``: every free-text field (titles, summary, names, reasons, comments, file names)
    carries an XSS payload from :data:`PAYLOADS` (test_xss.py).
    """
    global _capture, _hostile
    _capture, _hostile = capture, hostile
    return _build(district)


_capture: Any = None
_hostile = False

# Free-text payloads, one per field kind; each would run script if rendered unescaped.
PAYLOADS = {
    "title": '<script>alert("xss-title")</script>',
    "summary": "<img src=x onerror=alert('xss-summary')>",
    "name": "<b onmouseover=alert(1)>",
    "doc_title": "<svg onload=alert('xss-doc')>",
    "filename": '"><svg onload=alert(3)>.pdf',
    "reason": "<iframe src=javascript:alert('xss-reason')>",
    "comment": "<script>alert('xss-comment')</script>",
}


def _text(kind: str, plain: str) -> str:
    """The plain text, or (hostile run) the payload for this kind of field followed by it."""
    return f"{PAYLOADS[kind]}{plain}" if _hostile else plain


def _build(district: Any) -> Scenario:
    marker = secrets.token_hex(4)
    title = _text("title", f"甲区机密案件-{marker}")
    suspect = _text("name", f"嫌疑人{marker}")
    case = register_case(
        acting_user=district.investigator, title=title, summary=_text("summary", f"案情摘要-{marker}"),
        persons=[{"name": suspect, "id_number": "44030719900101123X", "sex": "M"}],
    )
    person = case.persons.get()
    number = case.numbers.first().number
    sc = Scenario(district=district, case=case, person=person, secrets=[title, suspect, number, "44030719900101123X"],
                  id_numbers=["44030719900101123X"])
    for step in (_api_objects, _dossier_objects, _transfer_objects, _integration_objects, _legal_aid_objects,
                 _custody_term_objects):
        try:
            step(sc)
        except Exception as exc:  # noqa: BLE001 - reported by the URL that needed the object, with the cause
            sc.problems.append(f"{step.__name__}: {type(exc).__name__}: {exc}")
    return sc


def _api_objects(sc: Scenario) -> None:
    from casehub.agencies.models import Role
    from casehub.api.credentials import issue_personal_token, register_client
    from casehub.api.models import ApiTask
    from casehub.audit.models import AuditEvent

    d = sc.district
    sc.extra["personal_token"] = issue_personal_token(acting_user=d.investigator, name="script").credential
    sc.extra["client"] = register_client(acting_user=d.police_admin, agency=d.police, name="警综平台",
                                         role=Role.INVESTIGATOR).credential
    sc.extra["api_task"] = ApiTask.objects.create(kind="test", owner=d.investigator, params={"case": sc.case.pk})
    sc.extra["case_event"] = AuditEvent.objects.filter(case_id=sc.case.pk, action="case.registered").get()
    from casehub.notifications.services import notify

    sc.extra["notification"] = notify([d.investigator], kind="info", title="安全测试通知", url="/",
                                      key=f"security-{sc.case.pk}")[0]


def _integration_objects(sc: Scenario) -> None:
    """A webhook endpoint of A's police system and one delivery of A's feed (made by the transfers)."""
    from casehub.integration import webhooks
    from casehub.integration.models import FeedEntry, WebhookDelivery, WebhookEndpoint

    d = sc.district
    sc.extra["webhook"] = WebhookEndpoint.objects.create(
        agency=d.police, credential=sc.extra["client"], url="https://police-system.example/hooks",
        event_types=["package.sent"], encrypted_secret=webhooks.seal_secret(webhooks.new_secret(), d.police.pk),
    )
    entry = FeedEntry.objects.filter(agency=d.police).order_by("sequence").first()
    sc.extra["webhook_delivery"] = WebhookDelivery.objects.create(
        endpoint=sc.extra["webhook"], entry=entry, status="dead", next_attempt_at=entry.occurred_at)


def _pdf(tmp: Path, name: str, label: str) -> Path:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    path = tmp / name
    pdf.save(path)
    return path


def _dossier_objects(sc: Scenario) -> None:
    import tempfile

    from casehub.dossier import services as dossier
    from casehub.dossier.models import ChunkedUpload, Document

    d = sc.district
    tmp = Path(tempfile.mkdtemp(prefix="casehub-security-"))
    job = dossier.ingest_upload(case=sc.case, acting_user=d.investigator,
                                uploaded_file_or_path=_pdf(tmp, _text("filename", "a.pdf"), "a"),
                                title=_text("doc_title", "讯问笔录"), category="evidence")
    assert job.status == "done", job.message
    sc.extra["document"] = Document.objects.filter(case=sc.case).get()
    sc.extra["volume"] = sc.document.volume
    staged = tmp / "chunk.part"
    staged.touch()
    sc.extra["chunked"] = ChunkedUpload.objects.create(case=sc.case, created_by=d.investigator, filename="b.pdf",
                                                       total_size=10, staged_path=str(staged))


def _id_number() -> str:
    """A fresh, valid resident ID number (check digit per GB 11643)."""
    from casehub.cases.validators import id_number_check_digit

    first17 = f"44030719850315{secrets.randbelow(1000):03d}"
    return first17 + id_number_check_digit(first17)


def _send_case(sc: Scenario, label: str) -> Case:
    """A new case of district A sent by its police to its procuratorate (transfer pending)."""
    import tempfile

    from casehub.cases.models import CustodyStatus
    from casehub.dossier import services as dossier
    from workflows import engine

    d = sc.district
    marker = secrets.token_hex(4)
    title = _text("title", f"甲区{label}-{marker}")
    id_number = _id_number()
    sent = register_case(acting_user=d.investigator, title=title, persons=[{
        "name": _text("name", f"移送嫌疑人{marker}"), "sex": "M", "custody_status": CustodyStatus.DETAINED,
        "custody_since": timezone.now() - timedelta(days=2), "detention_centre": d.detention,
        "id_number": id_number}])
    sc.shared_secrets += [title, id_number]
    sc.id_numbers.append(id_number)
    tmp = Path(tempfile.mkdtemp(prefix="casehub-security-"))
    job = dossier.ingest_upload(case=sent, acting_user=d.investigator,
                                uploaded_file_or_path=_pdf(tmp, _text("filename", "s.pdf"), "s"),
                                title=_text("doc_title", "起诉材料"), category="evidence")
    assert job.status == "done", job.message
    result = engine.fire(sent, "transfer_for_review", acting_user=d.investigator,
                         inputs={"facts": _text("reason", "事实"), "evidence": _text("reason", "证据一")})
    with _capture(execute=True):  # the package is verified after commit
        engine.decide_approval(result.approval, acting_user=d.police_supervisor, approve=True,
                               comment=_text("comment", "同意"))
    sent.refresh_from_db()
    sent.approval = result.approval
    return sent


def _pending_arrest_request(sc: Scenario) -> Any:
    """A case of district A whose arrest request awaits the police supervisor's approval (the
    approval page previews the 提请批准逮捕书 it will generate)."""
    from casehub.cases.models import CustodyStatus
    from workflows import engine

    d = sc.district
    marker = secrets.token_hex(4)
    title = _text("title", f"甲区待审批-{marker}")
    case = register_case(acting_user=d.investigator, title=title, persons=[{
        "name": _text("name", f"待批捕嫌疑人{marker}"), "sex": "M", "custody_status": CustodyStatus.DETAINED,
        "custody_since": timezone.now() - timedelta(days=1), "detention_centre": d.detention}])
    sc.shared_secrets.append(title)
    return engine.fire(case, "request_arrest", acting_user=d.investigator,
                       inputs={"reason": _text("reason", "提请逮捕的事实")}).approval


def _to_trial(sc: Scenario, case: Case) -> Case:
    """The accepted case indicted and docketed: district A's court holds it (the judge records the
    judgment there)."""
    from workflows import engine

    d = sc.district
    with _capture(execute=True):
        result = engine.fire(case, "indict", acting_user=d.prosecutor,
                             inputs={"facts": _text("reason", "起诉事实"), "charges": _text("reason", "盗窃罪")})
        engine.decide_approval(result.approval, acting_user=d.procuratorate_supervisor, approve=True,
                               comment=_text("comment", "同意"))
    with _capture(execute=True):
        engine.fire(case, "docket_case", acting_user=d.court_clerk)
    case.refresh_from_db()
    return case


def _transfer_objects(sc: Scenario) -> None:
    from casehub.dossier.models import Volume
    from workflows import engine

    sent = _send_case(sc, "移送案件")
    sc.extra["sent_case"] = sent
    sc.extra["approval"] = sent.approval
    sc.extra["transfer"] = sent.transfers.get()
    sc.extra["pending_approval"] = _pending_arrest_request(sc)
    sc.extra["sent_volume"] = Volume.objects.filter(case=sent, status="assembled").first()
    from casehub.custody.models import CustodyCertificate

    sc.extra["certificate"] = CustodyCertificate.objects.filter(case=sent).first()
    sc.extra["custody_record"] = sc.certificate.record if sc.certificate else None
    from casehub.custody.models import NoticeKind
    from casehub.custody.services import issue_notice

    sc.extra["notice"] = issue_notice(sc.custody_record, kind=NoticeKind.EXTENSION,
                                      reason=_text("reason", "延长羁押期限决定书 1号"),
                                      agency=sc.district.police, acting_user=sc.district.investigator,
                                      new_end=timezone.localdate() + timedelta(days=40))
    accepted = _send_case(sc, "已受理案件")
    with _capture(execute=True):
        engine.fire(accepted, "accept_review_transfer", acting_user=sc.district.prosecutor)
    sc.extra["accepted_transfer"] = accepted.transfers.get()
    # The court legitimately sees the docketed case (and its custody certificates) on its lists:
    # its title and ID number are not secrets of district A's police for the leak checks.
    secrets_before, ids_before = len(sc.shared_secrets), len(sc.id_numbers)
    trial = _send_case(sc, "审判案件")
    del sc.shared_secrets[secrets_before:]
    del sc.id_numbers[ids_before:]
    with _capture(execute=True):
        engine.fire(trial, "accept_review_transfer", acting_user=sc.district.prosecutor)
    sc.extra["trial_case"] = _to_trial(sc, trial)


def _legal_aid_objects(sc: Scenario) -> None:
    """A defence notice on the case the procuratorate accepted for review, answered by the bureau of
    district A with its lawyer, who may then read the file (CPL art. 40)."""
    from casehub.legalaid import services
    from casehub.legalaid.selectors import counsel_documents

    d = sc.district
    accepted = sc.accepted_transfer.case
    aid = services.send_request(accepted, accepted.persons.get(), kind="defence", ground="minor",
                                found_on=timezone.localdate(), note=_text("reason", "未成年"),
                                acting_user=d.prosecutor)
    sc.extra["legal_aid"] = services.assign_counsel(aid, acting_user=d.legal_aid_officer, lawyer=d.lawyer)
    sc.extra["counsel_document"] = counsel_documents(aid).first()
    # The bureau and the assigned lawyer see this case's title (never its persons' ID numbers).
    sc.extra["legal_aid_visible"] = [accepted.title]


def _custody_term_objects(sc: Scenario) -> None:
    """A request to extend the investigation custody of an arrested suspect of another police case of
    district A (CPL art. 156), filed with the district procuratorate that approved the arrest."""
    from casehub.cases import access
    from casehub.cases.state import engine_writes
    from casehub.clocks import services as clocks
    from casehub.clocks.kinds import ClockKind
    from workflows import custody_terms

    d = sc.district
    case = register_case(acting_user=d.investigator, title=_text("title", "延长羁押期限案件"), summary="盗窃",
                         persons=[{"name": _text("name", "被逮捕人"), "sex": "M"}])
    person = case.persons.get()
    with engine_writes():
        person.custody_status, person.measure_authority = "arrested", d.procuratorate
        person.save(update_fields=["custody_status", "measure_authority"])
    clocks.open_clock(case, ClockKind.INVESTIGATION_CUSTODY, agency=d.police, start=timezone.now(), person=person,
                      decision="批准逮捕")
    access.grant(case, d.procuratorate, act=False)
    sc.extra["extension"] = custody_terms.request_extension(person, reason=_text("reason", "案情复杂"),
                                                            acting_user=d.investigator)
