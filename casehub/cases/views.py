"""Case pages: list with search and filters, detail, registration (立案登记), adding persons.

Every case comes from :mod:`casehub.cases.selectors`, so another agency's case answers 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from casehub.agencies import permissions as p
from casehub.audit.services import record_event
from casehub.cases.display import stage_choices, stage_label
from casehub.cases.doors import CASE_LIST, CASE_REGISTER, CASES
from casehub.cases.forms import CaseForm, CaseSearchForm, PersonForm, PersonFormSet
from casehub.cases.identity import may_see_id_numbers
from casehub.cases.models import CaseNumber, Person
from casehub.cases.persons import add_person
from casehub.cases.selectors import can_act, search_cases, visible_cases
from casehub.cases.services import register_case

PAGE_SIZE = 25


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    CASE_LIST.check(request.user)  # the one rule (casehub.cases.doors): 403 to a role that reads no cases
    form = CaseSearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = search_cases(visible_cases(request.user), **{k: filters.get(k) or "" for k in ("q", "stage", "status")},
                      by_id_number=may_see_id_numbers(request.user))
    qs = qs.select_related("holder_agency", "origin_agency").prefetch_related(
        Prefetch("numbers", queryset=CaseNumber.objects.order_by("issued_at", "id")),
        "offences",
        Prefetch("persons", queryset=Person.objects.order_by("id")),
    ).order_by("-updated_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    for case in page.object_list:
        case.stage_display = stage_label(case.stage)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "cases/list.html", {
        "form": form, "page": page, "stage_choices": stage_choices(), "querystring": query.urlencode(),
        "can_register": p.has_capability(request.user, p.REGISTER_CASE),
    })



def _procedure(case: Any) -> str:
    """The trial procedure in force once a court docketed the case (CPL arts. 208, 220, 225)."""
    from workflows import trial
    from workflows.models import TransitionLog

    if not TransitionLog.objects.filter(case=case, transition__in=trial.SETS_PROCEDURE).exists():
        return ""
    return trial.procedure_label(case)


def _judgment(user: Any, case: Any) -> dict[str, Any]:
    """The judgment on the case page: the decision per defendant, the announcement and the signed
    刑事判决书 (for readers of the dossier who may read it)."""
    from casehub.dossier.services import visible_documents
    from workflows import judgment as judgments
    from workflows import service
    from workflows.models import JudgmentDecision, TransitionLog

    log = TransitionLog.objects.filter(case=case, transition="announce_judgment").order_by("-occurred_at").first()
    announced = None
    if log is not None:
        announced = {"date": log.inputs.get("announced_on", ""),
                     "mode": _("当庭宣判") if log.inputs.get("in_court", "yes") == "yes" else _("定期宣判")}
    return {
        "decisions": list(JudgmentDecision.objects.filter(case=case).select_related("person")),
        "documents": list(visible_documents(user, case).filter(generated=True, title="刑事判决书", is_current=True)),
        "announced": announced,
        "record_url": reverse("transfers:judgment", args=[case.pk]) if judgments.may_record(user, case) else "",
        "service_url": reverse("transfers:service", args=[case.pk]) if service.may_serve(user, case) else "",
    }

# Whose acts make a person the case's handler (承办人) at their agency: the investigator, the
# prosecutor, the judge. A supervisor approves and a filing clerk dockets; neither handles the case.
HANDLER_ROLES = ("investigator", "prosecutor", "judge")


def _handlers(case: Any, history: list[Any]) -> dict[str, Any]:
    """The case's handlers per agency, from what they did on it: registering it (the handling
    officers), firing or requesting a transition, uploading to the dossier, recording a judgment.
    Nobody assigns a judge on the platform, so a case just docketed by the filing clerk has no
    handler at the court until its judge acts on it. ``current`` are those
    of the agency that holds the case now; ``earlier`` the other agencies', in the order the case
    reached them. An agency's supervisors and filing clerks are not handlers."""
    from workflows.models import ApprovalRequest, JudgmentDecision

    acts: list[tuple[Any, int | None, Any]] = [(u, u.agency_id, case.created_at) for u in case.handling_officers.all()]
    acts += [(e.actor, e.actor_agency_id, e.occurred_at) for e in history if e.actor_id]
    acts += [(a.requested_by, a.agency_id, a.requested_at)
             for a in ApprovalRequest.objects.filter(case=case).select_related("requested_by")]
    acts += [(d.uploaded_by, d.owner_agency_id, d.uploaded_at)
             for d in case.documents.filter(generated=False).select_related("uploaded_by")]
    acts += [(j.recorded_by, j.recorded_by.agency_id, j.recorded_at)
             for j in JudgmentDecision.objects.filter(case=case).select_related("recorded_by")]
    users = {u.pk for u, _agency, _at in acts}
    handlers = set(get_user_model().objects.filter(pk__in=users, groups__name__in=[f"role:{r}" for r in HANDLER_ROLES])
                   .values_list("pk", flat=True))
    by_agency: dict[int, dict[str, Any]] = {}
    for user, agency_id, _at in sorted(acts, key=lambda a: a[2]):
        if user.pk not in handlers or agency_id is None or user.agency_id != agency_id:
            continue
        group = by_agency.setdefault(agency_id, {"agency_id": agency_id, "users": []})
        if user not in group["users"]:
            group["users"].append(user)
    from casehub.agencies.models import Agency

    names = {a.pk: a for a in Agency.objects.filter(pk__in=[*by_agency, case.holder_agency_id])}
    for agency_id, group in by_agency.items():
        group["agency"] = names.get(agency_id)
    holder = case.holder_agency_id if case.status == "active" else None
    current = by_agency.get(holder) if holder else None
    return {
        "current": current["users"] if current else [],
        "holder": names.get(holder) if holder else None,
        "earlier": [g for a, g in by_agency.items() if a != holder],
    }


def _outlines(history: list[Any]) -> list[Any]:
    """The 补充侦查提纲 given with each return for supplementary investigation, oldest first."""
    return [e for e in history if e.transition == "return_for_supplementary"]


def _outline_documents(user: Any, case: Any, entry: Any) -> list[Any]:
    """The signed documents the return generated (its decision, the outline), as far as the user may read them."""
    from casehub.dossier.services import visible_documents

    if not entry.transfer_id or not p.has_capability(user, p.READ_DOSSIER):
        return []
    return list(visible_documents(user, case).filter(generated=True, transfers__pk=entry.transfer_id,
                                                     author_agency_id=entry.actor_agency_id).order_by("id"))


def _package_changes(user: Any, case: Any, history: list[Any]) -> None:
    """Mark, on the history's re-sent packages the user may open, what changed against the previous
    package on the same route (casehub.transfers.changes)."""
    from casehub.transfers.changes import package_changes
    from casehub.transfers.selectors import visible_transfers

    visible = {t.pk: t for t in visible_transfers(user).filter(case=case, mode="online")}
    # A transition that sent several packages (a judgment served on every agency, the copies of what goes
    # to community correction) logs its first; each agency sees the one it received on the same row.
    sent_with = {(t.transition, t.sent_at): t for t in sorted(visible.values(), key=lambda t: -t.pk)}
    for entry in history:
        transfer = visible.get(entry.transfer_id)
        if transfer is None and entry.transfer_id is not None:
            transfer = sent_with.get((entry.transition, entry.occurred_at))
        if transfer is not None and transfer.transition != entry.transition:
            transfer = None  # the acceptance or refusal of a package: shown on the row that sent it
        entry.package = transfer
        entry.package_changes = package_changes(transfer) if transfer is not None else None


@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # Each suspect's timeline is drawn from custody records, clocks and transfers, and the legal-aid
    # card from casehub.legalaid: the apps above this one (like the engine imported here), so the
    # imports are at run time.
    from casehub.custody import timeline
    from casehub.legalaid.selectors import case_requests
    from workflows import engine, measures, positions, separation
    from workflows.definition import BY_NAME
    from workflows.models import ApprovalRequest, ApprovalStatus, TransitionLog

    case = CASES.get(request.user, pk)  # 404 to who may not see it (a role that reads no cases included)
    # What waits on this case inside the user's own agency (another agency's approvals are not ours to see).
    pending_approval = (ApprovalRequest.objects.filter(case=case, agency_id=request.user.agency_id,
                                                       status=ApprovalStatus.PENDING)
                        .select_related("requested_by").first())
    record_event("case.viewed", actor=request.user, obj=case, case=case)
    transitions = [
        {"name": spec.name, "label": spec.label, "url": reverse("transfers:fire", args=[case.pk, spec.name])}
        for spec in engine.available_transitions(case, request.user)
    ]
    blocked = [
        {"label": spec.label, "reasons": reasons} for spec, reasons in engine.blocked_transitions(case, request.user)
    ]
    history = list(
        TransitionLog.objects.filter(case=case)
        .select_related("actor", "actor_agency", "from_agency", "to_agency")
        .order_by("occurred_at", "id")
    )
    _package_changes(request.user, case, history)
    outlines = _outlines(history)
    for entry in history:
        entry.source_display, entry.target_display = stage_label(entry.source), stage_label(entry.target)
        spec = BY_NAME.get(entry.transition) or separation.SPECS.get(entry.transition)
        entry.transition_display = spec.label if spec else entry.transition
    # Each person's own procedural state: the measure, who decided it since when, and their clocks.
    persons = list(case.persons.select_related("detention_centre", "measure_authority").prefetch_related("clocks"))
    where = positions.positions(case)
    for person in persons:
        person.position = where.get(person.pk)
        person.running_clocks = sorted((c for c in person.clocks.all() if c.status != "stopped"),
                                       key=lambda c: (c.due_date, c.pk))
        person.lapsed = measures.lapse_of(person, person.clocks.all())  # art. 79: 期满解除, not a release
        person.measure_label = measures.measure_label(person, person.clocks.all())
    return render(request, "cases/detail.html", {
        "case": case,
        "stage_display": stage_label(case.stage),
        "numbers": case.numbers.select_related("agency"),
        "procedure": _procedure(case),
        "persons": persons,
        "offences": case.offences.all(),
        "handlers": _handlers(case, history),
        "outline": outlines[-1] if outlines and case.stage == "supplementary_investigation" else None,
        "outline_count": len(outlines),
        "outline_documents": _outline_documents(request.user, case, outlines[-1])
        if outlines and case.stage == "supplementary_investigation" else [],
        "supplementary_clock": case.clocks.filter(kind="supplementary_investigation")
        .exclude(status="stopped").order_by("due_date", "id").first()
        if case.stage == "supplementary_investigation" else None,
        "show_id": p.has_capability(request.user, p.VIEW_PERSON_ID),
        "can_edit": can_act(request.user, case) and p.has_capability(request.user, p.EDIT_CASE),
        "transitions": transitions,
        "blocked": blocked,
        "history": history,
        "timeline": timeline.build(case),
        "can_separate": case.status == "active" and can_act(request.user, case)
        and p.has_capability(request.user, p.PREPARE_OUTGOING),
        "pending_approval": pending_approval,
        "pending_label": BY_NAME[pending_approval.transition].label if pending_approval else "",
        "dossier_url": reverse("dossier:case", args=[case.pk]) if p.has_capability(request.user, p.READ_DOSSIER) else "",
        "clocks_url": reverse("clocks:case", args=[case.pk]),
        "custody_url": reverse("custody:case", args=[case.pk])
        if any(p.has_capability(request.user, c) for c in (p.MANAGE_CUSTODY, p.READ_DOSSIER)) else "",
        "judgment": _judgment(request.user, case),
        "legal_aid": case_requests(case),
        "legal_aid_url": reverse("legalaid:request", args=[case.pk])
        if p.has_capability(request.user, p.NOTIFY_LEGAL_AID) and can_act(request.user, case) else "",
    })


@login_required
@require_http_methods(["GET", "POST"])
def case_register(request: HttpRequest) -> HttpResponse:
    CASE_REGISTER.check(request.user)
    form = CaseForm(request.POST or None)
    persons = PersonFormSet(request.POST or None, prefix="persons")
    if request.method == "POST" and form.is_valid() and persons.is_valid():
        person_data = [f.cleaned_data for f in persons.forms if f.has_changed() and f.cleaned_data.get("name")]
        case = register_case(
            acting_user=request.user,
            title=form.cleaned_data["title"],
            summary=form.cleaned_data["summary"],
            occurred_on=form.cleaned_data["occurred_on"],
            occurred_place=form.cleaned_data["occurred_place"],
            offences=form.cleaned_data["offences"],
            persons=person_data,
        )
        messages.success(request, _("已立案登记：%(title)s") % {"title": case.title})
        return redirect("cases:detail", pk=case.pk)
    return render(request, "cases/register.html", {"form": form, "persons": persons})


@login_required
@require_http_methods(["GET", "POST"])
def person_add(request: HttpRequest, pk: int) -> HttpResponse:
    # The case first (404 to who may not see it), then the action (403 with the reason: a
    # supervisor, or an agency that no longer holds the case).
    case = CASES.get(request.user, pk, "add_person")
    form = PersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        add_person(case, acting_user=request.user, data=form.cleaned_data)
        messages.success(request, _("已添加涉案人员。"))
        return redirect("cases:detail", pk=case.pk)
    return render(request, "cases/person_form.html", {"case": case, "form": form})
