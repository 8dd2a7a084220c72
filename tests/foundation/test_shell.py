"""The UI shell: login, the home page per role, the language switch."""

import pytest
from django.urls import reverse

from tests.fixtures.district import PASSWORD

pytestmark = pytest.mark.django_db


def test_home_requires_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_investigator_home_shows_agency_and_role_in_chinese(client, district):
    client.force_login(district.investigator)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "深圳市公安局龙岗分局" in body
    assert "侦查员" in body
    assert 'lang="zh-hans"' in body


def test_language_switch_to_english(client, district):
    client.force_login(district.investigator)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    body = client.get(reverse("home")).content.decode()
    assert 'lang="en"' in body
    assert "Welcome" in body


def test_login_with_password_then_lockout_after_five_failures(client, district):
    url = reverse("login")
    ok = client.post(url, {"username": "investigator", "password": PASSWORD})
    assert ok.status_code == 302
    client.logout()
    for _ in range(5):
        client.post(url, {"username": "investigator", "password": "wrong"})
    locked = client.post(url, {"username": "investigator", "password": PASSWORD})
    assert locked.status_code == 429
    assert "锁定" in locked.content.decode()
