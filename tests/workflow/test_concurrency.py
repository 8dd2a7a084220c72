"""Two people act on the same case at the same moment: exactly one wins, the other is told the
case changed, and nothing is half-applied. Real threads, real transactions (row lock on
PostgreSQL; IMMEDIATE transactions on SQLite)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from casehub.agencies.models import Role
from workflows import definition as d
from workflows import engine
from workflows.models import Transfer, TransferStatus, TransitionLog

pytestmark = pytest.mark.django_db(transaction=True)


def _race(case, calls):
    """Run ``calls`` (name, user, inputs) at once; returns the results or exceptions in order."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i, name, user, inputs):
        try:
            barrier.wait()
            results[i] = engine.fire(case.__class__.objects.get(pk=case.pk), name, acting_user=user, inputs=inputs)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_accept_of_the_same_package_one_wins(case, drive, district, make_user, settings):
    drive.fire(case, "transfer_for_review", "investigator", facts="入室盗窃", evidence="被害人陈述")
    second = make_user(district.procuratorate, [Role.PROSECUTOR])
    results = _race(case, [("accept_review_transfer", district.prosecutor, {}),
                           ("accept_review_transfer", second, {})])
    wins = [r for r in results if isinstance(r, engine.TransitionResult)]
    losses = [r for r in results if isinstance(r, engine.CaseChanged)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert "案件状态已变化" in str(losses[0])
    case.refresh_from_db()
    assert case.stage == d.Stage.PROSECUTION_REVIEW
    assert TransitionLog.objects.filter(case=case, transition="accept_review_transfer").count() == 1
    assert Transfer.objects.get(case=case).status == TransferStatus.ACCEPTED


def test_accept_racing_withdraw_one_wins(case, drive, district):
    drive.fire(case, "transfer_for_review", "investigator", facts="入室盗窃", evidence="被害人陈述")
    results = _race(case, [("accept_review_transfer", district.prosecutor, {}),
                           ("withdraw_review_transfer", district.investigator, {"reason": "撤回"})])
    wins = [r for r in results if isinstance(r, engine.TransitionResult)]
    assert len(wins) == 1, results
    assert isinstance([r for r in results if r not in wins][0], engine.TransitionError)
    case.refresh_from_db()
    transfer = Transfer.objects.get(case=case)
    if wins[0].spec.name == "accept_review_transfer":
        assert (case.stage, transfer.status) == (d.Stage.PROSECUTION_REVIEW, TransferStatus.ACCEPTED)
    else:
        assert (case.stage, transfer.status) == (d.Stage.INVESTIGATION, TransferStatus.WITHDRAWN)
