"""Custody pages.

Detention officers: the inbox of transfers/notices to acknowledge, the detainees of their own
centre with holder and deadline, the certificates — never the dossier (every lookup goes through
:mod:`casehub.custody.selectors`, so another centre's detainee is a 404).
Agency officers: the custody page of a case they may see (register custody, notices, paper
transfers), through the case door :data:`casehub.cases.doors.CASES` (404, then 403).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from casehub.agencies.permissions import (
    ACKNOWLEDGE_CUSTODY,
    MANAGE_CUSTODY,
    REGISTER_PAPER_TRANSFER,
    has_capability,
)
from casehub.audit.services import record_event
from casehub.cases.doors import CASES
from casehub.cases.identity import require_id_numbers
from casehub.cases.models import PersonRole
from casehub.custody import services, timeline
from casehub.custody.doors import CENTRE_LIST, DOORS
from casehub.custody.forms import NoticeForm, PaperTransferForm, RegisterCustodyForm
from casehub.custody.models import CustodyCertificate, CustodyNotice, CustodyRecord
from casehub.custody.selectors import (
    centre_records,
    deadline_list,
    get_centre_record,
    pending_acknowledgements,
)
from casehub.forms import add_service_errors
from storage.base import content_disposition

# The documents of each custody item: the signed certificate/notice, and the certificate's receipt.
PDF_PARTS: dict[str, tuple[str, ...]] = {"certificate": ("main", "receipt"), "notice": ("main",),
                                         "extension": ("main",)}


def _chosen_day(request: HttpRequest) -> date:
    raw = request.GET.get("on", "")
    try:
        return date.fromisoformat(raw) if raw else timezone.localdate()
    except ValueError:
        return timezone.localdate()


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    CENTRE_LIST.check(request.user)  # anyone but a detention officer: 403 (casehub.agencies.doors)
    certs, notices = pending_acknowledgements(request.user)
    today = timezone.localdate()
    return render(request, "custody/inbox.html", {
        "certificates": certs, "notices": notices, "deadlines": deadline_list(request.user, today=today),
        "today": today,
    })


@login_required
def detainees(request: HttpRequest) -> HttpResponse:
    CENTRE_LIST.check(request.user)
    today = _chosen_day(request)
    within = request.GET.get("within", "")
    if request.GET.get("deadlines"):
        rows = deadline_list(request.user, today=today, within=int(within) if within.isdigit() else None)
    else:
        rows = [{"record": r, "remaining": (r.period_end - today).days if r.period_end else None,
                 "overdue": bool(r.period_end and r.period_end < today)}
                for r in centre_records(request.user).filter(status="in_custody").order_by("period_end", "id")]
    return render(request, "custody/detainees.html", {
        "rows": rows, "today": today, "within": within, "deadlines": bool(request.GET.get("deadlines")),
    })


def _may_hand_over_outside_prison(user: Any, record: CustodyRecord) -> bool:
    """Whether the centre's officer may hand this convict over to community correction now (SPC
    Interpretation art. 515; the engine's transition ``hand_over_outside_prison`` decides)."""
    # The engine is a package of this layer that imports custody; reached at run time, not at import.
    from workflows import engine

    if not record.in_custody or not has_capability(user, ACKNOWLEDGE_CUSTODY):
        return False
    return any(s.name == "hand_over_outside_prison" for s in engine.available_transitions(record.case, user))


@login_required
@require_POST
def hand_over_outside_prison(request: HttpRequest, pk: int) -> HttpResponse:
    """The detention centre hands a convict whose execution outside prison the court decided over to
    community correction (SPC Interpretation art. 515): the engine's transition, from the detainee's page
    (the centre's officers read no case pages)."""
    from workflows import engine  # run time, as above

    record = get_centre_record(request.user, pk)  # not this officer's centre, or not an officer: 404
    if not has_capability(request.user, ACKNOWLEDGE_CUSTODY):
        raise PermissionDenied(_("您的角色不能办理该事项。"))
    try:
        engine.fire(record.case, "hand_over_outside_prison", acting_user=request.user,
                    inputs={"reason": request.POST.get("reason", "")})
    except engine.TransitionError as exc:
        messages.error(request, str(exc))
        return redirect("custody:detainee", record.pk)
    messages.success(request, _("已将%(name)s移送社区矫正机构，羁押记录终结。") % {"name": record.person.name})
    return redirect("custody:detainees")


@login_required
def detainee(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_centre_record(request.user, pk)  # not this officer's centre, or not an officer: 404
    return render(request, "custody/detainee.html", {
        "record": record, "today": timezone.localdate(),
        "can_hand_over": _may_hand_over_outside_prison(request.user, record),
        "certificates": record.certificates.select_related("from_agency", "to_agency").order_by("issued_at", "id"),
        "notices": record.notices.select_related("agency").order_by("issued_at", "id"),
        "events": record.events.select_related("agency", "responsible_agency", "actor"),
        "can_acknowledge": has_capability(request.user, ACKNOWLEDGE_CUSTODY),
        "timeline": timeline.build(record.case, [record.person]),
    })


def _item_for(request: HttpRequest, kind: str, pk: int, action: str | None = None) -> CustodyCertificate | CustodyNotice:
    """A certificate or notice the user may see (404 otherwise), checked for ``action`` (403): the one
    rule of :mod:`casehub.agencies.doors`, the same door as the API's (:mod:`casehub.custody.doors`)."""
    door = DOORS.get(kind)
    if door is None:
        raise Http404
    return door.get(request.user, pk, action)


@login_required
def document_pdf(request: HttpRequest, kind: str, pk: int, part: str = "main") -> HttpResponse:
    from casehub.objectstore.services import read_bytes

    # ``part`` names one of the item's own documents; anything else (including CR/LF or quotes
    # meant for the Content-Disposition header) is an unknown page, never echoed back.
    if part not in PDF_PARTS.get(kind, ()):
        raise Http404
    item = _item_for(request, kind, pk)
    require_id_numbers(request.user)  # signed PDFs with the person's full ID number (casehub.cases.identity)
    stored = item.receipt_pdf if part == "receipt" else item.pdf
    if stored is None:
        raise Http404
    data = read_bytes(stored)  # verifies the SHA-256 on read
    record_event("custody.document_viewed", actor=request.user, obj=item, case=item.case_id,
                 details={"number": item.number, "part": part, "sha256": stored.sha256})
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition(f"{kind}-{item.pk}-{part}.pdf", inline=True)
    return response


@login_required
@require_POST
def acknowledge(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    item = _item_for(request, kind, pk, "acknowledge")  # seen but not the centre's officer: 403
    try:
        changed = services.acknowledge(item, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        if not changed:
            messages.success(request, _("此前已确认，无需重复确认。"))
        else:
            messages.success(request, _("已确认 %(number)s（%(person)s）。") % {"number": item.number,
                                                                       "person": item.person.name})
    # Back to the list the officer confirmed from (the inbox), else the detainee's page.
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()):
        return redirect(back)
    return redirect("custody:detainee", item.record_id)


# The forms of the case's custody page, by the ``action`` they post; each belongs to one row (the
# person's, or for a notice the record's) and posts that row's id in this field.
CASE_FORMS: dict[str, tuple[type, str]] = {
    "register": (RegisterCustodyForm, "person"), "notice": (NoticeForm, "record"), "paper": (PaperTransferForm, "person"),
}


@login_required
def case_custody(request: HttpRequest, case_id: int) -> HttpResponse:
    # The case first (casehub.cases.doors): 404 to who may not see it, a role that reads no cases
    # included; a register or notice form the user's role or agency may not submit is then 403.
    case = CASES.get(request.user, case_id)
    user = request.user
    can_manage = has_capability(user, MANAGE_CUSTODY) and case.holder_agency_id == user.agency_id
    # Paper hand-overs of this case the user's agency received (registered through the engine):
    # their receiver registers the custody transfer that went with them, although the case stays
    # with its holder on the platform.
    paper_handovers = (list(services.paper_handovers_for_custody(case, user.agency))
                       if has_capability(user, REGISTER_PAPER_TRANSFER) and user.agency_id else [])
    can_paper = has_capability(user, REGISTER_PAPER_TRANSFER) and (
        case.holder_agency_id == user.agency_id or bool(paper_handovers))
    page = _CustodyPage(case, user, can_manage=can_manage, can_paper=can_paper, paper_handovers=paper_handovers)
    if request.method == "GET":
        record_event("custody.viewed", actor=user, obj=case, case=case)  # detainees, custody periods
        return page.render(request)
    if request.method != "POST":
        return HttpResponse(status=405)
    action = request.POST.get("action", "")
    if action not in CASE_FORMS:
        raise Http404
    if not {"register": can_manage, "notice": can_manage, "paper": can_paper}[action]:
        raise PermissionDenied(_("您的角色无权进行此操作。"))
    form = page.form(action, request.POST.get(CASE_FORMS[action][1], ""), data=request.POST)
    status = 400
    if form.is_valid():
        try:
            _apply_case_form(action, form, case, user)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, "；".join(getattr(exc, "messages", None) or [str(exc) or _("您的角色无权进行此操作。")]))
            status = 403
        except (case.persons.model.DoesNotExist, CustodyRecord.DoesNotExist) as exc:
            raise Http404 from exc
        else:
            messages.success(request, _("已保存。"))
            return redirect("custody:case", case.pk)
    # Not saved: the page again, the form as the user filled it, its errors next to its fields.
    return page.render(request, posted=(action, form), status=status)


def _apply_case_form(action: str, form: Any, case: Any, user: Any) -> None:
    data = form.cleaned_data
    if action == "register":
        person = case.persons.get(pk=data["person"])
        services.register_custody(person, detention_centre=data["detention_centre"], measure=data["measure"],
                                  since=data["since"], acting_user=user)
    elif action == "notice":
        record = CustodyRecord.objects.get(case=case, pk=data["record"])
        services.issue_notice_by_user(record, kind=data["kind"], reason=data["reason"], acting_user=user,
                                      new_end=data["new_end"])
    else:
        person = case.persons.get(pk=data["person"])
        handover = data.get("handover")
        from_agency = handover.from_agency if handover is not None else data.get("from_agency")
        if handover is None and case.holder_agency_id != user.agency_id:
            raise ValidationError({"handover": [_("请选择与本次换押对应的纸质移送。")]})
        if from_agency is None:
            raise ValidationError({"from_agency": [_("请选择移送机关或纸质移送。")]})
        services.register_paper_transfer(
            person, from_agency=from_agency, to_agency=user.agency, transferred_at=data["transferred_at"],
            reference=data["reference"], acting_user=user, period_end=data["period_end"], paper_transfer=handover)


class _CustodyPage:
    """The case's custody page: each suspect's row with the one form that fits it (register
    custody, change notice or paper transfer). After a failed post the posted form takes its
    row's place; a form whose row no longer offers it (the person was registered meanwhile) is
    shown above the table with its errors."""

    def __init__(self, case: Any, user: Any, *, can_manage: bool, can_paper: bool, paper_handovers: list[Any]):
        self.case, self.user = case, user
        self.can_manage, self.can_paper, self.paper_handovers = can_manage, can_paper, paper_handovers

    def form(self, action: str, row: Any, data: Any = None) -> Any:
        form_class, key = CASE_FORMS[action]
        extra: dict[str, Any] = {}
        if action == "paper":
            extra = {"handovers": self.paper_handovers, "holder": self.case.holder_agency_id == self.user.agency_id}
        return form_class(data, row=row, initial=None if data is not None else {key: row}, **extra)

    def _row_action(self, record: CustodyRecord | None) -> tuple[str, str] | None:
        """(action, field naming the row) of the form a row offers, if any."""
        agency = self.user.agency_id
        if self.can_manage and record is None:
            return "register", "person"
        if record is None or record.status != "in_custody":
            return None
        if self.can_manage and record.responsible_agency_id == agency:
            return "notice", "record"
        if self.can_paper and record.responsible_agency_id != agency:
            return "paper", "person"
        return None

    def render(self, request: HttpRequest, posted: tuple[str, Any] | None = None, status: int = 200) -> HttpResponse:
        case = self.case
        from workflows import measures  # same layer (docs/architecture.md): the art. 79 lapse

        persons = (case.persons.filter(role=PersonRole.SUSPECT).select_related("detention_centre")
                   .prefetch_related("clocks").order_by("id"))
        records = {r.person_id: r for r in CustodyRecord.objects.filter(case=case).select_related(
            "responsible_agency", "detention_centre")}
        rows, placed = [], posted is None
        for person in persons:
            record = records.get(person.pk)
            row: dict[str, Any] = {"person": person, "record": record, "action": "", "form": None,
                                   "measure": measures.measure_label(person, person.clocks.all())}
            offered = self._row_action(record)
            if offered is not None:
                action, key = offered
                row_id = str(record.pk if key == "record" else person.pk)
                if posted is not None and posted[0] == action and posted[1].data.get(key) == row_id:
                    row["form"], placed = posted[1], True
                else:
                    row["form"] = self.form(action, row_id)
                row["action"] = action
            rows.append(row)
        return render(request, "custody/case.html", {
            "case": case, "rows": rows,
            "unplaced_form": None if placed else posted[1],
            "certificates": CustodyCertificate.objects.filter(case=case).select_related(
                "person", "from_agency", "to_agency").order_by("issued_at", "id"),
            "notices": CustodyNotice.objects.filter(case=case).select_related("person", "agency"),
            "problems": services.check_ready_for_acceptance(case),
            "can_manage": self.can_manage, "can_paper": self.can_paper,
        }, status=status)
