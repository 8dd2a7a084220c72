"""CSRF is enforced on every endpoint that accepts POST (THREAT_MODEL.md T2).

Generated over the whole URL conf, like the cross-agency test: every endpoint is POSTed by a
logged-in user holding the right, with a client that enforces CSRF checks and sends no token.
UI views must answer with the CSRF failure view; API views (DRF, session-authenticated) with
DRF's "CSRF Failed". Only DRF views may be ``csrf_exempt`` — DRF then enforces CSRF itself for
session authentication, and bearer tokens are not ambient credentials.
"""

from __future__ import annotations

import re

import pytest
from django.http import HttpResponseForbidden
from django.test import Client

from tests.security.test_cross_agency import ALL, EXEMPT, _covered, _is_api_catch_all, _url, rule_for
from tests.security.urlmap import endpoints

pytestmark = pytest.mark.django_db

MARKER = "casehub-test-csrf-failure"


def csrf_failure(request, reason=""):
    """Stand-in for Django's CSRF failure view, so a CSRF 403 is told apart from a permission 403."""
    return HttpResponseForbidden(MARKER)


@pytest.fixture
def csrf_settings(settings):
    settings.CSRF_FAILURE_VIEW = "tests.security.test_csrf.csrf_failure"
    return settings


def _user_for(sc, rule):
    d = sc.district
    if rule.allowed == ALL:
        return d.investigator
    return d.users[sorted(rule.allowed)[0]]


def test_only_api_views_are_csrf_exempt():
    exempt = [ep.label for ep in endpoints() if getattr(ep.callback, "csrf_exempt", False)
              and not ep.route.startswith("api/")]
    assert not exempt, f"csrf_exempt outside the API: {exempt}"


def test_every_post_without_a_token_is_refused(sc, csrf_settings):
    failures = []
    checked = 0
    for ep in endpoints():
        if ep.route.startswith("admin/"):
            url = "/" + re.sub(r"<[^>]+>", "1", ep.route).replace("^", "").replace("$", "")
            user = None
        elif _is_api_catch_all(ep):
            continue  # answers 404 to everything
        else:
            rule = rule_for(ep.name)
            if ep.name in EXEMPT:
                from django.urls import reverse

                url = reverse(ep.name, kwargs={name: "x" for name in ep.params})
                user = sc.district.investigator
            else:
                url = _url(ep, sc)
                user = _user_for(sc, rule)
        client = Client(enforce_csrf_checks=True, raise_request_exception=False)
        if user is not None:
            client.force_login(user)
        else:
            client.force_login(sc.district.police_admin)  # staff: reaches the admin views
        response = client.post(url, data={"x": "1"})
        body = response.content.decode("utf-8", errors="replace")
        checked += 1
        if ep.route.startswith("api/"):
            # 405: the endpoint has no POST handler at all (read-only), so there is nothing to forge.
            if not ((response.status_code == 403 and "CSRF" in body) or response.status_code == 405):
                failures.append(f"{ep.label} {url} -> {response.status_code} {body[:120]!r}")
        elif response.status_code != 403 or MARKER not in body:
            failures.append(f"{ep.label} {url} -> {response.status_code} (no CSRF refusal)")
    assert checked > 30
    assert not failures, "\n".join(failures)


def test_every_post_form_on_every_page_carries_the_token(sc):
    """Pages rendered to users with the right: each <form method="post"> has a csrf token."""
    failures = []
    for ep in endpoints():
        if _covered(ep) or ep.route.startswith("api/"):
            continue
        rule = rule_for(ep.name)
        if not rule.get:
            continue
        client = Client(raise_request_exception=False)
        client.force_login(_user_for(sc, rule))
        response = client.get(_url(ep, sc))
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        for form in re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S | re.I):
            if re.search(r"method=[\"']?post", form, flags=re.I) and "csrfmiddlewaretoken" not in form:
                failures.append(f"{ep.label}: {form[:100]!r}")
    assert not failures, "\n".join(failures)
