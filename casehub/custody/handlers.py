"""Custody follows the case: the receiver of ``workflows.signals.case_transitioned``.

Runs inside the transition's transaction, so certificates, take-overs and notices commit or roll
back with the transition. Raising refuses the transition (only done to block an acceptance while
a detained person has no custody record).

| handover | with a custody-moving package (review transfer, supplementary return, indictment) |
| --- | --- |
| send    | one signed certificate per detained person, from the sender to the addressee |
| deliver | certificates issued and taken over at once (the recipient holds the case at once) |
| accept  | the receiver takes custody over: its period, countersigned receipt |
| reject / withdraw | pending certificates are cancelled; custody stays with the sender |

After every transition, arrests, releases and changed periods become change notices.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from casehub.custody import services


def _stage_label(transfer: Any, target: str) -> str:
    return services.CUSTODY_TRANSFER_KINDS.get(getattr(transfer, "kind", ""), target)


def on_case_transitioned(sender: Any, *, case: Any, transition: Any, source: str, target: str, from_agency: Any,
                         to_agency: Any, acting_user: Any = None, transfer: Any = None, log: Any = None,
                         **kwargs: Any) -> None:
    try:
        _apply(case=case, transition=transition, target=target, to_agency=to_agency, acting_user=acting_user,
               transfer=transfer, at=getattr(log, "occurred_at", None) or timezone.now())
    except ValidationError as exc:
        # A refused custody step refuses the transition, with the engine's clear guard message.
        from workflows.engine import GuardFailed

        raise GuardFailed(exc.messages) from exc


def _apply(*, case: Any, transition: Any, target: str, to_agency: Any, acting_user: Any, transfer: Any,
           at: Any) -> None:
    handover = getattr(transition, "handover", "")
    moves_custody = transfer is not None and transfer.kind in services.CUSTODY_TRANSFER_KINDS
    if moves_custody and handover in ("send", "deliver"):
        services.issue_certificates(
            case, from_agency=transfer.from_agency, to_agency=transfer.to_agency, reason=str(transition.label),
            to_stage=_stage_label(transfer, target), transition=transition.name, transfer=transfer,
            acting_user=acting_user, at=at,
        )
        if handover == "deliver":
            # The recipient holds the case at once (e.g. return for supplementary investigation):
            # nobody "accepts", so the readiness check that guards acceptance does not apply.
            services.take_over(case, agency=transfer.to_agency, transfer=transfer, acting_user=acting_user, at=at,
                               require_ready=False)
    elif moves_custody and handover == "accept":
        reasons = services.check_ready_for_acceptance(case)
        if reasons:
            raise ValidationError(reasons)
        services.take_over(case, agency=to_agency, transfer=transfer, acting_user=acting_user, at=at)
    elif transfer is not None and handover in ("reject", "withdraw"):
        services.cancel_certificates(transfer, reason=str(transition.label), acting_user=acting_user, at=at)
    deciding = getattr(acting_user, "agency", None) or to_agency
    services.sync_with_case(case, agency=deciding, acting_user=acting_user, at=at)
