"""Forms for registering a case and its persons."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from casehub.agencies.models import Agency, AgencyKind
from casehub.cases.models import Case, CustodyStatus, Offence, Person
from casehub.cases.validators import validate_id_number


class CaseForm(forms.ModelForm):
    offences = forms.ModelMultipleChoiceField(
        label=_("涉嫌罪名"), queryset=Offence.objects.filter(effective_to__isnull=True), required=False,
        widget=forms.SelectMultiple(attrs={"class": "form-select", "size": 8}),
    )

    class Meta:
        model = Case
        fields = ("title", "summary", "occurred_on", "occurred_place", "offences")
        widgets = {
            "title": forms.TextInput(attrs={"class": "form-control"}),
            "summary": forms.Textarea(attrs={"class": "form-control", "rows": 4}),
            "occurred_on": forms.DateInput(attrs={"class": "form-control", "type": "date"}),
            "occurred_place": forms.TextInput(attrs={"class": "form-control"}),
        }


class PersonForm(forms.ModelForm):
    class Meta:
        model = Person
        fields = (
            "role", "name", "sex", "id_number", "birth_date", "address", "record",
            "custody_status", "custody_since", "detention_centre",
        )
        widgets = {
            "birth_date": forms.DateInput(attrs={"type": "date"}),
            "custody_since": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "record": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["detention_centre"].queryset = Agency.objects.filter(kind=AgencyKind.DETENTION_CENTRE)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def clean_id_number(self) -> str:
        value = (self.cleaned_data.get("id_number") or "").strip().upper()
        validate_id_number(value)
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        status = data.get("custody_status")
        if status == CustodyStatus.ARRESTED:
            self.add_error("custody_status", _("逮捕须经人民检察院批准（刑事诉讼法第八十条、第八十七条），由“批准逮捕”流程记录，不能在登记人员时填写。"))
        if status in (CustodyStatus.DETAINED, CustodyStatus.ARRESTED):
            if not data.get("detention_centre"):
                self.add_error("detention_centre", _("被羁押人员须填写羁押场所。"))
            if not data.get("custody_since"):
                self.add_error("custody_since", _("被羁押人员须填写羁押起始时间。"))
        return data


PersonFormSet = forms.formset_factory(PersonForm, extra=1, can_delete=False, max_num=50, validate_max=True)


class CaseSearchForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": _("案号、姓名、身份证号、罪名")}))
    stage = forms.CharField(label=_("诉讼阶段"), required=False, max_length=40)
    status = forms.ChoiceField(label=_("状态"), required=False,
                               choices=[("", _("全部"))] + list(Case._meta.get_field("status").choices),
                               widget=forms.Select(attrs={"class": "form-select"}))
