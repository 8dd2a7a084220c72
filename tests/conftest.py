"""Shared test set-up. Fixture modules live in tests/fixtures/ and are loaded as plugins."""

import os
from pathlib import Path

import hypothesis
import pytest

from casehub.pki.services import invalidate_cache

pytest_plugins = [
    "tests.fixtures.clock", "tests.fixtures.requirements", "tests.fixtures.district", "tests.fixtures.s3",
    "tests.fixtures.rgw", "tests.fixtures.browser",
]

# Budgets of the long fuzz runs (marked slow; the default run's fuzzers carry their own fixed budgets).
# CI=true runs every slow fuzzer with a small, derandomised budget (same examples every run, so CI is
# deterministic); `make test-slow` (HYPOTHESIS_PROFILE=long) explores randomly with the full one.
hypothesis.settings.register_profile("ci", max_examples=20, derandomize=True)
hypothesis.settings.register_profile("long", max_examples=1000, derandomize=False)
hypothesis.settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "default")
)


def _worker_cache(caches: dict) -> dict | None:
    """With a Redis cache (CI), each xdist worker gets a database of its own: tests clear the cache
    (FLUSHDB) to reset throttle and rate-limit counters, which must not wipe another worker's
    counters in the middle of its test."""
    default = caches.get("default", {})
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if "redis" not in default.get("BACKEND", "").lower() or not worker.startswith("gw"):
        return None
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(default["LOCATION"])
    # 12, 13, ...: clear of the databases CI and the worker tests use (1, 9). Two runs sharing one
    # Redis (two checkouts on one machine) give each its own range with CASEHUB_TEST_CACHE_DB_BASE.
    db = int(os.environ.get("CASEHUB_TEST_CACHE_DB_BASE", "12")) + int(worker[2:])
    return {**caches, "default": {**default, "LOCATION": urlunsplit(parts._replace(path=f"/{db}"))}}


def per_test_settings(objects: Path) -> dict:
    """The settings every test runs with (and a module-scoped fixture that builds data for several
    tests, e.g. tests/security/conftest.py), ``objects`` being the object-store directory."""
    from django.conf import settings

    overrides = {
        "CASEHUB_STORAGE_URL": objects.as_uri(),
        "CELERY_TASK_ALWAYS_EAGER": True,
        # Eager webhook deliveries run in the test's thread: a background thread would race the test's
        # transaction on SQLite (the thread path itself is tested in tests/api/test_webhooks.py).
        "CASEHUB_WEBHOOK_SYNC_FOR_TESTS": True,
        # Tests create many users; production keeps Django's slow default hasher (a test checks it).
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    }
    per_worker = _worker_cache(settings.CACHES)
    if per_worker is not None:
        overrides["CACHES"] = per_worker
    return overrides


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language (Simplified Chinese). The test client's requests
    activate the language of their cookie or header in the test's own thread (LocaleMiddleware) and
    leave it active; without this, a test after an English page would read English messages."""
    from django.conf import settings as django_settings
    from django.utils import translation

    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _isolated_data_dir(settings, tmp_path):
    """Each test gets its own object-store directory unless it asks for S3."""
    for name, value in per_test_settings(tmp_path / "objects").items():
        setattr(settings, name, value)
    # Each test rolls its PKI back; a signer cached by the previous test must not outlive it.
    invalidate_cache()
    yield
    invalidate_cache()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """On PostgreSQL the test databases commit without waiting for the WAL flush
    (``synchronous_commit=off``): a crash may lose the last commits of a database that is thrown
    away anyway, and what other transactions see (locks, isolation) is unchanged. Thousands of
    small commits (transactional tests, flushes, the race tests) each skip a disk flush."""
    from django.conf import settings

    for db in settings.DATABASES.values():
        if db["ENGINE"].endswith("postgresql"):
            options = db.setdefault("OPTIONS", {})
            options["options"] = (options.get("options", "") + " -c synchronous_commit=off").strip()
