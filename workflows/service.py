"""Service of the judgment on persons (送达, CPL arts. 107, 202; SPC Interpretation arts. 204-208, 303).

The procuratorate and the police receive the judgment as signed packages (``deliver_judgment``); the
persons — each defendant, the victim, legal representatives, defence counsel and agents — are served
by the court, on paper or electronically, and each service is recorded with its 送达回证 (the proof of
service: who received which document, when, how, who signed), generated from the record and signed by
the court like every document it issues. After the judgment takes effect it is also served on the
defendant's work unit or the police station of the registered residence (SPC Interpretation art. 303);
the platform refuses that before the judgment took effect.

:func:`outstanding` lists who has not been served yet, so the clerk sees what is missing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.models import AgencyKind
from casehub.audit.services import record_event
from casehub.cases.models import Case, PersonRole
from workflows.models import ServiceMethod, ServiceRecipient, ServiceRecord, TransitionLog

# Served only once the judgment took effect (SPC Interpretation art. 303).
AFTER_EFFECT = frozenset({ServiceRecipient.WORK_UNIT, ServiceRecipient.RESIDENCE_POLICE})
# The recipient is (or concerns) a defendant of the case / is a victim of the case.
ABOUT_DEFENDANT = frozenset({ServiceRecipient.DEFENDANT, *AFTER_EFFECT})
# The judgments and rulings that are served on persons.
SERVED_TITLES = ("刑事判决书", "刑事裁定书")
EFFECTIVE = ("judgment_effective", "decide_second_instance")


def judgment_effective(case: Case) -> bool:
    """The judgment took effect: the window passed (art. 259) or the second instance decided (art. 244)."""
    return TransitionLog.objects.filter(case=case, transition__in=EFFECTIVE).exists()


def may_serve(user: Any, case: Case) -> bool:
    """A court that decided the case — the holder, or a court that announced a judgment or ruling in it —
    by a user who may deliver judgments."""
    agency = getattr(user, "agency", None)
    if agency is None or agency.kind != AgencyKind.COURT or not p.has_capability(user, p.DELIVER_JUDGMENT):
        return False
    return agency.pk == case.holder_agency_id or servable_documents(case).filter(author_agency=agency).exists()


def servable_documents(case: Case) -> Any:
    """The signed judgments and rulings of the case, newest first."""
    from django.db.models import Q

    from casehub.dossier.models import Document

    title = Q()
    for prefix in SERVED_TITLES:
        title |= Q(title__startswith=prefix)
    return (Document.objects.filter(case=case, generated=True, is_current=True, author_agency__kind=AgencyKind.COURT)
            .filter(title).order_by("-id"))


def outstanding(case: Case) -> list[dict[str, Any]]:
    """Who should have been served the latest judgment and has not been: every defendant and victim
    (art. 202), and once the judgment took effect each defendant's work unit or residence police
    station (SPC Interpretation art. 303)."""
    document = servable_documents(case).first()
    if document is None:
        return []
    served = set(ServiceRecord.objects.filter(document=document).values_list("recipient", "person_id"))
    missing = []
    for person in case.persons.order_by("id"):
        if person.role == PersonRole.SUSPECT:
            needed = [ServiceRecipient.DEFENDANT]
            if judgment_effective(case) and not any((r, person.pk) in served for r in AFTER_EFFECT):
                needed.append(ServiceRecipient.WORK_UNIT)  # or the residence police station: either one
        else:
            needed = [ServiceRecipient.VICTIM]
        for recipient in needed:
            if recipient in AFTER_EFFECT or (recipient, person.pk) not in served:
                missing.append({"person": person, "recipient": recipient,
                                "label": _("%(who)s（%(name)s）") % {
                                    "who": _("被告人所在单位或者户籍地公安派出所") if recipient in AFTER_EFFECT
                                    else ServiceRecipient(recipient).label, "name": person.name}})
    return missing


def _check(case: Case, *, document: Any, recipient: str, person: Any, method: str, served_on: date,
           name: str) -> None:
    errors: dict[str, list[str]] = {}
    if recipient not in ServiceRecipient.values:
        errors["recipient"] = [_("受送达人身份无效。")]
    if method not in ServiceMethod.values:
        errors["method"] = [_("送达方式无效。")]
    if not name:
        errors["recipient_name"] = [_("请填写受送达人。")]
    if document is None or document.case_id != case.pk or not servable_documents(case).filter(pk=document.pk).exists():
        errors["document"] = [_("只能送达本案的判决书、裁定书。")]
    if served_on > timezone.localdate():
        errors["served_on"] = [_("送达日期不能晚于今天。")]
    elif document is not None and served_on < timezone.localtime(document.uploaded_at).date():
        errors["served_on"] = [_("送达日期不能早于文书制作日期。")]
    if recipient in ABOUT_DEFENDANT and (person is None or person.case_id != case.pk or person.role != PersonRole.SUSPECT):
        errors["person"] = [_("请选择本案被告人。")]
    if recipient == ServiceRecipient.VICTIM and (person is None or person.case_id != case.pk
                                                 or person.role != PersonRole.VICTIM):
        errors["person"] = [_("请选择本案被害人。")]
    if recipient in AFTER_EFFECT and not judgment_effective(case):
        errors["recipient"] = [_("判决生效后才送达被告人所在单位或者户籍地公安派出所（最高人民法院解释第三百零三条）。")]
    if errors:
        raise ValidationError(errors)


def record_service(case: Case, *, document: Any, recipient: str, recipient_name: str, method: str,
                   served_on: date, acting_user: Any, person: Any = None, signed_by: str = "") -> ServiceRecord:
    """Record that ``document`` was served on ``recipient_name`` and file the 送达回证, signed by the
    court (CPL arts. 107, 202; SPC Interpretation art. 303)."""
    from casehub.dossier import services as dossier
    from casehub.dossier.models import Category

    if not may_serve(acting_user, case):
        raise PermissionDenied(_("只有作出判决、裁定的人民法院可以登记送达。"))
    name, signed_by = (recipient_name or "").strip(), (signed_by or "").strip()
    _check(case, document=document, recipient=recipient, person=person, method=method, served_on=served_on, name=name)
    pdf = _receipt_pdf(case, document=document, recipient=recipient, name=name, person=person, method=method,
                       served_on=served_on, signed_by=signed_by or name, acting_user=acting_user)
    with transaction.atomic():
        Case.objects.select_for_update().get(pk=case.pk)
        receipt = dossier.add_generated_document(case=case, acting_user=acting_user, title=_("送达回证（%(name)s）") % {
            "name": name}, category=Category.PROCEDURAL, pdf_bytes=pdf)
        service = ServiceRecord.objects.create(
            case=case, document=document, recipient=recipient, recipient_name=name, person=person, method=method,
            served_on=served_on, signed_by=signed_by, receipt=receipt, agency=acting_user.agency,
            recorded_by=acting_user)
        if recipient == ServiceRecipient.DEFENDANT and person is not None:
            appeal_window_from_receipt(case, person, document=document, served_on=served_on, acting_user=acting_user)
        record_event("judgment.served", actor=acting_user, obj=service, case=case, details={
            "document": document.pk, "recipient": recipient, "name": name, "person": getattr(person, "pk", None),
            "method": method, "served_on": served_on.isoformat(), "receipt": receipt.pk})
    return service


def appeal_window_from_receipt(case: Case, person: Any, *, document: Any, served_on: date, acting_user: Any) -> None:
    """CPL art. 230: each defendant's appeal window runs from the day after *he* received the judgment.
    Co-defendants are often served on different days (one in the detention centre, one at home): the
    first-instance judgment served on a defendant while the windows run recounts that defendant's window
    from the day the 送达回证 records; the others' windows stay as they are."""
    from datetime import datetime, time

    from casehub.clocks import services as clocks
    from casehub.clocks.kinds import ClockKind
    from casehub.clocks.models import ACTIVE_STATUSES, Clock
    from workflows import appeal
    from workflows.definition import Stage

    if case.stage != Stage.APPEAL_PERIOD or not document.title.startswith("刑事判决书") or "第二审" in document.title:
        return
    window = (Clock.objects.filter(case=case, kind=ClockKind.APPEAL_PERIOD, person=person, status__in=ACTIVE_STATUSES)
              .order_by("-started_at", "-id").first())
    if window is None or timezone.localtime(window.started_at).date() == served_on:
        return
    clocks.stop_clocks(case, [ClockKind.APPEAL_PERIOD], at=timezone.now(), person=person, acting_user=acting_user,
                       reason="served")
    clocks.open_clock(case, ClockKind.APPEAL_PERIOD, agency=window.agency, person=person, acting_user=acting_user,
                      start=timezone.make_aware(datetime.combine(served_on, time(9, 0))),
                      decision=_("被告人于%(day)s收到判决书，上诉期限从次日起算（刑事诉讼法第二百三十条）") % {
                          "day": served_on.isoformat()})
    # An appeal already lodged: the case goes up within 3 days after the *last* window expired (art. 231;
    # SPC Interpretation art. 381) — the forwarding clock follows the window that moved.
    forward = Clock.objects.filter(case=case, kind=ClockKind.APPEAL_FORWARD, status__in=ACTIVE_STATUSES).first()
    end = appeal.windows_end(case)
    if forward is not None and end is not None and end != timezone.localtime(forward.started_at).date():
        clocks.stop_clocks(case, [ClockKind.APPEAL_FORWARD], at=timezone.now(), acting_user=acting_user,
                           reason="served")
        clocks.open_clock(case, ClockKind.APPEAL_FORWARD, agency=forward.agency, acting_user=acting_user,
                          start=timezone.make_aware(datetime.combine(end, time(23, 59))), decision=forward.decision)


def _receipt_pdf(case: Case, *, document: Any, recipient: str, name: str, person: Any, method: str,
                 served_on: date, signed_by: str, acting_user: Any) -> bytes:
    """送达回证: the document served, the recipient, the place and way, the date, who signed, who served."""
    from casehub.pdfgen.forms import render_form
    from workflows import documents as docs

    who = str(ServiceRecipient(recipient).label)
    if person is not None and recipient in AFTER_EFFECT:
        who = _("%(who)s（被告人%(name)s）") % {"who": who, "name": person.name}
    server = acting_user.get_full_name() or acting_user.get_username()
    fields = [
        (_("案由"), docs.charge_names(case)), (_("案号"), docs.latest_number(case, "court_docket")),
        (_("送达文书"), document.title), (_("受送达人"), f"{name}（{who}）"),
        (_("送达方式"), str(ServiceMethod(method).label)), (_("送达日期"), docs._day(served_on)),
        (_("签收人"), signed_by), (_("送达人"), server),
    ]
    paragraphs = [_("依照《中华人民共和国刑事诉讼法》第一百零七条、第二百零二条的规定送达上列文书。")]
    if recipient in AFTER_EFFECT:
        paragraphs.append(_("判决已发生法律效力，依照《最高人民法院关于适用〈中华人民共和国刑事诉讼法〉的解释》"
                            "第三百零三条的规定送达。"))
    return render_form(str(_("送达回证")), fields=fields, paragraphs=paragraphs,
                       footer_lines=[acting_user.agency.name, docs._day(timezone.localdate()), str(_("（院印）"))])
