"""Custody follows the case: the custody participant that transitions declare (``TransitionSpec.custody``).

The engine calls :func:`run` explicitly inside the transition's transaction, after the case row
and the transition log are written (so ``case.stage`` and ``case.holder_agency`` are the new ones)
and before the audit event. Nothing here is a signal receiver; a custody step that cannot be done
raises :class:`~workflows.engine.GuardFailed` and the whole transition rolls back — but the
foreseeable refusal (a detained person without a custody record) is the guard ``custody_ready``,
which :func:`workflows.engine.available_transitions` evaluates, so an "accept" that would fail is
never offered.

| step | what it does (only for packages of a custody-moving kind: review transfer, supplementary return, indictment) |
| --- | --- |
| ``issue_certificates`` | one signed certificate per detained person, from the sender to the addressee |
| ``take_over_at_once`` | the recipient takes custody over at once (a delivered package: nobody "accepts") |
| ``take_over`` | the receiver takes custody over: its period, countersigned receipt |
| ``cancel_certificates`` | a rejected or withdrawn package's pending certificates are cancelled |
| ``notices`` | arrests, releases and changed periods become signed change notices (any transition) |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from casehub.custody import services

ISSUE_CERTIFICATES = "issue_certificates"
TAKE_OVER_AT_ONCE = "take_over_at_once"
TAKE_OVER = "take_over"
CANCEL_CERTIFICATES = "cancel_certificates"
NOTICES = "notices"

@dataclass
class CustodyStep:
    case: Any
    transition: Any  # the TransitionSpec (name, label, custody)
    target: str
    to_agency: Any  # holder after the transition
    acting_user: Any
    transfer: Any  # the package of the transition, or None
    at: Any

    @property
    def moves_custody(self) -> bool:
        return self.transfer is not None and self.transfer.kind in services.CUSTODY_TRANSFER_KINDS


STEPS: dict[str, Callable[[CustodyStep], None]] = {}


def step(name: str) -> Callable[[Callable[[CustodyStep], None]], Callable[[CustodyStep], None]]:
    def register(fn: Callable[[CustodyStep], None]) -> Callable[[CustodyStep], None]:
        STEPS[name] = fn
        return fn

    return register


@step(ISSUE_CERTIFICATES)
def _issue(s: CustodyStep) -> None:
    if s.moves_custody:
        services.issue_certificates(
            s.case, from_agency=s.transfer.from_agency, to_agency=s.transfer.to_agency, reason=str(s.transition.label),
            to_stage=services.CUSTODY_TRANSFER_KINDS.get(s.transfer.kind, s.target), transition=s.transition.name,
            transfer=s.transfer, acting_user=s.acting_user, at=s.at,
        )


@step(TAKE_OVER_AT_ONCE)
def _take_over_at_once(s: CustodyStep) -> None:
    if s.moves_custody:
        services.take_over(s.case, agency=s.transfer.to_agency, transfer=s.transfer, acting_user=s.acting_user,
                           at=s.at, require_ready=False)


@step(TAKE_OVER)
def _take_over(s: CustodyStep) -> None:
    if s.moves_custody:
        services.take_over(s.case, agency=s.to_agency, transfer=s.transfer, acting_user=s.acting_user, at=s.at)


@step(CANCEL_CERTIFICATES)
def _cancel(s: CustodyStep) -> None:
    if s.transfer is not None:
        services.cancel_certificates(s.transfer, reason=str(s.transition.label), acting_user=s.acting_user, at=s.at)


@step(NOTICES)
def _notices(s: CustodyStep) -> None:
    # The agency whose decision it is signs; a transition that says so has the holder sign (a court's
    # ruling that leaves the case and its custody with the procuratorate, SPP Rules art. 421).
    by_holder = bool(getattr(s.transition, "extra", {}).get("notices_by_holder"))
    deciding = s.to_agency if by_holder else (getattr(s.acting_user, "agency", None) or s.to_agency)
    services.sync_with_case(s.case, agency=deciding, acting_user=s.acting_user, at=s.at)


def run(transition: Any, *, case: Any, target: str, to_agency: Any, acting_user: Any = None, transfer: Any = None,
        at: Any = None) -> None:
    """Run the custody steps ``transition.custody`` declares, in the caller's transaction."""
    s = CustodyStep(case=case, transition=transition, target=target, to_agency=to_agency, acting_user=acting_user,
                    transfer=transfer, at=at or timezone.now())
    try:
        for name in getattr(transition, "custody", ()):
            STEPS[name](s)
    except ValidationError as exc:
        from workflows.engine import GuardFailed

        raise GuardFailed(exc.messages) from exc
