"""Fast password hashing for this package's fixtures (the district has ten users).

The production hasher (PBKDF2) is checked in tests/security/test_http_controls.py with the real
settings, in a subprocess.
"""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
