"""Database side of the object store: one row per stored content, and the integrity-sweep log.

Other apps point at :class:`StoredObject` with ``ForeignKey(..., on_delete=PROTECT)``; the
integrity sweep finds an object's owners through those reverse relations, so adding an FK is all
an app has to do to be covered.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

sha256_validator = RegexValidator(r"^[0-9a-f]{64}$", _("SHA-256 必须是 64 位小写十六进制。"))


class WriteOnceError(Exception):
    """Code tried to change or delete a StoredObject row."""


class StoredObjectQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise WriteOnceError("stored objects are write-once")

    def delete(self) -> NoReturn:
        raise WriteOnceError("stored objects are never deleted")

    def _raw_delete(self, using: Any) -> NoReturn:
        raise WriteOnceError("stored objects are never deleted")


class StoredObject(models.Model):
    """One distinct content in the object store, named by its SHA-256. Written once, never changed."""

    sha256 = models.CharField(_("SHA-256"), max_length=64, unique=True, validators=[sha256_validator])
    size = models.BigIntegerField(_("大小（字节）"))
    content_type = models.CharField(_("内容类型"), max_length=255, default="application/octet-stream")
    key = models.CharField(_("存储键"), max_length=255)
    version_id = models.CharField(_("版本号"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("存入时间"), auto_now_add=True)

    objects = StoredObjectQuerySet.as_manager()

    class Meta:
        verbose_name = _("存储对象")
        verbose_name_plural = _("存储对象")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.sha256[:12]}… ({self.size} B)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise WriteOnceError(f"stored object {self.sha256} is write-once")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise WriteOnceError(f"stored object {self.sha256} is never deleted")


class StorageSweep(models.Model):
    """The result of one integrity sweep (``verify_storage``), kept for the auditor view."""

    class Scope(models.TextChoices):
        REFERENCED = "referenced", _("数据库引用的对象")
        ALL = "all", _("存储中的全部对象")

    class Status(models.TextChoices):
        RUNNING = "running", _("进行中")
        OK = "ok", _("全部完好")
        PROBLEMS = "problems", _("发现问题")
        FAILED = "failed", _("未能完成")

    scope = models.CharField(_("范围"), max_length=16, choices=Scope.choices, default=Scope.REFERENCED)
    status = models.CharField(_("结果"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(_("触发方式"), max_length=32, default="command")
    store = models.CharField(_("存储"), max_length=255, blank=True, default="")
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    objects_checked = models.BigIntegerField(_("已核验对象数"), default=0)
    bytes_checked = models.BigIntegerField(_("已核验字节数"), default=0)
    missing_count = models.IntegerField(_("缺失"), default=0)
    corrupt_count = models.IntegerField(_("损坏"), default=0)
    unreferenced_count = models.IntegerField(_("未被引用"), default=0)
    # [{"sha256", "key", "problem": "missing"|"corrupt"|"unreadable"|"unreferenced", "detail", "owners": [...]}]
    problems = models.JSONField(_("问题明细"), default=list, blank=True)
    error = models.TextField(_("错误"), blank=True, default="")

    class Meta:
        verbose_name = _("存储完整性核验")
        verbose_name_plural = _("存储完整性核验")
        ordering = ["-started_at", "-id"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"sweep {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def ok(self) -> bool:
        return self.status == self.Status.OK
