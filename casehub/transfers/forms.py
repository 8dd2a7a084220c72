"""Forms: a transition's input form is built from its declared inputs (workflows.definition)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casehub.agencies.models import Agency
from workflows.definition import INT_MAX, INT_MIN, InputSpec, TransitionSpec
from workflows.models import TransferKind


def _field(inp: InputSpec) -> forms.Field:
    # Required-ness and limits come from the InputSpec, the same the engine and the API apply.
    common: dict[str, Any] = {"label": inp.label, "required": inp.must_be_given, "help_text": inp.help_text}
    if inp.default is not None:
        common["initial"] = inp.default
    if inp.type == "textarea":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "class": "form-control"}),
                               max_length=inp.length_limit, **common)
    if inp.type == "date":
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}), **common)
    if inp.type == "int":
        return forms.IntegerField(widget=forms.NumberInput(attrs={"class": "form-control"}), min_value=INT_MIN,
                                  max_value=INT_MAX, **common)
    if inp.type == "choice":
        return forms.ChoiceField(choices=inp.choices, widget=forms.Select(attrs={"class": "form-select"}), **common)
    if inp.type == "agency":
        return forms.ModelChoiceField(queryset=Agency.objects.filter(kind=inp.agency_kind).order_by("code"),
                                      widget=forms.Select(attrs={"class": "form-select"}), **common)
    if inp.type == "text":
        return forms.CharField(max_length=inp.length_limit, widget=forms.TextInput(attrs={"class": "form-control"}),
                               **common)
    if inp.type == "persons":
        return PersonsField(coerce=int, widget=forms.CheckboxSelectMultiple, **common)
    raise ValueError(f"input type {inp.type} has no form field")  # a definition bug: fail loudly


class PersonsField(forms.TypedMultipleChoiceField):
    """Persons of the case (checkboxes). Which of them may be named is the engine's guard's question;
    without a case to list (the API's mirror checks), any person id is well-formed."""

    def valid_value(self, value: Any) -> bool:
        if not self.choices:
            return str(value).isdigit() and int(value) > 0
        return super().valid_value(value)


class TransitionForm(forms.Form):
    """The declared inputs of one transition, plus the case version the user saw."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(self, spec: TransitionSpec, *args: Any, case: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec = spec
        for inp in spec.inputs:
            self.fields[inp.name] = _field(inp)
            if inp.type == "persons" and case is not None:
                from casehub.cases.models import PersonRole

                self.fields[inp.name].choices = [
                    (p.pk, f"{p.name}（{p.get_custody_status_display()}）")
                    for p in case.persons.filter(role=PersonRole.SUSPECT).order_by("id")]

    def inputs(self) -> dict[str, Any]:
        data = {}
        for inp in self.spec.inputs:
            value = self.cleaned_data.get(inp.name)
            if value in (None, "") or (inp.type == "persons" and not value):
                continue
            data[inp.name] = value.pk if isinstance(value, Agency) else value
        return data


class PaperTransferForm(forms.Form):
    kind = forms.ChoiceField(label=_("移送类别"), choices=TransferKind.choices,
                             widget=forms.Select(attrs={"class": "form-select"}))
    from_agency = forms.ModelChoiceField(label=_("移送机关"), queryset=Agency.objects.none(),
                                         widget=forms.Select(attrs={"class": "form-select"}))
    external_reference = forms.CharField(label=_("案件名称或文号"), max_length=200, required=False,
                                         widget=forms.TextInput(attrs={"class": "form-control"}))
    received_on = forms.DateField(label=_("接收日期"), widget=forms.DateInput(attrs={"type": "date",
                                                                                   "class": "form-control"}))
    volumes = forms.IntegerField(label=_("接收卷数"), min_value=1, widget=forms.NumberInput(attrs={"class": "form-control"}))
    pages = forms.IntegerField(label=_("接收页数"), min_value=1, widget=forms.NumberInput(attrs={"class": "form-control"}))
    complete = forms.BooleanField(label=_("卷宗齐全"), required=False)
    reason = forms.CharField(label=_("未通过平台移送的原因"), widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}))

    def __init__(self, agency: Agency, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only agencies of the receiver's region can have handed it a case (the engine's guard
        # paper_from_own_region refuses the others anyway).
        self.fields["from_agency"].queryset = Agency.objects.exclude(pk=agency.pk).exclude(
            kind__in=["detention", "committee"]).filter(region=agency.region).exclude(region="").order_by("kind", "code")
        self.fields["received_on"].initial = timezone.localdate()
