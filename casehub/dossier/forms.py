"""Forms of the dossier pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from casehub.dossier.models import Category, Document, Part
from casehub.forms import StyledForm


class DocumentMetadataForm(StyledForm):
    """What the uploader says about a file; the file itself is judged by the ingest pipeline."""

    title = forms.CharField(label=_("标题"), max_length=200)
    category = forms.ChoiceField(label=_("类别"), choices=Category.choices, initial=Category.EVIDENCE)
    part = forms.ChoiceField(label=_("卷别"), choices=Part.choices, initial=Part.MAIN)
    doc_date = forms.DateField(label=_("文书日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    supersedes = forms.ModelChoiceField(label=_("更正的材料"), queryset=Document.objects.none(), required=False)
    reason = forms.CharField(label=_("更正理由"), required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, documents: Any = None, allow_work_part: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if documents is not None:
            self.fields["supersedes"].queryset = documents
        if not allow_work_part:
            self.fields["part"].choices = [(Part.MAIN, Part.MAIN.label)]
        for field in self.fields.values():
            widget = field.widget
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs.setdefault("class", css)


class UploadForm(DocumentMetadataForm):
    """The no-JavaScript fallback: one file in a plain multipart form."""

    file = forms.FileField(label=_("文件"))


class DraftDocumentForm(forms.Form):
    """Retitle, re-date or re-categorise a draft document (before it is sealed)."""

    title = forms.CharField(label=_("标题"), max_length=200)
    category = forms.ChoiceField(label=_("类别"), choices=Category.choices)
    doc_date = forms.DateField(label=_("文书日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs.setdefault("class", css)
        self.fields["doc_date"].widget.format = "%Y-%m-%d"


class WithdrawForm(forms.Form):
    """Withdraw a draft document uploaded by mistake; the reason is kept."""

    reason = forms.CharField(label=_("撤回理由"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}))


class ConcernsForm(forms.Form):
    """The persons of the case a document concerns (涉及人员); none: the whole case."""

    persons = forms.ModelMultipleChoiceField(
        label=_("标注涉及人员"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("只能选择本案的涉案人员。"), "invalid_pk_value": _("人员无效。")})

    def __init__(self, *args: Any, persons: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["persons"].queryset = persons


class ChunkedStartForm(forms.Form):
    filename = forms.CharField(max_length=255)
    size = forms.IntegerField(min_value=1)
