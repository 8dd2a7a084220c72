"""``manage.py simulate``: refuses bad arguments, and the same seed gives the same traffic."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import CommandError, call_command

from casehub.metrics.simulation import Options, ensure_actors, simulate
from workflows.models import Transfer

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("args,message", [
    (["--cases", "3", "--start", "2025-13-01", "--days", "30"], "--start must be a date"),
    (["--cases", "0", "--start", "2025-01-01", "--days", "30"], "--cases must be between"),
    (["--cases", "3", "--start", "2025-01-01", "--days", "0"], "--days must be between"),
    (["--cases", "3", "--start", "2025-01-01", "--days", "30", "--paper-share", "1.5"], "fractions"),
])
def test_bad_arguments_are_refused_before_anything_happens(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("simulate", *args)
    assert not Transfer.objects.exists()


@pytest.mark.own_clock
def test_the_same_seed_gives_the_same_traffic(django_capture_on_commit_callbacks, tmp_path):
    def run(prefix: str):
        actors = ensure_actors(prefix)
        ledger = simulate(Options(cases=2, start=date(2025, 3, 1), days=150, seed=5, paper_share=0.0),
                          actors=actors, commit_runner=lambda: django_capture_on_commit_callbacks(execute=True),
                          workdir=tmp_path)
        return [(t.case, t.kind, t.mode, t.from_kind, t.to_kind, t.at) for t in ledger.transfers], \
            {i: [(at, stage) for at, stage, _h in entries] for i, entries in ledger.stages.items()}

    first = run("SA")
    second = run("SB")
    assert first == second
    assert first[0], "the cases moved"
    assert Transfer.objects.filter(from_agency__code__startswith="SA").count() == \
        Transfer.objects.filter(from_agency__code__startswith="SB").count() > 0


# --- where a simulation may run, and its clock -----------------------------------------------------------

def _real_case(district):
    from casehub.cases.models import PersonRole
    from casehub.cases.services import register_case

    return register_case(acting_user=district.investigator, title="李四涉嫌诈骗案", summary="电信诈骗", persons=[
        {"role": PersonRole.SUSPECT, "name": "李四", "sex": "M", "id_number": "440307199001011234"}])


SIM_ARGS = ["--cases", "1", "--start", "2025-01-01", "--days", "30"]


def test_simulate_refuses_a_production_installation(settings):
    from casehub.cases.models import Case

    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="CASEHUB_ENV=production"):
        call_command("simulate", *SIM_ARGS, "--into-existing")
    assert not Case.objects.exists() and not Transfer.objects.exists()


def test_simulate_refuses_a_database_with_real_cases_unless_told_into_existing(district):
    from casehub.agencies.models import Agency
    from casehub.cases.models import Case
    from casehub.metrics.simulation import refuse_unsafe_target

    _real_case(district)
    with pytest.raises(CommandError, match="holds 1 case.*--into-existing"):
        call_command("simulate", *SIM_ARGS)
    assert Case.objects.count() == 1 and not Agency.objects.filter(code__startswith="SIM").exists()
    refuse_unsafe_target(into_existing=True)  # the explicit flag lets it through


@pytest.mark.own_clock
def test_cases_a_simulation_made_do_not_count_as_real(django_capture_on_commit_callbacks, tmp_path):
    from casehub.cases.models import Case
    from casehub.metrics.simulation import real_case_count, refuse_unsafe_target

    simulate(Options(cases=1, start=date(2025, 3, 1), days=20, seed=2, paper_share=0.0), actors=ensure_actors("SC"),
             commit_runner=lambda: django_capture_on_commit_callbacks(execute=True), workdir=tmp_path)
    assert Case.objects.count() == 1 and real_case_count() == 0
    refuse_unsafe_target(into_existing=False)


def test_the_simulated_clock_is_scoped_to_the_simulating_thread_and_restored_after_an_error():
    import threading
    from datetime import UTC, datetime

    from django.utils import timezone

    from casehub.metrics.simulation import SimulatedClock, simulated_time
    from workflows.models import TransitionLog

    real_now = timezone.now
    occurred_at = TransitionLog._meta.get_field("occurred_at")
    clock = SimulatedClock()
    clock.now = datetime(2020, 1, 1, tzinfo=UTC)
    seen_elsewhere = []

    with pytest.raises(RuntimeError), simulated_time(clock):
        assert timezone.now() == clock.now and occurred_at.get_default() == clock.now
        other = threading.Thread(target=lambda: seen_elsewhere.append((timezone.now(), occurred_at.get_default())))
        other.start()
        other.join()
        raise RuntimeError("the simulation failed half-way")

    (other_now, other_default), = seen_elsewhere
    assert other_now.year >= 2026 and other_default.year >= 2026, "another thread kept the real time"
    assert timezone.now is real_now and occurred_at.default is real_now
    assert timezone.now().year >= 2026 and occurred_at.get_default().year >= 2026
