"""The rgw tests are never silently passed over: without a gateway they are deselected and the run
says so; under CI=true a missing gateway stops the run; with one they are collected.

Each case runs pytest in a subprocess (collection only: no gateway is contacted).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RGW_TESTS = "tests/storage/test_rgw.py"


def _collect(**env: str) -> subprocess.CompletedProcess[str]:
    # PYTEST_ADDOPTS of the outer run (e.g. -v) would change what collection prints.
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("CASEHUB_TEST_RGW_") and k not in ("CI", "PYTEST_ADDOPTS")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", RGW_TESTS, "--collect-only", "-n", "0",
                           "-p", "no:cacheprovider"], cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=300)


def test_without_a_gateway_the_rgw_tests_are_deselected_and_the_run_says_so():
    result = _collect()
    assert result.returncode == 5, result.stdout + result.stderr  # nothing selected, nothing passed
    assert "rgw: no gateway configured (CASEHUB_TEST_RGW_ENDPOINT unset)" in result.stdout
    assert "9 deselected" in result.stdout
    assert "rgw: 9 tests marked rgw were deselected, NOT run" in result.stdout
    assert "deploy/rgw-test-gateway.sh start" in result.stdout


def test_under_ci_a_missing_gateway_is_an_error():
    result = _collect(CI="true")
    assert result.returncode == 4, result.stdout + result.stderr  # usage error
    assert "CI=true but no Ceph RADOS Gateway is configured" in result.stderr
    assert "9 selected tests need one" in result.stderr


def test_with_a_gateway_configured_the_rgw_tests_are_collected():
    result = _collect(CI="true", CASEHUB_TEST_RGW_ENDPOINT="127.0.0.1:9", CASEHUB_TEST_RGW_ACCESS_KEY="a",
                      CASEHUB_TEST_RGW_SECRET_KEY="s")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rgw: Ceph RADOS Gateway at 127.0.0.1:9" in result.stdout
    assert "collected 9 items" in result.stdout and "deselected" not in result.stdout
