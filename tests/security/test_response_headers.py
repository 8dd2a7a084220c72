"""Generated over the URL conf: every answer forbids caching and every page forbids inline script.

Issue #18 item 16 (THREAT_MODEL F18.16). For each endpoint a district-A user with the right
requests it (the cross-agency test's rules and scenario): the response must carry
``Cache-Control: no-store`` (pages and API answers carry personal data), and an HTML page must
carry a Content-Security-Policy whose ``script-src`` admits no inline script — and contain none
(no ``<script>`` without ``src``, no ``on…=`` handler attributes), so the policy breaks nothing.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.security.test_cross_agency import ALL, _covered, _url, rule_for
from tests.security.urlmap import endpoints

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>", re.I)
HANDLER = re.compile(rb"<[a-z][^>]*\son[a-z]+\s*=", re.I)


def _directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def _check(response, url: str) -> list[str]:
    problems = []
    if "no-store" not in response.get("Cache-Control", ""):
        problems.append(f"{url}: Cache-Control {response.get('Cache-Control')!r}")
    if response.get("Content-Type", "").startswith("text/html"):
        csp = response.get("Content-Security-Policy", "")
        directives = _directives(csp)
        script = directives.get("script-src", directives.get("default-src"))
        if not script or "'unsafe-inline'" in script or "'unsafe-eval'" in script:
            problems.append(f"{url}: script-src {script!r} (CSP {csp!r})")
        if directives.get("frame-ancestors") != ["'none'"] or directives.get("object-src") != ["'none'"]:
            problems.append(f"{url}: CSP {csp!r}")
        body = response.content
        if INLINE_SCRIPT.search(body):
            problems.append(f"{url}: inline <script> {INLINE_SCRIPT.search(body).group(0)[:80]!r}")
        if HANDLER.search(body):
            problems.append(f"{url}: inline event handler {HANDLER.search(body).group(0)[:80]!r}")
    return problems


def test_every_answer_is_no_store_and_every_page_has_a_strict_script_policy(sc):
    d = sc.district
    problems, checked = [], 0
    for ep in endpoints():
        if _covered(ep):
            continue
        rule = rule_for(ep.name)
        if not rule.get:
            continue
        key = "investigator" if rule.allowed == ALL else sorted(rule.allowed)[0]
        client = Client(raise_request_exception=False)
        client.force_login(d.users[key])
        url = _url(ep, sc)
        response = client.get(url)
        if response.status_code >= 400:
            problems.append(f"{url} as {key}: {response.status_code}")
            continue
        if response.streaming:
            b"".join(response.streaming_content)
        elif ep.name == "metrics:chart":
            assert response["Cache-Control"] == "private, max-age=60"  # an aggregate picture, no persons
            continue
        elif rule.static and "no-store" not in response.get("Cache-Control", "no-store"):
            # Public artefacts, the same for everyone (certificates, CRLs): the view chose to cache.
            assert "public" in response["Cache-Control"], (url, response["Cache-Control"])
            continue
        checked += 1
        problems += _check(response, url)
    assert checked > 50
    assert not problems, "\n".join(problems)


def test_the_login_page_and_the_api_docs_for_anonymous_visitors(client):
    for url in ("/login/", "/api/v1/docs/"):
        response = client.get(url)
        assert response.status_code == 200
        assert not _check(response, url), _check(response, url)
    # The docs page's start-up script is a separate response (SpectacularSwaggerSplitView).
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def test_the_django_admin_pages_are_covered_too(district):
    client = Client()
    client.force_login(district.police_admin)
    for url in ("/admin/", "/admin/agencies/user/", f"/admin/agencies/user/{district.investigator.pk}/change/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert not _check(response, url), _check(response, url)
