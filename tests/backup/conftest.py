"""Fixtures of the backup tests: fast password hashing, and the fault tests' file database."""

import pytest

from tests.faults.conftest import file_database  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
