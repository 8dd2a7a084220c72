"""Forms of the custody pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from casehub.agencies.models import Agency, AgencyKind
from casehub.custody.models import Measure, NoticeKind
from casehub.forms import StyledForm


class CaseRowForm(StyledForm):
    """A form of one row of the case's custody page. ``row``: the person's or the record's id, so
    that the ids of its fields are unique on the page (the field names stay plain)."""

    small_widgets = True
    row_prefix = ""

    def __init__(self, *args: Any, row: Any = "", **kwargs: Any) -> None:
        row = str(row) if str(row).isdigit() else "x"
        kwargs.setdefault("auto_id", f"{self.row_prefix}-{row}-%s")
        super().__init__(*args, **kwargs)


class RegisterCustodyForm(CaseRowForm):
    row_prefix = "register"
    person = forms.IntegerField(widget=forms.HiddenInput)
    detention_centre = forms.ModelChoiceField(Agency.objects.filter(kind=AgencyKind.DETENTION_CENTRE),
                                              label=_("羁押场所"))
    measure = forms.ChoiceField(choices=Measure.choices, label=_("强制措施"))
    since = forms.DateTimeField(label=_("羁押起始时间"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class NoticeForm(CaseRowForm):
    row_prefix = "notice"
    record = forms.IntegerField(widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=NoticeKind.choices, label=_("变更事项"))
    new_end = forms.DateField(label=_("新届满日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("理由或决定文号"), max_length=1000,
                             widget=forms.TextInput)


class PaperTransferForm(CaseRowForm):
    """A custody transfer done on paper. ``handover``: the paper hand-over of the case (registered
    through the engine) it went with — then the sender is that hand-over's; otherwise the case moved
    on the platform and only the certificate was on paper (the receiver holds the case).

    ``handover`` is offered only when there are hand-overs to choose, ``from_agency`` only to the
    agency holding the case (``holder=True``): a receiver that does not hold the case registers the
    transfer of a paper hand-over."""

    row_prefix = "paper"
    person = forms.IntegerField(widget=forms.HiddenInput)
    handover = forms.TypedChoiceField(label=_("对应的纸质移送"), required=False, empty_value=None)
    from_agency = forms.ModelChoiceField(Agency.objects.exclude(kind__in=[AgencyKind.DETENTION_CENTRE,
                                                                           AgencyKind.COMMITTEE]),
                                         label=_("移送机关"), required=False)
    transferred_at = forms.DateTimeField(label=_("换押时间"),
                                         widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    reference = forms.CharField(label=_("纸质换押证编号"), max_length=100)
    period_end = forms.DateField(label=_("法定期限止"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, handovers: Sequence[Any] = (), holder: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handovers = {str(t.pk): t for t in handovers}
        if handovers:
            self.fields["handover"].choices = [("", "—")] + [
                (str(t.pk), f"{t.get_kind_display()} · {t.from_agency} · {t.paper_received_on:%Y-%m-%d}"
                            f"{' · ' + t.external_reference if t.external_reference else ''}") for t in handovers]
            self.fields["handover"].coerce = self._handovers.get
        else:
            del self.fields["handover"]
        if not holder:
            del self.fields["from_agency"]
