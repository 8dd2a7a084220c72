"""An agency administrator's settings for their own agency (e.g. require a second factor)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from casehub.agencies.doors import ListDoor
from casehub.agencies.models import Agency
from casehub.agencies.permissions import MANAGE_AGENCY_USERS, has_capability
from casehub.audit.services import record_event

# The one rule (casehub.agencies.doors): the settings page of one's own agency has no object to hide.
AGENCY_SETTINGS = ListDoor("agency.settings",
                           lambda user: user.agency_id is not None and has_capability(user, MANAGE_AGENCY_USERS),
                           lambda: _("只有机构管理员可以修改本机构设置。"))


class AgencySettingsForm(forms.ModelForm):
    class Meta:
        model = Agency
        fields = ("require_second_factor",)
        labels = {"require_second_factor": gettext_lazy("本机构用户须使用动态口令（TOTP）双因素认证")}


@login_required
def agency_settings(request: HttpRequest) -> HttpResponse:
    AGENCY_SETTINGS.check(request.user)  # a page of one's own agency, nothing to hide: 403 to other roles
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
