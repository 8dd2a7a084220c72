"""Sending legal-aid notices and duty-lawyer requests, and assigning counsel.

Each is one transaction with one audit event; the clocks of Legal Aid Law art. 36 are opened and
stopped in the same transaction (``casehub.clocks.services``), notifications go out with it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.agencies import permissions as p
from casehub.agencies.models import Agency, AgencyKind, Role, User
from casehub.audit.services import record_event
from casehub.cases.models import Case, Person, PersonRole
from casehub.cases.selectors import can_act
from casehub.clocks.kinds import ClockKind
from casehub.clocks.services import open_clock, stop_clocks
from casehub.legalaid.models import DEFENCE_GROUNDS, Ground, LegalAidRequest, RequestKind, RequestStatus
from casehub.notifications.services import notify


def bureau_for(agency: Agency) -> Agency | None:
    """The justice bureau of the agency's region: the legal-aid agency its notices go to."""
    if not agency.region:
        return None
    return Agency.objects.filter(kind=AgencyKind.JUSTICE_BUREAU, region=agency.region).order_by("code").first()


def lawyers_for(bureau: Agency) -> Any:
    """Lawyers the bureau may assign: active users with the lawyer role in a law firm of its region."""
    return (User.objects.filter(is_active=True, agency__kind=AgencyKind.LAW_FIRM, agency__region=bureau.region,
                                groups__name=p.role_group_name(Role.LAWYER))
            .select_related("agency").order_by("agency__name", "display_name", "username").distinct())


def _adult_when_registered(person: Person, case: Case) -> bool:
    """CPL art. 278 is for a minor suspect or defendant; with a recorded birth date, an adult on the day
    the case was registered is not one (the platform records no date of the offence)."""
    born = person.birth_date
    if born is None:
        return False
    day = timezone.localtime(case.created_at).date()
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day)) >= 18


def send_request(
    case: Case, person: Person, *, kind: str, ground: str, acting_user: User, found_on: date | None = None,
    note: str = "",
) -> LegalAidRequest:
    """The handling agency notifies the justice bureau of its region.

    A defence notice (CPL arts. 35, 278) states the day the ground was found; its 3-day clock
    (Legal Aid Law art. 36) is opened from that day for the sender and stopped by the notice (met or
    late), and the bureau's 3-day clock to assign counsel starts. A duty-lawyer request (CPL art. 36)
    runs no clock.
    """
    if not p.has_capability(acting_user, p.NOTIFY_LEGAL_AID):
        raise PermissionDenied(_("您的角色无权通知法律援助机构。"))
    if not can_act(acting_user, case):
        raise PermissionDenied(_("只有案件的承办机关可以通知法律援助机构。"))
    if person.case_id != case.pk or person.role != PersonRole.SUSPECT:
        raise ValidationError(_("只能为本案的犯罪嫌疑人、被告人通知法律援助。"))
    kind = RequestKind(kind)
    ground = Ground(ground)
    today = timezone.localdate()
    if kind == RequestKind.DEFENCE:
        if ground not in DEFENCE_GROUNDS:
            raise ValidationError(_("通知辩护须载明刑事诉讼法第三十五条或第二百七十八条规定的情形。"))
        if found_on is None:
            raise ValidationError(_("请填写发现应当通知辩护情形的日期。"))
        if found_on > today:
            raise ValidationError(_("发现日期不能晚于今天。"))
        if ground == Ground.MINOR and _adult_when_registered(person, case):
            raise ValidationError(_("%(name)s在立案时已满十八周岁，不能以未成年人为由通知辩护（刑事诉讼法第二百七十八条）。")
                                  % {"name": person.name})
    else:
        ground, found_on = Ground.NO_COUNSEL, None
    sender = acting_user.agency
    bureau = bureau_for(sender)
    if bureau is None:
        raise ValidationError(_("本辖区尚无司法局（法律援助机构）在平台上。"))
    now = timezone.now()
    with transaction.atomic():
        Person.objects.select_for_update().filter(pk=person.pk).first()  # one notice per person at a time
        open_request = LegalAidRequest.objects.filter(person=person, kind=kind).first()
        if open_request is not None:
            raise ValidationError(_("已就该人员发出过%(kind)s（%(status)s）。")
                                  % {"kind": kind.label, "status": open_request.get_status_display()})
        request = LegalAidRequest.objects.create(
            case=case, person=person, kind=kind, ground=ground, from_agency=sender, bureau=bureau,
            found_on=found_on, note=note.strip(), sent_by=acting_user, sent_at=now,
        )
        if kind == RequestKind.DEFENCE:
            request.notice_clock = open_clock(case, ClockKind.LEGAL_AID_NOTICE, agency=sender, start=found_on,
                                              person=person, decision=str(ground.label), acting_user=acting_user)
            stop_clocks(case, [ClockKind.LEGAL_AID_NOTICE], at=now, person=person, acting_user=acting_user,
                        reason="legal_aid.requested")
            request.notice_clock.refresh_from_db()
            request.assignment_clock = open_clock(case, ClockKind.LEGAL_AID_ASSIGNMENT, agency=bureau, start=now,
                                                  person=person, decision=str(ground.label), acting_user=acting_user)
            request.save(update_fields=["notice_clock", "assignment_clock"])
        record_event("legal_aid.requested", actor=acting_user, agency=sender, obj=request, case=case, details={
            "kind": kind.value, "ground": ground.value, "person": person.pk, "bureau": bureau.pk,
            "found_on": found_on.isoformat() if found_on else None,
            "notice_on_time": (request.notice_clock.due_date >= timezone.localdate(now))
            if request.notice_clock else None,
        })
        officers = User.objects.filter(agency=bureau, is_active=True,
                                       groups__name=p.role_group_name(Role.LEGAL_AID_OFFICER))
        notify(officers, kind="legal_aid", title=_("%(agency)s：%(kind)s") % {"agency": sender.name,
                                                                             "kind": kind.label},
               url=reverse("legalaid:detail", args=[request.pk]), key=f"legal-aid-{request.pk}")
    return request


def assign_counsel(
    request: LegalAidRequest, *, acting_user: User, lawyer: User | None = None, name: str = "", firm: str = "",
    licence: str = "",
) -> LegalAidRequest:
    """The bureau assigns a lawyer (Legal Aid Law art. 36) and the notifying agency is told.

    ``lawyer`` is a platform user of a law firm of the bureau's region, who then reads the case file as
    counsel (``casehub.legalaid.selectors``); a lawyer without an account is recorded by name, firm and
    licence number and reads on paper.
    """
    if not p.has_capability(acting_user, p.ASSIGN_COUNSEL) or acting_user.agency_id != request.bureau_id:
        raise PermissionDenied(_("只有受通知的法律援助机构可以指派律师。"))
    if lawyer is not None:
        if not lawyers_for(request.bureau).filter(pk=lawyer.pk).exists():
            raise ValidationError(_("只能指派本辖区律师事务所在平台上的律师。"))
        name = name.strip() or lawyer.display_name or lawyer.username
        firm = firm.strip() or lawyer.agency.name
    name, firm, licence = name.strip(), firm.strip(), licence.strip()
    if not name or not firm:
        raise ValidationError(_("请选择平台上的律师，或填写律师姓名和律师事务所。"))
    now = timezone.now()
    with transaction.atomic():
        request = LegalAidRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != RequestStatus.SENT:
            raise ValidationError(_("该通知已经指派律师。"))
        request.status, request.assigned_at, request.assigned_by = RequestStatus.ASSIGNED, now, acting_user
        request.counsel, request.counsel_name, request.counsel_firm, request.counsel_licence = (
            lawyer, name, firm, licence)
        request.save(update_fields=["status", "assigned_at", "assigned_by", "counsel", "counsel_name",
                                    "counsel_firm", "counsel_licence"])
        if request.assignment_clock_id:
            stop_clocks(request.case, [ClockKind.LEGAL_AID_ASSIGNMENT], at=now, person=request.person,
                        acting_user=acting_user, reason="legal_aid.counsel_assigned")
        record_event("legal_aid.counsel_assigned", actor=acting_user, agency=request.bureau, obj=request,
                     case=request.case_id, details={
                         "kind": request.kind, "person": request.person_id, "counsel": lawyer.pk if lawyer else None,
                         "counsel_name": name, "counsel_firm": firm, "counsel_licence": licence,
                     })
        told = User.objects.filter(pk__in=[request.sent_by_id, *request.case.handling_officers.filter(
            agency=request.from_agency).values_list("pk", flat=True)], is_active=True)
        notify(told, kind="legal_aid", title=_("法律援助机构已指派律师：%(name)s（%(firm)s）") % {"name": name, "firm": firm},
               url=reverse("cases:detail", args=[request.case_id]), case=request.case,
               key=f"legal-aid-assigned-{request.pk}")
        if lawyer is not None:
            notify([lawyer], kind="legal_aid", title=_("您已被指派为辩护律师或值班律师"),
                   url=reverse("legalaid:counsel", args=[request.pk]), key=f"legal-aid-counsel-{request.pk}")
    return request
