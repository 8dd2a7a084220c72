"""The append-only, hash-chained audit trail (全程留痕)."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove an audit row."""


class AppendOnlyQuerySet(models.QuerySet):
    """No bulk edit or delete through the ORM; the database triggers refuse them as well."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("audit rows cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("audit rows cannot be deleted")

    def _raw_delete(self, using: Any) -> NoReturn:  # the deletion collector's fast path
        raise AppendOnlyError("audit rows cannot be deleted")


class AppendOnlyModel(models.Model):
    """A row that is written once and never changed or deleted."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.label} #{self.pk} is append-only")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self._meta.label} #{self.pk} is append-only")


class AuditEvent(AppendOnlyModel):
    """One thing that happened. Rows are only ever inserted, by :func:`record_event`."""

    sequence = models.BigIntegerField(_("序号"), unique=True)
    occurred_at = models.DateTimeField(_("时间"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    actor_label = models.CharField(max_length=150, blank=True)
    agency = models.ForeignKey(
        "agencies.Agency", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    action = models.CharField(_("动作"), max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    case_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["sequence"]
        verbose_name = _("审计事件")
        verbose_name_plural = _("审计事件")
        indexes = [models.Index(fields=["agency", "occurred_at"]), models.Index(fields=["action", "occurred_at"])]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action}"


class AuditHead(models.Model):
    """The single row that serialises appends: last sequence number and hash."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"head #{self.sequence}"


class AuditCheckpoint(AppendOnlyModel):
    """A signed statement "the chain's head was #sequence with this hash", kept in the object store.

    The database row is only an index: the signed document in the write-once store is the
    evidence, and ``verify_audit`` reads it from there (and finds checkpoints whose rows were
    deleted by scanning the store).
    """

    sequence = models.BigIntegerField(_("序号"), unique=True)
    head_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField(_("签名时间"))
    signer = models.CharField(_("签名者"), max_length=255, blank=True)
    stored_object = models.ForeignKey(
        "objectstore.StoredObject", on_delete=models.PROTECT, related_name="audit_checkpoints"
    )

    class Meta:
        ordering = ["sequence"]
        verbose_name = _("审计检查点")
        verbose_name_plural = _("审计检查点")

    def __str__(self) -> str:
        return f"checkpoint #{self.sequence}"
