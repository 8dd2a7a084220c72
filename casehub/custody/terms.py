"""One arrested person's custody terms (issue #15), reached from the case page per person: the
extension of investigation custody routed as the law says (request → forward → decide, CPL arts. 156,
158, 159; SPP Rules 2019 art. 309), the 20-day arrest decision period of a major or complex case
for a suspect not detained (SPP Rules 2019 art. 282), the recount of art. 160 and the psychiatric assessment art. 149
does not count. Each form is offered only to the agency and role the law names; the services of
:mod:`workflows.custody_terms` check the same again and record each step.

The case first (:data:`casehub.cases.doors.CASES`): 404 to who may not see it; an action the user's
agency or role may not take is 403.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.agencies.models import AgencyKind
from casehub.agencies.permissions import APPROVE_OUTGOING, DECIDE_ARREST, MANAGE_CUSTODY, has_capability
from casehub.audit.services import record_event
from casehub.cases.doors import CASES
from casehub.cases.models import PersonRole
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock, ClockStatus
from casehub.custody.models import CustodyExtension, ExtensionStatus
from casehub.forms import StyledForm, add_service_errors
from workflows import custody_terms  # same layer (docs/architecture.md); workflows imports no custody module


class ExtensionRequestForm(StyledForm):
    reason = forms.CharField(label=gettext_lazy("提请延长的理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    ground = forms.ChoiceField(label=gettext_lazy("第一百五十八条的情形"), required=False,
                               choices=[("", "—"), *custody_terms.ART_158_GROUNDS.items()])
    sentence_ten_years = forms.BooleanField(label=gettext_lazy("可能判处十年有期徒刑以上刑罚（第一百五十九条）"),
                                            required=False)


class ExtensionForwardForm(StyledForm):
    opinion = forms.CharField(label=gettext_lazy("审查意见"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ExtensionDecideForm(StyledForm):
    approve = forms.TypedChoiceField(label=gettext_lazy("决定"), coerce=lambda v: v == "1",
                                     choices=[("1", gettext_lazy("批准延长")), ("0", gettext_lazy("不批准延长"))])
    reason = forms.CharField(label=gettext_lazy("决定理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    paper_reference = forms.CharField(label=gettext_lazy("纸质决定书文号"), max_length=100, required=False)


class RecountForm(StyledForm):
    ground = forms.ChoiceField(label=gettext_lazy("重新计算的事由"), choices=list(custody_terms.RECOUNT_GROUNDS.items()))
    since = forms.DateField(label=gettext_lazy("重新计算的起算日"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=gettext_lazy("理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class AssessmentForm(StyledForm):
    reason = forms.CharField(label=gettext_lazy("鉴定情况"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class ComplexDecisionForm(StyledForm):
    reason = forms.CharField(label=gettext_lazy("案件重大、复杂的理由"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))


FORMS: dict[str, type[forms.Form]] = {
    "request": ExtensionRequestForm, "forward": ExtensionForwardForm, "decide": ExtensionDecideForm,
    "recount": RecountForm, "assessment_start": AssessmentForm, "assessment_end": AssessmentForm,
    "complex": ComplexDecisionForm,
}
TITLES = {
    "request": gettext_lazy("提请延长侦查羁押期限"), "forward": gettext_lazy("审查并报送延长申请"),
    "decide": gettext_lazy("作出延长侦查羁押期限的决定"), "recount": gettext_lazy("重新计算侦查羁押期限（第一百六十条）"),
    "assessment_start": gettext_lazy("开始精神病鉴定（第一百四十九条）"),
    "assessment_end": gettext_lazy("精神病鉴定结束（第一百四十九条）"),
    "complex": gettext_lazy("重大、复杂案件：审查批准逮捕期限延至二十日（人民检察院刑事诉讼规则第二百八十二条）"),
}


def offered(case: Any, person: Any, user: Any, *, clock: Any, pending: Any) -> list[str]:
    """The actions ``user`` may take on ``person`` now (each the law gives to one agency and role)."""
    agency = user.agency
    if agency is None:
        return []
    actions = []
    if clock is not None and pending is None and agency.pk == clock.agency_id and agency.kind == AgencyKind.POLICE \
            and has_capability(user, MANAGE_CUSTODY):
        actions.append("request")
    if pending is not None and has_capability(user, DECIDE_ARREST):
        if pending.status == ExtensionStatus.REQUESTED and agency.pk == pending.received_by_id \
                and pending.recorded_by_id != pending.received_by_id:
            actions.append("forward")
        paper_here = pending.recorded_by_id == pending.received_by_id
        waiting = ExtensionStatus.REQUESTED if paper_here else ExtensionStatus.FORWARDED
        if pending.status == waiting and agency.pk == pending.recorded_by_id:
            actions.append("decide")
    if has_capability(user, DECIDE_ARREST) and Clock.objects.filter(
            person=person, kind=ClockKind.ARREST_DECISION_NOT_DETAINED, status__in=ACTIVE_STATUSES, agency=agency,
            period_days=ClockKind.ARREST_DECISION_NOT_DETAINED.period.days).exists():
        actions.append("complex")
    holder = agency.pk == case.holder_agency_id
    if clock is not None and holder and agency.kind == AgencyKind.POLICE and has_capability(user, APPROVE_OUTGOING):
        actions.append("recount")
    if holder and has_capability(user, MANAGE_CUSTODY):
        paused = Clock.objects.filter(case=case, person=person, status=ClockStatus.PAUSED).exists()
        actions.append("assessment_end" if paused else "assessment_start")
    return actions


def _apply(action: str, data: dict[str, Any], person: Any, pending: Any, user: Any) -> None:
    if action == "request":
        custody_terms.request_extension(person, reason=data["reason"], ground=data["ground"],
                                        sentence_ten_years=data["sentence_ten_years"], acting_user=user)
    elif action == "forward":
        custody_terms.forward_extension(pending, opinion=data["opinion"], acting_user=user)
    elif action == "decide":
        custody_terms.decide_extension(pending, approve=data["approve"], reason=data["reason"],
                                       paper_reference=data["paper_reference"], acting_user=user)
    elif action == "recount":
        custody_terms.recount_investigation_custody(person, ground=data["ground"], since=data["since"],
                                                    reason=data["reason"], acting_user=user)
    elif action == "complex":
        custody_terms.complex_arrest_decision(person, reason=data["reason"], acting_user=user)
    elif action == "assessment_start":
        custody_terms.start_psychiatric_assessment(person, reason=data["reason"], acting_user=user)
    else:
        custody_terms.end_psychiatric_assessment(person, reason=data["reason"], acting_user=user)


@login_required
def person_terms(request: HttpRequest, case_id: int, person_id: int) -> HttpResponse:
    case = CASES.get(request.user, case_id)  # 404 to who may not see the case
    person = get_object_or_404(case.persons.filter(role=PersonRole.SUSPECT), pk=person_id)
    user = request.user
    clock = (Clock.objects.filter(person=person, kind=ClockKind.INVESTIGATION_CUSTODY, status__in=ACTIVE_STATUSES)
             .order_by("-started_at", "-id").first())
    pending = custody_terms.pending_extension(person)
    actions = offered(case, person, user, clock=clock, pending=pending)
    posted: tuple[str, Any] | None = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in FORMS:
            raise Http404
        if action not in actions:
            raise PermissionDenied(_("您的机关或角色无权进行此操作。"))
        form = FORMS[action](request.POST, auto_id=f"{action}-%s")
        status = 400
        if form.is_valid():
            try:
                _apply(action, form.cleaned_data, person, pending, user)
            except ValidationError as exc:
                add_service_errors(form, exc)
            except PermissionDenied as exc:
                form.add_error(None, "；".join(getattr(exc, "messages", None) or [str(exc)]))
                status = 403
            else:
                messages.success(request, _("已保存。"))
                return redirect("custody:terms", case.pk, person.pk)
        posted = (action, form)
    elif request.method != "GET":
        return HttpResponse(status=405)
    else:
        record_event("custody.viewed", actor=user, obj=case, case=case, details={"person": person.pk})
    panels = []
    for action in actions:
        if posted is not None and posted[0] == action:
            form = posted[1]
        else:
            form = FORMS[action](auto_id=f"{action}-%s")
        panels.append({"action": action, "title": TITLES[action], "form": form})
    from workflows import measures

    return render(request, "custody/terms.html", {
        "case": case, "person": person, "measure_label": measures.measure_label(person), "clock": clock, "pending": pending, "panels": panels,
        "extensions": CustodyExtension.objects.filter(person=person).select_related(
            "police", "received_by", "recorded_by", "clock"),
        "clocks": Clock.objects.filter(person=person).order_by("started_at", "id"),
        "lead_days": 7, "today": timezone.localdate(),
    }, status=status)
