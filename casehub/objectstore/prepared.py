"""Artifacts made before a transaction and used inside it: the engine's *prepare* phase.

Rendering a legal document, assembling and PAdES-signing a 200-page volume and writing the result
to the object store take seconds. The workflow engine does that work *before* it locks the case
(:func:`workflows.engine.fire`): it runs the transition once in a prepare mode, in which every
expensive, deterministic step goes through :func:`artifact` — the bytes are built, written to the
store (content-addressed) and remembered under a *recipe key*, a hash of everything the bytes are
made from. Then, in the short transaction, the same code computes the same recipe from the rows it
reads under the lock and gets the prepared bytes back instead of building them again;
:func:`casehub.objectstore.services.store_bytes` of prepared content writes only the row.

What the recipe covers decides what may be reused: if anything the bytes depend on changed between
the two phases (another number was issued, a document was added, the date turned), the key is
different, the prepared bytes are not used and the step runs inside the transaction as it always
did (counted in :attr:`Prepared.misses`). Prepared objects whose transaction never commits stay in
the store unreferenced — harmless, like any content stored by a transaction that rolled back, and
listed by ``manage.py verify_storage --all`` (docs/storage.md).

Nothing here touches the database; a store outage while preparing raises :class:`storage.StorageError`
before any transaction was opened.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from storage import ObjectRef

PREPARE = "prepare"
APPLY = "apply"

_CURRENT: ContextVar[Prepared | None] = ContextVar("casehub_prepared", default=None)


def recipe_key(recipe: Any) -> str:
    """A stable hash of what an artifact is made from (JSON; anything else by ``str``)."""
    text = json.dumps(recipe, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Prepared:
    """The artifacts of one prepare phase, and what the apply phase made of them."""

    artifacts: dict[str, tuple[ObjectRef, bytes]] = field(default_factory=dict)
    phase: str = PREPARE
    hits: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @property
    def refs(self) -> dict[str, ObjectRef]:
        """Prepared objects by SHA-256 (already in the store)."""
        return {ref.sha256: ref for ref, _data in self.artifacts.values()}

    @contextmanager
    def active(self, phase: str) -> Iterator[Prepared]:
        """Make this the current preparation for the block, in ``phase`` (prepare or apply)."""
        self.phase = phase
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)


def current() -> Prepared | None:
    return _CURRENT.get()


def preparing() -> bool:
    """True while the engine prepares a transition (outside any transaction): steps that write
    rows must not run; steps that build bytes build them through :func:`artifact`."""
    prepared = _CURRENT.get()
    return prepared is not None and prepared.phase == PREPARE


def artifact(recipe: Any, build: Callable[[], bytes], *, content_type: str = "application/pdf",
             label: str = "") -> bytes:
    """The bytes ``build()`` makes from ``recipe`` — built now, or taken from the prepare phase.

    Without a current preparation this is just ``build()``. While preparing, the bytes are built
    and written to the object store (an outage raises ``StorageError``). While applying, prepared
    bytes of the same recipe are returned without building; otherwise they are built here.
    """
    prepared = _CURRENT.get()
    if prepared is None:
        return build()
    key = recipe_key(recipe)
    if prepared.phase == APPLY:
        found = prepared.artifacts.get(key)
        if found is not None:
            prepared.hits.append(label or key)
            return found[1]
        prepared.misses.append(label or key)
        return build()
    data = build()
    from casehub.objectstore.services import get_store

    ref = get_store().put_bytes(data, content_type=content_type)
    prepared.artifacts[key] = (ref, data)
    return data


def prepared_ref(sha256: str) -> ObjectRef | None:
    """The store reference of content the current apply phase's preparation already stored."""
    prepared = _CURRENT.get()
    if prepared is None or prepared.phase != APPLY:
        return None
    for ref, _data in prepared.artifacts.values():
        if ref.sha256 == sha256:
            return ref
    return None
