"""Transfer packages: seal the dossier, build and sign the manifest, verify it, answer with a receipt.

Sending (inside the transition's transaction): the dossier's main-file volumes are sealed and
assembled (:func:`casehub.dossier.services.seal_and_assemble_main_volumes`), a manifest listing
the case, its numbers, the persons and their custody, every main-file document and volume with
SHA-256, size and page count, the sending agency and officer and the time is canonicalised
(:func:`signing.cms.canonical_json`) and signed by the sending agency's key
(:func:`casehub.pki.services.signer_for`). The canonical bytes and the detached CMS signature are
stored on the :class:`~casehub.transfers.models.Transfer` as they are.

Receiving: :func:`verify_package` (run by the Celery task
:func:`casehub.transfers.tasks.verify_transfer`) checks the manifest's hash and signature,
the signer's chain and revocation against the platform trust store, and re-reads every object
from storage to recompute its SHA-256; every failure names the document. The receiver's answer is
a signed receipt (:func:`answer_package`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.cases.models import CaseNumber, PersonRole
from casehub.transfers.models import Transfer, TransferStatus, VerificationStatus

MANIFEST_FORMAT = "casehub.transfer-manifest/1"
RECEIPT_FORMAT = "casehub.transfer-receipt/1"
CHUNK = 4 * 1024 * 1024


# --- dossier access -------------------------------------------------------------------------


def main_documents(case: Any) -> list[Any]:
    from casehub.dossier import services as dossier

    return list(dossier.main_file_documents(case))


def has_main_documents(case: Any) -> bool:
    return bool(main_documents(case))


def _canonical(value: Any) -> bytes:
    from signing.cms import canonical_json

    return canonical_json(value)


def _sign(agency: Any, data: bytes) -> bytes:
    from casehub.pki.services import signer_for
    from signing.cms import sign_detached

    return sign_detached(data, signer_for(agency))


# --- sending --------------------------------------------------------------------------------


def _agency(a: Any) -> dict[str, Any]:
    return {"id": a.pk, "code": a.code, "name": a.name, "kind": a.kind}


def _person(p: Any) -> dict[str, Any]:
    return {
        "id": p.pk, "role": p.role, "name": p.name, "sex": p.sex, "id_number": p.id_number,
        "birth_date": p.birth_date.isoformat() if p.birth_date else None,
        "custody_status": p.custody_status,
        "custody_since": p.custody_since.isoformat() if p.custody_since else None,
        "detention_centre": p.detention_centre.code if p.detention_centre_id else None,
    }


def _document_entry(doc: Any) -> dict[str, Any]:
    return {"id": doc.pk, "title": doc.title, "sha256": doc.sha256, "size": doc.size,
            "page_count": doc.page_count, "volume": doc.volume_id, "first_page": doc.first_page,
            "category": doc.category, "author_agency": doc.author_agency.code}


def _volume_entry(volume: Any) -> dict[str, Any]:
    # The assembled, signed volume PDF: contents pages plus the numbered document pages.
    return {"id": volume.pk, "title": str(volume), "number": volume.number, "agency": volume.agency.code,
            "sha256": volume.sha256, "size": volume.assembled.size if volume.assembled_id else None,
            "page_count": volume.page_count, "contents_page_count": volume.contents_page_count}


def build_manifest(ctx: Any, transfer: Transfer, volumes: list[Any], documents: list[Any]) -> dict[str, Any]:
    case = ctx.case
    officer = ctx.actor
    return {
        "format": MANIFEST_FORMAT,
        "transfer": {"id": transfer.pk, "kind": transfer.kind, "transition": ctx.spec.name,
                     "requires_acceptance": transfer.requires_acceptance},
        "case": {
            "id": case.pk, "title": case.title, "stage": ctx.source,
            "numbers": [{"kind": n.kind, "number": n.number, "agency": n.agency.code}
                        for n in CaseNumber.objects.filter(case=case).select_related("agency")],
            "offences": [o.name for o in case.offences.all()],
        },
        "persons": [_person(p) for p in case.persons.select_related("detention_centre").order_by("id")],
        "volumes": [_volume_entry(v) for v in volumes],
        "documents": [_document_entry(doc) for doc in documents],
        "from": _agency(transfer.from_agency),
        "to": _agency(transfer.to_agency),
        "officer": {"id": officer.pk, "username": officer.get_username(), "name": str(officer),
                    "badge": getattr(officer, "badge_number", "")},
        "approved_by": ctx.acting_user.get_username() if ctx.approval is not None else None,
        "reason": str(ctx.inputs.get("reason") or ""),
        "numbers_issued": ctx.numbers,
        "sent_at": ctx.now.isoformat(),
    }


def send_package(ctx: Any, recipient: Any, *, requires_acceptance: bool) -> Transfer:
    """Seal the main file, sign the manifest and record the package as sent (or delivered)."""
    from casehub.dossier import services as dossier

    volumes = list(dossier.seal_and_assemble_main_volumes(ctx.case, acting_user=ctx.acting_user) or [])
    documents = main_documents(ctx.case)
    transfer = Transfer.objects.create(
        case=ctx.case, kind=ctx.spec.transfer_kind, transition=ctx.spec.name,
        requires_acceptance=requires_acceptance, from_agency=ctx.holder_before, to_agency=recipient,
        sender_stage=ctx.source, sent_by=ctx.actor, sent_at=ctx.now,
        status=TransferStatus.SENT if requires_acceptance else TransferStatus.DELIVERED,
    )
    manifest = build_manifest(ctx, transfer, volumes, documents)
    data = _canonical(manifest)
    transfer.manifest = manifest
    transfer.manifest_bytes = data
    transfer.manifest_sha256 = hashlib.sha256(data).hexdigest()
    transfer.manifest_signature = _sign(transfer.from_agency, data)
    transfer.document_count = len(documents)
    transfer.volume_count = len(volumes)
    transfer.page_count = sum(int(doc.page_count or 0) for doc in documents)
    transfer.total_bytes = sum(int(doc.size or 0) for doc in documents)
    # Complete: every current main-file document is bound into an assembled volume that travels.
    volume_ids = {v.pk for v in volumes}
    transfer.dossier_complete = bool(documents) and all(doc.volume_id in volume_ids for doc in documents)
    transfer.electronic = True
    transfer.save()
    transfer.documents.set(documents)
    transfer.volumes.set(volumes)
    # Verification re-reads every object; it runs after commit so the receiver's inbox shows progress.
    pk = transfer.pk
    ctx.after_commit.append(lambda: _start_verification(pk))
    return transfer


def _start_verification(pk: int) -> None:
    from casehub.transfers.tasks import verify_transfer

    verify_transfer.delay(pk)


# --- verifying ------------------------------------------------------------------------------


def _error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


def verify_package(transfer: Transfer, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Check signature, chain, revocation and every object's SHA-256; never raises for bad data.

    Returns ``{"ok": bool, "errors": [...], "signature": {...}, "objects_checked": n, "bytes": n}``.
    """
    from casehub.pki.services import trust_store
    from signing.cms import verify_detached

    errors: list[dict[str, Any]] = []
    data = bytes(transfer.manifest_bytes)
    report: dict[str, Any] = {"objects_checked": 0, "bytes": 0}
    if hashlib.sha256(data).hexdigest() != transfer.manifest_sha256:
        errors.append(_error("manifest_hash", _("移送清单内容与其摘要不符。")))
    try:
        identity = verify_detached(data, bytes(transfer.manifest_signature), trust_store(),
                                   trusted_time=transfer.sent_at)
        report["signature"] = {"signer": identity.name, "agency_code": identity.agency_code,
                               "serial": identity.serial, "fingerprint": identity.fingerprint,
                               "signing_time": identity.signing_time.isoformat() if identity.signing_time else None,
                               "time_source": identity.time_source}
        if identity.agency_code != transfer.from_agency.code:
            errors.append(_error("signer", _("移送清单不是由移送机关签名的（签名机关代码 %(code)s）。")
                                 % {"code": identity.agency_code}))
    except Exception as exc:  # noqa: BLE001 - invalid, untrusted, expired, revoked: all block acceptance
        errors.append(_error("signature", _("移送清单签名验证未通过：%(why)s") % {"why": exc}))
    manifest = transfer.manifest or {}
    entries = [("volume", v) for v in manifest.get("volumes", [])] + [
        ("document", doc) for doc in manifest.get("documents", [])]
    total = len(entries) or 1
    for i, (kind, entry) in enumerate(entries, 1):
        problem = _check_object(entry)
        report["objects_checked"] += 1
        report["bytes"] += int(entry.get("size") or 0)
        if problem:
            label = _("卷") if kind == "volume" else _("文书")
            errors.append(_error("object", _("%(kind)s“%(title)s”（SHA-256 %(sha)s…）%(problem)s")
                                 % {"kind": label, "title": entry.get("title", ""), "sha": entry["sha256"][:12],
                                    "problem": problem}, object=kind, id=entry.get("id"), title=entry.get("title")))
        if progress is not None and (i % 20 == 0 or i == len(entries)):
            progress(int(i * 100 / total))
    report["ok"] = not errors
    report["errors"] = errors
    return report


def _check_object(entry: dict[str, Any]) -> str | None:
    """Re-read the object and hash every byte against the manifest's SHA-256.

    The store's :class:`storage.VerifyingReader` hashes what it delivers and raises
    ``IntegrityError`` on the read that would complete altered content; the object's name *is*
    the manifest's hash, so reading to the end is the check — one pass, no second hash.
    """
    from casehub.objectstore import services as objects
    from storage import IntegrityError, ObjectNotFound

    expected = entry.get("sha256", "")
    size = 0
    try:
        with objects.get_store().open(expected) as reader:
            if reader.sha256 != expected:  # pragma: no cover - a store that ignores the name
                return _("内容与清单中的摘要不符（已被篡改）。")
            while chunk := reader.read(CHUNK):
                size += len(chunk)
    except ObjectNotFound:
        return _("在存储中不存在。")
    except IntegrityError:
        return _("内容与清单中的摘要不符（已被篡改）。")
    except Exception as exc:  # noqa: BLE001 - store down or unreadable: all block acceptance
        return _("读取失败：%(why)s") % {"why": exc.__class__.__name__}
    if entry.get("size") is not None and size != int(entry["size"]):
        return _("大小与清单不符。")
    return None


def record_verification(transfer: Transfer, report: dict[str, Any]) -> None:
    transfer.verification_status = VerificationStatus.PASSED if report["ok"] else VerificationStatus.FAILED
    transfer.verification_errors = report["errors"]
    transfer.verification_report = {k: v for k, v in report.items() if k != "errors"}
    transfer.verification_progress = 100
    transfer.verified_at = timezone.now()
    transfer.save(update_fields=["verification_status", "verification_errors", "verification_report",
                                 "verification_progress", "verified_at"])


# --- answering ------------------------------------------------------------------------------


def answer_package(ctx: Any, transfer: Transfer, *, accepted: bool) -> None:
    """The receiver's signed receipt: accepted or rejected, reason, time, the verified manifest hash."""
    transfer.status = TransferStatus.ACCEPTED if accepted else TransferStatus.REJECTED
    transfer.decided_by, transfer.decided_at = ctx.acting_user, ctx.now
    transfer.decision_reason = str(ctx.inputs.get("reason") or "")
    receipt = {
        "format": RECEIPT_FORMAT,
        "transfer": transfer.pk,
        "case": transfer.case_id,
        "result": "accepted" if accepted else "rejected",
        "reason": transfer.decision_reason,
        "manifest_sha256": transfer.manifest_sha256,
        "verification": transfer.verification_status,
        "verified_at": transfer.verified_at.isoformat() if transfer.verified_at else None,
        "receiver": _agency(transfer.to_agency),
        "officer": {"id": ctx.acting_user.pk, "username": ctx.acting_user.get_username(),
                    "name": str(ctx.acting_user)},
        "numbers_issued": ctx.numbers,
        "answered_at": ctx.now.isoformat(),
    }
    data = _canonical(receipt)
    transfer.receipt = receipt
    transfer.receipt_bytes = data
    transfer.receipt_sha256 = hashlib.sha256(data).hexdigest()
    transfer.receipt_signature = _sign(transfer.to_agency, data)
    transfer.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "receipt",
                                 "receipt_bytes", "receipt_sha256", "receipt_signature"])


def verify_receipt(transfer: Transfer) -> bool:
    """The sender checks the receipt it got back (signature by the receiving agency, hash)."""
    from casehub.pki.services import trust_store
    from signing.cms import verify_detached

    data = bytes(transfer.receipt_bytes)
    if not data or hashlib.sha256(data).hexdigest() != transfer.receipt_sha256:
        return False
    try:
        identity = verify_detached(data, bytes(transfer.receipt_signature), trust_store(),
                                   trusted_time=transfer.decided_at)
    except Exception:  # noqa: BLE001 - any failure means the receipt is not proven
        return False
    return identity.agency_code == transfer.to_agency.code


def suspects(case: Any) -> list[Any]:
    return list(case.persons.filter(role=PersonRole.SUSPECT))
