"""Second factor (TOTP, django-otp) for agencies that require it."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

EXEMPT_PREFIXES = ("/login", "/logout", "/otp/", "/static/", "/i18n/")


class RequireSecondFactorMiddleware:
    """A user of an agency with ``require_second_factor`` must verify a TOTP device per session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and getattr(user, "agency", None) is not None
            and user.agency.require_second_factor
            and not user.is_verified()
            and not request.path.startswith(EXEMPT_PREFIXES)
            and not request.path.startswith("/api/")
        ):
            return redirect(f"{reverse('otp-verify')}?next={request.get_full_path()}")
        return self.get_response(request)


class RequirePasswordChangeMiddleware:
    """A user whose administrator forced a password reset sees only the password-change page."""

    EXEMPT = ("/password/", "/logout", "/static/", "/i18n/", "/otp/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and getattr(user, "password_change_required", False)
            and not request.path.startswith(self.EXEMPT)
            and not request.path.startswith("/api/")
        ):
            return redirect(reverse("password_change"))
        return self.get_response(request)
