"""In-app notifications (站内通知)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """A message to one user. ``key`` makes sending idempotent: one notification per user and key."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("类别"), max_length=40)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    url = models.CharField(max_length=300, blank=True)
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # The same texts as a msgid and parameters, rendered in the reader's language
    # (casehub.notifications.messages); empty for texts given as plain strings.
    title_msgid = models.CharField(max_length=200, blank=True)
    body_msgid = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    key = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        constraints = [models.UniqueConstraint(fields=["recipient", "key"], name="uniq_notification_key")]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return self.title

    @property
    def shown_title(self) -> str:
        """The title in the active language (a stored msgid, else the stored text translated when
        it is a known msgid, e.g. a fixed title)."""
        from casehub.notifications.messages import render

        return render(self.title_msgid, self.params) if self.title_msgid else gettext(self.title)

    @property
    def shown_body(self) -> str:
        from casehub.notifications.messages import render

        if self.body_msgid:
            return render(self.body_msgid, self.params)
        return gettext(self.body) if self.body else ""
