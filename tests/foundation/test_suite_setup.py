"""The test suite's own promises: what it needs is declared and checked up front, PostgreSQL-only
tests are deselected on SQLite and said so, and "now" can be pinned for a whole run."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKERS = {"pdfsig_verify": "needs_poppler", "_assert_signed": "needs_poppler", "openssl": "needs_openssl",
            "_openssl_verify": "needs_openssl"}


def _pytest(args: list[str], env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    if env.get("CASEHUB_TEST_NOW_PATHS") == os.environ.get("CASEHUB_TEST_NOW_PATHS"):
        # Inherited from the outer run (.ci/run scopes its instants to the date-sensitive packages):
        # it is about the outer run's paths, not the probe's.
        env = {k: v for k, v in env.items() if k != "CASEHUB_TEST_NOW_PATHS"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _declared_markers(node: ast.FunctionDef, module_marks: set[str]) -> set[str]:
    marks = set(module_marks)
    for decorator in node.decorator_list:
        text = ast.unparse(decorator)
        if text.startswith("pytest.mark."):
            marks.add(text.removeprefix("pytest.mark.").split("(")[0])
    return marks


def test_every_test_that_runs_an_independent_checker_declares_it():
    """pdfsig and openssl run as programs: a test calling them carries the marker that the
    up-front check (tests/fixtures/requirements.py) and `-m 'not ...'` rely on."""
    undeclared = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module_marks = {ast.unparse(n.value).removeprefix("pytest.mark.") for n in tree.body
                        if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in n.targets)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test")):
                continue
            needed = set()
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call):
                    name = getattr(sub.func, "id", None) or getattr(sub.func, "attr", "")
                    if name in CHECKERS:
                        needed.add(CHECKERS[name])
                if isinstance(sub, ast.List) and sub.elts and getattr(sub.elts[0], "value", None) == "openssl":
                    needed.add("needs_openssl")  # an argv list: ["openssl", "cms", ...]
            if missing := needed - _declared_markers(node, module_marks):
                undeclared.append(f"{path.relative_to(ROOT)}::{node.name} lacks {sorted(missing)}")
    assert undeclared == []


def test_a_missing_program_or_service_stops_the_run_with_one_line_each(tmp_path):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {**os.environ, "PATH": str(empty_bin), "CASEHUB_TEST_WORKER_REDIS_URL": "redis://127.0.0.1:1/0"}
    env.pop("CASEHUB_TEST_NOW", None)
    # Two workers, as `make test` runs: each collects and checks, the controller prints once.
    done = _pytest(["-n", "2", "tests/signing/test_pades.py", "tests/faults/test_worker_crash.py"], env)
    out = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, out[-3000:]
    problems = [line for line in out.splitlines() if line.startswith("  - ")]
    assert len(problems) == 3, out[-3000:]
    assert any("`pdfsig` is not installed (Debian package poppler-utils" in p and "not needs_poppler" in p
               for p in problems)
    assert any("`certutil` is not installed (Debian package libnss3-tools" in p for p in problems)
    assert any(p.startswith("  - Redis at 127.0.0.1:1 is not reachable") and "not needs_redis" in p
               for p in problems)
    assert "Traceback" not in out and " passed" not in out and " failed" not in out


def test_tests_that_need_nothing_missing_still_run(tmp_path):
    """Only the selected tests' needs count: deselecting the marker named in the message works."""
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {**os.environ, "PATH": str(empty_bin)}
    env.pop("CASEHUB_TEST_NOW", None)
    done = _pytest(["-n", "0", "-m", "not slow and not needs_poppler", "tests/signing/test_pades.py", "-q"], env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert " passed" in out and "deselected" in out


def test_postgresql_only_tests_are_deselected_on_sqlite_and_the_summary_says_so(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'suite.sqlite3'}"}
    env.pop("CASEHUB_TEST_NOW", None)
    done = _pytest(["-n", "0", "tests/signing/test_concurrency.py"], env)
    out = done.stdout + done.stderr
    # Nothing else selected: pytest's "no tests ran" exit code, with the reason printed.
    assert done.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, out[-3000:]
    assert "1 PostgreSQL-only tests (marker postgres) deselected: the test database is SQLite" in out
    assert "1 deselected" in out.splitlines()[-1]


PINNED_PROBE = '''
from datetime import date, datetime, timedelta, timezone

import pytest


def test_now_is_the_pinned_instant():
    now = datetime.now(timezone.utc)
    assert timedelta(0) <= now - datetime(2028, 2, 28, 15, 59, tzinfo=timezone.utc) < timedelta(seconds=30)


@pytest.mark.time_machine(datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc))
def test_a_test_pin_wins():
    assert date.today() == date(2026, 12, 5)
'''


def test_casehub_test_now_pins_every_test_and_a_tests_own_pin_wins(tmp_path):
    (tmp_path / "test_probe.py").write_text(PINNED_PROBE)
    env = {**os.environ, "CASEHUB_TEST_NOW": "2028-02-28T23:59:00+08:00"}
    # Only the clock plugin, no Django: the probe is about time alone.
    done = _pytest(["-n", "0", "-p", "tests.fixtures.clock", "-p", "no:django", "-c", os.devnull,
                    "--rootdir", str(tmp_path), str(tmp_path / "test_probe.py")], {**env, "PYTHONPATH": str(ROOT)})
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "now is pinned at 2028-02-28T23:59:00+08:00 (Monday)" in out and "2 passed" in out


ORDER_PROBE = '''
from datetime import date, datetime, timezone

import pytest

SEEN = []


def test_first():
    SEEN.append(("first", date.today()))


def test_second():
    SEEN.append(("second", date.today()))


@pytest.mark.time_machine(datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc))
def test_own_pin():
    SEEN.append(("own", date.today()))


def test_zz_order():
    # the last test at each instant: the tests ran grouped by instant, each once per instant, and
    # the test with its own pin once (with the first instant's group), at its own instant
    first = [("first", date(2026, 11, 28)), ("second", date(2026, 11, 28)), ("own", date(2026, 12, 5))]
    if date.today() == date(2026, 11, 28):
        assert SEEN == first
    else:
        assert SEEN == [*first, ("first", date(2028, 2, 28)), ("second", date(2028, 2, 28))]
'''


def test_several_instants_run_each_test_at_each_in_one_session(tmp_path):
    (tmp_path / "test_probe.py").write_text(ORDER_PROBE)
    env = {**os.environ, "CASEHUB_TEST_NOW": "2026-11-28T23:30:00+08:00, 2028-02-28T23:59:00+08:00",
           "PYTHONPATH": str(ROOT)}
    done = _pytest(["-n", "0", "-p", "tests.fixtures.clock", "-p", "no:django", "-c", os.devnull, "-v",
                    "--rootdir", str(tmp_path), str(tmp_path / "test_probe.py")], env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "each test runs at 2 instants" in out and "7 passed" in out, out[-3000:]
    assert "test_first[2028-02-28T23:59:00+08:00] PASSED" in out


SCOPE_PROBE = '''
from datetime import date

import pytest

SEEN = []


def test_dated():
    SEEN.append(("dated", date.today()))


@pytest.mark.slow
def test_dated_but_slow():
    SEEN.append(("slow", date.today()))
'''

UNDATED_PROBE = '''
def test_undated(casehub_now):
    assert casehub_now is None  # outside CASEHUB_TEST_NOW_PATHS: once, at the first instant (real)
'''


def test_the_real_clock_first_and_pinned_instants_only_for_the_date_sensitive_paths(tmp_path):
    """As .ci/run runs the suite: everything once on the machine's clock, and the tests under
    CASEHUB_TEST_NOW_PATHS again at each pinned instant (slow ones once), in one session."""
    (tmp_path / "dated").mkdir()
    (tmp_path / "dated" / "test_probe.py").write_text(SCOPE_PROBE)
    (tmp_path / "dated" / "test_left_out.py").write_text(UNDATED_PROBE)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "test_other.py").write_text(UNDATED_PROBE)
    env = {**os.environ, "CASEHUB_TEST_NOW": "real, 2026-11-28T23:30:00+08:00, 2028-02-28T23:59:00+08:00",
           "CASEHUB_TEST_NOW_PATHS": "dated, -dated/test_left_out.py", "PYTHONPATH": str(ROOT)}
    done = _pytest(["-n", "0", "-p", "tests.fixtures.clock", "-p", "no:django", "-c", os.devnull, "-v",
                    "--rootdir", str(tmp_path), str(tmp_path)], env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "6 passed" in out, out[-3000:]  # dated x3, slow x1, left-out x1, other x1
    for instant in ("real", "2026-11-28T23:30:00+08:00", "2028-02-28T23:59:00+08:00"):
        assert f"dated/test_probe.py::test_dated[{instant}] PASSED" in out
    assert "dated/test_probe.py::test_dated_but_slow PASSED" in out
    assert "other/test_other.py::test_undated PASSED" in out and "test_left_out.py::test_undated PASSED" in out
    assert "the real clock, 2026-11-28T23:30:00+08:00 (Saturday)" in out


def test_a_malformed_casehub_test_now_stops_the_run_with_one_line(tmp_path):
    (tmp_path / "test_probe.py").write_text(PINNED_PROBE)
    env = {**os.environ, "CASEHUB_TEST_NOW": "2028-02-28 23:59", "PYTHONPATH": str(ROOT)}
    done = _pytest(["-n", "0", "-p", "tests.fixtures.clock", "-p", "no:django", "-c", os.devnull,
                    "--rootdir", str(tmp_path), str(tmp_path / "test_probe.py")], env)
    out = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert "CASEHUB_TEST_NOW='2028-02-28 23:59' needs a UTC offset" in out and "Traceback" not in out
