from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from casehub.cases.models import PersonRole
from casehub.legalaid.models import Ground, RequestKind


class RequestForm(forms.Form):
    person = forms.ModelChoiceField(label=_("犯罪嫌疑人/被告人"), queryset=None)
    kind = forms.ChoiceField(label=_("类别"), choices=RequestKind.choices)
    ground = forms.ChoiceField(label=_("通知理由"), choices=Ground.choices)
    found_on = forms.DateField(label=_("发现应当通知之日"), required=False,
                               help_text=_("通知辩护：自发现之日起三日内通知法律援助机构（法律援助法第三十六条）。"),
                               widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("说明"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, case: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = case.persons.filter(role=PersonRole.SUSPECT).order_by("id")
        for name, f in self.fields.items():
            f.widget.attrs.setdefault("class", "form-select" if name in ("person", "kind", "ground") else "form-control")


class AssignForm(forms.Form):
    lawyer = forms.ModelChoiceField(label=_("平台上的律师"), queryset=None, required=False,
                                    empty_label=_("（未在平台上的律师，填写下列各项）"))
    name = forms.CharField(label=_("律师姓名"), required=False, max_length=50)
    firm = forms.CharField(label=_("律师事务所"), required=False, max_length=100)
    licence = forms.CharField(label=_("执业证号"), required=False, max_length=30)

    def __init__(self, *args: Any, lawyers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lawyer"].queryset = lawyers
        self.fields["lawyer"].label_from_instance = lambda u: f"{u.display_name or u.username}（{u.agency.name}）"
        for name, f in self.fields.items():
            f.widget.attrs.setdefault("class", "form-select" if name == "lawyer" else "form-control")
