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

Some artifacts can only be described by running the transaction itself: the custody certificates
of a send carry the numbers, periods and persons the transaction will write, a receipt the time and
numbers of the answer. For those the engine runs the apply phase once as a *rehearsal*
(:data:`REHEARSE`, rolled back at its end, no audit event appended): an artifact marked
``deferrable`` is not built there — its recipe is remembered and placeholder bytes stand in — and
after the rollback, outside any transaction, :meth:`Prepared.build_pending` builds and stores
them. The real apply phase then computes the same recipes and finds them prepared.

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
REHEARSE = "rehearse"
APPLY = "apply"
PLACEHOLDER = b"casehub-rehearsal-placeholder:"

_CURRENT: ContextVar[Prepared | None] = ContextVar("casehub_prepared", default=None)


def recipe_key(recipe: Any) -> str:
    """A stable hash of what an artifact is made from (JSON; anything else by ``str``)."""
    text = json.dumps(recipe, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Prepared:
    """The artifacts of one prepare phase, and what the apply phase made of them."""

    artifacts: dict[str, tuple[ObjectRef | None, bytes]] = field(default_factory=dict)
    phase: str = PREPARE
    hits: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    # Deferred by a rehearsal: recipe key -> (build, content type, store it?, label).
    pending: dict[str, tuple[Callable[[], bytes], str, bool, str]] = field(default_factory=dict)

    @property
    def refs(self) -> dict[str, ObjectRef]:
        """Prepared objects by SHA-256 (already in the store)."""
        return {ref.sha256: ref for ref, _data in self.artifacts.values() if ref is not None}

    def build_pending(self) -> int:
        """Build (and store) what a rehearsal deferred; outside any transaction. Returns how many."""
        built = 0
        for key, (build, content_type, store, _label) in list(self.pending.items()):
            data = build()
            self.artifacts[key] = (_put(data, content_type) if store else None, data)
            built += 1
        self.pending.clear()
        return built

    @contextmanager
    def active(self, phase: str) -> Iterator[Prepared]:
        """Make this the current preparation for the block, in ``phase`` (prepare or apply)."""
        previous, self.phase = self.phase, phase
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)
            self.phase = previous


def current() -> Prepared | None:
    return _CURRENT.get()


def preparing() -> bool:
    """True while the engine prepares a transition (outside any transaction): steps that write
    rows must not run; steps that build bytes build them through :func:`artifact`."""
    prepared = _CURRENT.get()
    return prepared is not None and prepared.phase == PREPARE


def rehearsing() -> bool:
    """True while the engine rehearses its apply phase (a transaction that is always rolled back)."""
    prepared = _CURRENT.get()
    return prepared is not None and prepared.phase == REHEARSE


def _put(data: bytes, content_type: str) -> ObjectRef:
    from casehub.objectstore.services import get_store

    return get_store().put_bytes(data, content_type=content_type)


def artifact(recipe: Any, build: Callable[[], bytes], *, content_type: str = "application/pdf",
             label: str = "", deferrable: bool = False, store: bool = True) -> bytes:
    """The bytes ``build()`` makes from ``recipe`` — built now, or taken from the prepare phase.

    Without a current preparation this is just ``build()``. While preparing, the bytes are built
    and written to the object store (an outage raises ``StorageError``; ``store=False``: kept in
    memory only, for bytes a row holds itself, such as a detached signature). While rehearsing, a
    ``deferrable`` artifact is not built: its recipe is remembered for
    :meth:`Prepared.build_pending` and placeholder bytes are returned (the rehearsal is rolled
    back; nothing it writes survives). While applying, prepared bytes of the same recipe are
    returned without building; otherwise they are built here.
    """
    prepared = _CURRENT.get()
    if prepared is None:
        return build()
    key = recipe_key(recipe)
    found = prepared.artifacts.get(key)
    if prepared.phase == APPLY:
        if found is not None:
            prepared.hits.append(label or key)
            return found[1]
        prepared.misses.append(label or key)
        return build()
    if found is not None:
        return found[1]
    if prepared.phase == REHEARSE and deferrable:
        prepared.pending[key] = (build, content_type, store, label or key)
        return PLACEHOLDER + key.encode()
    data = build()
    prepared.artifacts[key] = (_put(data, content_type) if store else None, data)
    return data


def prepared_ref(sha256: str) -> ObjectRef | None:
    """The store reference of content the current preparation already stored (applying or rehearsing)."""
    prepared = _CURRENT.get()
    if prepared is None or prepared.phase == PREPARE:
        return None
    for ref, _data in prepared.artifacts.values():
        if ref is not None and ref.sha256 == sha256:
            return ref
    return None


def rehearsal_ref(data: bytes, content_type: str) -> ObjectRef | None:
    """While rehearsing, a reference for content that need not be written: the rehearsal's rows
    are rolled back, so a row may point at content the store has not got (placeholders, or the
    bytes the real apply phase will store). None outside a rehearsal."""
    if not rehearsing():
        return None
    sha256 = hashlib.sha256(data).hexdigest()
    return prepared_ref(sha256) or ObjectRef(sha256=sha256, size=len(data), key=f"rehearsal/{sha256}",
                                             content_type=content_type)
