"""Transport and browser-facing controls: headers, cookies, HSTS, passwords, sessions, lockout.

THREAT_MODEL.md threats S1 (password guessing), S2 (stolen session), T1 (clickjacking), I4
(MIME sniffing, referrer leak) point here. Production settings are checked in a subprocess with
CASEHUB_ENV=production, exactly as a deployer would start the platform.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from casehub import env
from tests.fixtures.district import PASSWORD

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


# --- headers on every HTML page ------------------------------------------------------------------

def test_pages_refuse_framing_sniffing_and_cross_origin_referrers(client, district):
    client.force_login(district.investigator)
    for url in (reverse("home"), reverse("login"), reverse("cases:list")):
        response = client.get(url, follow=False)
        assert response["X-Frame-Options"] == "DENY", url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["Referrer-Policy"] == "same-origin", url
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", url


def test_anonymous_login_page_also_carries_the_headers(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_session_and_csrf_cookies_are_http_only_and_same_site(client, district):
    response = client.post(reverse("login"), {"username": "investigator", "password": PASSWORD})
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["httponly"]
    assert session["samesite"] == "Lax"
    page = client.get(reverse("cases:register"))
    csrf = page.cookies.get("csrftoken") or client.cookies["csrftoken"]
    assert csrf["httponly"]


# --- production settings ----------------------------------------------------------------------

PRODUCTION_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
c = Client(HTTP_X_FORWARDED_PROTO="https", SERVER_NAME="casehub.example.gov.cn")
r = c.get("/", HTTP_HOST="casehub.example.gov.cn")  # login redirect: no static manifest needed
plain = Client().get("/login/", HTTP_HOST="casehub.example.gov.cn")
print(json.dumps({
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
    "DEBUG": settings.DEBUG,
    "hasher": settings.PASSWORD_HASHERS[0],
    "status": r.status_code,
    "hsts": r.headers.get("Strict-Transport-Security", ""),
    "plain_status": plain.status_code,
    "plain_location": plain.headers.get("Location", ""),
}))
"""


def _production_env(tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in {v.name for v in env.VARIABLES}}
    environ.update({
        "DJANGO_SETTINGS_MODULE": "casehub.settings",
        "CASEHUB_DATA_DIR": str(tmp_path),
        "CASEHUB_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "CASEHUB_KEY_ENCRYPTION_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "ALLOWED_HOSTS": "casehub.example.gov.cn",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
    })
    return environ


def test_production_sends_hsts_secure_cookies_and_redirects_plain_http(tmp_path):
    result = subprocess.run([sys.executable, "-c", PRODUCTION_PROBE], cwd=ROOT, env=_production_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["SESSION_COOKIE_SECURE"] is True
    assert probe["CSRF_COOKIE_SECURE"] is True
    assert probe["DEBUG"] is False
    assert probe["hasher"].endswith(("PBKDF2PasswordHasher", "Argon2PasswordHasher", "ScryptPasswordHasher"))
    assert probe["SECURE_HSTS_SECONDS"] >= 31536000
    assert probe["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    # Over HTTPS (as the proxy reports it) the answer carries HSTS ...
    assert probe["status"] == 302
    assert "max-age=31536000" in probe["hsts"]
    assert "includeSubDomains" in probe["hsts"]
    # ... and plain HTTP is redirected to HTTPS.
    assert probe["plain_status"] == 301
    assert probe["plain_location"].startswith("https://casehub.example.gov.cn/")


def test_production_refuses_debug(tmp_path):
    environ = _production_env(tmp_path) | {"DEBUG": "true"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=environ,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "DEBUG" in result.stderr


# --- passwords, sessions, lockout -------------------------------------------------------------

@pytest.mark.parametrize("weak", ["short1!", "password1234", "123456789012", "investigator2026"])
def test_password_validators_refuse_weak_passwords(district, weak):
    with pytest.raises(ValidationError):
        validate_password(weak, user=district.investigator)


def test_password_validators_accept_a_long_passphrase(district):
    validate_password("tiger-lantern-copper-9-river", user=district.investigator)


def test_password_change_form_enforces_the_validators(client, district):
    client.force_login(district.investigator)
    response = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "short1!", "new_password2": "short1!",
    })
    assert response.status_code == 200  # form redisplayed with errors
    district.investigator.refresh_from_db()
    assert district.investigator.check_password(PASSWORD)


def test_session_expires_after_the_working_day(client, settings, district):
    assert settings.SESSION_COOKIE_AGE <= 8 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    client.force_login(district.investigator)
    assert client.get(reverse("home")).status_code == 200
    key = client.session.session_key
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_logout_kills_the_server_side_session(client, district):
    client.force_login(district.investigator)
    key = client.session.session_key
    client.post(reverse("logout"))
    assert not Session.objects.filter(session_key=key).exists()


def test_lockout_refuses_even_the_right_password_and_records_attempts(client, district):
    from axes.models import AccessAttempt

    url = reverse("login")
    for _ in range(5):
        client.post(url, {"username": "prosecutor", "password": "wrong-guess"})
    locked = client.post(url, {"username": "prosecutor", "password": PASSWORD})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    assert AccessAttempt.objects.filter(username="prosecutor").exists()
    # Another account from the same address is not locked by these failures.
    other = client.post(url, {"username": "investigator", "password": PASSWORD})
    assert other.status_code == 302


def test_login_does_not_reveal_whether_an_account_exists(client, district):
    url = reverse("login")
    known = client.post(url, {"username": "investigator", "password": "wrong-guess"}).content.decode()
    unknown = client.post(url, {"username": "nobody-here", "password": "wrong-guess"}).content.decode()
    marker = "用户名或密码错误"
    assert marker in known and marker in unknown


def test_open_redirect_after_login_is_refused(client, district):
    response = client.post(reverse("login") + "?next=https://evil.example/steal",
                           {"username": "investigator", "password": PASSWORD,
                            "next": "https://evil.example/steal"})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]
