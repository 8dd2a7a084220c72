"""The database drops the platform's connections (restart, failover, an administrator's
``pg_terminate_backend``): the next request reconnects instead of failing, and whatever goes wrong
under /api/ is answered in the API's JSON error shape, never Django's HTML error page.

The recovery test drives the real WSGI handler in this process (as gunicorn does: request
signals, kept connections), with production's connection lifetime, and terminates the backend
it used between two requests.
"""

from __future__ import annotations

import io
import json
import time
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError, connection
from django.test import Client

from casehub.api.credentials import issue_personal_token


def _wsgi_get(path: str, token: str) -> tuple[int, dict[str, str], bytes]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_AUTHORIZATION": f"Bearer {token}",
               "SERVER_NAME": "127.0.0.1", "HTTP_HOST": "127.0.0.1", "wsgi.input": io.BytesIO(b"")}
    setup_testing_defaults(environ)
    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    result = WSGIHandler()(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()  # request_finished: the server's end of the request, as gunicorn does
    return int(answer["status"][:3]), answer["headers"], body


def _terminate(pid: int) -> None:
    """End one backend from a second, independent session, and wait until it is gone."""
    import psycopg

    s = connection.settings_dict
    with psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"],
                         password=s["PASSWORD"] or None, dbname=s["NAME"], autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(50):
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                return
            time.sleep(0.1)
    raise AssertionError(f"backend {pid} did not go away")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_api_recovers_when_postgresql_terminates_the_apps_connections(district):
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    token = issue_personal_token(acting_user=district.investigator, name="drill").token
    saved_age = connection.settings_dict["CONN_MAX_AGE"]
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = 60  # production keeps connections for a minute
    try:
        status, _headers, body = _wsgi_get("/api/v1/me/", token)
        assert status == 200, body[:500]
        pid = connection.connection.info.backend_pid  # the kept connection the next request reuses
        _terminate(pid)

        # The very next request on this "worker" is served: the dead connection is noticed and replaced.
        status, headers, body = _wsgi_get("/api/v1/me/", token)
        assert status == 200, body[:500]
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body)["username"] == district.investigator.username
        assert connection.connection.info.backend_pid != pid
    finally:
        connection.close()
        connection.settings_dict["CONN_MAX_AGE"] = saved_age


@pytest.mark.django_db
def test_a_lost_database_connection_in_an_api_view_answers_json_503(district, monkeypatch):
    from rest_framework.test import APIClient

    from casehub.api import views

    def lost(*args, **kwargs):
        raise OperationalError("terminating connection due to administrator command")

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_personal_token(acting_user=district.investigator, name='t').token}")
    monkeypatch.setattr(views.MeView, "get", lost)
    response = client.get("/api/v1/me/")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "database_unavailable" and int(response["Retry-After"]) > 0


@pytest.mark.django_db
def test_an_unexpected_error_under_the_api_is_json_and_the_ui_keeps_its_page(district, monkeypatch):
    """Even an error outside DRF's reach (here a middleware) answers the API's shape under /api/."""
    from casehub.agencies import middleware

    def broken(self, request):
        raise RuntimeError("a bug")

    monkeypatch.setattr(middleware.RequireSecondFactorMiddleware, "__call__", broken)
    client = Client(raise_request_exception=False)
    api = client.get("/api/v1/me/")
    assert api.status_code == 500
    assert api["Content-Type"] == "application/json"
    assert api.json()["code"] == "internal_error" and "a bug" not in api.content.decode()
    page = client.get("/cases/")
    assert page.status_code == 500 and not page["Content-Type"].startswith("application/json")
