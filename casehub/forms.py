"""What every HTML form of casehub shares: Bootstrap classes on its widgets, the invalid state on a
field with an error, and a service's :class:`~django.core.exceptions.ValidationError` put next to
the fields it names.

A page whose form fails validation is rendered again with the bound form (the user's input kept,
each error next to its field, the submit button as it was), never redirected: see
docs/architecture.md, "Forms". Imports Django only (it sits below every app).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError


def style_widgets(form: forms.BaseForm, *, small: bool = False) -> None:
    """Bootstrap classes on ``form``'s widgets (kept when a widget already has a class)."""
    size = "-sm" if small else ""
    for field in form.fields.values():
        widget = field.widget
        if widget.is_hidden or isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple
                                          | forms.RadioSelect | forms.FileInput):
            continue
        css = "form-select" if isinstance(widget, forms.Select) else "form-control"
        widget.attrs.setdefault("class", f"{css} {css}{size}" if small else css)


class StyledForm(forms.Form):
    """A form whose widgets carry Bootstrap classes and whose invalid fields are marked
    ``is-invalid`` (Django itself adds ``aria-invalid`` and ``aria-describedby="<id>_error"``;
    ``templates/_field_errors.html`` renders that element)."""

    small_widgets = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_widgets(self, small=self.small_widgets)

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                mark_invalid(self, name)


def mark_invalid(form: forms.BaseForm, name: str) -> None:
    attrs = form.fields[name].widget.attrs
    classes = attrs.get("class", "").split()
    if "is-invalid" not in classes:
        attrs["class"] = " ".join([*classes, "is-invalid"])


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Put a service's ValidationError on ``form``: a message keyed by one of the form's fields
    next to that field, anything else at the top of the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        for message in exc.messages:
            form.add_error(None, message)
