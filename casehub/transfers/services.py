"""Service functions of transfers that are not workflow transitions: paper registrations and
re-running a verification. Transitions themselves live in :mod:`workflows.engine`."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from casehub.agencies.models import Agency
from casehub.agencies.permissions import REGISTER_PAPER_TRANSFER, REVIEW_INCOMING, has_capability
from casehub.audit.services import record_event
from casehub.cases.selectors import visible_cases
from workflows.models import Transfer, TransferKind, TransferMode, TransferStatus, VerificationStatus


def register_paper_transfer(
    *, acting_user: Any, from_agency: Agency, kind: str, received_on: date, volumes: int, pages: int,
    reason: str, external_reference: str = "", case: Any = None, complete: bool = False,
) -> Transfer:
    """The receiving clerk registers a hand-over that happened on paper, outside the platform.

    It moves no case (the platform's copy of the case, if any, is unaffected) but counts as an
    offline transfer in the circulation rates: ``mode=paper``, ``electronic=False``.
    """
    agency = acting_user.agency
    if agency is None or not has_capability(acting_user, REGISTER_PAPER_TRANSFER):
        raise PermissionDenied(_("您的角色不能登记纸质移送。"))
    errors: dict[str, str] = {}
    if kind not in TransferKind.values:
        errors["kind"] = _("移送类别无效。")
    if from_agency is None or from_agency.pk == agency.pk:
        errors["from_agency"] = _("请选择移送机关（不能是本机关）。")
    if received_on is None or received_on > timezone.localdate():
        errors["received_on"] = _("接收日期不能晚于今天。")
    if volumes is None or volumes < 1 or volumes > 10000:
        errors["volumes"] = _("卷数应为 1 至 10000。")
    if pages is None or pages < 1 or pages > 10_000_000:
        errors["pages"] = _("页数应为正数。")
    if not (reason or "").strip():
        errors["reason"] = _("请说明未通过平台移送的原因。")
    if case is not None and not visible_cases(acting_user).filter(pk=case.pk).exists():
        errors["case"] = _("找不到该案件。")
    if case is None and not (external_reference or "").strip():
        errors["external_reference"] = _("请填写案件名称或文号。")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic(durable=True):
        transfer = Transfer.objects.create(
            case=case, kind=kind, mode=TransferMode.PAPER, requires_acceptance=False, from_agency=from_agency,
            to_agency=agency, status=TransferStatus.ACCEPTED, sent_by=None,
            sent_at=timezone.make_aware(timezone.datetime(received_on.year, received_on.month, received_on.day)),
            decided_by=acting_user, decided_at=timezone.now(), decision_reason=reason.strip(),
            paper_received_on=received_on, paper_volumes=volumes, paper_pages=pages, page_count=pages,
            volume_count=volumes, external_reference=(external_reference or "").strip()[:200],
            electronic=False, dossier_complete=complete, verification_status=VerificationStatus.PENDING,
        )
        record_event(
            "transfer.paper_registered", actor=acting_user, obj=transfer, case=case,
            details={"kind": kind, "from_agency": from_agency.code, "received_on": received_on,
                     "volumes": volumes, "pages": pages, "reason": reason.strip(),
                     "external_reference": transfer.external_reference},
        )
    return transfer


def reverify(transfer: Transfer, *, acting_user: Any) -> None:
    """The receiver asks for the package to be verified again (e.g. after storage was repaired)."""
    if (acting_user.agency_id != transfer.to_agency_id or not has_capability(acting_user, REVIEW_INCOMING)
            or transfer.status != TransferStatus.SENT):
        raise PermissionDenied(_("只能重新校验发给本机关的待接收移送。"))
    with transaction.atomic(durable=True):
        Transfer.objects.filter(pk=transfer.pk).update(verification_status=VerificationStatus.PENDING,
                                                       verification_progress=0)
        record_event("transfer.reverify_requested", actor=acting_user, obj=transfer, case=transfer.case_id,
                     details={"transfer": transfer.pk})
        pk = transfer.pk

        def _run() -> None:
            from casehub.transfers.tasks import verify_transfer

            verify_transfer.delay(pk)

        transaction.on_commit(_run)
