"""A simulated period for the metrics tests, run once per test through the real engine."""

from __future__ import annotations

from datetime import date

import pytest

from casehub.agencies.models import Agency, Role


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def run_simulation(db, django_capture_on_commit_callbacks, tmp_path):
    from casehub.metrics.simulation import Options, ensure_actors, simulate

    def _run(cases: int = 8, start: date = date(2025, 1, 1), days: int = 240, seed: int = 7, paper_share: float = 0.2):
        actors = ensure_actors()
        ledger = simulate(Options(cases=cases, start=start, days=days, seed=seed, paper_share=paper_share),
                          actors=actors, commit_runner=lambda: django_capture_on_commit_callbacks(execute=True),
                          workdir=tmp_path)
        return actors, ledger

    return _run


@pytest.fixture
def sim_auditor(make_user):
    def _make():
        committee = Agency.objects.get(code="SIMZFW")
        return make_user(committee, [Role.AUDITOR], username="sim_auditor")

    return _make
