"""Statutory clocks (办案期限) and the holiday calendar they are counted against."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from casehub.clocks.kinds import ClockKind
from casehub.metrics.tracking import RolledUp


class Holiday(models.Model):
    """One day of the State Council's holiday schedule.

    ``is_working_day=False``: a day off (statutory holiday or the rest day it is swapped to).
    ``is_working_day=True``: an adjusted working day 调休 that falls on a weekend.
    Ordinary weekdays and weekends need no row.
    """

    date = models.DateField(_("日期"), unique=True)
    is_working_day = models.BooleanField(
        _("调休上班"), default=False, help_text=_("勾选表示该日虽为周末但调休上班；不勾选表示放假。")
    )
    name = models.CharField(_("名称"), max_length=100, blank=True)
    year = models.PositiveSmallIntegerField(_("年度"), db_index=True, editable=False)

    class Meta:
        ordering = ["date"]
        verbose_name = _("节假日")
        verbose_name_plural = _("节假日")

    def __str__(self) -> str:
        return f"{self.date} {self.name}"

    def save(self, *args, **kwargs) -> None:
        self.year = self.date.year
        super().save(*args, **kwargs)


class HolidayYear(models.Model):
    """Whether a year's holiday schedule is loaded, and whether it is the published one.

    A due date whose last day falls in a year without an *official* schedule is provisional: the
    State Council publishes the next year's schedule each November, and the administrator
    confirms it here (or ``load_holidays --official``).
    """

    year = models.PositiveSmallIntegerField(_("年度"), unique=True)
    is_official = models.BooleanField(
        _("已按国务院通知核对"), default=False,
        help_text=_("未核对的年度按估算计算，期限显示为“暂定”。"),
    )
    source = models.CharField(_("来源"), max_length=200, blank=True)
    loaded_at = models.DateTimeField(_("载入时间"), auto_now=True)

    class Meta:
        ordering = ["year"]
        verbose_name = _("节假日年度")
        verbose_name_plural = _("节假日年度")

    def __str__(self) -> str:
        return str(self.year)


class ClockStatus(models.TextChoices):
    RUNNING = "running", _("计时中")
    PAUSED = "paused", _("中止计算")
    OVERDUE = "overdue", _("已超期")
    STOPPED = "stopped", _("已结束")


ACTIVE_STATUSES = (ClockStatus.RUNNING, ClockStatus.PAUSED, ClockStatus.OVERDUE)


class Clock(RolledUp):  # counted by the dashboard: save()/delete() keep the rollups in step
    """One statutory period running for an agency on a case (or on one person of it).

    The due date is always derived from ``started_at``, the period (base + extensions) and the
    days spent paused, by :func:`casehub.clocks.counting.due_date`; services keep it stored so
    lists can sort and filter on it.
    """

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="clocks")
    kind = models.CharField(_("期限类别"), max_length=40, choices=ClockKind.choices)
    agency = models.ForeignKey(
        "agencies.Agency", verbose_name=_("承办机关"), on_delete=models.PROTECT, related_name="clocks"
    )
    person = models.ForeignKey(
        "cases.Person", verbose_name=_("涉案人员"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="clocks",
    )
    started_at = models.DateTimeField(_("起算时间"))
    period_months = models.PositiveSmallIntegerField(default=0)
    period_days = models.PositiveSmallIntegerField(default=0)
    paused_days = models.PositiveIntegerField(default=0)
    due_date = models.DateField(_("届满日期"), db_index=True)
    provisional = models.BooleanField(_("暂定"), default=False)
    custody = models.BooleanField(_("羁押期限"), default=False)
    decision = models.CharField(_("依据"), max_length=200, blank=True)
    paused_at = models.DateTimeField(_("中止时间"), null=True, blank=True)
    stopped_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    extended_by = models.TextField(_("延长决定"), blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=ClockStatus.choices, default=ClockStatus.RUNNING, db_index=True
    )
    overdue_since = models.DateField(_("超期日期"), null=True, blank=True)
    warned_on = models.DateField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("办案期限")
        verbose_name_plural = _("办案期限")
        indexes = [models.Index(fields=["agency", "status", "due_date"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.due_date}"

    @property
    def clock_kind(self) -> ClockKind:
        return ClockKind(self.kind)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def remaining_days(self, today: date | None = None) -> int | None:
        """Whole days left until the due date (0 on the due day, negative once overdue).

        A paused clock does not run: its remaining time is frozen at the moment it paused.
        A stopped clock has no remaining time (None).
        """
        if self.status == ClockStatus.STOPPED:
            return None
        if self.status == ClockStatus.PAUSED and self.paused_at is not None:
            today = timezone.localtime(self.paused_at).date()
        today = today or timezone.localdate()
        return (self.due_date - today).days


class ClockExtension(models.Model):
    """An extension of a clock, with the decision that allows it (延长决定)."""

    clock = models.ForeignKey(Clock, on_delete=models.PROTECT, related_name="extensions")
    months = models.PositiveSmallIntegerField(default=0)
    days = models.PositiveSmallIntegerField(default=0)
    decision = models.CharField(_("决定"), max_length=200)
    previous_due_date = models.DateField()
    new_due_date = models.DateField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.clock} +{self.months}M{self.days}D ({self.decision})"
