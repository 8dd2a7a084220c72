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
