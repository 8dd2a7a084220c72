"""Custody readiness is a guard the engine evaluates when it lists what a user may do: the case page
and the API never offer an acceptance that would then fail (issue #14)."""

from __future__ import annotations

import pytest

from casehub.cases.models import CustodyStatus, PersonRole
from casehub.cases.persons import add_person
from workflows import engine

pytestmark = pytest.mark.django_db


def test_an_acceptance_custody_cannot_follow_is_not_offered(case, drive, district):
    add_person(case, acting_user=district.investigator,
               data={"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.DETAINED})
    drive.fire(case, "transfer_for_review", "investigator", facts="x", evidence="y")
    offered = {t.name for t in engine.available_transitions(case, district.prosecutor)}
    assert "accept_review_transfer" not in offered and "reject_review_transfer" in offered
    blocked = dict((t.name, reasons) for t, reasons in engine.blocked_transitions(case, district.prosecutor))
    assert any("李四" in r for r in blocked["accept_review_transfer"])
    with pytest.raises(engine.GuardFailed, match="李四"):
        engine.fire(case, "accept_review_transfer", acting_user=district.prosecutor, inputs={})
    case.refresh_from_db()
    assert case.stage == "review_requested"


def test_an_acceptance_is_offered_once_every_detainee_has_a_record(case, drive, district):
    drive.fire(case, "transfer_for_review", "investigator", facts="x", evidence="y")
    assert "accept_review_transfer" in {t.name for t in engine.available_transitions(case, district.prosecutor)}
