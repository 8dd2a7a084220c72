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
    # One audit event can mean several events for one agency (a custody transfer of three persons:
    # three certificates); they keep their order within the sequence.
    position = models.PositiveSmallIntegerField(default=0)
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    type = models.CharField(_("事件类型"), max_length=64)
    occurred_at = models.DateTimeField(_("时间"))
    case_id = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["sequence", "position"]
        verbose_name = _("变更事件")
        verbose_name_plural = _("变更事件")
        constraints = [
            models.UniqueConstraint(fields=["agency", "sequence", "position"], name="uniq_feed_entry_position"),
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
    # The feed is the outbox: the endpoint's cursor is the last feed entry of its agency that the
    # delivery worker has taken up (sequence, position); everything after it is still to be sent.
    # A new endpoint starts at the newest entry when it is created (see :meth:`start_at_now`).
    cursor_sequence = models.BigIntegerField(null=True, blank=True, editable=False)
    cursor_position = models.PositiveIntegerField(default=0, editable=False)
    # The lease of the one worker that walks the cursor (at a time, in feed order).
    lease_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("推送地址")
        verbose_name_plural = _("推送地址")

    def __str__(self) -> str:
        return self.url

    def save(self, *args: object, **kwargs: object) -> None:
        if self.cursor_sequence is None:
            self.start_at_now()
        super().save(*args, **kwargs)

    def start_at_now(self) -> None:
        """Put the cursor after the agency's newest feed entry: an endpoint gets what happens from
        now on (a system catches up on the past from the feed itself)."""
        self.cursor_sequence, self.cursor_position = latest_position(self.agency_id)


# Past every position of a sequence (positions are small: one per event of one audit event).
END_OF_SEQUENCE = 2**31 - 1


def latest_position(agency_id: int) -> tuple[int, int]:
    """The cursor just after the newest committed feed entry of an agency ((0, 0) when it has none)."""
    newest = (FeedEntry.objects.filter(agency_id=agency_id).order_by("-sequence")
              .values_list("sequence", flat=True).first())
    return (newest, END_OF_SEQUENCE) if newest is not None else (0, 0)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    DELIVERED = "delivered", _("已送达")
    RETRYING = "retrying", _("重试中")
    DEAD = "dead", _("已放弃")


class WebhookDelivery(models.Model):
    """One event for one endpoint: its attempts and outcome. Written by the delivery worker when it
    takes the event up from the feed past the endpoint's cursor (never in the change's transaction:
    the feed entry is the outbox), then kept as the endpoint's history, for retries and replay."""

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


class SubmittedPackage(models.Model):
    """A package an agency system assembled and signed itself, checked like the platform's own
    and taken into the case's dossier (its documents then travel in the next transfer)."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="submitted_packages")
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField(auto_now_add=True)
    manifest_bytes = models.BinaryField(editable=False)
    manifest_sha256 = models.CharField(max_length=64, unique=True)  # one package is taken in once
    manifest_signature = models.BinaryField(editable=False)
    signer = models.CharField(max_length=200)
    signer_certificate_sha256 = models.CharField(max_length=64)
    jobs = models.ManyToManyField("dossier.IngestJob", related_name="+")

    class Meta:
        ordering = ["-id"]
        verbose_name = _("机构系统报送的移送包")
        verbose_name_plural = _("机构系统报送的移送包")

    def __str__(self) -> str:
        return f"{self.case_id}:{self.manifest_sha256[:12]}"
