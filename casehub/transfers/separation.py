"""Pages for separate handling (分案处理) and joining (并案处理) of cases: forms around
:func:`workflows.separation.split_case` and :func:`workflows.separation.join_cases`.

Only the agency holding the case acts (a case it may only read, or cannot see, is a 404), and only
a role that prepares outgoing cases (:data:`casehub.agencies.permissions.PREPARE_OUTGOING`).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from casehub.cases.doors import CASES
from casehub.cases.models import Case, CaseStatus, PersonRole
from casehub.cases.selectors import actionable_cases
from workflows import separation


class SplitForm(forms.Form):
    persons = forms.TypedMultipleChoiceField(label=gettext_lazy("分案处理的人员"), coerce=int,
                                             widget=forms.CheckboxSelectMultiple)
    title = forms.CharField(label=gettext_lazy("新案件名称"), max_length=200, required=False,
                            help_text=gettext_lazy("不填写则按“原案名称（某某另案处理）”命名。"))
    reason = forms.CharField(label=gettext_lazy("理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["persons"].choices = [
            (person.pk, person.name) for person in case.persons.filter(role=PersonRole.SUSPECT).order_by("id")]


class JoinForm(forms.Form):
    other = forms.TypedChoiceField(label=gettext_lazy("并入本案的案件"), coerce=int)
    reason = forms.CharField(label=gettext_lazy("理由"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, case: Case, candidates: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["other"].choices = [(c.pk, f"{c.title}（{c.numbers.first() or c.pk}）") for c in candidates]


def _held_case(request: HttpRequest, case_pk: int) -> Case:
    """The case (404 if the user may not see it), if the user's agency holds it and the user's role
    prepares cases (403 with the reason otherwise): the one rule of casehub.cases.doors."""
    return CASES.get(request.user, case_pk, "separate")


def join_candidates(user: Any, case: Case) -> Any:
    """Other active cases the user's agency holds at the same stage."""
    return (actionable_cases(user).filter(stage=case.stage, status=CaseStatus.ACTIVE,
                                          holder_agency_id=case.holder_agency_id)
            .exclude(pk=case.pk).prefetch_related("numbers").order_by("-id"))


def _errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
@require_http_methods(["GET", "POST"])
def split(request: HttpRequest, case_pk: int) -> HttpResponse:
    case = _held_case(request, case_pk)
    form = SplitForm(request.POST or None, case=case)
    if request.method == "POST" and form.is_valid():
        try:
            new = separation.split_case(case, persons=form.cleaned_data["persons"], acting_user=request.user,
                                        reason=form.cleaned_data["reason"], title=form.cleaned_data["title"])
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, _("已分案处理，新案件：%(title)s") % {"title": new.title})
            return redirect("cases:detail", new.pk)
    return render(request, "transfers/separation_form.html", {
        "case": case, "form": form, "title": separation.label(separation.SPLIT),
        "intro": _("选择的犯罪嫌疑人、被告人转入新案件另案处理：其羁押记录、换押证、期限随人转移，标注为涉及其本人的材料随人转入新案件。"),
    })


@login_required
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, case_pk: int) -> HttpResponse:
    case = _held_case(request, case_pk)
    candidates = list(join_candidates(request.user, case))
    form = JoinForm(request.POST or None, case=case, candidates=candidates)
    if request.method == "POST" and form.is_valid():
        other = next(c for c in candidates if c.pk == form.cleaned_data["other"])
        try:
            separation.join_cases(case, other, acting_user=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            _errors(form, exc)
        else:
            messages.success(request, _("已并案处理。"))
            return redirect("cases:detail", case.pk)
    return render(request, "transfers/separation_form.html", {
        "case": case, "form": form, "title": separation.label(separation.JOIN),
        "intro": _("所选案件的涉案人员（连同羁押记录、换押证、期限）和材料并入本案，所选案件以并案处理结案。只能合并本机关承办、处于同一诉讼阶段的案件。"),
    })
