"""Seed replay (issue 21): a district's reported period as a profile, replayed through the real engine.

The profile holds the volumes and rates the district reported for its first 58 days; the solver
turns them into the model's parameters; the replay's figures are counted in the database with the
dashboard's own queries. The full replay takes minutes (docs/performance.md, "Seed replay"); here
its plan is checked against every target, and a scaled-down replay runs through the engine.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command

from casehub.metrics import profile as pr

PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "longgang-2020.toml"


def test_the_seed_profile_plans_every_reported_figure_within_five_percent():
    """647 / 280 / 493 cases, 220 e-custody transfers of 366 persons, 2 judgments online; rates
    within one point of the profile's targets (above 90 % / 90 % / 80 % as reported)."""
    profile = pr.load_profile(PROFILE)
    assert profile.targets["police_to_procuratorate"] == 647 and profile.targets["judgments_online"] == 2
    assert [s.key for s in profile.senders] == ["branch", "traffic"]
    start_at = pr.period_start(profile)
    plan = pr.prepare(profile, start_at)
    assert pr.lands(plan.figures, profile.targets) == []
    assert plan.figures["e_dossier_rate"] > 0.9 and plan.figures["e_custody_rate"] > 0.9
    assert plan.figures["online_rate"] > 0.8


def test_the_period_starts_with_a_backlog_in_every_stage():
    """Cases registered before the period are under investigation, awaiting an arrest decision,
    under review, in supplementary investigation and at court on its first day."""
    profile = pr.load_profile(PROFILE)
    start_at = pr.period_start(profile)
    plan = pr.prepare(profile, start_at)
    at_start = Counter(pr.stage_after(p, start_at) for p in plan.plans if p.steps[0].at < start_at)
    for stage in ("investigation", "arrest_review", "prosecution_review", "supplementary_investigation", "trial"):
        assert at_start[stage] > 0, stage


@pytest.mark.own_clock  # plans on the profile's calendar only; the run's instants cannot change it
def test_the_solver_drives_the_parameters_from_the_targets():
    """Double the reported indictments: the solver indicts more, not by editing the count."""
    profile = pr.load_profile(PROFILE).scaled(0.2)
    start_at = pr.period_start(profile)
    base = pr.calibrate(profile, start_at, rounds=2, start=profile.solved)
    more = dict(profile.targets, procuratorate_to_court=profile.targets["procuratorate_to_court"] * 1.6)
    from dataclasses import replace

    pushed = pr.calibrate(replace(profile, targets=more), start_at, rounds=2, start=profile.solved)
    assert pushed.figures["procuratorate_to_court"] > base.figures["procuratorate_to_court"] * 1.3
    assert pushed.params.p_indict > base.params.p_indict


@pytest.mark.parametrize("change,message", [
    (lambda raw: raw["agencies"]["police"][0].update(share=0.9), "shares adding up to 1"),
    (lambda raw: raw["targets"].pop("judgments_online"), "missing judgments_online"),
    (lambda raw: raw["cases"]["durations"].update(review=[5, 3, 9]), "low <= mode <= high"),
])
def test_a_broken_profile_is_refused_with_the_place_named(change, message):
    import tomllib

    raw = tomllib.loads(PROFILE.read_text("utf-8"))
    change(raw)
    with pytest.raises(pr.ProfileError, match=message):
        pr.parse_profile(raw)


@pytest.mark.django_db
@pytest.mark.own_clock
def test_a_scaled_down_replay_lands_on_the_scaled_targets_through_the_engine(django_capture_on_commit_callbacks,
                                                                             tmp_path):
    """1.5 % of the district's volume, through engine.fire: documents, signatures, custody
    certificates, paper hand-overs registered by the receiver with the custody that went with them.
    The database's figures are the plan's, and land on the scaled targets (within 5 % or one case;
    rates within a point or one hand-over: at this size one case is more than 5 %)."""
    from casehub.cases.models import Case
    from casehub.custody.models import CustodyCertificate
    from casehub.metrics import replay
    from workflows.models import Transfer

    profile = pr.load_profile(PROFILE).scaled(0.015)
    start_at = pr.period_start(profile)
    plan = pr.realize(profile, profile.solved, start_at, paper_custody=True)
    district = replay.ensure_district(profile)
    outcome = replay.run(profile, district, plan.plans, workdir=tmp_path,
                         commit_runner=lambda: django_capture_on_commit_callbacks(execute=True))
    assert outcome.errors == [] and outcome.steps == sum(len(p.steps) for p in plan.plans)

    got = replay.figures(profile, district)
    assert got == pytest.approx(plan.figures)
    slack = pr.rate_slack(plan.plans, start_at, start_at + pr.timedelta(days=profile.days))
    assert pr.lands(got, profile.targets, at_least=1.0, rate_points=slack) == []
    # Both police senders sent, and paper hand-overs were registered with their custody transfers.
    senders = set(Transfer.objects.filter(to_agency=district.agencies["procuratorate"], mode="online")
                  .values_list("from_agency__code", flat=True))
    assert senders == {district.agencies["branch"].code, district.agencies["traffic"].code}
    assert Transfer.objects.filter(mode="paper").exists()
    paper = CustodyCertificate.objects.filter(channel="paper")
    assert paper.exists() and all(c.transfer.mode == "paper" and c.transfer.case_id == c.case_id for c in paper)
    # Every case stands where its plan left it.
    cases = dict(Case.objects.values_list("title", "stage"))
    assert {p.n: cases[f"模拟案件{p.n}"] for p in plan.plans} == {p.n: pr.stage_after(p) for p in plan.plans}


def test_simulate_dry_run_prints_the_plan_beside_the_targets(capsys):
    call_command("simulate", "--profile", str(PROFILE), "--dry-run", "--into-existing")
    out = capsys.readouterr().out
    assert "profile longgang-2020 at scale 1" in out
    assert "police_to_procuratorate: target 647, planned 6" in out


CITY = PROFILE.parent / "city-2021.toml"


def _city_profile() -> pr.Profile:
    """The city profile, shortened to two districts and forty days, where every review may go up and
    every judgment delivered on the platform is appealed: the paths to exercise, not the volumes."""
    import tomllib

    raw = tomllib.loads(CITY.read_text("utf-8"))
    raw["period"].update(days=40, warmup_days=90, districts=2)
    raw["agencies"]["city"].update(serious=0.5, appeal=1.0)
    raw["solved"].update(arrivals=0.15, judgment_online=1.0)
    return pr.parse_profile(raw)


def test_the_city_profile_sends_serious_cases_up_and_appeals_to_the_intermediate_court():
    profile = pr.load_profile(CITY)
    assert profile.city is not None and profile.districts == 10
    short = _city_profile()
    plans = pr.plans(short, short.solved, pr.period_start(short))
    names = Counter(s.name for p in plans for s in p.steps)
    assert names["transfer_jurisdiction"] == names["accept_jurisdiction_transfer"] > 0
    assert names["forward_appeal"] == names["docket_appeal"] > 0
    users = {s.user for p in plans for s in p.steps if s.name in ("indict", "docket_appeal", "decide_second_instance")}
    assert {"city:prosecutor", "city:court_clerk", "city:judge"} <= users


@pytest.mark.django_db
@pytest.mark.own_clock
def test_a_serious_case_and_an_appeal_run_through_the_city_level(django_capture_on_commit_callbacks, tmp_path):
    """SPP Rules art. 328 and CPL art. 21: a district procuratorate sends a serious case to the city
    procuratorate, which indicts at the intermediate court (刑初); CPL arts. 227, 231: an appeal
    against a district judgment goes to the intermediate court (刑终), which decides it (art. 244)."""
    from casehub.cases.models import Case
    from casehub.metrics import replay

    profile = _city_profile()
    start_at = pr.period_start(profile)
    plans = pr.plans(profile, profile.solved, start_at)

    def smallest(step: str, user: str) -> pr.CasePlan:
        return min((p for p in plans if any(s.name == step and s.user == user for s in p.steps)),
                   key=lambda p: len(p.steps))

    chosen = [smallest("docket_case", "city:court_clerk"), smallest("decide_second_instance", "city:judge")]
    districts = replay.ensure_districts(profile, chosen)
    outcome = replay.run(profile, districts, chosen, workdir=tmp_path,
                         commit_runner=lambda: django_capture_on_commit_callbacks(execute=True))
    assert outcome.errors == [] and outcome.steps == sum(len(p.steps) for p in chosen)

    city_court = districts[0].agencies["city:court"]
    assert districts[1].agencies["city:court"] == city_court  # one intermediate court above both districts
    assert districts[0].agencies["court"].parent == city_court
    serious, appealed = (Case.objects.get(title=f"模拟案件{p.n}") for p in chosen)
    numbers = {case: set(case.numbers.filter(agency=city_court).values_list("type_code", flat=True))
               for case in (serious, appealed)}
    assert numbers == {serious: {"刑初"}, appealed: {"刑终"}}
    assert serious.holder_agency == city_court and serious.stage == pr.stage_after(chosen[0])
    assert appealed.stage == pr.stage_after(chosen[1])
    assert replay.figures(profile, districts) == pytest.approx(
        pr.count(chosen, start_at, start_at + pr.timedelta(days=profile.days)))
