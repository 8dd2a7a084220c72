"""TOTP second factor: enrol a device, then verify it once per session (django-otp)."""

from __future__ import annotations

import base64

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from casehub.audit.services import record_event


class TokenForm(forms.Form):
    token = forms.RegexField(label=_("动态口令"), regex=r"^\d{6}$", max_length=6)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    devices = TOTPDevice.objects.devices_for_user(request.user, confirmed=None)
    device = devices.first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name="default", confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            if not device.confirmed:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
            otp_login(request, device)
            record_event("auth.second_factor_verified", actor=request.user)
            return redirect(_safe_next(request))
        record_event("auth.second_factor_failed", actor=request.user)
        form.add_error("token", _("动态口令不正确。"))
    secret = base64.b32encode(device.bin_key).decode() if not device.confirmed else ""
    return render(
        request, "web/otp_verify.html",
        {"form": form, "enrolling": not device.confirmed, "secret": secret,
         "uri": device.config_url if not device.confirmed else "", "next": _safe_next(request)},
    )
