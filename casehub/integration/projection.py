"""From an audit event to the public events of the catalogue, one row per agency that may see it.

Called by :func:`casehub.audit.services.record_event` inside its transaction: :func:`prepare` before
the audit head is locked (the queries), :func:`write` after the audit rows are written and while
the head is locked (see :mod:`casehub.integration.models` for why
that makes the cursor durable). The audience of each event comes from immutable facts of the
object (a transfer's sender and receiver, a clock's agency, a certificate's parties), never from
who happens to hold the case later. The entries are also the webhooks' outbox: nothing else is
written for webhooks in the change's transaction; if the agencies have endpoints, one wake-up of
the delivery worker is asked for after the commit (at most one per transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from casehub.integration.catalogue import EVENT_TYPES
from casehub.integration.models import FeedEntry, WebhookEndpoint


@dataclass
class Public:
    type: str
    audience: set[int]
    data: dict[str, Any] = field(default_factory=dict)


# The handover kinds of the process definition, to the event a package transition means.
_HANDOVER_EVENT = {
    "send": "package.sent", "deliver": "package.delivered", "notify": "package.delivered",
    "accept": "package.accepted", "reject": "package.rejected", "withdraw": "package.withdrawn",
}
_JUDGMENT_KIND = "judgment"


def _case(case_id: int | None) -> dict[str, Any] | None:
    if case_id is None:
        return None
    from casehub.cases.models import Case, CaseNumber

    case = Case.objects.filter(pk=case_id).only("stage", "status").first()
    numbers = [
        {"agency": n["agency__code"], "kind": n["kind"], "number": n["number"]}
        for n in CaseNumber.objects.filter(case_id=case_id).order_by("issued_at", "id")
        .values("agency__code", "kind", "number")
    ]
    return {"id": case_id, "stage": getattr(case, "stage", None), "status": getattr(case, "status", None),
            "numbers": numbers}


def _transfer(t: Any) -> dict[str, Any]:
    return {
        "id": t.pk, "kind": t.kind, "mode": t.mode, "status": t.status,
        "from_agency": t.from_agency.code, "to_agency": t.to_agency.code,
        "manifest_sha256": t.manifest_sha256 or None,
    }


def _workflow(event: Any, log: Any) -> list[Public]:
    from workflows import definition as d

    name = event.action.removeprefix("workflow.")
    out: list[Public] = []
    if name in ("approval_requested", "approval_rejected", "approval_cancelled"):
        approval = log  # for these actions the audited object is the approval request
        return [Public(f"approval.{name.removeprefix('approval_')}", {approval.agency_id},
                       {"approval": approval.pk, "transition": approval.transition})]
    if name == "failed" or log is None or not hasattr(log, "transition"):
        return []
    try:
        spec = d.get(log.transition)
    except KeyError:
        spec = None
    audience = {a for a in (log.from_agency_id, log.to_agency_id) if a}
    out.append(Public("case.transitioned", audience,
                      {"transition": log.transition, "from_stage": log.source, "to_stage": log.target}))
    if log.approval_id:
        out.append(Public("approval.approved", {log.actor_agency_id},
                          {"approval": log.approval_id, "transition": log.transition}))
    handover = getattr(spec, "handover", None)
    kind = _HANDOVER_EVENT.get(handover or "")
    if kind:
        transfer_model = type(log)._meta.get_field("transfer").related_model
        ids = event.details.get("transfers") or ([log.transfer_id] if log.transfer_id else [])
        for t in transfer_model.objects.filter(pk__in=ids).select_related("from_agency", "to_agency").order_by("id"):
            type_ = "judgment.delivered" if kind == "package.delivered" and t.kind == _JUDGMENT_KIND else kind
            out.append(Public(type_, {t.from_agency_id, t.to_agency_id},
                              {"transfer": _transfer(t), "transition": log.transition}))
    return out


def _clock(event: Any, clock: Any) -> list[Public]:
    type_ = event.action
    if type_ == "clock.stopped":
        return [Public(type_, {event.agency_id} if event.agency_id else set(),
                       {"clocks": [{"id": pk, "kind": kind} for pk, kind in
                                   zip(event.details.get("clocks", []), event.details.get("kinds", []), strict=False)]})]
    if clock is None:
        return []
    return [Public(type_, {clock.agency_id}, {"clock": {
        "id": clock.pk, "kind": clock.kind, "person": clock.person_id, "status": clock.status,
        "started_at": clock.started_at.isoformat() if clock.started_at else None,
        "due_date": clock.due_date.isoformat() if clock.due_date else None,
        "custody": clock.custody,
    }})]


def _certificates(event: Any, _obj: Any) -> list[Public]:
    from casehub.custody.models import CustodyCertificate

    type_ = {"custody.certificates_issued": "custody.certificate_issued",
             "custody.taken_over": "custody.certificate_taken_over"}[event.action]
    numbers = event.details.get("certificates") or []
    return [
        Public(type_, {c.from_agency_id, c.to_agency_id, c.detention_centre_id}, {"certificate": _certificate(c)})
        for c in CustodyCertificate.objects.filter(number__in=numbers).select_related(
            "from_agency", "to_agency", "detention_centre").order_by("id")
    ]


def _certificate(c: Any) -> dict[str, Any]:
    return {
        "id": c.pk, "number": c.number, "person": c.person_id, "status": c.status, "channel": c.channel,
        "from_agency": c.from_agency.code, "to_agency": c.to_agency.code,
        "detention_centre": c.detention_centre.code,
        "period_start": c.period_start.isoformat() if getattr(c, "period_start", None) else None,
        "period_end": c.period_end.isoformat() if getattr(c, "period_end", None) else None,
    }


def _acknowledged(event: Any, obj: Any) -> list[Public]:
    if obj is None:
        return []
    issuer = getattr(obj, "from_agency_id", None) or getattr(obj, "agency_id", None)
    return [Public("custody.acknowledged", {a for a in (obj.detention_centre_id, issuer) if a},
                   {"certificate": {"id": obj.pk, "number": obj.number, "type": type(obj).__name__}})]


def _notice(event: Any, notice: Any) -> list[Public]:
    if notice is None:
        return []
    return [Public("custody.notice_issued", {a for a in (event.agency_id, notice.detention_centre_id) if a},
                   {"notice": {"id": notice.pk, "number": notice.number, "kind": notice.kind,
                               "person": getattr(notice, "person_id", None)}})]


def _document(event: Any, doc: Any) -> list[Public]:
    if doc is None or not event.agency_id:
        return []
    return [Public("document.added", {event.agency_id}, {"document": {
        "id": doc.pk, "part": doc.part, "category": doc.category, "sha256": doc.sha256,
        "pages": doc.page_count, "generated": bool(getattr(doc, "generated", False)),
    }})]


def _sealed(event: Any, _obj: Any) -> list[Public]:
    if not event.agency_id:
        return []
    return [Public("volume.sealed", {event.agency_id},
                   {"volumes": [{"id": v["id"], "number": v["number"], "pages": v["pages"]}
                                for v in event.details.get("volumes", [])], "part": event.details.get("part")})]


_PROJECTORS: dict[str, Callable[[Any, Any], list[Public]]] = {
    **{f"clock.{k}": _clock for k in ("opened", "warning", "overdue", "extended", "stopped")},
    "custody.certificates_issued": _certificates,
    "custody.taken_over": _certificates,
    "custody.acknowledged": _acknowledged,
    "custody.notice_issued": _notice,
    "document.uploaded": _document,
    "document.generated": _document,
    "volume.sealed": _sealed,
}


def projector_for(action: str) -> Callable[[Any, Any], list[Public]] | None:
    if action.startswith("workflow."):
        return _workflow
    return _PROJECTORS.get(action)


def prepare(event: Any, obj: Any) -> list[FeedEntry]:
    """The feed rows of one audit event, not yet numbered: run before the audit head is locked (the
    event has everything but its sequence). Asks for the webhook worker's wake-up if the agencies
    have endpoints. An empty list for the rest."""
    projector = projector_for(event.action)
    if projector is None:
        return []
    publics = [p for p in projector(event, obj) if p.audience]
    if not publics:
        return []
    case = _case(event.case_id)
    entries = []
    positions: dict[int, int] = {}
    for public in publics:
        assert public.type in EVENT_TYPES, public.type  # the catalogue is the contract
        for agency_id in sorted(public.audience):
            position = positions[agency_id] = positions.get(agency_id, -1) + 1
            entries.append(FeedEntry(
                agency_id=agency_id, position=position, type=public.type,
                occurred_at=event.occurred_at, case_id=event.case_id, data={"case": case, **public.data},
            ))
    agencies = {e.agency_id for e in entries}
    if WebhookEndpoint.objects.filter(agency_id__in=agencies, active=True).exists():
        _wake_after_commit()
    return entries


def write(pairs: list[tuple[Any, list[FeedEntry]]]) -> None:
    """Insert the feed rows of a batch of audit events, now numbered: under the audit head's lock,
    one statement for the whole batch."""
    entries = []
    for event, rows in pairs:
        for entry in rows:
            entry.sequence = event.sequence
            entries.append(entry)
    if entries:
        FeedEntry.objects.bulk_create(entries)


def _wake_after_commit() -> None:
    """Ask for one wake-up of the delivery worker when the transaction commits: once per commit,
    however many events the transaction writes; a rolled-back transaction asks for none.

    Every projected event registers a callback (so that one in a rolled-back savepoint does not
    take the others with it); the callbacks of one transaction share a group that runs once.
    """
    connection = transaction.get_connection()
    group = next((func.group for _s, func, _r in connection.run_on_commit
                  if isinstance(func, _Wake) and not func.group.ran), None)
    transaction.on_commit(_Wake(group or _WakeGroup()))


class _WakeGroup:
    def __init__(self) -> None:
        self.ran = False


class _Wake:
    def __init__(self, group: _WakeGroup) -> None:
        self.group = group

    def __call__(self) -> None:
        if self.group.ran:
            return
        self.group.ran = True
        from casehub.integration.tasks import request_wake

        request_wake()
