"""Keeping :class:`~casehub.metrics.models.StageStay` in step with the transition log (the
engine calls :func:`record`)."""

from __future__ import annotations

from typing import Any

from casehub.metrics.models import StageStay

FINAL_STAGES = frozenset({"closed"})


def record(log: Any) -> None:
    """Close the case's open stay and open the next one, in the transition's transaction.

    Called explicitly by :mod:`workflows.engine` for every transition log row it writes (no
    ``post_save`` receiver). A transition that keeps the stage (an extension of the review period)
    does not end the stay. Registration opens the first stay; a final stage opens none.
    """
    if log.source and log.source == log.target:
        return
    open_stay = StageStay.objects.select_for_update().filter(case_id=log.case_id, left_at__isnull=True).first()
    if open_stay is not None:
        open_stay.left_at = log.occurred_at
        open_stay.left_by = log.transition
        open_stay.seconds = max(0, int((log.occurred_at - open_stay.entered_at).total_seconds()))
        open_stay.save(update_fields=["left_at", "left_by", "seconds"])
    if log.target in FINAL_STAGES:
        return
    agency_id = log.to_agency_id or log.case.holder_agency_id
    StageStay.objects.create(case_id=log.case_id, stage=log.target, agency_id=agency_id,
                             entered_at=log.occurred_at, entered_by=log.transition)
