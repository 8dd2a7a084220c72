"""Legal-aid pages: the handling agency's notice form, the bureau's notices and assignment, and the
assigned lawyer's reading of the case file (selectors decide what each may see; 404 otherwise)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods

from casehub.agencies import permissions as p
from casehub.audit.services import record_event
from casehub.cases.doors import CASES
from casehub.dossier.views import _pdf_response
from casehub.legalaid import selectors, services
from casehub.legalaid.doors import ASSIGNMENTS, INBOX, REQUESTS
from casehub.legalaid.forms import AssignForm, RequestForm


@login_required
@require_http_methods(["GET", "POST"])
def request_form(request: HttpRequest, case_pk: int) -> HttpResponse:
    """The holder's notice to the bureau (CPL arts. 35, 36, 278; Legal Aid Law art. 36)."""
    # The case first (404 to who may not see it), then the action (403 with the reason).
    case = CASES.get(request.user, case_pk, "notify_legal_aid")
    form = RequestForm(request.POST or None, case=case)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.send_request(case, data["person"], kind=data["kind"], ground=data["ground"],
                                  found_on=data["found_on"], note=data["note"], acting_user=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("已通知法律援助机构。"))
            return redirect("cases:detail", pk=case.pk)
    return render(request, "legalaid/request.html", {
        "case": case, "form": form, "bureau": services.bureau_for(request.user.agency),
    })


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """The bureau's notices, or the lawyer's assignments."""
    INBOX.check(request.user)
    today = timezone.localdate()
    rows = list(selectors.bureau_requests(request.user)[:500])
    for row in rows:
        row.remaining = row.assignment_clock.remaining_days(today) if row.assignment_clock_id else None
    return render(request, "legalaid/inbox.html", {
        "requests": rows, "assignments": selectors.counsel_assignments(request.user)[:500],
        "is_bureau": p.has_capability(request.user, p.ASSIGN_COUNSEL),
    })


@login_required
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One notice as the bureau sees it, with the assignment form while it waits."""
    # 404 to anyone but the bureau it is addressed to; assigning once it is assigned: 403.
    aid = REQUESTS.get(request.user, pk, "assign" if request.method == "POST" else None)
    form = AssignForm(request.POST or None, lawyers=services.lawyers_for(aid.bureau))
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.assign_counsel(aid, acting_user=request.user, lawyer=data["lawyer"], name=data["name"],
                                        firm=data["firm"], licence=data["licence"])
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("已指派律师并通知办案机关。"))
                return redirect("legalaid:detail", pk=aid.pk)
    else:
        with transaction.atomic():
            record_event("legal_aid.viewed", actor=request.user, obj=aid, case=aid.case_id)
    today = timezone.localdate()
    return render(request, "legalaid/detail.html", {
        "aid": aid, "form": form, "numbers": aid.case.numbers.select_related("agency").order_by("issued_at", "id"),
        "offences": aid.case.offences.all(),
        "remaining": aid.assignment_clock.remaining_days(today) if aid.assignment_clock_id else None,
    })


@login_required
@require_GET
def counsel(request: HttpRequest, pk: int) -> HttpResponse:
    """The assigned lawyer's case file (CPL art. 40)."""
    assignment = ASSIGNMENTS.get(request.user, pk)
    documents = list(selectors.counsel_documents(assignment))
    started = selectors.review_started(assignment.case_id)
    with transaction.atomic():
        record_event("legal_aid.counsel_file_viewed", actor=request.user, obj=assignment, case=assignment.case_id,
                     details={"documents": len(documents), "review_started": started})
    return render(request, "legalaid/counsel.html", {
        "assignment": assignment, "documents": documents, "review_started": started,
        "numbers": assignment.case.numbers.select_related("agency").order_by("issued_at", "id"),
    })


@xframe_options_sameorigin
@login_required
@require_GET
def counsel_document(request: HttpRequest, pk: int, doc_pk: int) -> HttpResponse:
    """One document of the case file, read by counsel (recorded as ``document.downloaded``)."""
    assignment, doc = selectors.get_counsel_document(request.user, pk, doc_pk)
    return _pdf_response(request, doc, doc.stored, f"{doc.title}.pdf", "document", title=doc.title,
                         sha256=doc.sha256, counsel_assignment=assignment.pk)
