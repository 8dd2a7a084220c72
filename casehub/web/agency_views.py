"""An agency administrator's settings for their own agency (e.g. require a second factor)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.agencies.models import Agency
from casehub.agencies.permissions import MANAGE_AGENCY_USERS, has_capability
from casehub.audit.services import record_event


class AgencySettingsForm(forms.ModelForm):
    class Meta:
        model = Agency
        fields = ("require_second_factor",)
        labels = {"require_second_factor": gettext_lazy("本机构用户须使用动态口令（TOTP）双因素认证")}


@login_required
def agency_settings(request: HttpRequest) -> HttpResponse:
    if not has_capability(request.user, MANAGE_AGENCY_USERS) or request.user.agency is None:
        raise PermissionDenied(_("只有机构管理员可以修改本机构设置。"))
    agency = request.user.agency
    form = AgencySettingsForm(request.POST or None, instance=agency)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            record_event("agency.settings_changed", actor=request.user, agency=agency, obj=agency,
                         details={"require_second_factor": agency.require_second_factor})
        messages.success(request, _("机构设置已保存。"))
        return redirect("agency-settings")
    return render(request, "web/agency_settings.html", {"form": form, "agency": agency})
