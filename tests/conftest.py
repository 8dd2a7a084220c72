"""Shared test set-up. Fixture modules live in tests/fixtures/ and are loaded as plugins."""

import pytest

from casehub.pki.services import invalidate_cache

pytest_plugins = [
    "tests.fixtures.clock", "tests.fixtures.district", "tests.fixtures.s3", "tests.fixtures.rgw", "tests.fixtures.browser",
]


@pytest.fixture(autouse=True)
def _isolated_data_dir(settings, tmp_path):
    """Each test gets its own object-store directory unless it asks for S3."""
    settings.CASEHUB_STORAGE_URL = (tmp_path / "objects").as_uri()
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Eager webhook deliveries run in the test's thread: a background thread would race the test's
    # transaction on SQLite (the thread path itself is tested in tests/api/test_webhooks.py).
    settings.CASEHUB_WEBHOOK_SYNC_FOR_TESTS = True
    # Tests create many users; production keeps Django's slow default hasher (a test checks it).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Each test rolls its PKI back; a signer cached by the previous test must not outlive it.
    invalidate_cache()
    yield
    invalidate_cache()
