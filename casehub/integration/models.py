"""The change feed and webhook subscriptions of agency systems.

A :class:`FeedEntry` is one public event as one agency sees it. Entries are written in the same
transaction as the audit event they project (and so as the change itself), under the audit
trail's head lock: their ``sequence`` (the audit sequence) commits in increasing order, which is
what makes ``?after=<sequence>`` a durable cursor — a reader never sees N+1 before N.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class FeedEntry(models.Model):
    """One event of the public catalogue (:mod:`casehub.integration.catalogue`) for one agency."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    sequence = models.BigIntegerField(_("序号"))  # the audit event's sequence: the cursor
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    type = models.CharField(_("事件类型"), max_length=64)
    occurred_at = models.DateTimeField(_("时间"))
    case_id = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["sequence"]
        verbose_name = _("变更事件")
        verbose_name_plural = _("变更事件")
        constraints = [
            models.UniqueConstraint(fields=["agency", "sequence", "type"], name="uniq_feed_entry"),
        ]
        indexes = [models.Index(fields=["agency", "sequence"])]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.type}"


class WebhookEndpoint(models.Model):
    """An HTTPS address of an agency system that wants some event types pushed to it."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("所属机构"), on_delete=models.PROTECT,
                               related_name="webhook_endpoints")
    credential = models.ForeignKey("api.ApiCredential", verbose_name=_("系统客户端"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="webhook_endpoints")
    url = models.URLField(_("地址"), max_length=500)
    event_types = models.JSONField(_("订阅的事件类型"), default=list)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    # The Standard Webhooks secret, sealed with the key-encryption key (AES-256-GCM).
    encrypted_secret = models.BinaryField(editable=False)
    # Loopback, link-local and private addresses are refused unless an administrator allows them.
    allow_private_network = models.BooleanField(_("允许内网地址"), default=False)
    active = models.BooleanField(_("启用"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("推送地址")
        verbose_name_plural = _("推送地址")

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    DELIVERED = "delivered", _("已送达")
    RETRYING = "retrying", _("重试中")
    DEAD = "dead", _("已放弃")


class WebhookDelivery(models.Model):
    """One event for one endpoint: its attempts and outcome (written with the event: the outbox)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    entry = models.ForeignKey(FeedEntry, on_delete=models.PROTECT, related_name="deliveries")
    status = models.CharField(_("状态"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), db_index=True)
    last_attempt_at = models.DateTimeField(_("上次尝试"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("响应码"), null=True, blank=True)
    last_error = models.CharField(_("错误"), max_length=300, blank=True)
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("推送记录")
        verbose_name_plural = _("推送记录")
        constraints = [models.UniqueConstraint(fields=["endpoint", "entry"], name="uniq_delivery")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.endpoint_id}:{self.entry_id} {self.status}"
