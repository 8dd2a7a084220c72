"""An agency administrator can require a TOTP second factor for everyone in their agency."""

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db


def test_only_the_agency_administrator_may_change_agency_settings(client, district):
    client.force_login(district.investigator)
    assert client.get(reverse("agency-settings")).status_code == 403
    client.post(reverse("agency-settings"), {"require_second_factor": "on"})
    district.police.refresh_from_db()
    assert district.police.require_second_factor is False


def test_required_second_factor_enrols_then_verifies_a_totp_device(client, district):
    client.force_login(district.police_admin)
    assert client.post(reverse("agency-settings"), {"require_second_factor": "on"}).status_code == 302
    district.police.refresh_from_db()
    assert district.police.require_second_factor

    client.force_login(district.investigator)
    home = client.get(reverse("home"))
    assert home.status_code == 302 and reverse("otp-verify") in home["Location"]

    page = client.get(reverse("otp-verify"))
    assert page.context["enrolling"] and page.context["secret"]
    device = TOTPDevice.objects.get(user=district.investigator)

    wrong = client.post(reverse("otp-verify"), {"token": "000000" if totp(device.bin_key) != 0 else "111111"})
    assert "动态口令不正确" in wrong.content.decode()
    assert client.get(reverse("home")).status_code == 302

    # A failure throttles the device (django-otp doubles the wait); let the wait pass.
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    device.throttle_reset()
    token = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    assert client.post(reverse("otp-verify"), {"token": token, "next": "/"}).status_code == 302
    assert client.get(reverse("home")).status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_other_agencies_are_not_affected(client, district):
    district.police.require_second_factor = True
    district.police.save()
    client.force_login(district.prosecutor)
    assert client.get(reverse("home")).status_code == 200


def test_open_redirect_after_verification_is_refused(client, district):
    from django.test import RequestFactory

    from casehub.web.otp_views import _safe_next

    request = RequestFactory().get("/otp/verify/", {"next": "https://evil.example/"})
    assert _safe_next(request) == "/"
