"""The API refuses fields it does not know (THREAT_MODEL T8; issue #18 item 16, finding F18.16).

DRF silently drops unknown keys, so ``{"title": …, "stage": "judged"}`` answered 201 and a
misspelt ``expected_version`` was ignored. Now every serializer of the project is strict: an
unknown or read-only key is a 400 naming it, and nothing is created.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from rest_framework import serializers

from casehub.api.strict import QueryFilter, StrictInputMixin
from casehub.cases.models import Case

pytestmark = pytest.mark.django_db


def _all_serializers() -> list[type]:
    import casehub
    import workflows

    for package in (casehub, workflows):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" not in info.name and not info.name.endswith((".settings", ".wsgi", ".celery")):
                importlib.import_module(info.name)
    found, todo = [], [serializers.BaseSerializer]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith(("casehub.", "workflows.")):
            found.append(cls)
    return found


def test_every_serializer_of_the_project_refuses_unknown_fields():
    """Generic: a serializer added tomorrow without the strict base fails here."""
    classes = _all_serializers()
    assert len(classes) > 30, "the walk found almost no serializers: did the import fail?"
    lax = sorted(f"{c.__module__}.{c.__name__}" for c in classes
                 if not issubclass(c, (StrictInputMixin, QueryFilter)) and c not in (QueryFilter,))
    assert not lax, f"serializers that would silently drop unknown fields: {lax}"


def _fields(response) -> dict[str, str]:
    return {e["field"]: e["code"] for e in response.json()["errors"]}


def test_registering_a_case_with_a_stage_is_refused_and_creates_nothing(district, api_as):
    client = api_as(district.investigator)
    response = client.post("/api/v1/cases/", {"title": "张三盗窃案", "stage": "judged", "holder_agency": 1},
                           format="json")
    assert response.status_code == 400
    assert _fields(response) == {"stage": "unknown_field", "holder_agency": "unknown_field"}
    assert Case.objects.count() == 0
    # The same body without the extra keys is accepted: the refusal was about the keys only.
    assert client.post("/api/v1/cases/", {"title": "张三盗窃案"}, format="json").status_code == 201


def test_an_unknown_key_inside_a_nested_person_is_named_with_its_path(district, api_as):
    response = api_as(district.investigator).post(
        "/api/v1/cases/", {"title": "李四诈骗案", "persons": [{"name": "李四", "nickname": "老四"}]}, format="json")
    assert response.status_code == 400
    assert _fields(response) == {"persons.0.nickname": "unknown_field"}
    assert Case.objects.count() == 0


def test_a_token_request_with_extra_fields_issues_no_token(district, api_as):
    from casehub.api.models import ApiCredential

    client = api_as(district.investigator)
    before = ApiCredential.objects.count()
    response = client.post("/api/v1/tokens/", {"name": "脚本", "scopes": ["admin"]}, format="json")
    assert response.status_code == 400 and _fields(response) == {"scopes": "unknown_field"}
    assert ApiCredential.objects.count() == before


def test_list_filters_still_take_pagination_parameters(district, api_as, theft_case):
    response = api_as(district.investigator).get("/api/v1/cases/?cursor=&format=json&q=张三")
    assert response.status_code == 200
