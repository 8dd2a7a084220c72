"""Issuing, checking and revoking API credentials. Every change is one transaction and one audit event.

Token format: ``chk_<key_id>_<secret>``. ``key_id`` (12 hex digits) finds the row; the whole
token is hashed with SHA-256 and compared in constant time. The secret has 256 bits of
entropy, so a fast hash is enough (no password stretching needed); only the hash is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.accounts.services import create_user
from casehub.agencies.models import Agency, User
from casehub.agencies.permissions import MANAGE_AGENCY_USERS, ROLES_BY_AGENCY_KIND, has_capability
from casehub.api.models import ApiCredential, CredentialKind
from casehub.audit.services import record_event

PREFIX = "chk"
DEFAULT_LIFETIME_DAYS = 90
MAX_LIFETIME_DAYS = 730
# Writing last_used_at on every request would turn every read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class IssuedCredential:
    credential: ApiCredential
    token: str  # shown once; never stored


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def _lifetime(days: int | None) -> timedelta:
    days = DEFAULT_LIFETIME_DAYS if days is None else days
    limit = getattr(settings, "CASEHUB_API_TOKEN_MAX_DAYS", MAX_LIFETIME_DAYS)
    if not 1 <= days <= limit:
        raise ValidationError({"expires_in_days": _("有效期须在 1 至 %(max)s 天之间。") % {"max": limit}})
    return timedelta(days=days)


def _refuse_credential_minting(acting_user: User | None) -> None:
    """A credential never issues credentials: only a person in the browser does (or the operator).

    Otherwise a leaked token (a system client's above all, which no person watches) could mint
    others that outlive its revocation.
    """
    if acting_user is not None and getattr(acting_user, "api_credential", None) is not None:
        raise PermissionDenied(_("接口凭据不能再签发新的凭据，请在浏览器中登录后申请。"))


def issue_personal_token(
    *, acting_user: User, name: str, expires_in_days: int | None = None, second_factor_verified: bool = False,
) -> IssuedCredential:
    """A token that acts as ``acting_user`` (for scripts a person runs under their own name).

    ``second_factor_verified``: the issuing session passed the second factor; a token issued without
    it does not work while the user's agency requires one (:func:`authenticate_token`).
    """
    if not acting_user.is_active or acting_user.agency_id is None:
        raise PermissionDenied(_("只有所属机构的在职用户可以申请接口令牌。"))
    _refuse_credential_minting(acting_user)
    lifetime = _lifetime(expires_in_days)
    key_id, token = _new_token()
    with transaction.atomic():
        credential = ApiCredential.objects.create(
            kind=CredentialKind.PERSONAL, name=name, key_id=key_id, secret_hash=hash_token(token),
            user=acting_user, agency=acting_user.agency, created_by=acting_user,
            expires_at=timezone.now() + lifetime, second_factor_verified=second_factor_verified,
        )
        record_event(
            "api.token_issued", actor=acting_user, obj=credential,
            details={"key_id": key_id, "name": name, "expires_at": credential.expires_at.isoformat()},
        )
    return IssuedCredential(credential, token)


def register_client(
    *, acting_user: User | None, agency: Agency, name: str, role: str,
    expires_in_days: int | None = None, throttle_rate: str = "", second_factor_verified: bool = False,
) -> IssuedCredential:
    """A system client of ``agency`` acting as ``role``, backed by a password-less service account.

    ``acting_user`` None means the platform operator (management command, which counts as having
    passed the second factor: it runs on the server); otherwise it must be an administrator of the
    same agency, signed in in the browser (a credential cannot register clients).
    """
    _refuse_credential_minting(acting_user)
    if acting_user is not None and (
        acting_user.agency_id != agency.pk or not has_capability(acting_user, MANAGE_AGENCY_USERS)
    ):
        raise PermissionDenied(_("只有本机构的机构管理员可以登记系统客户端。"))
    if role not in ROLES_BY_AGENCY_KIND[agency.kind]:
        raise ValidationError({"role": _("角色 %(role)s 不适用于该机构。") % {"role": role}})
    if throttle_rate:
        from casehub.api.throttling import parse_rate

        parse_rate(throttle_rate)  # raises ValidationError naming the field
    lifetime = _lifetime(expires_in_days)
    key_id, token = _new_token()
    with transaction.atomic():
        service_user = create_user(
            username=f"api-client-{key_id}", agency=agency, roles=[role], password=None,
            display_name=name[:50], acting_user=acting_user,
        )
        credential = ApiCredential.objects.create(
            kind=CredentialKind.CLIENT, name=name, key_id=key_id, secret_hash=hash_token(token),
            user=service_user, agency=agency, role=role, throttle_rate=throttle_rate,
            created_by=acting_user, expires_at=timezone.now() + lifetime,
            second_factor_verified=second_factor_verified or acting_user is None,
        )
        record_event(
            "api.client_registered", actor=acting_user, agency=agency, obj=credential,
            details={"key_id": key_id, "name": name, "role": role, "expires_at": credential.expires_at.isoformat()},
        )
    return IssuedCredential(credential, token)


def client_role(user: User) -> str | None:
    """The role a system client's service account was registered with (None for other accounts)."""
    return (ApiCredential.objects.filter(user=user, kind=CredentialKind.CLIENT)
            .order_by("-id").values_list("role", flat=True).first())


def can_revoke(user: User, credential: ApiCredential) -> bool:
    if credential.kind == CredentialKind.PERSONAL:
        return credential.user_id == user.pk
    return credential.agency_id == user.agency_id and has_capability(user, MANAGE_AGENCY_USERS)


def revoke(credential: ApiCredential, *, acting_user: User | None) -> ApiCredential:
    """Revoke at once; a revoked credential never authenticates again. Revoking twice is a no-op."""
    if acting_user is not None and not can_revoke(acting_user, credential):
        raise PermissionDenied(_("无权吊销该凭据。"))
    return _revoke(credential, acting_user=acting_user)


def _revoke(credential: ApiCredential, *, acting_user: User | None, reason: str = "") -> ApiCredential:
    with transaction.atomic():
        locked = ApiCredential.objects.select_for_update().get(pk=credential.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.revoked_by = acting_user
            locked.save(update_fields=["revoked_at", "revoked_by"])
            details = {"key_id": locked.key_id, "name": locked.name, "kind": locked.kind}
            if reason:
                details["reason"] = reason
            record_event("api.credential_revoked", actor=acting_user, agency=locked.agency, obj=locked,
                         details=details)
    return locked


def revoke_on_forced_reset(sender: Any, instance: User, **kwargs: Any) -> None:
    """``post_save`` of a user: when an administrator forced a password reset (a suspected
    compromise), every live personal token of the user is revoked — one an intruder issued must not
    outlive the reset. The flag stays set until the user has chosen a new password, and no token can
    be issued meanwhile (:func:`check_may_act`), so revoking whatever is live is idempotent."""
    if not instance.password_change_required:
        return
    from casehub.audit.middleware import acting_user

    actor = acting_user()
    for credential in ApiCredential.objects.filter(user=instance, kind=CredentialKind.PERSONAL,
                                                   revoked_at__isnull=True):
        _revoke(credential, acting_user=actor, reason="forced_password_change")


class CredentialRefused(Exception):
    """The token is genuine and live, but may not act now; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _creator_gone(credential: ApiCredential, now: Any) -> bool:
    """A credential registered by a system client's service account (before such minting was
    refused) lives only as long as that client: revoked, expired or deactivated, its offspring die."""
    if credential.created_by_id is None or credential.created_by_id == credential.user_id:
        return False
    minting = list(ApiCredential.objects.filter(user_id=credential.created_by_id, kind=CredentialKind.CLIENT)
                   .values_list("revoked_at", "expires_at", "user__is_active"))
    return bool(minting) and not any(r is None and e > now and active for r, e, active in minting)


def check_may_act(credential: ApiCredential) -> None:
    """Raise :class:`CredentialRefused` when a live credential may not act at the moment."""
    agency = credential.user.agency
    if credential.kind == CredentialKind.PERSONAL and credential.user.password_change_required:
        raise CredentialRefused(_("管理员已要求重置密码：请先在浏览器中修改密码，再申请新的令牌。"))
    if agency is not None and agency.require_second_factor and not credential.second_factor_verified:
        raise CredentialRefused(_("本机构要求双因素认证，而该凭据签发时未经双因素认证：请在完成双因素认证后重新申请。"))
    if credential.kind == CredentialKind.CLIENT and credential.user.roles != {credential.role}:
        # Someone changed the service account's roles after registration: it acts as one role only.
        raise CredentialRefused(_("该系统客户端的服务账户角色已被更改，凭据停用：请重新登记客户端。"))


def authenticate_token(token: str) -> ApiCredential | None:
    """The active credential the token belongs to, or None. Constant-time on the secret.

    Unknown, revoked, expired, deactivated and orphaned (see :func:`_creator_gone`) all answer None.
    """
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or len(parts[1]) != 12:
        return None
    credential = ApiCredential.objects.select_related("user", "user__agency").filter(key_id=parts[1]).first()
    if credential is None or not hmac.compare_digest(credential.secret_hash, hash_token(token)):
        return None
    now = timezone.now()
    if credential.revoked_at is not None or credential.expires_at <= now or not credential.user.is_active:
        return None
    if _creator_gone(credential, now):
        return None
    if credential.last_used_at is None or now - credential.last_used_at > LAST_USED_RESOLUTION:
        ApiCredential.objects.filter(pk=credential.pk).update(last_used_at=now)
        credential.last_used_at = now
    return credential

