"""How an API request proves who it is: a bearer token, or the browser's session."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from casehub.addresses import client_address
from casehub.api.credentials import CredentialRefused, authenticate_token, check_may_act

FAILURES_PER_MINUTE_DEFAULT = 30


def _failure_key(request: Request) -> str:
    # The client address under CASEHUB_PROXY_COUNT: a forged X-Forwarded-For neither spreads one
    # guesser over many buckets nor fills a legitimate client's bucket.
    return f"api-auth-fail:{client_address(request)}"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer chk_…`` (``Token chk_…`` is accepted as well).

    A revoked, expired or unknown token is refused with 401 — the same answer for all three, so
    the response does not tell an attacker which tokens once existed. DRF checks throttles only
    after authentication succeeded, so failed attempts are counted here, per address: past
    ``CASEHUB_API_AUTH_FAILURES_PER_MINUTE`` (default 30) the address gets 429 without a lookup.
    """

    def _refuse(self, request: Request) -> None:
        key = _failure_key(request)
        if cache.add(key, 1, timeout=60) is False:
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=60)
        raise exceptions.AuthenticationFailed(_("令牌无效、已过期或已被吊销。"))

    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("认证头格式错误：应为 “Bearer <令牌>”。"))
        limit = getattr(settings, "CASEHUB_API_AUTH_FAILURES_PER_MINUTE", FAILURES_PER_MINUTE_DEFAULT)
        if (cache.get(_failure_key(request)) or 0) >= limit:
            raise exceptions.Throttled(wait=60)
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            self._refuse(request)
        credential = authenticate_token(token)
        if credential is None:
            self._refuse(request)
        try:
            check_may_act(credential)
        except CredentialRefused as refused:  # the holder has the genuine secret: say why
            raise exceptions.AuthenticationFailed(refused.message) from None
        user = credential.user
        user.api_credential = credential  # lets views and throttles see which credential acts
        return user, credential

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="casehub"'


def session_verified(request: Request) -> bool:
    """Whether the browser session behind ``request`` passed the second factor (django-otp)."""
    return bool(getattr(request._request.user, "is_verified", lambda: False)())


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """The browser's session (CSRF enforced), but only once the second factor is verified
    where the user's agency requires one — the UI middleware exempts /api/, so this is the check."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if getattr(user, "password_change_required", False):
            # The page middleware sends such a user to the password form; the API must not be the way round it.
            raise exceptions.AuthenticationFailed(_("管理员已要求重置密码：请先在浏览器中修改密码。"))
        agency = getattr(user, "agency", None)
        if agency is not None and agency.require_second_factor:
            if not session_verified(request):
                raise exceptions.AuthenticationFailed(_("本机构要求双因素认证：请先在浏览器中完成验证。"))
        return result


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "casehub.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "chk_<key_id>_<secret>",
            "description": "Personal token or agency system-client credential (see docs/api.md).",
        }


class VerifiedSessionScheme(OpenApiAuthenticationExtension):
    target_class = "casehub.api.authentication.VerifiedSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
