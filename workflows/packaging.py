"""Transfer packages: seal the dossier, build and sign the manifest, verify it, answer with a receipt.

Sending (inside the transition's transaction): the dossier's main-file volumes are sealed and
assembled (:func:`casehub.dossier.services.seal_and_assemble_main_volumes`), a manifest listing
the case, its numbers, the persons and their custody, every main-file document and volume with
SHA-256, size and page count, the sending agency and officer and the time is canonicalised
(:func:`signing.cms.canonical_json`) and signed by the sending agency's key
(:func:`casehub.pki.services.signer_for`). The canonical bytes and the detached CMS signature are
stored on the :class:`~workflows.models.Transfer` as they are.

Receiving: :func:`verify_package` (run by the Celery task
:func:`casehub.transfers.tasks.verify_transfer`) checks the manifest's hash and signature,
the signer's chain and revocation against the platform trust store, and re-reads every object
from storage to recompute its SHA-256; every failure names the document. The receiver's answer is
a signed receipt (:func:`answer_package`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.cases.models import CaseNumber, PersonRole
from workflows.models import Transfer, TransferStatus, VerificationStatus

logger = logging.getLogger(__name__)

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
    """The agency's detached CMS signature of ``data``, a prepared artifact (kept on the row, not in
    the store): the engine's rehearsal finds the manifest or receipt it will sign and signs it
    outside the transaction; the transaction uses that signature if it signs the same bytes."""
    from casehub.objectstore.prepared import artifact
    from casehub.pki.services import signer_for
    from signing.cms import sign_detached

    recipe = {"kind": "cms.detached", "agency": agency.code, "sha256": hashlib.sha256(data).hexdigest()}
    return artifact(recipe, lambda: sign_detached(data, signer_for(agency)), content_type="application/pkcs7-signature",
                    label=f"CMS {agency.code}", deferrable=True, store=False)


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


def sender_of(ctx: Any) -> Any:
    """Who sends the transition's packages: the holder, or the acting agency where the spec says so."""
    if ctx.spec.extra.get("sent_by_actor") and getattr(ctx.acting_user, "agency", None) is not None:
        return ctx.acting_user.agency
    return ctx.holder_before


def send_package(ctx: Any, recipient: Any, *, requires_acceptance: bool, kind: str = "") -> Transfer:
    """Seal the main file, sign the manifest and record the package as sent (or delivered).

    The sender is the agency holding the case, or — for a transition whose spec says
    ``extra["sent_by_actor"]`` (the first-instance court handing over a defendant split off while the
    court above holds the case) — the acting user's agency. ``kind`` overrides the spec's transfer kind
    (the copies a transition sends besides its package, ``extra["copies"]``)."""
    from casehub.dossier import services as dossier

    volumes = list(dossier.seal_and_assemble_main_volumes(ctx.case, acting_user=ctx.acting_user, at=ctx.now) or [])
    documents = main_documents(ctx.case)
    transfer = Transfer.objects.create(
        case=ctx.case, kind=kind or ctx.spec.transfer_kind, transition=ctx.spec.name,
        requires_acceptance=requires_acceptance, from_agency=sender_of(ctx), to_agency=recipient,
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
#
# What is verified is the manifest *as signed* (``manifest_bytes``): its hash, its CMS signature
# and signer, then its contents parsed from those bytes. The manifest data kept on the row
# (``Transfer.manifest``, which the package page shows) must be exactly the signed manifest, and the
# signed manifest must describe this transfer (id, kind, case, agencies, time, counts) and exactly
# what travels with it (``Transfer.documents`` / ``Transfer.volumes`` and their stored objects, sizes,
# page counts). Anything malformed is an error that names what it can, never an exception.

SHA256_HEX = frozenset("0123456789abcdef")

_DOCUMENT_FIELDS = ("id", "sha256", "size", "page_count", "volume")
_VOLUME_FIELDS = ("id", "sha256", "size", "page_count", "contents_page_count")


def _error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return _is_int(value) and 0 <= value <= 2**53 - 1


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= SHA256_HEX


class _Unreadable(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _Unreadable("duplicate member")
    return result


def _no_constant(name: str) -> Any:
    raise _Unreadable(name)


def _parse_signed(data: bytes) -> Any:
    """The signed bytes as JSON: strict (no duplicate members, no NaN/Infinity)."""
    return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


class _Distinct:
    """Stands for a value that cannot be canonicalised: equal to nothing but itself."""


def _canon(value: Any) -> bytes | _Distinct:
    try:
        return _canonical(value)
    except Exception:  # noqa: BLE001 - not JSON (huge integer, lone surrogate, odd type): unequal to all
        return _Distinct()


def _kind_label(kind: str) -> str:
    return _("卷") if kind == "volume" else _("文书")


def _title(entry: Any, fallback: Any = None) -> str:
    """A name for an entry: its title if it has one, else the record's, else its id."""
    if isinstance(entry, dict) and isinstance(entry.get("title"), str) and entry["title"]:
        return entry["title"][:200]
    if fallback is not None:
        return str(fallback)[:200]
    if isinstance(entry, dict) and _is_int(entry.get("id")):
        return f"#{entry['id']}"
    return "?"


def verify_package(transfer: Transfer, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Check signature, chain, revocation, what the manifest binds and every object's SHA-256.

    Never raises for bad data: every problem is an error (which blocks acceptance) naming the
    document or volume it concerns. Returns ``{"ok": bool, "errors": [...], "signature": {...},
    "objects_checked": n, "bytes": n}``.
    """
    errors: list[dict[str, Any]] = []
    report: dict[str, Any] = {"objects_checked": 0, "bytes": 0}
    try:
        _verify(transfer, errors, report, progress)
    except Exception as exc:  # noqa: BLE001 - fail closed: an unforeseen fault blocks acceptance
        logger.exception("verification of transfer %s failed unexpectedly", transfer.pk)
        errors.append(_error("internal", _("校验过程中发生内部错误（%(why)s），不能接收。")
                             % {"why": exc.__class__.__name__}))
    report["ok"] = not errors
    report["errors"] = errors
    return report


def _verify(transfer: Transfer, errors: list[dict[str, Any]], report: dict[str, Any],
            progress: Callable[[int], None] | None) -> None:
    from casehub.pki.services import trust_store
    from signing.cms import verify_detached

    data = bytes(transfer.manifest_bytes or b"")
    if hashlib.sha256(data).hexdigest() != transfer.manifest_sha256:
        errors.append(_error("manifest_hash", _("移送清单内容与其摘要不符。")))
    try:
        identity = verify_detached(data, bytes(transfer.manifest_signature or b""), trust_store(),
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

    # Everything below acts on the manifest as signed, never on the row's copy of it.
    try:
        signed = _parse_signed(data)
    except Exception:  # noqa: BLE001 - not UTF-8, not JSON, duplicate members, too deep
        signed = None
    if not isinstance(signed, dict):
        errors.append(_error("manifest_unreadable", _("签名的移送清单不是有效的 JSON 对象，无法校验其中的材料。")))
        return
    canonical = _canon(signed)  # built once: it is also what the row's copy is compared with
    if canonical != data:
        errors.append(_error("manifest_unreadable", _("签名的移送清单不是规范化（RFC 8785）的 JSON。")))

    if signed.get("format") != MANIFEST_FORMAT:
        found = signed.get("format")
        errors.append(_error("manifest_format", _("移送清单格式版本“%(found)s”不受支持（应为“%(expected)s”）。")
                             % {"found": found if isinstance(found, str) else _("缺失"), "expected": MANIFEST_FORMAT}))
        # Another format's fields may mean something else: check nothing else against it.
        _compare_stored(transfer, signed, errors, canonical)
        return

    _compare_stored(transfer, signed, errors, canonical)
    _check_header(transfer, signed, errors)
    entries = _valid_entries(signed, errors)
    if entries is None:
        return
    _check_counts(transfer, entries, errors)
    _check_contents(transfer, entries, errors)

    total = len(entries) or 1
    for i, ((kind, entry), problem) in enumerate(zip(entries, _check_objects(entries), strict=True), 1):
        report["objects_checked"] += 1
        report["bytes"] += entry["size"]
        if problem:
            errors.append(_error("object", _("%(kind)s“%(title)s”（SHA-256 %(sha)s…）%(problem)s")
                                 % {"kind": _kind_label(kind), "title": _title(entry), "sha": entry["sha256"][:12],
                                    "problem": problem}, object=kind, id=entry["id"], title=_title(entry)))
        if progress is not None and (i % 20 == 0 or i == len(entries)):
            progress(int(i * 100 / total))


def _same_json(a: Any, b: Any) -> bool:
    """The same JSON value, types included (1, 1.0 and True differ): then their canonical forms are
    equal too. json.dumps runs in C, many times faster than building the canonical form."""
    try:
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    except (TypeError, ValueError):  # not JSON: compare the canonical forms
        return False


def _compare_stored(transfer: Transfer, signed: dict[str, Any], errors: list[dict[str, Any]],
                    canonical: bytes | _Distinct) -> None:
    """The manifest kept on the row (what the package page shows) must be the signed one.

    ``canonical`` is the canonical form of ``signed`` (or a _Distinct when it has none).
    """
    stored = transfer.manifest
    if not isinstance(canonical, _Distinct) and _same_json(stored, signed):
        return
    if _canon(stored) == canonical:
        return
    if not isinstance(stored, dict):
        errors.append(_error("manifest_data", _("保存的移送清单与签名的清单不一致（%(fields)s）。")
                             % {"fields": _("整份清单")}))
        return
    fields: list[str] = []
    for key in sorted(set(stored) | set(signed), key=str):
        if key in ("documents", "volumes") and isinstance(stored.get(key), list) \
                and isinstance(signed.get(key), list):
            if _compare_stored_entries("document" if key == "documents" else "volume",
                                       signed[key], stored[key], errors):
                continue
        if key not in stored or key not in signed or _canon(stored[key]) != _canon(signed[key]):
            fields.append(str(key)[:40])
    if fields:
        errors.append(_error("manifest_data", _("保存的移送清单与签名的清单不一致（%(fields)s）。")
                             % {"fields": "、".join(fields[:10])}, fields=fields[:10]))


def _compare_stored_entries(kind: str, signed: list[Any], stored: list[Any], errors: list[dict[str, Any]]) -> bool:
    """Name every signed entry that the row's copy dropped, replaced or changed, and every entry the
    copy added. True when that accounts for the whole difference (else the list is reported as a
    field, e.g. when only the order changed)."""
    if _canon(signed) == _canon(stored):
        return True

    def key(entry: Any) -> Any:
        return entry["id"] if isinstance(entry, dict) and _is_int(entry.get("id")) else None

    stored_by_id: dict[Any, list[Any]] = {}
    for entry in stored:
        stored_by_id.setdefault(key(entry), []).append(entry)
    signed_ids = {key(entry) for entry in signed}
    named = False
    for entry in signed:
        copies = stored_by_id.get(key(entry), []) if key(entry) is not None else []
        if not any(_canon(copy) == _canon(entry) for copy in copies):
            named = True
            errors.append(_error("manifest_data", _("%(kind)s“%(title)s”：保存的移送清单与签名的清单不一致（被删除、替换或改动）。")
                                 % {"kind": _kind_label(kind), "title": _title(entry)},
                                 object=kind, id=key(entry), title=_title(entry)))
    for entry in stored:
        if key(entry) is None or key(entry) not in signed_ids:
            named = True
            errors.append(_error("manifest_data", _("%(kind)s“%(title)s”出现在保存的移送清单中，但不在签名的清单中。")
                                 % {"kind": _kind_label(kind), "title": _title(entry)},
                                 object=kind, id=key(entry), title=_title(entry)))
    return named


def _section(signed: dict[str, Any], name: str) -> dict[str, Any]:
    value = signed.get(name)
    return value if isinstance(value, dict) else {}


def _check_header(transfer: Transfer, signed: dict[str, Any], errors: list[dict[str, Any]]) -> None:
    """The signed manifest describes this transfer, not another one it was copied from."""
    head, case = _section(signed, "transfer"), _section(signed, "case")
    sender, receiver = _section(signed, "from"), _section(signed, "to")
    try:
        sent_at = datetime.fromisoformat(signed["sent_at"]) == transfer.sent_at
    except Exception:  # noqa: BLE001 - missing, not a string, not a time, naive vs aware
        sent_at = False
    checks = [
        (_("移送编号"), _is_int(head.get("id")) and head["id"] == transfer.pk),
        (_("移送类别"), head.get("kind") == transfer.kind),
        (_("需接收审查"), isinstance(head.get("requires_acceptance"), bool)
         and head["requires_acceptance"] == transfer.requires_acceptance),
        (_("案件"), _is_int(case.get("id")) and case["id"] == transfer.case_id),
        (_("移送机关"), sender.get("id") == transfer.from_agency_id and isinstance(sender.get("code"), str)
         and sender["code"] == transfer.from_agency.code),
        (_("接收机关"), receiver.get("id") == transfer.to_agency_id and isinstance(receiver.get("code"), str)
         and receiver["code"] == transfer.to_agency.code),
        (_("移送时间"), sent_at),
    ]
    for label, ok in checks:
        if not ok:
            errors.append(_error("manifest_binding", _("移送清单中的%(field)s缺失或与本次移送不符。")
                                 % {"field": label}))


def _valid_entries(signed: dict[str, Any], errors: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]] | None:
    """The volumes and documents of the signed manifest, each checked for shape; None if unusable."""
    entries: list[tuple[str, dict[str, Any]]] = []
    usable = True
    for kind, key, label, fields in (("volume", "volumes", _("卷列表"), _VOLUME_FIELDS),
                                     ("document", "documents", _("文书列表"), _DOCUMENT_FIELDS)):
        items = signed.get(key)
        if not isinstance(items, list):
            errors.append(_error("manifest_format", _("移送清单中的%(field)s缺失或不是列表。") % {"field": label}))
            usable = False
            continue
        seen: set[int] = set()
        for index, entry in enumerate(items, 1):
            problem = _entry_problem(entry, fields)
            if problem is not None:
                usable = False
                errors.append(_error("manifest_entry", _("%(kind)s“%(title)s”（清单第 %(index)s 项）的%(field)s缺失或格式不正确。")
                                     % {"kind": _kind_label(kind), "title": _title(entry), "index": index,
                                        "field": problem},
                                     object=kind, id=entry.get("id") if isinstance(entry, dict) else None,
                                     title=_title(entry)))
                continue
            if entry["id"] in seen:
                usable = False
                errors.append(_error("manifest_entry", _("%(kind)s“%(title)s”在移送清单中重复列出。")
                                     % {"kind": _kind_label(kind), "title": _title(entry)},
                                     object=kind, id=entry["id"], title=_title(entry)))
                continue
            seen.add(entry["id"])
            entries.append((kind, entry))
    return entries if usable else None


def _entry_problem(entry: Any, fields: tuple[str, ...]) -> str | None:
    """The label of the first missing or malformed field of a manifest entry, or None."""
    if not isinstance(entry, dict):
        return _("条目内容")
    labels = {"id": _("编号"), "sha256": "SHA-256", "size": _("大小"), "page_count": _("页数"),
              "volume": _("所属卷"), "contents_page_count": _("目录页数"), "title": _("标题")}
    for name in fields:
        value = entry.get(name)
        if name == "id":
            ok = _is_count(value)
        elif name == "sha256":
            ok = _is_sha256(value)
        elif name == "volume":
            ok = name in entry and (value is None or _is_count(value))
        else:
            ok = _is_count(value)
        if not ok:
            return labels[name]
    if not isinstance(entry.get("title", ""), str):
        return labels["title"]
    return None


def _check_counts(transfer: Transfer, entries: list[tuple[str, dict[str, Any]]],
                  errors: list[dict[str, Any]]) -> None:
    """The row's counts (circulation rates, inbox) are those of the signed manifest."""
    documents = [e for kind, e in entries if kind == "document"]
    volumes = [e for kind, e in entries if kind == "volume"]
    checks = [
        (_("文书数"), transfer.document_count == len(documents)),
        (_("卷数"), transfer.volume_count == len(volumes)),
        (_("页数"), transfer.page_count == sum(e["page_count"] for e in documents)),
        (_("总大小"), transfer.total_bytes == sum(e["size"] for e in documents)),
    ]
    for label, ok in checks:
        if not ok:
            errors.append(_error("manifest_binding", _("本次移送记录的%(field)s与签名的移送清单不符。")
                                 % {"field": label}))


def _check_contents(transfer: Transfer, entries: list[tuple[str, dict[str, Any]]],
                    errors: list[dict[str, Any]]) -> None:
    """The signed manifest lists exactly what travels (``Transfer.documents`` / ``.volumes``) and
    says of each what the platform records: the stored object, its size and page counts."""
    travelling: dict[str, dict[int, Any]] = {
        "document": {d.pk: d for d in transfer.documents.select_related("stored").order_by("pk")},
        "volume": {v.pk: v for v in transfer.volumes.select_related("assembled").order_by("pk")},
    }
    listed: dict[str, set[int]] = {"document": set(), "volume": set()}
    for kind, entry in entries:
        listed[kind].add(entry["id"])
        record = travelling[kind].get(entry["id"])
        if record is None:
            errors.append(_error("contents", _("%(kind)s“%(title)s”列入了签名的移送清单，但不在本次移送的材料中。")
                                 % {"kind": _kind_label(kind), "title": _title(entry)},
                                 object=kind, id=entry["id"], title=_title(entry)))
            continue
        differing = _differences(kind, entry, record)
        if differing:
            errors.append(_error("contents", _("%(kind)s“%(title)s”的%(fields)s与平台记录不符。")
                                 % {"kind": _kind_label(kind), "title": _title(entry, record),
                                    "fields": "、".join(differing)},
                                 object=kind, id=entry["id"], title=_title(entry, record)))
    for kind, records in travelling.items():
        for pk, record in records.items():
            if pk not in listed[kind]:
                errors.append(_error("contents", _("%(kind)s“%(title)s”随本次移送送出，但未列入签名的移送清单。")
                                     % {"kind": _kind_label(kind), "title": _title(None, record)},
                                     object=kind, id=pk, title=_title(None, record)))


def _differences(kind: str, entry: dict[str, Any], record: Any) -> list[str]:
    if kind == "document":
        stored = record.stored
        pairs = [
            ("SHA-256", entry["sha256"] == record.sha256),
            (_("存储对象"), stored is not None and stored.sha256 == entry["sha256"] and stored.size == entry["size"]),
            (_("大小"), entry["size"] == record.size),
            (_("页数"), entry["page_count"] == record.page_count),
            (_("所属卷"), entry["volume"] == record.volume_id),
        ]
    else:
        stored = record.assembled
        pairs = [
            ("SHA-256", entry["sha256"] == record.sha256),
            (_("存储对象"), stored is not None and stored.sha256 == entry["sha256"] and stored.size == entry["size"]),
            (_("页数"), entry["page_count"] == record.page_count),
            (_("目录页数"), entry["contents_page_count"] == record.contents_page_count),
        ]
    return [label for label, ok in pairs if not ok]


def _hashing_threads() -> int:
    """SHA-256 in hashlib releases the GIL on large buffers: one reading thread per core."""
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except AttributeError:  # not Linux
        return max(1, min(4, os.cpu_count() or 1))


def _check_objects(entries: list[tuple[str, dict[str, Any]]]) -> Iterator[str | None]:
    """:func:`_check_object` of every entry, in order, read and hashed by one thread per core
    (each object is checked on its own; a reader takes the next object when it is done)."""
    threads = _hashing_threads()
    if threads == 1 or len(entries) < 2:
        yield from (_check_object(entry) for _kind, entry in entries)
        return
    from concurrent.futures import ThreadPoolExecutor

    from django.utils import translation

    language = translation.get_language()  # the problem is worded in the caller's language

    def check(entry: dict[str, Any]) -> str | None:
        with translation.override(language):
            return _check_object(entry)

    with ThreadPoolExecutor(threads, thread_name_prefix="verify-objects") as pool:
        yield from pool.map(check, [entry for _kind, entry in entries])


def _check_object(entry: dict[str, Any]) -> str | None:
    """Re-read the object and hash every byte against the manifest's SHA-256.

    The store's :class:`storage.VerifyingReader` hashes what it delivers and raises
    ``IntegrityError`` on the read that would complete altered content; the object's name *is*
    the manifest's hash, so reading to the end is the check — one pass, no second hash.
    ``entry`` has been checked by :func:`_valid_entries` (a SHA-256 in hex, a size).
    """
    from casehub.objectstore import services as objects
    from storage import IntegrityError, ObjectNotFound

    expected = entry["sha256"]
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
    if size != entry["size"]:
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
    """The sender checks the receipt it got back: hash, signature by the receiving agency, and that
    it answers this transfer's manifest (format, transfer, case, manifest hash, result) exactly as
    the row shows it. Any failure, malformed data included, means the receipt is not proven."""
    from casehub.pki.services import trust_store
    from signing.cms import verify_detached

    try:
        data = bytes(transfer.receipt_bytes or b"")
        if not data or hashlib.sha256(data).hexdigest() != transfer.receipt_sha256:
            return False
        identity = verify_detached(data, bytes(transfer.receipt_signature or b""), trust_store(),
                                   trusted_time=transfer.decided_at)
        if identity.agency_code != transfer.to_agency.code:
            return False
        receipt = _parse_signed(data)
        if not isinstance(receipt, dict) or _canon(receipt) != data or _canon(transfer.receipt) != data:
            return False
        expected_result = {TransferStatus.ACCEPTED: "accepted", TransferStatus.REJECTED: "rejected"}
        return (receipt.get("format") == RECEIPT_FORMAT
                and _is_int(receipt.get("transfer")) and receipt["transfer"] == transfer.pk
                and receipt.get("case") == transfer.case_id
                and receipt.get("manifest_sha256") == transfer.manifest_sha256
                and receipt.get("result") == expected_result.get(transfer.status))
    except Exception:  # noqa: BLE001 - invalid, untrusted, revoked, malformed: not proven
        return False


def suspects(case: Any) -> list[Any]:
    return list(case.persons.filter(role=PersonRole.SUSPECT))
