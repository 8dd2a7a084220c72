"""The rollups cannot be desynchronised by a write that forgets them: a queryset update of a rolled-up
field, a queryset delete or a bulk create is refused; the explicit bulk path keeps them in step; no
signal receiver takes part (issue #14)."""

from __future__ import annotations

import pytest
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.utils import timezone

from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import Clock
from casehub.clocks.services import open_clock, stop_clocks
from casehub.custody.models import CustodyCertificate
from casehub.metrics import rollup
from casehub.metrics.models import StageStay
from casehub.metrics.tracking import RollupBypassed
from workflows import engine
from workflows.models import Transfer, TransitionLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper(district):
    return engine.register_paper_transfer(
        acting_user=district.prosecutor, from_agency=district.police, kind="review_transfer",
        received_on=timezone.localdate(), volumes=1, pages=10, reason="纸质", external_reference="某案", complete=True)


def test_a_queryset_update_of_a_rolled_up_field_is_refused(paper):
    before = rollup.snapshot()
    assert before["transfer"], "the paper transfer is counted"
    for change in ({"status": "withdrawn"}, {"sent_at": timezone.now()}, {"from_agency": paper.to_agency},
                   {"electronic": True}):
        with pytest.raises(RollupBypassed):
            Transfer.objects.filter(pk=paper.pk).update(**change)
    with pytest.raises(RollupBypassed):
        Transfer.objects.filter(pk=paper.pk).delete()
    with pytest.raises(RollupBypassed):
        Transfer.objects.bulk_create([Transfer(kind="judgment", from_agency=paper.from_agency,
                                               to_agency=paper.to_agency, status="accepted", mode="paper")])
    assert rollup.snapshot() == before == rollup.expected_snapshot()
    # A field no rollup reads may still be updated in bulk (verification progress).
    assert Transfer.objects.filter(pk=paper.pk).update(verification_progress=50) == 1


def test_every_rolled_up_model_refuses_the_bypass():
    for model, field in ((Transfer, "status"), (CustodyCertificate, "status"), (Clock, "stopped_at"),
                         (StageStay, "left_at")):
        with pytest.raises(RollupBypassed):
            model.objects.all().update(**{field: None})
        with pytest.raises(RollupBypassed):
            model.objects.all().delete()


def test_save_and_the_explicit_bulk_path_keep_the_rollups_in_step(district):
    from casehub.cases.services import register_case

    case = register_case(acting_user=district.investigator, title="计时案")
    clocks = [open_clock(case, ClockKind.REVIEW_PROSECUTION, agency=district.procuratorate,
                         start=timezone.now() - timezone.timedelta(days=40), acting_user=district.prosecutor),
              open_clock(case, ClockKind.TRIAL, agency=district.court, start=timezone.now(),
                         acting_user=district.court_clerk)]
    before = rollup.snapshot()
    stopped = stop_clocks(case, at=timezone.now(), acting_user=district.prosecutor, reason="测试")
    assert {c.pk for c in stopped} == {c.pk for c in clocks}
    after = rollup.snapshot()
    assert after != before
    assert after == rollup.expected_snapshot()
    met_late = {key[1]: value for key, value in after["clock"].items()}
    assert met_late[ClockKind.REVIEW_PROSECUTION] == (0, 1) and met_late[ClockKind.TRIAL] == (1, 0)


def test_no_signal_receiver_takes_part_in_a_transition():
    """Rollups, stage stays and custody are called explicitly; nothing hangs on model signals."""
    from workflows.signals import case_transitioned

    for model in (Transfer, CustodyCertificate, Clock, StageStay, TransitionLog):
        for signal in (pre_save, post_save, pre_delete, post_delete):
            receivers = [r for r in signal._live_receivers(model)[0]
                         if getattr(r, "__module__", "").startswith(("casehub.", "workflows."))]
            assert receivers == [], (model, signal, receivers)
    assert [r for r in case_transitioned._live_receivers("workflows")[0]
            if getattr(r, "__module__", "").startswith(("casehub.", "workflows."))] == []
