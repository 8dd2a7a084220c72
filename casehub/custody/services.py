"""Custody transfer services (换押). Each state change runs in one transaction with one audit event.

The workflow engine's ``case_transitioned`` signal drives the transfers (see
:mod:`casehub.custody.handlers`); officers use :func:`register_custody`, :func:`issue_notice`,
:func:`register_paper_transfer` and :func:`acknowledge`. Legal basis: CPL arts. 91, 156-159
(custody periods), 172, 175, 208 (the stage periods that bound custody), 105 (custody periods are
not extended for holidays); the 换押 procedure is that of the SPP/MPS custody-transfer rules.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from casehub.agencies.models import Agency, AgencyKind
from casehub.agencies.permissions import (
    MANAGE_CUSTODY,
    REGISTER_PAPER_TRANSFER,
    has_capability,
)
from casehub.audit.services import record_event
from casehub.cases.models import Case, CustodyStatus, Person, PersonRole
from casehub.cases.numbering import next_sequence
from casehub.clocks.counting import due_date, local_day
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock
from casehub.custody import documents
from casehub.custody.doors import CERTIFICATES, NOTICES
from casehub.custody.models import (
    CertificateStatus,
    Channel,
    CustodyCertificate,
    CustodyEvent,
    CustodyNotice,
    CustodyRecord,
    EventKind,
    Measure,
    NoticeKind,
    RecordStatus,
)
from casehub.notifications.messages import message

# Transfer kinds (workflows.models.TransferKind values) with which custody moves.
CUSTODY_TRANSFER_KINDS: dict[str, str] = {
    "review_transfer": "审查起诉",
    "supplementary_return": "补充侦查",
    "indictment": "审判",
    "trial_supplementary": "补充侦查",  # arts. 204-205: the court postpones, the procuratorate investigates
    "supplementary_evidence": "审判",
    "appeal": "第二审",  # arts. 231-232: the case goes up with the defendants' custody
    "remand": "重新审判",  # art. 236: back to the first-instance court
    # SPP Rules art. 424: the court permits the withdrawal; the procuratorate holds the defendants
    # until it decides not to prosecute (or prosecutes again on new grounds).
    "prosecution_withdrawal": "审查起诉",
    # SPP Rules arts. 328, 391: a change of jurisdiction; the procuratorate that receives the case
    # takes the suspects' custody over with it (its review period then bounds it, art. 172(2)).
    "jurisdiction_transfer": "审查起诉",
}
# The stage (workflows.definition.Stage) a person's custody is in after a paper hand-over of that kind.
PAPER_STAGES: dict[str, str] = {
    "review_transfer": "prosecution_review",
    "supplementary_return": "supplementary_investigation",
    "indictment": "trial",
    "trial_supplementary": "trial_supplementary",
    "supplementary_evidence": "trial",
    "appeal": "second_instance",
    "remand": "trial",
    "prosecution_withdrawal": "prosecution_review",
    "jurisdiction_transfer": "prosecution_review",
}
# Clocks that bound the custody of a person in a stage, most specific first.
STAGE_CLOCKS = (ClockKind.WITHDRAWN_PROSECUTION, ClockKind.SUPPLEMENTARY_INVESTIGATION, ClockKind.REVIEW_PROSECUTION,
                ClockKind.TRIAL_SUPPLEMENTARY, ClockKind.TRIAL_SPEEDY, ClockKind.TRIAL_SUMMARY, ClockKind.TRIAL, ClockKind.SECOND_INSTANCE)
# A person's own clocks, whoever runs them (the police's request period, the procuratorate's decision
# period, custody after arrest), most specific first.
PERSON_CLOCKS = (ClockKind.INVESTIGATION_CUSTODY, ClockKind.ARREST_DECISION, ClockKind.ARREST_DECISION_NOT_DETAINED,
                 ClockKind.ARREST_REQUEST, ClockKind.DETENTION)
# Art. 91 para. 3: after the police's request period, the procuratorate has 7 days to decide; a
# detention lasts at most until then.
ARREST_DECISION_DAYS = 7
DETAINED = (CustodyStatus.DETAINED, CustodyStatus.ARRESTED)


# --- helpers ---------------------------------------------------------------------------------


def _number(agency: Agency, kind: str, word: str, at: datetime) -> str:
    year = local_day(at).year
    seq = next_sequence(agency, kind, year)
    # 深龙公换押〔2026〕1号 / 深龙检换押〔2026〕1号: agencies of one district share an abbreviation.
    return f"{agency.abbreviation or agency.code}{_KIND_CHAR.get(agency.kind, '')}{word}〔{year}〕{seq}号"


_KIND_CHAR = {AgencyKind.POLICE: "公", AgencyKind.PROCURATORATE: "检", AgencyKind.COURT: "法"}


def _event(record: CustodyRecord, kind: str, *, at: datetime, actor: Any = None, agency: Any = None,
           certificate: Any = None, notice: Any = None, note: str = "") -> CustodyEvent:
    return CustodyEvent.objects.create(
        record=record, kind=kind, at=at, actor=actor, agency=agency, responsible_agency=record.responsible_agency,
        stage=record.stage, measure=record.measure, period_end=record.period_end, certificate=certificate,
        notice=notice, note=note[:200],
    )


def governing_clock(record: CustodyRecord, agency: Agency | None = None) -> Clock | None:
    """The running clock that bounds the person's custody with ``agency`` (default: the
    responsible agency): the stage clock (review, supplementary investigation, trial) if one
    runs, else the person's own custody clock (art. 156 after arrest, art. 91 detention)."""
    agency = agency or record.responsible_agency
    clocks = list(
        Clock.objects.filter(case_id=record.case_id, status__in=ACTIVE_STATUSES)
        .filter(Q(kind__in=STAGE_CLOCKS, person__isnull=True, agency=agency)
                | Q(kind__in=PERSON_CLOCKS, person=record.person_id))
        .order_by("-started_at", "-id")
    )
    order = [*STAGE_CLOCKS, *PERSON_CLOCKS]
    clocks.sort(key=lambda c: order.index(c.kind))
    return clocks[0] if clocks else None


def custody_period(record: CustodyRecord, agency: Agency | None = None) -> tuple[str, date | None, date | None]:
    """(clock kind, start, end) of the person's custody period with ``agency``.

    The end is counted as a custody period (CPL art. 105 para. 4: never moved for a holiday),
    even when the stage clock itself is not a custody period.
    """
    clock = governing_clock(record, agency)
    if clock is None:
        return "", None, None
    # While the person is held the clock itself counts as a custody period (art. 105(4) per person,
    # casehub.clocks.services.held_in_custody), so this is the clock's own due date.
    extra = ARREST_DECISION_DAYS if clock.kind == ClockKind.ARREST_REQUEST else 0
    due = due_date(clock.started_at, months=clock.period_months,
                   days=clock.period_days + clock.paused_days + extra, custody=True)
    return clock.kind, local_day(clock.started_at), due.date


def _check_centre(centre: Agency) -> None:
    if centre is None or centre.kind != AgencyKind.DETENTION_CENTRE:
        raise ValidationError(_("羁押场所必须是看守所。"))


def _notify_centre(centre_id: int, *, title: Any, record_id: int, key: str, case: Any) -> None:
    """Tell the centre's officers (in-app, e-mail if configured) after commit; best effort."""
    def _send() -> None:
        from django.urls import reverse

        from casehub.agencies.models import Role, User
        from casehub.agencies.permissions import role_group_name
        from casehub.notifications.services import notify

        officers = User.objects.filter(agency_id=centre_id, is_active=True,
                                       groups__name=role_group_name(Role.DETENTION_OFFICER)).distinct()
        notify(officers, kind="custody", title=title, url=reverse("custody:detainee", args=[record_id]),
               case=case, key=key)

    transaction.on_commit(_send)


def _pending_certificate(record: CustodyRecord) -> CustodyCertificate | None:
    return record.certificates.filter(status=CertificateStatus.ISSUED).order_by("-issued_at").first()


# --- records ---------------------------------------------------------------------------------


def _create_record(person: Person, *, centre: Agency, measure: str, since: datetime, agency: Agency,
                   stage: str, at: datetime, actor: Any, note: str) -> CustodyRecord:
    record = CustodyRecord(
        person=person, case=person.case, detention_centre=centre, measure=measure, responsible_agency=agency,
        stage=stage, detained_at=since, period_start=local_day(since),
    )
    record.period_kind, start, end = "", None, None
    record.save()
    record.period_kind, start, end = custody_period(record)
    if start:
        record.period_start, record.period_end = start, end
        record.save(update_fields=["period_kind", "period_start", "period_end"])
    _event(record, EventKind.REGISTERED, at=at, actor=actor, agency=agency, note=note)
    return record


def register_custody(
    person: Person, *, detention_centre: Agency, measure: str, since: datetime, acting_user: Any,
) -> CustodyRecord:
    """登记羁押: the holder agency records that ``person`` is held in ``detention_centre``.

    For the police, a detention opens the person's 3-day arrest-request clock (CPL art. 91) unless
    one runs already; the detention centre's period ends 7 days after it (the procuratorate's
    decision period, art. 91 para. 3).
    """
    if measure not in Measure.values:
        raise ValidationError({"measure": [_("强制措施无效。")]})
    # Arrest is the procuratorate's decision (arts. 80, 87), recorded by the approve_arrest transition;
    # a person it approved who was not held (on bail, not detained) is taken to the detention centre
    # when the police execute the arrest (art. 93) — registered as arrested, nothing else.
    executing = person.custody_status == CustodyStatus.ARRESTED
    if measure != (Measure.ARREST if executing else Measure.DETENTION):
        raise ValidationError({"measure": [
            _("%(name)s已经人民检察院批准逮捕，执行逮捕后送看守所羁押，应登记为逮捕（刑事诉讼法第九十三条）。") % {"name": person.name}
            if executing else
            _("逮捕须经人民检察院批准（刑事诉讼法第八十条、第八十七条），由“批准逮捕”流程记录，不能直接登记。")]})
    _check_centre(detention_centre)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=person.case_id)
        agency = acting_user.agency if acting_user is not None else None
        if agency is None or agency.pk != case.holder_agency_id or not has_capability(acting_user, MANAGE_CUSTODY):
            raise PermissionDenied(_("只有本案的承办机关可以登记羁押。"))
        if person.role != PersonRole.SUSPECT:
            raise ValidationError(_("只能对犯罪嫌疑人、被告人登记羁押。"))
        if CustodyRecord.objects.filter(person=person).exists():
            raise ValidationError(_("%(name)s已有羁押记录。") % {"name": person.name})
        if since > timezone.now():
            raise ValidationError({"since": [_("羁押起始时间不能晚于现在。")]})
        from workflows.engine import record_own_detention

        if executing:  # the approved arrest executed: the person's state stays the procuratorate's decision
            person.custody_since, person.detention_centre = since, detention_centre
            person.save(update_fields=["custody_since", "detention_centre"])
        else:
            record_own_detention(person, centre=detention_centre, since=since, agency=agency)
        from casehub.clocks.services import open_clock, refresh_custody

        if agency.kind == AgencyKind.POLICE and not executing:
            # Art. 91: the police ask for arrest approval within 3 days of the detention (extended
            # only by a recorded decision, MPS Provisions 2020 art. 129).
            kind = ClockKind.ARREST_REQUEST
            if not Clock.objects.filter(case=case, person=person, kind=kind, status__in=ACTIVE_STATUSES).exists():
                open_clock(case, kind, agency=agency, start=since, person=person, acting_user=acting_user,
                           decision=_("登记羁押"))
        refresh_custody(case, acting_user=acting_user)  # art. 105(4): the case's periods now run in custody
        now = timezone.now()
        record = _create_record(person, centre=detention_centre, measure=measure, since=since, agency=agency,
                                stage=case.stage, at=now, actor=acting_user, note=_("登记羁押"))
        record_event("custody.registered", actor=acting_user, obj=record, case=case,
                     details={"person": person.pk, "centre": detention_centre.code, "measure": measure,
                              "period_end": record.period_end})
    return record


def check_ready_for_acceptance(case: Case) -> list[str]:
    """Reasons the receiving agency may not accept ``case`` yet (empty list: ready).

    A detained suspect must have a custody record (detention centre, measure, responsible
    agency): otherwise nobody could tell the detention centre who holds the person from now on.
    """
    reasons = []
    persons = case.persons.filter(role=PersonRole.SUSPECT, custody_status__in=DETAINED).order_by("id")
    with_record = set(CustodyRecord.objects.filter(person__in=persons).values_list("person_id", flat=True))
    for person in persons:
        if person.pk not in with_record:
            reasons.append(_("犯罪嫌疑人%(name)s处于羁押状态，但没有羁押记录（羁押场所未登记），不能接收。请移送机关先登记羁押信息。")
                           % {"name": person.name})
    return reasons


# --- certificates ----------------------------------------------------------------------------


def issue_certificates(
    case: Case, *, from_agency: Agency, to_agency: Agency, reason: str, to_stage: str = "", transition: str = "",
    transfer: Any = None, acting_user: Any = None, at: datetime | None = None,
) -> list[CustodyCertificate]:
    """Issue one signed 换押证 per detained person of ``case`` (in the caller's transaction).

    ``to_agency`` must hold the case or be the addressee of ``transfer`` (a package of this
    case): a certificate never points at an agency that does not hold the case. A detained
    person with a detention centre but no record yet gets one from the person's particulars;
    one without a detention centre gets no certificate and blocks acceptance
    (:func:`check_ready_for_acceptance`).
    """
    at = at or timezone.now()
    addressee = transfer is not None and transfer.case_id == case.pk and transfer.to_agency_id == to_agency.pk
    if to_agency.pk == from_agency.pk or not (addressee or case.holder_agency_id == to_agency.pk):
        raise ValidationError(_("换押接收机关必须是本案的承办机关或本次移送的接收机关。"))
    issued = []
    with transaction.atomic():
        persons = case.persons.filter(role=PersonRole.SUSPECT, custody_status__in=DETAINED).select_related(
            "detention_centre").order_by("id")
        for person in persons:
            record = CustodyRecord.objects.select_for_update().filter(person=person).first()
            if record is None:
                if person.detention_centre_id is None:
                    continue
                record = _create_record(
                    person, centre=person.detention_centre, measure=person.custody_status,
                    since=person.custody_since or at, agency=from_agency, stage=case.stage, at=at, actor=acting_user,
                    note=_("据涉案人员信息登记"),
                )
            if not record.in_custody:
                continue
            if record.responsible_agency_id != from_agency.pk:
                raise ValidationError(_("%(name)s的羁押权属机关是%(holder)s，不能由%(agency)s换押。")
                                      % {"name": person.name, "holder": record.responsible_agency.name,
                                         "agency": from_agency.name})
            if _pending_certificate(record) is not None:
                raise ValidationError(_("%(name)s已有待接收的换押证。") % {"name": person.name})
            cert = CustodyCertificate(
                number=_number(from_agency, "custody_certificate", "换押", at), channel=Channel.ONLINE,
                record=record, case=case, person=person, detention_centre=record.detention_centre,
                from_agency=from_agency, to_agency=to_agency, from_stage=record.stage, to_stage=to_stage,
                reason=reason[:100], transition=transition, transfer=transfer, issued_at=at, issued_by=acting_user,
            )
            cert.pdf = documents.sign_and_store_form(
                documents.certificate_form(cert, record=record), from_agency,
                reason=_("换押证 %(n)s") % {"n": cert.number}, stamp=f"{from_agency.name} 换押 {cert.number}",
            )
            cert.save()
            _event(record, EventKind.ISSUED, at=at, actor=acting_user, agency=from_agency, certificate=cert)
            _notify_centre(record.detention_centre_id, record_id=record.pk, case=case, key=f"custody-cert:{cert.pk}",
                           title=message(gettext_noop("换押：%(name)s，%(from)s → %(to)s"),
                                         name=person.name, **{"from": from_agency.name, "to": to_agency.name}))
            issued.append(cert)
        if issued:
            record_event(
                "custody.certificates_issued", actor=acting_user, agency=from_agency, case=case,
                details={"certificates": [c.number for c in issued], "persons": [c.person_id for c in issued],
                         "to_agency": to_agency.code, "transfer": getattr(transfer, "pk", None),
                         "pdf_sha256": [c.pdf.sha256 for c in issued]},
            )
    return issued


def take_over(
    case: Case, *, agency: Agency, acting_user: Any = None, at: datetime | None = None, transfer: Any = None,
    require_ready: bool = True,
) -> list[CustodyCertificate]:
    """The receiving agency takes custody over: records the time and its statutory period (from
    the clocks of its stage) on every pending certificate addressed to it, and countersigns a
    receipt. Blocked while a detained person has no custody record."""
    at = at or timezone.now()
    reasons = check_ready_for_acceptance(case) if require_ready else []
    if reasons:
        raise ValidationError(reasons)
    if case.holder_agency_id != agency.pk:
        raise ValidationError(_("只有本案的承办机关可以接收换押。"))
    done = []
    with transaction.atomic():
        qs = CustodyCertificate.objects.select_for_update().filter(
            case=case, to_agency=agency, status=CertificateStatus.ISSUED)
        if transfer is not None:
            qs = qs.filter(transfer=transfer)
        for cert in qs.select_related("record", "person", "from_agency", "to_agency", "detention_centre"):
            record = cert.record
            # The signal comes after the case row is updated: case.stage is the receiver's stage.
            record.responsible_agency, record.stage = agency, case.stage
            record.period_kind, start, end = custody_period(record, agency)
            record.period_start, record.period_end = start or local_day(at), end
            record.save(update_fields=["responsible_agency", "stage", "period_kind", "period_start", "period_end",
                                       "updated_at"])
            cert.status, cert.taken_over_at, cert.taken_over_by = CertificateStatus.TAKEN_OVER, at, acting_user
            cert.period_start, cert.period_end = record.period_start, record.period_end
            cert.receipt_pdf = documents.sign_and_store_form(
                documents.receipt_form(cert), agency, reason=_("接收换押 %(n)s") % {"n": cert.number},
                stamp=f"{agency.name} 接收换押 {cert.number}",
            )
            cert.save(update_fields=["status", "taken_over_at", "taken_over_by", "period_start", "period_end",
                                     "receipt_pdf"])
            _event(record, EventKind.TAKEN_OVER, at=at, actor=acting_user, agency=agency, certificate=cert)
            done.append(cert)
        if done:
            record_event(
                "custody.taken_over", actor=acting_user, agency=agency, case=case,
                details={"certificates": [c.number for c in done],
                         "periods": {c.person_id: [c.period_start, c.period_end] for c in done},
                         "receipt_sha256": [c.receipt_pdf.sha256 for c in done]},
            )
    return done


def cancel_certificates(transfer: Any, *, reason: str, acting_user: Any = None,
                        at: datetime | None = None) -> list[CustodyCertificate]:
    """A rejected or withdrawn package takes its pending certificates with it: custody stays."""
    at = at or timezone.now()
    with transaction.atomic():
        certs = list(CustodyCertificate.objects.select_for_update().filter(
            transfer=transfer, status=CertificateStatus.ISSUED).select_related("record"))
        for cert in certs:
            cert.status, cert.cancelled_reason = CertificateStatus.CANCELLED, reason[:200]
            cert.save(update_fields=["status", "cancelled_reason"])
            _event(cert.record, EventKind.CANCELLED, at=at, actor=acting_user, agency=cert.from_agency,
                   certificate=cert, note=reason)
        if certs:
            record_event("custody.certificates_cancelled", actor=acting_user, agency=certs[0].from_agency,
                         case=certs[0].case_id, details={"certificates": [c.number for c in certs],
                                                         "reason": reason})
    return certs


def acknowledge(item: CustodyCertificate | CustodyNotice, *, acting_user: Any) -> bool:
    """The detention centre acknowledges a certificate or notice. Returns False (and changes
    nothing) when it was already acknowledged: acknowledging twice is harmless. A certificate is
    acknowledged once the receiver has taken custody over (ValidationError while only sent)."""
    if acting_user is None:
        raise PermissionDenied(_("只有该看守所的民警可以确认。"))
    door = CERTIFICATES if isinstance(item, CustodyCertificate) else NOTICES
    door.check(acting_user, item, "acknowledge")  # the one rule: casehub.custody.doors
    model = type(item)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=item.pk)
        if locked.acknowledged_at is not None:
            return False
        if isinstance(locked, CustodyCertificate) and locked.status == CertificateStatus.CANCELLED:
            raise ValidationError(_("该换押证已作废。"))
        if isinstance(locked, CustodyCertificate) and locked.status == CertificateStatus.ISSUED:
            # Sent, not taken over: custody has not moved yet (the receiver may still refuse the
            # package), so there is nothing the centre could confirm.
            raise ValidationError(
                _("换押证 %(number)s 尚未被%(to)s接收，%(person)s的羁押仍由%(from)s负责；请在接收后确认。")
                % {"number": locked.number, "to": locked.to_agency.name, "person": locked.person.name,
                   "from": locked.from_agency.name})
        now = timezone.now()
        locked.acknowledged_at, locked.acknowledged_by = now, acting_user
        locked.save(update_fields=["acknowledged_at", "acknowledged_by"])
        item.acknowledged_at, item.acknowledged_by = now, acting_user
        _event(locked.record, EventKind.ACKNOWLEDGED, at=now, actor=acting_user, agency=acting_user.agency,
               certificate=locked if isinstance(locked, CustodyCertificate) else None,
               notice=locked if isinstance(locked, CustodyNotice) else None)
        record_event("custody.acknowledged", actor=acting_user, obj=locked, case=locked.case_id,
                     details={"number": locked.number, "type": model.__name__})
    return True


# --- changes within a stage ------------------------------------------------------------------


def issue_notice(
    record: CustodyRecord, *, kind: str, reason: str, agency: Agency, acting_user: Any = None,
    new_end: date | None = None, at: datetime | None = None,
) -> CustodyNotice:
    """变更羁押期限通知书, signed by ``agency`` (the deciding agency): an extension or recount of the
    period, detention becoming arrest, bail or release. No new transfer."""
    if kind not in NoticeKind.values:
        raise ValidationError(_("变更事项无效。"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("请填写变更理由或决定文号。"))
    at = at or timezone.now()
    with transaction.atomic():
        record = CustodyRecord.objects.select_for_update().select_related("person", "case").get(pk=record.pk)
        if not record.in_custody:
            raise ValidationError(_("%(name)s已不在羁押中。") % {"name": record.person.name})
        previous = record.period_end
        if kind == NoticeKind.ARREST:
            record.measure = Measure.ARREST
        if kind in (NoticeKind.BAIL, NoticeKind.RELEASE, NoticeKind.EXECUTION):
            record.status = {NoticeKind.BAIL: RecordStatus.BAIL, NoticeKind.RELEASE: RecordStatus.RELEASED,
                             NoticeKind.EXECUTION: RecordStatus.EXECUTED}[kind]
            record.ended_at = at
            new_end = None
        elif new_end is None:
            record.period_kind, _start, new_end = custody_period(record)
        if new_end is not None:
            record.period_end = new_end
        record.save()
        # The person's own custody clocks follow the measure: an arrest ends the detention clock
        # (art. 156 custody after arrest runs instead); bail or release ends both.
        ended = {NoticeKind.ARREST: [ClockKind.DETENTION],
                 NoticeKind.BAIL: list(PERSON_CLOCKS), NoticeKind.RELEASE: list(PERSON_CLOCKS),
                 NoticeKind.EXECUTION: list(PERSON_CLOCKS)}.get(kind)
        if ended:
            from casehub.clocks.services import stop_clocks

            stop_clocks(record.case, ended, at=at, person=record.person, acting_user=acting_user, reason=kind)
        notice = CustodyNotice(
            number=_number(agency, "custody_notice", "羁变", at), kind=kind, record=record, case=record.case,
            person=record.person, detention_centre=record.detention_centre, agency=agency, previous_end=previous,
            new_end=new_end, reason=reason, issued_at=at, issued_by=acting_user,
        )
        notice.pdf = documents.sign_and_store_form(documents.notice_form(notice), agency,
                                              reason=_("变更羁押期限通知书 %(n)s") % {"n": notice.number},
                                              stamp=f"{agency.name} {notice.number}")
        notice.save()
        _event(record, EventKind.NOTICE, at=at, actor=acting_user, agency=agency, notice=notice, note=kind)
        _notify_centre(record.detention_centre_id, record_id=record.pk, case=record.case,
                       key=f"custody-notice:{notice.pk}",
                       title=message(gettext_noop("羁押期限变更：%(name)s，%(kind)s"), name=record.person.name,
                                     kind=NoticeKind(notice.kind).label))
        record_event("custody.notice_issued", actor=acting_user, agency=agency, obj=notice, case=record.case_id,
                     details={"number": notice.number, "kind": kind, "person": record.person_id,
                              "previous_end": previous, "new_end": new_end, "pdf_sha256": notice.pdf.sha256})
    return notice


def resume_after_arrest(record: CustodyRecord, *, police: Agency, deciding: Agency, reason: str,
                        acting_user: Any = None, at: datetime | None = None) -> CustodyNotice:
    """A released person is arrested after all (the procuratorate changed its refusal on
    reconsideration or review, CPL art. 92): the record is in custody again, the police
    responsible, and the detention centre receives the arrest notice with the new end date."""
    at = at or timezone.now()
    with transaction.atomic():
        record = CustodyRecord.objects.select_for_update().get(pk=record.pk)
        record.status, record.ended_at, record.detained_at = RecordStatus.IN_CUSTODY, None, at
        record.responsible_agency, record.stage = police, record.case.stage
        record.save()
        return issue_notice(record, kind=NoticeKind.ARREST, reason=reason, agency=deciding,
                            acting_user=acting_user, at=at)


def issue_notice_by_user(record: CustodyRecord, *, kind: str, reason: str, acting_user: Any,
                         new_end: date | None = None) -> CustodyNotice:
    """An officer of the responsible agency records a custody decision from the custody page.

    The decision goes through the engine (:func:`workflows.engine.decide_custody`), which changes the
    person's status and issues this notice in one transaction; an arrest cannot be recorded here.
    """
    from workflows.engine import decide_custody

    return decide_custody(record, kind=kind, reason=reason, acting_user=acting_user, new_end=new_end)


def sync_with_case(case: Case, *, agency: Agency, acting_user: Any = None, at: datetime | None = None) -> list[CustodyNotice]:
    """After a transition, bring the records in line with the persons and clocks: an arrest, a
    release or a changed period of the responsible agency becomes a notice signed by ``agency``
    (the agency whose decision caused it)."""
    at = at or timezone.now()
    notices = []
    records = CustodyRecord.objects.filter(case=case, status=RecordStatus.IN_CUSTODY).select_related("person")
    for record in records:
        status = record.person.custody_status
        if status in (CustodyStatus.RELEASED, CustodyStatus.NOT_DETAINED):
            notices.append(issue_notice(record, kind=NoticeKind.RELEASE, agency=agency, acting_user=acting_user,
                                        reason=_("依法释放。"), at=at))
        elif status in (CustodyStatus.BAIL, CustodyStatus.RESIDENTIAL_SURVEILLANCE):
            notices.append(issue_notice(record, kind=NoticeKind.BAIL, agency=agency, acting_user=acting_user,
                                        reason=_("变更强制措施。"), at=at))
        elif status == CustodyStatus.ARRESTED and record.measure == Measure.DETENTION:
            notices.append(issue_notice(record, kind=NoticeKind.ARREST, agency=agency, acting_user=acting_user,
                                        reason=_("经批准逮捕，拘留变更为逮捕，羁押期限重新计算（刑事诉讼法第一百五十六条）。"),
                                        at=at))
        elif _pending_certificate(record) is None:
            _kind, _start, end = custody_period(record)
            if end is not None and end != record.period_end:
                kind = NoticeKind.EXTENSION if record.period_end and end > record.period_end else NoticeKind.RECALCULATION
                notices.append(issue_notice(record, kind=kind, agency=agency, acting_user=acting_user, new_end=end,
                                            reason=_("羁押期限变更为至%(end)s。") % {"end": end}, at=at))
    return notices


# --- paper transfers -------------------------------------------------------------------------


def register_paper_transfer(
    person: Person, *, from_agency: Agency, to_agency: Agency, transferred_at: datetime, reference: str,
    acting_user: Any, period_end: date | None = None, paper_transfer: Any = None,
) -> CustodyCertificate:
    """登记纸质换押: a custody transfer that happened on paper is recorded (channel=paper) so the
    e-custody-transfer rate has a true denominator.

    Two cases:

    - ``paper_transfer`` is None: the case moved on the platform but the certificate went on paper;
      the receiving agency must hold the case.
    - ``paper_transfer`` is a paper hand-over of this case registered by the receiving agency through
      the engine (:func:`workflows.engine.register_paper_transfer`, ``mode=paper``) whose kind moves
      custody (:data:`CUSTODY_TRANSFER_KINDS`): the case stays with its holder on the platform, so
      the receiver of that hand-over registers the custody transfer that went with it. The
      certificate points at that transfer (one hand-over, counted once per person); registering the
      same person twice for it is refused.
    """
    reference = (reference or "").strip()
    if not reference:
        raise ValidationError({"reference": [_("请填写纸质换押证编号。")]})
    agency = getattr(acting_user, "agency", None)
    if agency is None or agency.pk not in (from_agency.pk, to_agency.pk) or not has_capability(
            acting_user, REGISTER_PAPER_TRANSFER):
        raise PermissionDenied(_("只有移送或接收机关可以登记纸质换押。"))
    if paper_transfer is not None and agency.pk != to_agency.pk:
        raise PermissionDenied(_("纸质移送的换押由接收机关登记。"))
    if transferred_at > timezone.now():
        raise ValidationError({"transferred_at": [_("换押时间不能晚于现在。")]})
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=person.case_id)
        if paper_transfer is not None:
            _check_paper_handover(paper_transfer, case=case, from_agency=from_agency, to_agency=to_agency)
            if CustodyCertificate.objects.filter(transfer_id=paper_transfer.pk, person=person).exclude(
                    status=CertificateStatus.CANCELLED).exists():
                raise ValidationError(_("%(name)s在该次纸质移送中的换押已经登记。") % {"name": person.name})
        elif case.holder_agency_id != to_agency.pk:
            raise ValidationError(_("换押接收机关必须是本案的承办机关；案件以纸质方式移送的，请先登记纸质移送，再按该次移送登记换押。"))
        record = CustodyRecord.objects.select_for_update().filter(person=person).first()
        if record is None:
            raise ValidationError(_("%(name)s没有羁押记录，请先登记羁押。") % {"name": person.name})
        if record.status != RecordStatus.IN_CUSTODY:
            raise ValidationError(_("%(name)s已不在羁押中。") % {"name": person.name})
        if record.responsible_agency_id != from_agency.pk:
            raise ValidationError(_("%(name)s的羁押权属机关不是%(agency)s。")
                                  % {"name": person.name, "agency": from_agency.name})
        if _pending_certificate(record) is not None:
            raise ValidationError(_("%(name)s有待接收的换押证。") % {"name": person.name})
        from_stage = record.stage
        to_stage = PAPER_STAGES.get(paper_transfer.kind, case.stage) if paper_transfer is not None else case.stage
        record.responsible_agency, record.stage = to_agency, to_stage
        record.period_kind, start, end = custody_period(record, to_agency)
        record.period_start = start or local_day(transferred_at)
        record.period_end = period_end or end
        record.save()
        cert = CustodyCertificate.objects.create(
            number=_number(agency, "custody_paper", "换押登", transferred_at), channel=Channel.PAPER, record=record,
            case=case, person=person, detention_centre=record.detention_centre, from_agency=from_agency,
            to_agency=to_agency, from_stage=from_stage, to_stage=to_stage, reason=_("纸质换押登记"),
            transfer=paper_transfer, transition="register_paper_transfer" if paper_transfer is not None else "",
            status=CertificateStatus.TAKEN_OVER, issued_at=transferred_at, issued_by=acting_user,
            taken_over_at=transferred_at, taken_over_by=acting_user,
            period_start=record.period_start, period_end=record.period_end, paper_reference=reference[:100],
        )
        _event(record, EventKind.PAPER, at=timezone.now(), actor=acting_user, agency=agency, certificate=cert,
               note=reference)
        record_event("custody.paper_registered", actor=acting_user, obj=cert, case=case,
                     details={"person": person.pk, "reference": reference, "from": from_agency.code,
                              "to": to_agency.code, "transferred_at": transferred_at,
                              "paper_transfer": paper_transfer.pk if paper_transfer is not None else None})
    _notify_centre(record.detention_centre_id, title=_("纸质换押已登记：%(name)s") % {"name": person.name},
                   record_id=record.pk, key=f"custody-paper-{cert.pk}", case=case)
    return cert


def _check_paper_handover(paper_transfer: Any, *, case: Case, from_agency: Agency, to_agency: Agency) -> None:
    """The paper hand-over a custody transfer is registered for must be this case's, on paper,
    from ``from_agency`` to ``to_agency``, of a kind with which custody moves."""
    if (paper_transfer.mode != "paper"  # workflows.models.TransferMode.PAPER
            or paper_transfer.case_id != case.pk
            or paper_transfer.to_agency_id != to_agency.pk or paper_transfer.from_agency_id != from_agency.pk):
        raise ValidationError(_("该纸质移送不是本案由%(from)s移送%(to)s的纸质移送。")
                              % {"from": from_agency.name, "to": to_agency.name})
    if paper_transfer.kind not in CUSTODY_TRANSFER_KINDS:
        raise ValidationError(_("该类移送不转移羁押（只有移送审查起诉、退回补充侦查和提起公诉随案换押）。"))


def paper_handovers_for_custody(case: Case, agency: Agency) -> Any:
    """Paper hand-overs of ``case`` received by ``agency`` with which custody moves (newest first)."""
    from workflows.models import Transfer  # same layer; the model is only read here

    return (Transfer.objects.filter(case=case, to_agency=agency, mode="paper", kind__in=list(CUSTODY_TRANSFER_KINDS))
            .select_related("from_agency").order_by("-sent_at", "-id"))
