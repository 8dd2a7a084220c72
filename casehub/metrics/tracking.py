"""Rolled-up base rows: the models the dashboard counts keep their rollups in step themselves.

:class:`RolledUp` (transfers, custody certificates, clocks, stage stays) calls
:func:`casehub.metrics.rollup.before`/:func:`~casehub.metrics.rollup.after` from its own
``save()``/``delete()``; :class:`RolledUpQuerySet` refuses the writes that would bypass them (see
:mod:`casehub.metrics.rollup`). Kept apart from ``rollup`` so that models can import it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import models, transaction


class RollupBypassed(Exception):  # noqa: N818 - the name says what happened
    """A write to a rolled-up model that would not update the dashboard's rollups."""


BULK: ContextVar[bool] = ContextVar("casehub_rollup_bulk", default=False)


@contextmanager
def bulk_load() -> Iterator[None]:
    """Writes that leave the rollups behind on purpose; run :func:`rebuild` afterwards."""
    token = BULK.set(True)
    try:
        yield
    finally:
        BULK.reset(token)


class RolledUpQuerySet(models.QuerySet):
    """Refuses the writes that would bypass ``save()``/``delete()`` and with them the rollups."""

    def _refuse(self, what: str) -> None:
        if not BULK.get():
            raise RollupBypassed(
                f"{self.model._meta.label}: {what} would bypass the metrics rollups; save()/delete() each row, "
                f"or use casehub.metrics.rollup.bulk_change()")

    def update(self, **kwargs: Any) -> int:
        from casehub.metrics.rollup import rolled_fields

        named = {self.model._meta.get_field(k).attname for k in kwargs}
        if named & rolled_fields(self.model):
            self._refuse(f"update({', '.join(sorted(kwargs))})")
        return super().update(**kwargs)

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        from casehub.metrics.rollup import rolled_fields

        if {self.model._meta.get_field(f).attname for f in fields} & rolled_fields(self.model):
            self._refuse(f"bulk_update({', '.join(fields)})")
        return super().bulk_update(objs, fields, batch_size=batch_size)

    def delete(self) -> tuple[int, dict[str, int]]:
        self._refuse("delete()")
        return super().delete()

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Any]:
        self._refuse("bulk_create()")
        return super().bulk_create(objs, *args, **kwargs)


class RolledUp(models.Model):
    """A base row the dashboard counts: its own ``save()``/``delete()`` keep the rollups in step."""

    objects = RolledUpQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("raw"):  # fixtures loaded raw: rebuild_metrics afterwards
            super().save(*args, **kwargs)
            return
        from casehub.metrics import rollup

        with transaction.atomic():
            rollup.before(type(self), self)
            super().save(*args, **kwargs)
            rollup.after(type(self), self)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        from casehub.metrics import rollup

        with transaction.atomic():
            rollup.before(type(self), self)
            token = BULK.set(True)  # the row's own delete (and its cascade) is accounted for here
            try:
                result = super().delete(*args, **kwargs)
            finally:
                BULK.reset(token)
            rollup.after(type(self), self, deleted=True)
        return result


