"""Facts the dashboard aggregates that are not stored elsewhere in a query-friendly shape.

:class:`StageStay` is one stretch of time a case spent in one stage with one holder agency. It is
derived from the transition log (:class:`workflows.models.TransitionLog`): every log row
closes the case's open stay and opens the next one (see :mod:`casehub.metrics.handlers`), in the
transition's own transaction. Keeping it as rows lets "median and 90th percentile time per stage
and agency" be one indexed aggregate instead of a window over the whole log.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from casehub.metrics.tracking import RolledUp


class StageStay(RolledUp):  # counted by the dashboard: save()/delete() keep the rollups in step
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


# --- rollups -------------------------------------------------------------------------------------------
#
# Small tables the dashboard reads instead of the base rows (docs/audit.md §2, "Rollups"). Each is
# maintained by :mod:`casehub.metrics.rollup` in the transaction of the change it summarises and can
# be rebuilt from the base tables with ``manage.py rebuild_metrics``. Agency columns are plain
# integers (0 = "not split by agency") so that every key is NOT NULL and an upsert's ON CONFLICT
# finds the row.

NO_PREVIOUS_DAY = "0001-01-01"


class _Rollup(models.Model):
    class Meta:
        abstract = True

    def __str__(self) -> str:
        return " ".join(str(getattr(f, "attname", "")) + "=" + str(getattr(self, f.attname))
                        for f in self._meta.concrete_fields if not f.primary_key)


class TransferDay(_Rollup):
    """Transfers sent on one local day, per sending and receiving agency, kind, mode and e-dossier."""

    day = models.DateField()
    from_agency = models.ForeignKey("agencies.Agency", on_delete=models.DO_NOTHING, related_name="+",
                                    db_constraint=False)
    to_agency = models.ForeignKey("agencies.Agency", on_delete=models.DO_NOTHING, related_name="+",
                                  db_constraint=False)
    kind = models.CharField(max_length=30)
    mode = models.CharField(max_length=10)
    e_complete = models.BooleanField()  # electronic and complete dossier
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "from_agency", "to_agency", "kind", "mode", "e_complete"],
                                               name="metrics_transferday_key")]


class CertificateDay(_Rollup):
    """Custody-transfer certificates issued on one local day (cancelled ones excluded)."""

    day = models.DateField()
    from_agency = models.ForeignKey("agencies.Agency", on_delete=models.DO_NOTHING, related_name="+",
                                    db_constraint=False)
    to_agency = models.ForeignKey("agencies.Agency", on_delete=models.DO_NOTHING, related_name="+",
                                  db_constraint=False)
    channel = models.CharField(max_length=10)
    without_transfer = models.BooleanField()  # registered paper hand-over: each certificate is its own hand-over
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "from_agency", "to_agency", "channel",
                                                       "without_transfer"], name="metrics_certificateday_key")]


class ClockDay(_Rollup):
    """Statutory clocks stopped on one local day: met (on or before the due date) or late."""

    day = models.DateField()
    kind = models.CharField(max_length=40)
    agency_id = models.IntegerField()
    met = models.BigIntegerField(default=0)
    late = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "kind", "agency_id"], name="metrics_clockday_key")]


class DurationBucket(_Rollup):
    """A duration histogram: how many stays (``metric='stay'``, bucket = whole hours) or answered
    packages (``metric='accept'``, bucket = whole minutes) of one category and agency ended in one
    day (``level='d'``), month (``'m'``) or year (``'y'``) starting at ``start``. A period is read
    as whole years + whole months + single days, so a year costs one level-``y`` read."""

    metric = models.CharField(max_length=10)
    level = models.CharField(max_length=1)
    start = models.DateField()
    category = models.CharField(max_length=40)  # stage, or transfer kind
    agency_id = models.IntegerField()  # holder agency, or receiving agency
    bucket = models.IntegerField()
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["metric", "level", "start", "category", "agency_id", "bucket"],
                                               name="metrics_durationbucket_key")]


class FirstSeenDay(_Rollup):
    """Distinct counts over any period, exactly: for each thing counted (a case in a direction, a
    person, a hand-over) and each local day it occurs, the previous day it occurred (or
    ``NO_PREVIOUS_DAY``). Things seen in [a, b] = occurrences on a day in [a, b] whose previous day
    is before a. ``agency_id``/``direction`` are the dimensions a metric is split by (0 / "" if not)."""

    metric = models.CharField(max_length=20)
    day = models.DateField()
    prev_day = models.DateField()
    agency_id = models.IntegerField()
    direction = models.CharField(max_length=40)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["metric", "day", "prev_day", "agency_id", "direction"],
                                               name="metrics_firstseenday_key")]
