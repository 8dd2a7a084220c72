"""Transfer pages: inbox, firing a transition, a package (manifest, verification, receipt),
internal approval, paper registration, and the process diagram.

Every view needs a login and a capability; every object comes through a permission-filtered
selector, so another agency's case, package or approval answers 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from casehub.agencies import permissions as p
from casehub.audit.services import record_event
from casehub.cases.doors import CASES
from casehub.cases.identity import manifest_for, require_id_numbers
from casehub.cases.selectors import visible_cases
from casehub.transfers import selectors, services
from casehub.transfers.changes import mark_changes, package_changes
from casehub.transfers.doors import APPROVALS, PAPER_REGISTER, TRANSFER_LIST, TRANSFERS
from casehub.transfers.forms import PaperTransferForm, TransitionForm
from workflows import definition as d
from workflows import diagram, engine
from workflows.models import ApprovalRequest, ApprovalStatus, Transfer, TransferStatus


def _get_transfer(user: Any, pk: Any, action: str | None = None) -> Transfer:
    """The package if the user may see it (404 otherwise), checked for ``action`` (403): the one
    rule of :mod:`casehub.agencies.doors`, the same door as the API's."""
    return TRANSFERS.get(user, pk, action)


def case_url(user: Any, case: Any) -> str:
    """The lead's case page when the user may still see the case, else the inbox."""
    if case is not None and visible_cases(user).filter(pk=case.pk).exists():
        try:
            return reverse("cases:detail", args=[case.pk])
        except NoReverseMatch:
            pass
    return reverse("transfers:inbox")


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = request.user
    TRANSFER_LIST.check(user)  # a role that reads no packages: 403 (casehub.agencies.doors)
    mine = selectors.visible_transfers(user)
    context = {
        "incoming": selectors.incoming_pending(user) if p.has_capability(user, p.REVIEW_INCOMING) else [],
        "approvals": selectors.pending_approvals(user),
        "can_approve": p.has_capability(user, p.APPROVE_OUTGOING),
        "outgoing": mine.filter(from_agency_id=user.agency_id).order_by("-sent_at", "-id")[:30],
        "received": mine.filter(to_agency_id=user.agency_id).exclude(status=TransferStatus.SENT)
        .order_by("-sent_at", "-id")[:30],
        "can_register_paper": p.has_capability(user, p.REGISTER_PAPER_TRANSFER),
    }
    return render(request, "transfers/inbox.html", context)


def _case_for(user: Any, case_pk: Any, spec: d.TransitionSpec) -> Any:
    """The case a transition is fired on, through the one rule (casehub.cases.doors): 404 to who
    may not see it, whatever their role; then 403 with the reason to a role that may not fire
    ``spec`` (the same answer as the API's). The receiver has no right on the case before it
    accepts; it reaches it through the package addressed to it (seen through the package door),
    and only for the receiver's transitions."""
    case = None
    if spec.party == d.RECEIVER and TRANSFER_LIST.can(user):
        pending = selectors.pending_transfer_to(user, case_pk)
        if pending is not None:
            case = pending.case
    if case is None:
        case = CASES.get(user, case_pk)
    if not p.has_capability(user, spec.capability):
        raise PermissionDenied(_("您的角色不能办理“%(label)s”。") % {"label": spec.label})
    return case


@login_required
@require_http_methods(["GET", "POST"])
def fire(request: HttpRequest, case_pk: int, transition_name: str) -> HttpResponse:
    user = request.user
    spec = d.BY_NAME.get(transition_name)
    if spec is None or spec.name == d.REGISTER:
        raise Http404  # no such transition
    case = _case_for(user, case_pk, spec)
    # ``blocked``: the transition cannot run now, whatever is typed (the submit button is
    # disabled). ``problems``: what stopped this submission; a refused submission (a guard on
    # the typed inputs, a case changed meanwhile) keeps the form filled and usable.
    blocked: list[str] = []
    if spec not in engine.available_transitions(case, user):
        reasons = dict((s.name, r) for s, r in engine.blocked_transitions(case, user))
        blocked = reasons.get(spec.name) or [_("当前不能办理“%(label)s”。") % {"label": spec.label}]
    problems: list[str] = list(blocked)
    form = TransitionForm(spec, request.POST or None, initial={"version": case.version}, case=case)
    if request.method == "POST" and not blocked and form.is_valid():
        try:
            result = engine.fire(case, spec.name, acting_user=user, inputs=form.inputs(),
                                 expected_version=form.cleaned_data["version"])
        except engine.InvalidInputs as exc:
            for field, errors in exc.errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        except engine.CaseChanged as exc:
            problems = [exc.message]
            # The user has now been told; a second submission decides on the current case.
            data = request.POST.copy()
            data["version"] = str(case.version)
            form = TransitionForm(spec, data, initial={"version": case.version}, case=case)
            form.is_valid()
        except engine.TransitionError as exc:
            problems = [exc.message]
        else:
            if result.awaiting_approval:
                messages.success(request, _("“%(label)s”已提交本机关审批。") % {"label": spec.label})
            else:
                messages.success(request, _("已办理“%(label)s”。") % {"label": spec.label})
            return redirect(case_url(user, case))
    pending = engine.pending_transfer(case) if d.STAGES.get(case.stage) and d.STAGES[case.stage].pending else None
    return render(request, "transfers/fire.html", {
        "case": case, "spec": spec, "form": form, "problems": problems, "blocked": blocked,
        "preview": package_preview(spec, case) if not blocked else None,
        "pending": pending, "stage": d.STAGES.get(case.stage),
    }, status=409 if problems and request.method == "POST" else 200)


def generated_titles(effects: tuple[str, ...]) -> list[Any]:
    from workflows.effects import generated_titles as titles

    return titles(effects)


def package_preview(spec: d.TransitionSpec, case: Any) -> dict[str, Any] | None:
    """What a transition will generate and, when it sends a package, what the package will hold —
    for the person who fires it and the approver: the legal documents the transition generates
    (a watermarked PDF preview is linked), the case's current main-file documents (drafts are
    sealed on sending) and the recipients. None when nothing is generated and nothing travels."""
    from workflows.effects import generated_titles
    from workflows.packaging import main_documents

    generated = generated_titles(spec.effects)
    sends = spec.handover in (d.SEND, d.DELIVER, d.NOTIFY)
    numbers = _preview_numbers(spec, case)
    if not sends and not generated and not numbers:
        return None
    documents = main_documents(case) if sends else []
    return {
        "sends": sends,
        "documents": documents,
        "unsealed": sum(1 for doc in documents if doc.volume_id is None or doc.volume.sealed_at is None),
        "pages": sum(int(doc.page_count or 0) for doc in documents),
        "generated": generated,
        "numbers": numbers,
        "recipients": _preview_recipients(spec, case) if sends else [],
    }


def _preview_numbers(spec: d.TransitionSpec, case: Any) -> list[str]:
    """The court number a docketing will issue, shown before the clerk confirms it (peeked at, not
    taken: another case docketed meanwhile takes it and this one gets the next)."""
    from casehub.cases.models import NumberKind
    from casehub.cases.numbering import peek_number

    if "issue_docket_number" not in spec.effects:
        return []
    court = case.holder_agency
    if spec.handover == d.ACCEPT:
        pending = engine.pending_transfer(case)
        court = pending.to_agency if pending is not None else None
    type_input = spec.input("type_code")
    type_code = str(type_input.default) if type_input is not None and type_input.default else "刑初"
    return [peek_number(court, NumberKind.COURT_DOCKET, type_code=type_code)] if court is not None else []


def _preview_recipients(spec: d.TransitionSpec, case: Any) -> list[Any]:
    """Who the package would go to now (the default for a chosen recipient)."""
    from workflows.documents import PreviewContext

    ctx = PreviewContext(case=case, spec=spec, actor=None, acting_user=None, inputs={}, source=case.stage,
                         now=timezone.now(), holder_before=case.holder_agency)
    try:
        return engine._recipients(ctx)
    except engine.TransitionError:
        return []


def _pdf_response(drafts: list[Any], *, user: Any, case: Any, spec: d.TransitionSpec, approval: Any = None) -> HttpResponse:
    from workflows.documents import merged

    if not drafts:
        raise Http404
    record_event("workflow.documents_previewed", actor=user, obj=case, case=case.pk,
                 details={"transition": spec.name, "titles": [draft.title for draft in drafts],
                          "approval": approval.pk if approval is not None else None})
    response = HttpResponse(merged(drafts), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="preview-{spec.name}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def fire_preview(request: HttpRequest, case_pk: int, transition_name: str) -> HttpResponse:
    """The documents the transition would generate from the inputs typed so far: rendered now,
    watermarked 草稿, neither stored nor signed (the officer sees them before firing)."""
    from workflows.documents import preview

    user = request.user
    spec = d.BY_NAME.get(transition_name)
    if spec is None or spec.name == d.REGISTER:
        raise Http404  # no such transition
    case = _case_for(user, case_pk, spec)
    if spec not in engine.available_transitions(case, user):
        raise Http404
    form = TransitionForm(spec, request.POST)
    form.is_valid()  # what is valid so far; a missing input previews as an empty passage
    inputs = {k: v for k, v in getattr(form, "cleaned_data", {}).items() if k != "version" and v not in (None, "")}
    return _pdf_response(preview(case, spec, user=user, inputs=inputs), user=user, case=case, spec=spec)


@login_required
def approval_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The documents a pending approval would generate, for the approver (and the officer who asked)."""
    from workflows.documents import preview

    user = request.user
    item = APPROVALS.get(user, pk, queryset=ApprovalRequest.objects.filter(status=ApprovalStatus.PENDING))
    spec = d.BY_NAME[item.transition]
    inputs = engine._inputs_from_json(spec, item.inputs)
    return _pdf_response(preview(item.case, spec, user=item.requested_by, inputs=inputs), user=user, case=item.case,
                         spec=spec, approval=item)


def reverse_or_blank(name: str, pk: int) -> str:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return ""


def _persons_display(persons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifest stores codes (what was signed); show their labels."""
    from casehub.agencies.models import Agency
    from casehub.cases.models import CustodyStatus, PersonRole

    centres = dict(Agency.objects.filter(code__in=[p.get("detention_centre") for p in persons if
                                                   p.get("detention_centre")]).values_list("code", "name"))
    roles, custody = dict(PersonRole.choices), dict(CustodyStatus.choices)
    return [{**p, "role": roles.get(p.get("role"), p.get("role")),
             "custody_status": custody.get(p.get("custody_status"), p.get("custody_status")),
             "detention_centre": centres.get(p.get("detention_centre"), p.get("detention_centre") or "")}
            for p in persons]


def _actions_for(user: Any, transfer: Transfer) -> list[d.TransitionSpec]:
    if transfer.case is None or not transfer.is_pending:
        return []
    return [s for s in engine.available_transitions(transfer.case, user) if s.party in (d.RECEIVER, d.SENDER)]


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    transfer = _get_transfer(user, pk)
    record_event("transfer.viewed", actor=user, obj=transfer, case=transfer.case_id)  # persons, ID numbers
    manifest = manifest_for(user, transfer.manifest)
    receipt_ok = None
    if transfer.receipt_sha256:
        from workflows.packaging import verify_receipt

        receipt_ok = verify_receipt(transfer)
    changes = package_changes(transfer)
    return render(request, "transfers/detail.html", {
        "transfer": transfer, "manifest": manifest, "changes": changes,
        "documents": mark_changes(manifest.get("documents", []), changes),
        "volumes": _volumes_display(transfer, manifest.get("volumes", [])),
        "persons": _persons_display(manifest.get("persons", [])),
        "actions": _actions_for(user, transfer), "receipt_ok": receipt_ok,
        "is_receiver": transfer.to_agency_id == user.agency_id,
        "case_link": reverse_or_blank("cases:detail", transfer.case_id)
        if transfer.case_id and visible_cases(user).filter(pk=transfer.case_id).exists() else "",
    })


@login_required
def verification(request: HttpRequest, pk: int) -> HttpResponse:
    """The verification block, polled by htmx while the task runs."""
    transfer = _get_transfer(request.user, pk)
    return render(request, "transfers/_verification.html", {"transfer": transfer,
                                                             "actions": _actions_for(request.user, transfer)})


@login_required
@require_POST
def reverify(request: HttpRequest, pk: int) -> HttpResponse:
    transfer = _get_transfer(request.user, pk, "reverify")  # the sender sees it but may not: 403
    services.reverify(transfer, acting_user=request.user)
    messages.info(request, _("已重新开始校验。"))
    return redirect("transfers:detail", pk=transfer.pk)


DOWNLOADS = {
    "manifest.json": ("manifest_bytes", "application/json"),
    "manifest.p7s": ("manifest_signature", "application/pkcs7-signature"),
    "receipt.json": ("receipt_bytes", "application/json"),
    "receipt.p7s": ("receipt_signature", "application/pkcs7-signature"),
}


@login_required
def download(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """The signed bytes exactly as stored, so anyone can check them with openssl cms -verify."""
    transfer = _get_transfer(request.user, pk)
    if name not in DOWNLOADS:
        raise Http404
    attr, content_type = DOWNLOADS[name]
    if name == "manifest.json":
        require_id_numbers(request.user)  # the signed bytes carry full ID numbers (casehub.cases.identity)
    data = bytes(getattr(transfer, attr) or b"")
    if not data:
        raise Http404
    record_event("transfer.downloaded", actor=request.user, obj=transfer, case=transfer.case_id,
                 details={"file": name})
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="transfer-{transfer.pk}-{name}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def approval(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    item = APPROVALS.get(user, pk)  # another agency's, or a role that reads none: 404
    spec = d.BY_NAME[item.transition]
    if request.method == "POST":
        action = request.POST.get("action")
        comment = request.POST.get("comment", "")
        if action in ("approve", "reject"):
            APPROVALS.check(user, item, "decide")  # sees it but may not decide: 403, as in the API
        try:
            if action == "approve":
                engine.decide_approval(item, acting_user=user, approve=True, comment=comment)
                messages.success(request, _("已批准“%(label)s”。") % {"label": spec.label})
            elif action == "reject":
                engine.decide_approval(item, acting_user=user, approve=False, comment=comment)
                messages.success(request, _("已退回“%(label)s”。") % {"label": spec.label})
            elif action == "cancel":
                engine.cancel_approval(item, acting_user=user)
                messages.success(request, _("已撤销审批申请。"))
            else:
                raise Http404
        except engine.TransitionError as exc:
            # Shown again with the comment as typed (nothing was decided); the message says why.
            messages.error(request, exc.message)
            item.refresh_from_db()
        else:
            return redirect("transfers:approval", pk=item.pk)
    labels = {i.name: i.label for i in spec.inputs}
    shown = [(labels.get(k, k), v["name"] if isinstance(v, dict) and "name" in v else v)
             for k, v in item.inputs.items()]
    sent = None
    if item.status == ApprovalStatus.APPROVED and spec.transfer_kind:
        sent = (Transfer.objects.filter(case=item.case, transition=item.transition, sent_at__gte=item.decided_at)
                .order_by("sent_at", "id").first())
    return render(request, "transfers/approval.html", {
        "item": item, "spec": spec, "inputs": shown, "case_link": case_url(user, item.case),
        "comment": request.POST.get("comment", "") if request.method == "POST" else "",
        "preview": package_preview(spec, item.case) if item.status == ApprovalStatus.PENDING else None,
        "preview_url": reverse("transfers:approval_preview", args=[item.pk])
        if item.status == ApprovalStatus.PENDING and generated_titles(spec.effects) else "",
        "sent": sent, "sent_documents": list(sent.documents.all()) if sent else [],
        "can_decide": item.status == ApprovalStatus.PENDING and p.has_capability(user, p.APPROVE_OUTGOING)
        and user.pk != item.requested_by_id,
        "can_cancel": item.status == ApprovalStatus.PENDING and user.pk == item.requested_by_id,
    })


@login_required
@require_http_methods(["GET", "POST"])
def judgment(request: HttpRequest, case_pk: int) -> HttpResponse:
    """The judge records the decision for each defendant before announcing the judgment (arts. 200-201)."""
    from casehub.cases.models import PersonRole
    from workflows import judgment as judgments
    from workflows.models import JudgmentDecision, Outcome, Penalty

    user = request.user
    case = CASES.get(user, case_pk)  # 404 to who may not see the case
    if not judgments.may_record(user, case):
        raise PermissionDenied(_("只有审理本案的人民法院可以在宣判前记录判决结果。"))
    persons = list(case.persons.filter(role=PersonRole.SUSPECT).order_by("id"))
    errors: dict[int, list[str]] = {}
    if request.method == "POST":
        for person in persons:
            prefix = f"p{person.pk}-"
            outcome = request.POST.get(prefix + "outcome", "")
            if not outcome:
                continue
            try:
                judgments.record_decision(case, person, outcome=outcome, acting_user=user,
                                          charge=request.POST.get(prefix + "charge", ""),
                                          penalty=request.POST.get(prefix + "penalty", ""),
                                          term=request.POST.get(prefix + "term", ""),
                                          probation=bool(request.POST.get(prefix + "probation")),
                                          outside_prison=bool(request.POST.get(prefix + "outside_prison")))
            except ValidationError as exc:
                errors[person.pk] = [m for ms in exc.message_dict.values() for m in ms] if hasattr(
                    exc, "error_dict") else list(exc.messages)
        if not errors:
            messages.success(request, _("判决结果已记录。"))
            return redirect("transfers:judgment", case_pk=case.pk)
    decisions = {d.person_id: d for d in JudgmentDecision.objects.filter(case=case)}
    default_charge = "、".join(o.name for o in case.offences.all())
    from workflows import sentence

    today = timezone.localdate()
    rows = [{"person": person, "decision": decisions.get(person.pk), "errors": errors.get(person.pk, []),
             "charge": decisions[person.pk].charge if person.pk in decisions else default_charge,
             "custody_start": sentence.custody_start(person),
             "served": sentence.served(decisions[person.pk], today) if person.pk in decisions else None}
            for person in persons]
    return render(request, "transfers/judgment.html", {
        "case": case, "rows": rows, "outcomes": Outcome.choices, "penalties": Penalty.choices,
        "announce_url": reverse("transfers:fire", args=[case.pk, "announce_judgment"]),
    }, status=400 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def register_paper(request: HttpRequest) -> HttpResponse:
    user = request.user
    PAPER_REGISTER.check(user)  # a page with no object to hide: 403 to a role that registers none
    form = PaperTransferForm(user.agency, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            transfer = engine.register_paper_transfer(acting_user=user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("纸质移送已登记。"))
            return redirect("transfers:detail", pk=transfer.pk)
    return render(request, "transfers/paper_form.html", {"form": form})


def _volumes_display(transfer: Any, volumes: list[Any]) -> list[Any]:
    """The manifest's volumes with their label in the reader's language (the manifest keeps the
    Chinese title it was signed with)."""
    # Function level: casehub.dossier sits above casehub.transfers (it imports its selectors).
    from casehub.dossier.models import Volume

    ids = [v.get("id") for v in volumes if isinstance(v, dict)]
    labels = {v.pk: v.label for v in Volume.objects.filter(pk__in=ids, case_id=transfer.case_id)
              .select_related("agency")}
    return [{**v, "label": labels.get(v.get("id"), v.get("title", ""))} if isinstance(v, dict) else v
            for v in volumes]


@login_required
def process(request: HttpRequest) -> HttpResponse:
    """The process definition as a diagram and a table (same source as the engine)."""
    return render(request, "workflows/process.html", {
        "svg": diagram.svg(), "mermaid": diagram.mermaid(), "rows": diagram.table_rows(),
        "stages": list(d.STAGES.values()),
    })

