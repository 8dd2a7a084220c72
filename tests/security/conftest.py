"""The security scenario (scenario.py) built once per test module, not once per test.

Building it (two districts, a case with documents, three cases sent with signed packages, one of
them brought to trial, a legal-aid notice) takes far longer than most of the tests that read it.
Each module that asks for ``sc`` (or ``hostile``) builds it once, inside a transaction that stays
open while the module's tests run and is rolled back after the last of them. Every test runs in a
savepoint inside that transaction (pytest-django's ``db`` fixture opens its atomic block within it),
so what a test writes is rolled back before the next test starts: each test starts from the same
world, as if it had built it itself. Each test also gets its own copy of the world's Python objects
and of its object store (the test's own directory, tests/conftest.py).

Only non-transactional tests may use these fixtures: a ``transactional_db`` test commits and flushes,
which the open transaction cannot allow (the fixture refuses it).
"""

from __future__ import annotations

import copy
import importlib.util
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest
from django.db import transaction
from django.test import TestCase, override_settings

from casehub.pki.services import invalidate_cache
from tests.conftest import per_test_settings
from tests.fixtures.district import District, build_district
from tests.security import scenario as scenario_module
from tests.security.scenario import Scenario


@dataclass
class World:
    scenario: Scenario
    other_district: District
    objects: Path  # the object store the world's documents, volumes and certificates are in


def _build_world(django_db_blocker, tmp_path_factory, *, hostile: bool) -> Iterator[World]:
    objects = tmp_path_factory.mktemp("security-world") / "objects"
    with django_db_blocker.unblock():
        # As TestCase opens its class-wide transaction: durable blocks of the code under test may
        # open inside it (they assert they are outermost except under a test case's atomic).
        atomic = transaction.atomic()
        atomic._from_testcase = True
        atomic.__enter__()
        try:
            with override_settings(**per_test_settings(objects)), pytest.MonkeyPatch.context() as mp:
                if importlib.util.find_spec("signing.pades") is None:  # as tests/workflow until PAdES lands
                    from casehub.dossier import services as dossier

                    mp.setattr(dossier, "sign_volume", lambda pdf_bytes, volume: pdf_bytes)
                invalidate_cache()
                district, other = build_district(), build_district("X")
                # The two districts lie in different regions (tests/fixtures/district.py).
                assert other.committee.region != district.committee.region
                built = scenario_module.build(district, TestCase.captureOnCommitCallbacks, hostile=hostile)
                assert not built.problems, built.problems
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            invalidate_cache()
            raise
    try:
        yield World(scenario=built, other_district=other, objects=objects)
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            invalidate_cache()  # the world's PKI is gone with its rows


@pytest.fixture(scope="module")
def security_world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    yield from _build_world(django_db_blocker, tmp_path_factory, hostile=False)


@pytest.fixture(scope="module")
def hostile_world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """The same world with an XSS payload in every free-text field (scenario.PAYLOADS)."""
    yield from _build_world(django_db_blocker, tmp_path_factory, hostile=True)


def _enter(world: World, request: pytest.FixtureRequest, settings: Any) -> Scenario:
    """This test's own copy of the world: its objects, and its object store as the world left it."""
    if "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        raise pytest.UsageError("the security world lives in a transaction: a transactional test cannot use it")
    store = Path(url2pathname(urlsplit(settings.CASEHUB_STORAGE_URL).path))
    shutil.copytree(world.objects, store, dirs_exist_ok=True)
    return copy.deepcopy(world.scenario)


@pytest.fixture
def sc(security_world: World, db, request, settings) -> Scenario:
    """District A's case and everything hanging off it (scenario.py), as a test sees it."""
    return _enter(security_world, request, settings)


@pytest.fixture
def hostile(hostile_world: World, db, request, settings) -> Scenario:
    return _enter(hostile_world, request, settings)

