"""Simulate a period through the real engine, then check every number on the dashboard against
the simulator's own account of what it did, computed here in plain Python."""

from __future__ import annotations

import base64
import csv
import io
import re
import statistics
from collections import Counter, defaultdict
from datetime import date, datetime

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from casehub.clocks.models import Clock
from casehub.metrics.queries import DOSSIER_KINDS, direction_key

# The dashboard reports durations to a documented resolution (docs/audit.md §2): a stay's whole
# seconds rounded to the nearest hour, an answer time rounded to the nearest minute (half up).
# The expectations below round each value the same way before taking percentiles.


def whole_hours(seconds: float) -> int:
    return (int(seconds) + 1800) // 3600


def whole_minutes(delta) -> int:
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return (micros + 30_000_000) // 60_000_000

PERIOD = (date(2025, 2, 1), date(2025, 7, 31))


def in_period(at: datetime) -> bool:
    return PERIOD[0] <= timezone.localtime(at).date() <= PERIOD[1]


def quantiles(values: list[float]) -> tuple[float, float]:
    """Median and 90th percentile with linear interpolation, via the standard library."""
    values = sorted(values)
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[8]


@pytest.mark.own_clock
def test_every_dashboard_number_equals_the_simulators_own_account(run_simulation, sim_auditor, client):
    """One simulated period (the expensive part, done once), then every table checked in turn."""
    actors, ledger = run_simulation(cases=7, start=date(2025, 1, 1), days=220, seed=11, paper_share=0.3)
    client.force_login(sim_auditor())
    response = client.get(reverse("metrics:dashboard"),
                          {"date_from": PERIOD[0].isoformat(), "date_to": PERIOD[1].isoformat()})
    assert response.status_code == 200
    simulated = (actors, ledger, response.context["board"], response)
    check_the_simulation_covers_the_branches_the_dashboard_reports(simulated)
    check_circulation_rates_per_direction_equal_the_ledger(simulated)
    check_counts_by_kind_and_cases_by_direction_equal_the_ledger(simulated)
    check_custody_transfers_and_persons_covered_equal_the_ledger(simulated)
    check_stage_durations_equal_the_ledger(simulated)
    check_acceptance_times_equal_the_ledger(simulated)
    check_clocks_met_and_overdue_equal_a_row_by_row_count(simulated)
    check_monthly_series_add_up_to_the_period(simulated)
    check_drill_down_lists_exactly_the_transfers_behind_a_number(simulated, client)
    check_every_table_exports_as_shown_with_csv_and_xlsx(simulated, client)
    check_charts_are_local_svg_without_scripts_from_elsewhere(simulated, client)


def check_the_simulation_covers_the_branches_the_dashboard_reports(simulated):
    _actors, ledger, board, _response = simulated
    modes = Counter(t.mode for t in ledger.transfers if in_period(t.at))
    assert modes["online"] > 0 and modes["paper"] > 0
    assert any(t.kind == "supplementary_return" for t in ledger.transfers)
    assert ledger.custody, "detained suspects were handed over"
    assert board.totals["online"].denominator == sum(modes.values())


def check_circulation_rates_per_direction_equal_the_ledger(simulated):
    actors, ledger, board, _response = simulated
    expected_online: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    expected_dossier: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for t in ledger.transfers:
        if not in_period(t.at):
            continue
        key = direction_key(t.from_kind, t.to_kind)
        expected_online[key][1] += 1
        expected_online[key][0] += t.mode == "online"
        if t.kind in DOSSIER_KINDS:
            expected_dossier[key][1] += 1
            expected_dossier[key][0] += t.mode == "online" and t.complete
    shown_online = {r.direction: [r.online.numerator, r.online.denominator] for r in board.rates}
    shown_dossier = {r.direction: [r.dossier.numerator, r.dossier.denominator] for r in board.rates
                     if r.dossier.denominator}
    assert shown_online == dict(expected_online)
    assert shown_dossier == {k: v for k, v in expected_dossier.items() if v[1]}
    # One agency per kind in the simulated district: each row is the sending agency of its direction.
    sender_of = {"police": actors.police.pk, "procuratorate": actors.procuratorate.pk, "court": actors.court.pk}
    assert all(r.agency_id == sender_of[r.direction.split(">")[0]] for r in board.rates)
    total = sum(v[1] for v in expected_online.values())
    online = sum(v[0] for v in expected_online.values())
    assert (board.totals["online"].numerator, board.totals["online"].denominator) == (online, total)


def check_counts_by_kind_and_cases_by_direction_equal_the_ledger(simulated):
    _actors, ledger, board, _response = simulated
    expected = Counter((direction_key(t.from_kind, t.to_kind), t.kind, t.mode) for t in ledger.transfers
                       if in_period(t.at))
    shown = Counter()
    for row in board.kinds:
        if row.online:
            shown[(row.direction, row.kind, "online")] = row.online
        if row.paper:
            shown[(row.direction, row.kind, "paper")] = row.paper
    assert shown == expected
    cases = defaultdict(set)
    for t in ledger.transfers:
        if in_period(t.at) and t.mode == "online":
            cases[direction_key(t.from_kind, t.to_kind)].add(t.case)
    assert board.cases_by_direction == {k: len(v) for k, v in cases.items()}


def check_custody_transfers_and_persons_covered_equal_the_ledger(simulated):
    _actors, ledger, board, _response = simulated
    moves = [c for c in ledger.custody if in_period(c.at)]
    assert (board.custody_all.numerator, board.custody_all.denominator) == (len(moves), len(moves))
    assert board.persons_online == board.persons_all == len({c.person for c in moves})
    per_direction = Counter(direction_key(c.from_kind, c.to_kind) for c in moves)
    assert {r.direction: r.certificates.denominator for r in board.custody} == dict(per_direction)


def check_stage_durations_equal_the_ledger(simulated):
    _actors, ledger, board, _response = simulated
    stays: dict[str, list[float]] = defaultdict(list)
    for entries in ledger.stages.values():
        for (entered, stage, _holder), (left, next_stage, _h) in zip(entries, entries[1:], strict=False):
            if next_stage != stage and in_period(left):
                stays[stage].append(whole_hours((left - entered).total_seconds()) / 24)
    shown = {r.group[0]: (r.count, r.median, r.p90) for r in board.stages_all}
    assert set(shown) == set(stays)
    for stage, values in stays.items():
        median, p90 = quantiles(values)
        count, shown_median, shown_p90 = shown[stage]
        assert count == len(values), stage
        assert shown_median == pytest.approx(median, abs=1e-9), stage
        assert shown_p90 == pytest.approx(p90, abs=1e-9), stage


def check_acceptance_times_equal_the_ledger(simulated):
    _actors, ledger, board, _response = simulated
    answers: dict[str, list[float]] = defaultdict(list)
    for a in ledger.answers:
        if in_period(a.answered_at):
            answers[a.kind].append(whole_minutes(a.answered_at - a.sent_at) / 60)
    shown = {r.group[1]: r for r in board.acceptance}
    assert set(shown) == set(answers)
    for kind, values in answers.items():
        median, p90 = quantiles(values)
        assert shown[kind].count == len(values)
        assert shown[kind].median == pytest.approx(median, abs=1e-9)  # in hours, from whole minutes
        assert shown[kind].p90 == pytest.approx(p90, abs=1e-9)


def check_clocks_met_and_overdue_equal_a_row_by_row_count(simulated):
    _actors, _ledger, board, _response = simulated
    today = timezone.localdate()
    met, late, running_late = Counter(), Counter(), Counter()
    for clock in Clock.objects.all():
        key = (clock.kind, clock.agency_id)
        if clock.status == "stopped" and in_period(clock.stopped_at):
            if timezone.localtime(clock.stopped_at).date() <= clock.due_date:
                met[key] += 1
            else:
                late[key] += 1
        if clock.status in ("running", "overdue") and clock.due_date < today:
            running_late[key] += 1
    shown = {(r.kind, r.agency_id): (r.met, r.late, r.overdue_running) for r in board.clocks}
    keys = set(met) | set(late) | set(running_late)
    assert shown == {k: (met[k], late[k], running_late[k]) for k in keys}
    assert board.overdue_total == sum(running_late.values())
    assert len(board.overdue) == board.overdue_total  # a handful: all listed, oldest due date first
    assert [o["due_date"] for o in board.overdue] == sorted(o["due_date"] for o in board.overdue)


def check_monthly_series_add_up_to_the_period(simulated):
    _actors, ledger, board, _response = simulated
    assert [p.month for p in board.months] == [date(2025, m, 1) for m in range(2, 8)]
    assert sum(p.online.denominator for p in board.months) == board.totals["online"].denominator
    assert sum(p.online.numerator for p in board.months) == board.totals["online"].numerator
    by_month = Counter(timezone.localtime(t.at).date().replace(day=1) for t in ledger.transfers if in_period(t.at))
    assert {p.month: p.online.denominator for p in board.months if p.online.denominator} == dict(by_month)


def check_drill_down_lists_exactly_the_transfers_behind_a_number(simulated, client):
    _actors, _ledger, board, _response = simulated
    params = {"date_from": PERIOD[0].isoformat(), "date_to": PERIOD[1].isoformat()}
    for metric, ratio in (("online", board.totals["online"]), ("dossier", board.totals["dossier"]),
                          ("custody", board.custody_all)):
        for part, expected in (("num", ratio.numerator), ("den", ratio.denominator)):
            page = client.get(reverse("metrics:drilldown"), {**params, "metric": metric, "part": part})
            assert page.status_code == 200
            assert page.context["page"].paginator.count == expected, (metric, part)
    body = client.get(reverse("metrics:drilldown"), {**params, "metric": "online", "part": "den"}).content.decode()
    assert "模拟案件" in body or "模公" in body  # case numbers (or the paper reference) — no dossier contents
    assert "证据材料" not in body


def check_every_table_exports_as_shown_with_csv_and_xlsx(simulated, client):
    _actors, _ledger, board, _response = simulated
    params = {"date_from": PERIOD[0].isoformat(), "date_to": PERIOD[1].isoformat()}
    rates = board.table("rates")
    response = client.get(reverse("metrics:export", args=["rates", "csv"]), params)
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == [str(h) for h in rates.header]
    assert rows[1:] == [[str(v) for v in row] for row in rates.rows]
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(reverse("metrics:export", args=["all", "xlsx"]),
                                                            params).content))
    assert workbook.sheetnames == [str(t.title)[:31] for t in board.tables]
    sheet = workbook[str(board.table("kinds").title)]
    assert sheet.max_row == len(board.table("kinds").rows) + 1


def check_charts_are_local_svg_without_scripts_from_elsewhere(simulated, client):
    _actors, _ledger, board, response = simulated
    body = response.content.decode()
    params = {"date_from": PERIOD[0].isoformat(), "date_to": PERIOD[1].isoformat()}
    found = re.findall(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" alt="(\w+)"', body)
    inline = {name: base64.b64decode(data).decode() for data, name in found}
    assert set(inline) == {"rates_over_time", "rates_by_agency", "stage_durations"}
    for svg in inline.values():
        assert svg.startswith("<svg") and "kozea.github.io" not in svg
    months = [p.month.strftime("%Y-%m") for p in board.months]
    assert all(m in inline["rates_over_time"] for m in months)  # the page's own numbers, drawn
    for name in ("rates_over_time", "rates_by_agency", "stage_durations"):
        assert reverse("metrics:chart", args=[name]) in body  # the download link
        svg = client.get(reverse("metrics:chart", args=[name]), params)
        assert svg["Content-Type"].startswith("image/svg+xml")
        text = svg.content.decode()
        assert text.startswith("<svg") and "kozea.github.io" not in text and "src=" not in text
