"""API test helpers: a client per user, authenticated by a real bearer token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from casehub.api.credentials import issue_personal_token


@pytest.fixture(autouse=True)
def _fresh_throttle_counters(settings):
    """Throttle counters live in the cache; each test starts with empty buckets."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_pki_cache():
    """casehub.pki keeps signers and the trust store per process; each test has its own database
    (its own root and agency keys), so a cache filled by an earlier test must not be trusted."""
    from casehub.pki.services import invalidate_cache

    invalidate_cache()
    yield
    invalidate_cache()


@pytest.fixture
def api_as(db) -> Callable[[Any], APIClient]:
    """``api_as(user)`` → an APIClient sending ``Authorization: Bearer <personal token of user>``."""

    def _client(user: Any, **headers: str) -> APIClient:
        issued = issue_personal_token(acting_user=user, name="test")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}", **headers)
        client.token = issued.token
        return client

    return _client


@pytest.fixture
def theft_case(district):
    """A case the district's police registered (through the same service as the UI)."""
    from casehub.cases.services import register_case

    return register_case(
        acting_user=district.investigator, title="张三盗窃案", summary="入室盗窃",
        persons=[{"name": "张三", "id_number": "440307199001011232"}],
    )


# The workflow package's scenario fixtures: a case with a detained suspect and real ingested
# documents, and a driver that fires transitions through the engine (used to set the stage
# quickly; the step under test then goes through the API).
from tests.workflow.conftest import Driver, make_case  # noqa: E402,F401


@pytest.fixture
def wf_case(make_case):  # noqa: F811 - the imported fixture, requested by name
    return make_case()


@pytest.fixture
def drive(district, django_capture_on_commit_callbacks):
    return Driver(district, django_capture_on_commit_callbacks)
