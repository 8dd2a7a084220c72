"""State that only the workflow engine writes: a case's stage and holder, a person's custody status
(and a custody record's measure).

Assigning one of these attributes on a loaded instance raises :class:`EngineOwnedState` unless the
code runs inside :func:`engine_writes` — which only :mod:`workflows.engine` opens, around the
*apply* phase of a transition or person decision. A queryset ``update()``/``bulk_update()`` that
names one of these fields raises in the same way. Constructing a new instance (``Case(...)``,
``objects.create``) and reading from the database (``from_db``, ``refresh_from_db``) are allowed:
those are first assignments, not changes.

The mechanism is viewflow's ``State.__set__``: a data descriptor that wraps the field's own
descriptor. It changes no column, so it needs no migration.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import models

_ENGINE_WRITING: ContextVar[bool] = ContextVar("casehub_engine_writing", default=False)


class EngineOwnedState(Exception):  # noqa: N818 - the name says what the state is
    """A direct write to state that only the workflow engine may change."""


@contextmanager
def engine_writes() -> Iterator[None]:
    """Open only by :mod:`workflows.engine` (and by loading rows from the database)."""
    token = _ENGINE_WRITING.set(True)
    try:
        yield
    finally:
        _ENGINE_WRITING.reset(token)


def engine_is_writing() -> bool:
    return _ENGINE_WRITING.get()


class _EngineOwned:
    """Wraps a field's descriptor; refuses a changed value outside :func:`engine_writes`."""

    def __init__(self, inner: Any, label: str, attname: str) -> None:
        self.inner, self.label, self.attname = inner, label, attname

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        return self.inner.__get__(instance, owner)

    def __set__(self, instance: Any, value: Any) -> None:
        current = instance.__dict__.get(self.attname, _MISSING)
        # A new, unsaved instance is being built (a form, objects.create): not a change of state.
        if (current is not _MISSING and current != value and not instance._state.adding
                and not _ENGINE_WRITING.get()):
            raise EngineOwnedState(
                f"{self.label}.{self.attname} is written only by the workflow engine (workflows.engine); "
                f"fire a transition instead of assigning it"
            )
        setter = getattr(self.inner, "__set__", None)
        if setter is not None:
            setter(instance, value)
        else:
            instance.__dict__[self.attname] = value


_MISSING = object()


class EngineOwnedQuerySet(models.QuerySet):
    """``update()``/``bulk_update()`` of an engine-owned field raise outside :func:`engine_writes`."""

    def _refuse(self, fields: Any) -> None:
        owned = set(getattr(self.model, "_engine_owned", ()))
        named = {self.model._meta.get_field(f).attname for f in fields}
        if owned & named and not _ENGINE_WRITING.get():
            raise EngineOwnedState(
                f"{self.model._meta.label}: {', '.join(sorted(owned & named))} written only by the workflow engine")

    def update(self, **kwargs: Any) -> int:
        self._refuse(kwargs)
        return super().update(**kwargs)

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        self._refuse(fields)
        return super().bulk_update(objs, fields, batch_size=batch_size)


def protect(model: type[models.Model], *field_names: str) -> None:
    """Make ``field_names`` of ``model`` engine-owned (call right after the class definition)."""
    owned = []
    for name in field_names:
        attname = model._meta.get_field(name).attname
        setattr(model, attname, _EngineOwned(model.__dict__[attname], model.__name__, attname))
        owned.append(attname)
    model._engine_owned = tuple(owned)

    original_refresh = model.refresh_from_db

    def refresh_from_db(self: Any, *args: Any, **kwargs: Any) -> None:
        with engine_writes():  # reading what the engine wrote is not a write
            original_refresh(self, *args, **kwargs)

    model.refresh_from_db = refresh_from_db
