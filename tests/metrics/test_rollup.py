"""The dashboard's rollups: maintained in the changing transaction, equal to a rebuild from the
base tables, untouched by a rolled-back change."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from casehub.custody.models import CustodyCertificate
from casehub.metrics import rollup
from casehub.metrics.models import StageStay
from casehub.metrics.queries import Period, histogram_percentile, percentile_cont, period_spans
from casehub.transfers.services import register_paper_transfer
from workflows.models import Transfer


@pytest.mark.own_clock
def test_rollups_maintained_through_the_engine_equal_a_rebuild_from_scratch(run_simulation):
    run_simulation(cases=6, start=date(2025, 1, 1), days=220, seed=5, paper_share=0.3)
    maintained = rollup.snapshot()
    assert all(maintained[t] for t in ("transfer", "cert", "clock", "hist", "first")), "every rollup has rows"
    assert maintained == rollup.expected_snapshot()
    call_command("rebuild_metrics", "--check")

    # Changes after the fact, through save() and delete(): withdrawn, cancelled, moved, deleted.
    transfer = Transfer.objects.filter(case__isnull=False).order_by("id").first()
    transfer.status = "withdrawn"
    transfer.save(update_fields=["status"])
    moved = Transfer.objects.filter(case__isnull=False).exclude(pk=transfer.pk).order_by("-id").first()
    moved.sent_at -= timedelta(days=40)
    moved.save()
    certificate = CustodyCertificate.objects.order_by("id").first()
    certificate.status = "cancelled"
    certificate.save(update_fields=["status"])
    StageStay.objects.filter(left_at__isnull=False).order_by("id").first().delete()
    changed = rollup.snapshot()
    assert changed != maintained
    assert changed == rollup.expected_snapshot()

    rollup.rebuild()  # SQL on PostgreSQL, the same Python functions on SQLite
    assert rollup.snapshot() == changed


@pytest.mark.django_db(transaction=True)
class _AuditWriteFailed(Exception):
    pass


def test_a_rolled_back_transfer_changes_no_rollup(district, monkeypatch):
    """The transfer row and its rollups are written, then the audit write in the same transaction
    fails: the rollups roll back with the row."""
    from workflows import engine

    before = rollup.snapshot()
    inside: dict = {}

    def failing_audit(*args, **kwargs):
        inside.update(rollup.snapshot())
        raise _AuditWriteFailed("the audit write fails after the transfer was written")

    monkeypatch.setattr(engine, "record_event", failing_audit)
    with pytest.raises(_AuditWriteFailed):
        register_paper_transfer(
            acting_user=district.prosecutor, from_agency=district.police, kind="review_transfer",
            received_on=timezone.localdate(), volumes=1, pages=10, reason="纸质", external_reference="回滚案",
            complete=True)
    assert sum(n for (n,) in inside["transfer"].values()) == sum(n for (n,) in before["transfer"].values()) + 1
    assert rollup.snapshot() == before
    assert not Transfer.objects.filter(external_reference="回滚案").exists()


def test_histogram_percentiles_equal_percentile_cont_of_the_rounded_values():
    values = [3, 3, 5, 8, 8, 8, 13, 21, 40]
    buckets = sorted({v: values.count(v) for v in values}.items())
    for q in (0.0, 0.1, 0.5, 0.9, 1.0):
        assert histogram_percentile(buckets, len(values), q) == pytest.approx(percentile_cont(values, q))
    assert histogram_percentile([], 0, 0.5) is None


def test_a_period_reads_whole_years_months_and_single_days():
    years, months, days = period_spans(Period(date(2024, 12, 30), date(2026, 2, 2)))
    assert years == [date(2025, 1, 1)]
    assert months == [date(2026, 1, 1)]
    assert days == [date(2024, 12, 30), date(2024, 12, 31), date(2026, 2, 1), date(2026, 2, 2)]
    assert period_spans(Period(date(2025, 3, 1), date(2025, 3, 31))) == ([], [date(2025, 3, 1)], [])


@pytest.mark.own_clock
def test_distinct_counts_from_the_first_seen_chains_equal_counting_the_base_rows(run_simulation, monkeypatch):
    """With every agency in scope the dashboard counts cases, persons and hand-overs from the
    FirstSeenDay chains; a narrower scope counts the base rows. Both must agree, for any period."""
    from casehub.agencies.models import Agency
    from casehub.metrics import queries as q

    run_simulation(cases=6, start=date(2025, 1, 1), days=220, seed=9, paper_share=0.2)
    everyone = q.Scope(list(Agency.objects.values_list("pk", flat=True)))
    assert q.covers_every_agency(everyone)

    def numbers(period, scope):
        return (q.cases_by_direction(period, scope),
                [(r.agency_id, r.direction, r.persons, r.persons_online, r.handovers, r.certificates.denominator)
                 for r in q.custody_rates(period, scope)],
                q.persons_covered(period, scope, online_only=False), q.persons_covered(period, scope, online_only=True))

    periods = [Period(date(2025, 1, 1), date(2025, 12, 31)), Period(date(2025, 2, 10), date(2025, 5, 20)),
               Period(date(2025, 3, 1), date(2025, 3, 31)), Period(date(2025, 4, 15), date(2025, 4, 15))]
    for direction in ("", "police>procuratorate", "procuratorate>court"):
        scope = q.Scope(everyone.agency_ids, direction)
        from_chains = [numbers(p, scope) for p in periods]
        with monkeypatch.context() as patched:
            patched.setattr(q, "covers_every_agency", lambda scope: False)
            from_rows = [numbers(p, scope) for p in periods]
        assert from_chains == from_rows, direction
    assert any(n for n in from_chains[0][0].values())
