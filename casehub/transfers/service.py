"""The court's page for serving the judgment on persons (送达, CPL arts. 107, 202; SPC Interpretation
art. 303): a form around :func:`workflows.service.record_service` and the list of services with their
signed 送达回证, and of who has not been served yet.

The case is looked up first (404 to who may not see it), then the court's right to serve (403).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from casehub.cases.doors import CASES
from casehub.cases.models import Case
from casehub.forms import StyledForm, add_service_errors
from workflows import service
from workflows.models import ServiceMethod, ServiceRecipient, ServiceRecord


class ServiceForm(StyledForm):
    document = forms.TypedChoiceField(label=gettext_lazy("送达文书"), coerce=int)
    recipient = forms.ChoiceField(label=gettext_lazy("受送达人身份"), choices=ServiceRecipient.choices)
    person = forms.TypedChoiceField(label=gettext_lazy("涉及人员"), coerce=int, required=False, empty_value=None,
                                    help_text=gettext_lazy("被告人、被害人本人，或者其所在单位、户籍地派出所所涉及的被告人。"))
    recipient_name = forms.CharField(label=gettext_lazy("受送达人"), max_length=120,
                                     help_text=gettext_lazy("姓名，或者单位、派出所的名称。"))
    method = forms.ChoiceField(label=gettext_lazy("送达方式"), choices=ServiceMethod.choices)
    served_on = forms.DateField(label=gettext_lazy("送达日期"), widget=forms.DateInput(attrs={"type": "date"}))
    signed_by = forms.CharField(label=gettext_lazy("签收人"), max_length=120, required=False,
                                help_text=gettext_lazy("留空为受送达人本人。"))

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["document"].choices = [(d.pk, d.title) for d in service.servable_documents(case)]
        self.fields["person"].choices = [("", "—")] + [
            (person.pk, f"{person.name}（{person.get_role_display()}）") for person in case.persons.order_by("id")]
        self.fields["served_on"].initial = timezone.localdate()


@login_required
@require_http_methods(["GET", "POST"])
def serve(request: HttpRequest, case_pk: int) -> HttpResponse:
    user = request.user
    case = CASES.get(user, case_pk)  # 404 to who may not see the case
    if not service.may_serve(user, case):
        raise PermissionDenied(_("只有作出判决、裁定的人民法院可以登记送达。"))
    form = ServiceForm(request.POST or None, case=case)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            service.record_service(
                case, document=service.servable_documents(case).get(pk=data["document"]),
                recipient=data["recipient"], recipient_name=data["recipient_name"], method=data["method"],
                served_on=data["served_on"], signed_by=data["signed_by"], acting_user=user,
                person=case.persons.filter(pk=data["person"]).first() if data["person"] else None)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("送达已登记，送达回证已生成并电子签章。"))
            return redirect("transfers:service", case_pk=case.pk)
    records = ServiceRecord.objects.filter(case=case).select_related("document", "receipt", "person")
    return render(request, "transfers/service.html", {
        "case": case, "form": form, "records": records, "outstanding": service.outstanding(case),
        "effective": service.judgment_effective(case),
    }, status=400 if form.errors else 200)
