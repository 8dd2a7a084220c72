"""Signed checkpoints of the chain head, kept in the write-once object store.

The hash chain proves that nobody changed a row *without recomputing the rest*; someone with
database rights can still rewrite the whole tail and the head row consistently. A checkpoint closes
that gap: every so often the platform signs
``{sequence, head_hash, previous checkpoint}`` with its own key and writes the signed document to the
object store, which is a separate system (on S3/MinIO with object lock it cannot be overwritten or
deleted within its retention). "Every so often" is: after the commit of an event, once
``CASEHUB_AUDIT_CHECKPOINT_EVERY_EVENTS`` events were appended since the newest checkpoint or it is
``CASEHUB_AUDIT_CHECKPOINT_EVERY_MINUTES`` old (:func:`schedule_if_due`, called by ``record_event`` —
so the embedded default, which runs no Celery beat, signs as well); by Celery beat where it runs;
and by every successful ``verify_audit``. Before signing, the rows since the previous checkpoint are
verified: a checkpoint never vouches for a chain that is already broken. ``verify_audit`` then checks that the chain still has, at every
checkpointed sequence, exactly the signed hash.

Checkpoints are read *from the store*, not trusted from the database: each database row is only an
index to its object, the document is re-read and its signature verified, and the store is scanned
for checkpoint documents whose rows were deleted. Each document also names its predecessor, so a
missing one shows as a broken link.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from casehub.audit.chain import GENESIS_HASH
from casehub.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from casehub.audit.verify import VerificationReport, verify_chain

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/vnd.casehub.audit-checkpoint+json"
DOCUMENT_TYPE = "casehub.audit.checkpoint"
CHECKPOINT_ACTION = "audit.checkpoint"


# --- signing adapter: the platform's key from casehub.pki, CMS from signing.cms ------------------

def canonical_json(value: Any) -> bytes:
    from signing.cms import canonical_json as _canonical

    return _canonical(value)


def _platform_signer() -> Any:
    from casehub.pki.services import platform_signer

    return platform_signer()


def _sign(data: bytes, signer: Any) -> tuple[bytes, str]:
    """Detached CMS signature of ``data`` by the platform, and a label of who signed."""
    from signing import cms

    return cms.sign_detached(data, signer), f"{signer.name} ({signer.fingerprint[:16]})"


def _verify_signature(data: bytes, signature: bytes) -> str:
    """Raise ``signing.SigningError`` unless ``signature`` is the platform's own over ``data``.

    Checked against the platform trust store, and the certificate must be the *platform's*: an
    agency's valid certificate cannot vouch for the audit chain. The signer's claimed signing time
    is what the certificate's validity is judged at, so checkpoints stay valid after rotation.
    """
    from casehub.pki.models import PLATFORM_HOLDER
    from casehub.pki.services import trust_store
    from signing import cms
    from signing.errors import UntrustedSigner

    identity = cms.verify_detached(data, signature, trust_store())
    if identity.agency_code != PLATFORM_HOLDER:
        raise UntrustedSigner(f"signed by {identity.name}, not by the platform")
    return f"{identity.name} ({identity.fingerprint[:16]})"


# --- writing ---------------------------------------------------------------------------------------

def _document(payload: dict[str, Any], signature: bytes) -> bytes:
    return json.dumps(
        {"payload": payload, "signature": base64.b64encode(signature).decode("ascii"), "format": "cms-detached"},
        sort_keys=True, ensure_ascii=False, indent=1,
    ).encode()


def _every() -> tuple[int, timedelta]:
    return (max(1, int(getattr(settings, "CASEHUB_AUDIT_CHECKPOINT_EVERY_EVENTS", 100))),
            timedelta(minutes=float(getattr(settings, "CASEHUB_AUDIT_CHECKPOINT_EVERY_MINUTES", 15))))


def _is_due(head_sequence: int, last_sequence: int, last_signed_at: datetime | None) -> bool:
    """Enough events since the newest checkpoint, or it is old and something happened since."""
    events, minutes = _every()
    new_events = head_sequence - last_sequence
    if new_events >= events:
        return True
    # The checkpoint's own "checkpoint made" event is not news.
    return last_signed_at is not None and new_events > 1 and datetime.now(UTC) - last_signed_at >= minutes


def sign_checkpoint(*, force: bool = False, if_due: bool = False) -> AuditCheckpoint | None:
    """Sign the current head and store the checkpoint; None when nothing happened since the last one
    (or, with ``if_due``, when no checkpoint is due yet, see :func:`_is_due`).

    The head row is locked while the checkpoint is made, so the signed (sequence, hash) is the
    head at that instant and the ``audit.checkpoint`` event recording it comes right after. The
    rows since the previous checkpoint are verified first; if they do not verify, nothing is
    signed (:class:`ChainBroken`).
    """
    from casehub.audit.services import record_event
    from casehub.objectstore.services import store_bytes

    with transaction.atomic():
        # First, because issuing the platform certificate on first use records events of its own.
        signer = _platform_signer()
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        if head is None or head.sequence == 0:
            return None
        last = AuditCheckpoint.objects.order_by("-sequence").select_related("stored_object").first()
        if if_due and not force and not _is_due(head.sequence, last.sequence if last else 0,
                                                last.signed_at if last else None):
            return None
        if last is not None and not force:
            # Only our own "checkpoint made" event since the last one: nothing new to vouch for.
            new_events = head.sequence - last.sequence
            if new_events == 0 or (new_events == 1 and AuditEvent.objects.filter(
                    sequence=head.sequence, action=CHECKPOINT_ACTION).exists()):
                return None
        _verify_since(last, head)
        signed_at = datetime.now(UTC)
        payload = {
            "type": DOCUMENT_TYPE,
            "version": 1,
            "sequence": head.sequence,
            "head_hash": head.hash,
            "signed_at": signed_at.isoformat(timespec="microseconds"),
            "previous_checkpoint": last.stored_object.sha256 if last else None,
        }
        signature, signer_label = _sign(canonical_json(payload), signer)
        stored = store_bytes(_document(payload, signature), content_type=CONTENT_TYPE)
        checkpoint = AuditCheckpoint.objects.create(
            sequence=head.sequence, head_hash=head.hash, signed_at=signed_at, signer=signer_label, stored_object=stored,
        )
        _newest.update(sequence=head.sequence, signed_at=signed_at)
        record_event(CHECKPOINT_ACTION, obj=checkpoint, details={
            "sequence": head.sequence, "head_hash": head.hash, "object": stored.sha256,
        })
        return checkpoint


class ChainBroken(Exception):
    """The rows since the previous checkpoint do not verify: the head is not signed."""


def _verify_since(last: AuditCheckpoint | None, head: AuditHead) -> None:
    """Check the rows a new checkpoint would vouch for: from the previous checkpoint to the head.

    The walk is short (at most a few hundred rows between checkpoints); the full walk over every
    row is ``verify_audit``'s.
    """
    start = last.sequence if last is not None else 0
    rows = list(AuditEvent.objects.filter(sequence__gte=max(start, 1), sequence__lte=head.sequence)
                .order_by("sequence").values_list("sequence", "previous_hash", "hash"))
    expected, previous = (start, last.head_hash) if last is not None else (0, GENESIS_HASH)
    if last is not None:
        if not rows or rows[0][0] != start or rows[0][2] != last.head_hash:
            raise ChainBroken(f"the event at the previous checkpoint #{start} is missing or was changed")
        rows = rows[1:]
    for sequence, previous_hash, _hash in rows:
        if sequence != expected + 1 or previous_hash != previous:
            raise ChainBroken(f"the chain is broken at #{sequence}")
        expected, previous = sequence, _hash
    if expected != head.sequence or previous != head.hash:
        raise ChainBroken(f"the chain does not reach the head #{head.sequence}")


# What this process last knew of the newest checkpoint, so that ``record_event`` decides without a query
# whether one is due. Refreshed from the database after every signing attempt; several web processes
# may each think one is due, the locked re-check in :func:`sign_checkpoint` lets one of them sign.
_newest: dict[str, Any] = {}


def _load_newest() -> None:
    last = AuditCheckpoint.objects.order_by("-sequence").values("sequence", "signed_at").first()
    _newest.update(sequence=last["sequence"] if last else 0, signed_at=last["signed_at"] if last else None)


def schedule_if_due(sequence: int) -> None:
    """Called by ``record_event`` for each event: when a checkpoint is due, sign one after the commit."""
    if "sequence" not in _newest or sequence <= _newest["sequence"]:  # first use, or a restored database
        _load_newest()
    if _is_due(sequence, _newest["sequence"], _newest["signed_at"]):
        transaction.on_commit(functools.partial(_sign_after_commit, sequence))


def _sign_after_commit(sequence: int) -> None:
    # After the commit: the request's work is done and stays done whatever happens here. Several
    # events of one transaction may each have asked; the first one signs, the others see it here.
    if not _is_due(sequence, _newest.get("sequence", 0), _newest.get("signed_at")):
        return
    try:
        sign_checkpoint(if_due=True)
    except Exception:  # noqa: BLE001 - a store outage or a broken chain must not fail the request
        logger.exception("could not sign an audit checkpoint")
    finally:
        _load_newest()


# --- reading and verifying -----------------------------------------------------------------------

@dataclass
class CheckpointDocument:
    sha256: str
    sequence: int
    head_hash: str
    previous: str | None
    signer: str
    signed_at: datetime | None = None


def _parse(sha256: str, raw: bytes) -> CheckpointDocument:
    document = json.loads(raw)
    payload = document["payload"]
    if payload.get("type") != DOCUMENT_TYPE or payload.get("version") != 1:
        raise ValueError("not a casehub audit checkpoint")
    signer = _verify_signature(canonical_json(payload), base64.b64decode(document["signature"], validate=True))
    sequence, head_hash = payload["sequence"], payload["head_hash"]
    if not isinstance(sequence, int) or not isinstance(head_hash, str) or len(head_hash) != 64:
        raise ValueError("malformed checkpoint payload")
    signed_at = payload.get("signed_at")
    return CheckpointDocument(sha256, sequence, head_hash, payload.get("previous_checkpoint"), signer,
                              datetime.fromisoformat(signed_at) if isinstance(signed_at, str) else None)


def _scan_store_for_checkpoints() -> set[str]:
    """SHA-256 of every checkpoint document in the store, found without the database."""
    from casehub.objectstore.services import get_store
    from storage.base import sha256_from_key

    store = get_store()
    found = set()
    for key in store.iter_keys():
        sha = sha256_from_key(key)
        if sha is None:
            continue
        try:
            if store.stat(sha).content_type == CONTENT_TYPE:
                found.add(sha)
        except Exception:  # noqa: BLE001 - a vanished or unreadable object is the sweep's business
            logger.warning("could not stat %s while scanning for audit checkpoints", key)
    return found


def verify_with_checkpoints(*, scan_store: bool = True, workers: int = 1) -> VerificationReport:
    """Verify the chain, then every checkpoint against the chain, the signature and each other."""
    from casehub.objectstore.services import read_bytes

    report = VerificationReport()
    rows = {c.stored_object.sha256: c for c in AuditCheckpoint.objects.select_related("stored_object")}
    shas = set(rows)
    if scan_store:
        shas |= _scan_store_for_checkpoints()

    documents: list[CheckpointDocument] = []
    for sha in sorted(shas):
        row = rows.get(sha)
        where = row.sequence if row is not None else 0
        try:
            doc = _parse(sha, read_bytes(sha))
        except Exception as exc:  # noqa: BLE001 - every failure is a finding, whatever raised it
            report.add(where, f"checkpoint {sha[:12]}… is unreadable or its signature is invalid: {exc}")
            continue
        if row is not None and (row.sequence, row.head_hash) != (doc.sequence, doc.head_hash):
            report.add(min(row.sequence, doc.sequence),
                       f"checkpoint row #{row.sequence} does not match its signed document {sha[:12]}…")
        if row is None and scan_store:
            report.add(doc.sequence, f"signed checkpoint #{doc.sequence} ({sha[:12]}…) has no database row")
        documents.append(doc)

    documents.sort(key=lambda d: (d.sequence, d.sha256))
    previous: CheckpointDocument | None = None
    for doc in documents:
        expected = previous.sha256 if previous else None
        if doc.previous != expected:
            report.add(doc.sequence, f"checkpoint #{doc.sequence} does not follow the checkpoint before it "
                                     "(a checkpoint is missing or was forged)")
        previous = doc

    watch: dict[int, str | None] = {d.sequence: None for d in documents}
    # The "checkpoint made" event right after each signed head: cutting the newest rows of a quiet
    # trail (and moving the head back) removes it, which the signed document then shows.
    watch.update({d.sequence + 1: None for d in documents})
    verify_chain(watch=watch, report=report, workers=workers)
    good_before = 0  # the last checkpoint the chain still matches: a rewrite starts after it
    for doc in documents:
        stored = watch.get(doc.sequence)
        if stored is not None and stored == doc.head_hash:
            good_before = doc.sequence
            continue
        if doc.sequence > report.head_sequence:
            report.add(report.head_sequence + 1,
                       f"the chain ends at #{report.head_sequence} but #{doc.sequence} was signed: the tail was removed")
        elif stored is None:
            report.add(doc.sequence, f"the event at signed checkpoint #{doc.sequence} is missing")
        elif stored != doc.head_hash:
            report.add(doc.sequence, f"the chain at #{doc.sequence} differs from the signed checkpoint: "
                                     f"history between #{good_before + 1} and #{doc.sequence} was rewritten")
    for doc in documents:
        if doc.sequence <= report.head_sequence and watch.get(doc.sequence + 1) is None:
            report.add(doc.sequence + 1, f"the event recording checkpoint #{doc.sequence} is missing "
                                         "(the newest events were removed and the head moved back)")
    if documents:
        newest = documents[-1]
        report.newest_checkpoint_sequence = newest.sequence
        report.newest_checkpoint_signed_at = newest.signed_at
    report.checkpoints_checked = len(documents)
    report.findings.sort(key=lambda f: f.sequence)
    return report
