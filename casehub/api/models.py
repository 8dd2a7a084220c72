"""API credentials, idempotency records and long-running task resources.

A credential is a bearer token. Only the SHA-256 of the token is stored: the token itself is
shown once, when it is issued. Two kinds exist:

* a *personal* token acts as the user who issued it;
* a *system client* credential belongs to one agency and acts as a named role. It is backed
  by a service account (a :class:`~casehub.agencies.models.User` of that agency holding only
  that role, with no usable password), so every permission check, selector and audit event
  works exactly as for a person.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CredentialKind(models.TextChoices):
    PERSONAL = "personal", _("个人令牌")
    CLIENT = "client", _("系统客户端")


class ApiCredential(models.Model):
    kind = models.CharField(_("类别"), max_length=10, choices=CredentialKind.choices)
    name = models.CharField(_("名称"), max_length=100)
    # Public part of the token, used to find the row; the secret part is only ever hashed.
    key_id = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("身份"), on_delete=models.PROTECT, related_name="api_credentials"
    )
    agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("所属机构"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="api_credentials",
    )
    role = models.CharField(_("角色"), max_length=30, blank=True)
    # Overrides the default rate of REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], e.g. "6000/hour".
    throttle_rate = models.CharField(_("限流"), max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("到期时间"))
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Issued from a session that had passed the second factor (or by the operator's command). A
    # credential issued without it stops working once its agency requires a second factor.
    second_factor_verified = models.BooleanField(_("经双因素认证签发"), default=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("接口凭据")
        verbose_name_plural = _("接口凭据")

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class IdempotencyRecord(models.Model):
    """The first answer to a creating POST sent with an ``Idempotency-Key`` header.

    Keys are scoped to the acting user. A record is *pending* while the first request runs;
    a second request with the same key then gets 409 rather than creating a duplicate.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # None while pending
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="uniq_idempotency_key_per_user")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class TaskStatus(models.TextChoices):
    PENDING = "pending", _("排队中")
    RUNNING = "running", _("处理中")
    SUCCEEDED = "succeeded", _("已完成")
    FAILED = "failed", _("失败")


class ApiTask(models.Model):
    """Long work started through the API (202 Accepted): poll it for status, progress, result."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=64)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    step = models.CharField(max_length=100, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} ({self.status})"
