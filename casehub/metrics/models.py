"""Facts the dashboard aggregates that are not stored elsewhere in a query-friendly shape.

:class:`StageStay` is one stretch of time a case spent in one stage with one holder agency. It is
derived from the transition log (:class:`casehub.transfers.models.TransitionLog`): every log row
closes the case's open stay and opens the next one (see :mod:`casehub.metrics.handlers`), in the
transition's own transaction. Keeping it as rows lets "median and 90th percentile time per stage
and agency" be one indexed aggregate instead of a window over the whole log.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class StageStay(models.Model):
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="+")
    stage = models.CharField(_("诉讼阶段"), max_length=40)
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("承办机关"), on_delete=models.PROTECT,
                               related_name="+")
    entered_at = models.DateTimeField(_("进入时间"))
    entered_by = models.CharField(max_length=60, blank=True)  # the transition that started the stay
    left_at = models.DateTimeField(_("离开时间"), null=True, blank=True)
    left_by = models.CharField(max_length=60, blank=True)
    seconds = models.BigIntegerField(null=True, blank=True)  # left_at - entered_at, for percentiles

    class Meta:
        verbose_name = _("阶段停留")
        verbose_name_plural = _("阶段停留")
        indexes = [
            # Covering (PostgreSQL): the percentile query reads stays ended in a period from the
            # index alone. SQLite ignores INCLUDE and gets a plain index on left_at.
            models.Index(fields=["left_at"], include=["stage", "agency", "seconds"], name="metrics_stay_left_cover"),
            models.Index(fields=["case", "entered_at"], name="metrics_stay_case_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["case"], condition=Q(left_at__isnull=True), name="metrics_one_open_stay"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.stage} {self.entered_at:%Y-%m-%d}→{self.left_at or ''}"
