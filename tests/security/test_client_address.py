"""Which client address the limits believe (issue #18 item 7, THREAT_MODEL F18.7).

``X-Forwarded-For`` is written by the sender. It used to be believed by default
(``CASEHUB_PROXY_COUNT=0`` became DRF's ``NUM_PROXIES=None``): a guesser rotating the header
escaped the failed-token limit and the anonymous throttle, and 30 bad tokens sent with
``X-Forwarded-For: 127.0.0.1`` locked out the legitimate client at 127.0.0.1. Behind no proxy no
header is believed; behind N proxies only what the last proxy appended. The login lock-out
(django-axes) uses the same address.
"""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from casehub.addresses import client_address
from casehub.api.credentials import issue_personal_token
from tests.fixtures.district import PASSWORD

pytestmark = pytest.mark.django_db

BAD_TOKEN = "chk_000000000000_" + "x" * 43
LEGIT = "127.0.0.1"
ATTACKER = "10.66.0.9"


@pytest.fixture(autouse=True)
def _fresh_counters():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _api(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_thirty_bad_tokens_with_a_forged_header_do_not_lock_out_the_client_they_name(district):
    attacker = _api(BAD_TOKEN)
    for _ in range(30):
        attacker.get("/api/v1/me/", REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=LEGIT)
    good = issue_personal_token(acting_user=district.investigator, name="警综平台").token
    assert _api(good).get("/api/v1/me/", REMOTE_ADDR=LEGIT).status_code == 200
    # The attacker's own address is the one cut off.
    assert attacker.get("/api/v1/me/", REMOTE_ADDR=ATTACKER).status_code == 429


def test_rotating_the_header_does_not_escape_the_failed_token_limit(district, settings):
    settings.CASEHUB_API_AUTH_FAILURES_PER_MINUTE = 5
    attacker = _api(BAD_TOKEN)
    codes = [attacker.get("/api/v1/me/", REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").status_code
             for i in range(7)]
    assert codes == [401] * 5 + [429] * 2


def test_rotating_the_header_does_not_escape_the_anonymous_throttle(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                                          "anon": "2/min"}}
    client = APIClient()
    codes = [client.get("/api/v1/docs/", REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").status_code
             for i in range(3)]
    assert codes == [200, 200, 429]


def test_behind_one_proxy_only_the_entry_the_proxy_appended_counts(district, settings):
    settings.CASEHUB_PROXY_COUNT = 1
    settings.CASEHUB_API_AUTH_FAILURES_PER_MINUTE = 5
    proxy = "10.0.0.1"
    attacker = _api(BAD_TOKEN)
    # The client forges left-hand entries; the proxy appends the address it really saw.
    codes = [attacker.get("/api/v1/me/", REMOTE_ADDR=proxy,
                          HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, {ATTACKER}").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    good = issue_personal_token(acting_user=district.investigator, name="ok").token
    assert _api(good).get("/api/v1/me/", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=LEGIT).status_code == 200


@pytest.mark.parametrize(("count", "xff", "expected"), [
    (0, "192.0.2.7", "10.0.0.1"),                 # no proxy: the header is the client's invention
    (1, "192.0.2.7", "192.0.2.7"),
    (1, "6.6.6.6, 192.0.2.7", "192.0.2.7"),       # left entries are the client's
    (2, "6.6.6.6, 192.0.2.7, 10.0.0.2", "192.0.2.7"),
    (2, "192.0.2.7", "10.0.0.1"),                 # fewer entries than proxies: a proxy was bypassed
    (1, "not-an-address", "10.0.0.1"),
    (1, "", "10.0.0.1"),
])
def test_client_address_rule(settings, count, xff, expected):
    settings.CASEHUB_PROXY_COUNT = count
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=xff)
    assert client_address(request) == expected


def test_login_lockout_cannot_be_escaped_by_rotating_the_header(district):
    client = Client()
    url = reverse("login")
    for i in range(5):
        client.post(url, {"username": "prosecutor", "password": "wrong"}, REMOTE_ADDR=ATTACKER,
                    HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
    locked = client.post(url, {"username": "prosecutor", "password": PASSWORD}, REMOTE_ADDR=ATTACKER,
                         HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert locked.status_code == 429


def test_behind_a_proxy_a_guesser_does_not_lock_out_the_user_at_another_address(district, settings):
    """With CASEHUB_PROXY_COUNT unset behind a proxy every user would share the proxy's address."""
    settings.CASEHUB_PROXY_COUNT = 1
    url = reverse("login")
    guesser = Client()
    for _ in range(5):
        guesser.post(url, {"username": "prosecutor", "password": "wrong"}, REMOTE_ADDR="10.0.0.1",
                     HTTP_X_FORWARDED_FOR=ATTACKER)
    assert guesser.post(url, {"username": "prosecutor", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1",
                        HTTP_X_FORWARDED_FOR=ATTACKER).status_code == 429
    user = Client()
    response = user.post(url, {"username": "prosecutor", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1",
                         HTTP_X_FORWARDED_FOR="192.0.2.44")
    assert response.status_code == 302 and "_auth_user_id" in user.session
