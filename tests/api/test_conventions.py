"""The conventions every endpoint shares: error shape and language, pagination, throttling,
idempotency, the 404 for unknown paths, the schema and its local docs."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from casehub.api.errors import ERROR_CODES
from casehub.cases.models import Case

# Error shape, pagination, throttling and idempotency do not depend on the day.
pytestmark = [pytest.mark.django_db, pytest.mark.dateless]


def test_messages_follow_accept_language(client):
    zh = client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    en = client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert zh["code"] == en["code"] == "not_authenticated"
    assert en["message"] == "Authentication credentials were not provided."
    assert zh["message"] != en["message"] and "认证" in zh["message"]


def test_chinese_is_the_default_language(client):
    assert "认证" in client.get("/api/v1/me/").json()["message"]


def test_validation_errors_name_each_field_including_nested_ones(district, api_as):
    response = api_as(district.investigator).post("/api/v1/cases/", {
        "summary": "没有标题",
        "occurred_on": "昨天",
        "persons": [{"name": "张三", "id_number": "440307199001011234"}],
    }, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    fields = {e["field"]: e["code"] for e in body["errors"]}
    assert fields["title"] == "required"
    assert fields["occurred_on"] == "invalid"
    assert fields["persons.0.id_number"] == "id_checksum"
    assert Case.objects.count() == 0


def test_query_parameters_are_validated_too(district, api_as):
    response = api_as(district.auditor).get("/api/v1/audit/events/?case=abc")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "case"


def test_an_invalid_cursor_is_a_400_naming_the_cursor(district, api_as):
    response = api_as(district.investigator).get("/api/v1/cases/?cursor=garbage")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"


def test_unknown_api_path_is_json_404(district, api_as):
    response = api_as(district.investigator).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_cursor_pagination_walks_every_row_once(district, api_as):
    from casehub.cases.services import register_case

    for i in range(7):
        register_case(acting_user=district.investigator, title=f"案件{i}")
    client = api_as(district.investigator)
    seen, url, pages = [], "/api/v1/cases/?page_size=3", 0
    while url:
        page = client.get(url).json()
        assert set(page) == {"next", "previous", "results"}
        seen += [c["id"] for c in page["results"]]
        url, pages = page["next"], pages + 1
    assert pages == 3
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 7


def test_throttling_is_per_client_and_configurable(district, api_as, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"personal": "3/min", "user": "3/min"}}
    first, second = api_as(district.investigator), api_as(district.prosecutor)
    assert [first.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
    refused = first.get("/api/v1/me/")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    assert second.get("/api/v1/me/").status_code == 200  # another client has its own budget


def test_a_client_credential_may_carry_its_own_rate(district):
    from casehub.api.credentials import register_client

    issued = register_client(acting_user=None, agency=district.court, name="法院系统", role="court_clerk",
                             throttle_rate="2/min")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.token}")
    assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 429]


class TestIdempotency:
    body = {"title": "李四诈骗案", "summary": "电信诈骗"}

    def test_same_key_and_body_returns_the_first_result_and_creates_nothing(self, district, api_as):
        client = api_as(district.investigator)
        first = client.post("/api/v1/cases/", self.body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        again = client.post("/api/v1/cases/", self.body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"
        assert again["Location"] == first["Location"]
        assert Case.objects.count() == 1

    def test_same_key_different_body_is_409_and_creates_nothing(self, district, api_as):
        client = api_as(district.investigator)
        client.post("/api/v1/cases/", self.body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
        other = client.post("/api/v1/cases/", {**self.body, "title": "王五"}, format="json",
                            HTTP_IDEMPOTENCY_KEY="k-2")
        assert other.status_code == 409
        assert other.json()["code"] == "idempotency_key_reused"
        assert Case.objects.count() == 1

    def test_keys_belong_to_one_caller(self, district, make_user, api_as):
        from casehub.agencies.models import Role

        colleague = make_user(district.police, [Role.INVESTIGATOR])
        api_as(district.investigator).post("/api/v1/cases/", self.body, format="json", HTTP_IDEMPOTENCY_KEY="k")
        api_as(colleague).post("/api/v1/cases/", self.body, format="json", HTTP_IDEMPOTENCY_KEY="k")
        assert Case.objects.count() == 2

    def test_a_failed_request_releases_its_key(self, district, api_as):
        client = api_as(district.investigator)
        bad = client.post("/api/v1/cases/", {"summary": "no title"}, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
        assert bad.status_code == 400
        good = client.post("/api/v1/cases/", self.body, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
        assert good.status_code == 201

    def test_without_a_key_each_post_creates(self, district, api_as):
        client = api_as(district.investigator)
        client.post("/api/v1/cases/", self.body, format="json")
        client.post("/api/v1/cases/", self.body, format="json")
        assert Case.objects.count() == 2

    def test_an_overlong_key_is_rejected_naming_the_header(self, district, api_as):
        response = api_as(district.investigator).post("/api/v1/cases/", self.body, format="json",
                                                      HTTP_IDEMPOTENCY_KEY="x" * 300)
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == "Idempotency-Key"


def test_schema_documents_errors_idempotency_and_examples_for_every_operation(client):
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    operations = [(path, method, op) for path, item in schema["paths"].items() for method, op in item.items()]
    assert len(operations) >= 15
    for path, method, op in operations:
        for code in ("401", "403", "429"):
            error = op["responses"][code]["content"]["application/json"]
            assert error["schema"]["$ref"].endswith("/Error"), (path, method, code)
            assert error["examples"], (path, method, code)
        creates = {"201", "202"} & set(op["responses"]) or "/actions/" in path
        if method == "post" and creates:
            names = {p["name"] for p in op.get("parameters", [])}
            assert "Idempotency-Key" in names, path
            assert "409" in op["responses"], path
    documented_codes = set(ERROR_CODES)
    assert {"validation_error", "not_found", "permission_denied", "throttled"} <= documented_codes


def test_swagger_ui_is_served_with_local_assets_only(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    # ... and those assets are shipped with the platform (collected into STATIC_ROOT on deploy).
    import re

    from django.contrib.staticfiles import finders

    assets = re.findall(r'/static/(drf_spectacular_sidecar/[^"\']+)', html)
    assert assets and all(finders.find(a) for a in assets), assets


def test_a_second_request_while_the_first_runs_is_409_in_progress(district, api_as):
    from casehub.api.models import IdempotencyRecord

    client = api_as(district.investigator)
    body = {"title": "并发"}
    # What a first request leaves while it is still running: a committed, pending record.
    first = client.post("/api/v1/cases/", body, format="json", HTTP_IDEMPOTENCY_KEY="race")
    record = IdempotencyRecord.objects.get(key="race")
    IdempotencyRecord.objects.filter(pk=record.pk).update(status_code=None, response_body=None)
    second = client.post("/api/v1/cases/", body, format="json", HTTP_IDEMPOTENCY_KEY="race")
    assert first.status_code == 201
    assert second.status_code == 409 and second.json()["code"] == "idempotency_in_progress"
    assert Case.objects.count() == 1


def test_expired_keys_and_old_tasks_are_purged(district, api_as):
    from datetime import timedelta

    from django.utils import timezone

    from casehub.api.models import ApiTask, IdempotencyRecord
    from casehub.api.tasks import purge_expired

    client = api_as(district.investigator)
    client.post("/api/v1/cases/", {"title": "旧"}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    client.post("/api/v1/cases/", {"title": "新"}, format="json", HTTP_IDEMPOTENCY_KEY="new")
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    ApiTask.objects.create(kind="audit.verify", owner=district.investigator)
    stale = ApiTask.objects.create(kind="audit.verify", owner=district.investigator)
    ApiTask.objects.filter(pk=stale.pk).update(created_at=timezone.now() - timedelta(days=8))

    assert purge_expired() == {"idempotency_records": 1, "tasks": 1}
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert Case.objects.count() == 2  # only bookkeeping goes
    # An expired key may be used again and creates anew.
    client.post("/api/v1/cases/", {"title": "旧"}, format="json", HTTP_IDEMPOTENCY_KEY="old")
    assert Case.objects.count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_create_one_case(district):
    """Copies of the same POST at the same moment (a client retrying on timeouts): one case.

    Real concurrency needs PostgreSQL (the in-memory SQLite test database locks whole tables
    without waiting), so the embedded run deselects this test; the in-progress rule itself is
    tested deterministically above."""
    import threading

    from django.db import connection

    from casehub.api.credentials import issue_personal_token

    token = issue_personal_token(acting_user=district.investigator, name="retry").token
    assert connection.vendor == "postgresql"
    copies = 4
    statuses: list[int] = []
    barrier = threading.Barrier(copies)

    def send() -> None:
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IDEMPOTENCY_KEY="same-request")
        try:
            barrier.wait()
            statuses.append(client.post("/api/v1/cases/", {"title": "并发重试"}, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == copies and statuses.count(201) >= 1 and set(statuses) <= {201, 409}, statuses
    assert Case.objects.count() == 1
    # And once the first has finished, a retry is answered from the record.
    again = APIClient()
    again.credentials(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IDEMPOTENCY_KEY="same-request")
    assert again.post("/api/v1/cases/", {"title": "并发重试"}, format="json")["Idempotent-Replayed"] == "true"
    assert Case.objects.count() == 1


def test_an_auditor_sees_only_the_events_of_the_committees_region(district, make_user, theft_case, api_as):
    from casehub.agencies.models import Agency, AgencyKind, Role

    elsewhere = Agency.objects.create(kind=AgencyKind.COMMITTEE, code="ZFW440308", name="盐田区委政法委",
                                      region="440308")
    outsider = api_as(make_user(elsewhere, [Role.AUDITOR]))
    assert outsider.get(f"/api/v1/audit/events/?case={theft_case.pk}").json()["results"] == []
    local = api_as(district.auditor).get(f"/api/v1/audit/events/?case={theft_case.pk}").json()["results"]
    assert local
    assert outsider.get(f"/api/v1/audit/events/{local[0]['sequence']}/").status_code == 404


def test_agency_administrators_find_the_api_docs_in_the_navigation(district):
    from casehub.web.navigation import entries_for

    assert "api:docs" in {e["url_name"] for e in entries_for(district.police_admin)}
    assert "api:docs" not in {e["url_name"] for e in entries_for(district.investigator)}


@pytest.mark.parametrize("path,body,who", [
    ("/api/v1/tokens/", {"name": "脚本"}, "investigator"),
    ("/api/v1/clients/", {"name": "办案系统", "role": "investigator"}, "police_admin"),
], ids=["personal-token", "system-client"])
def test_a_replayed_credential_request_answers_without_the_secret(district, path, body, who):
    """The idempotency store keeps no secret: replaying the request (after a revocation, or from
    another token of the same user) cannot hand the token out again."""
    from casehub.api.credentials import authenticate_token
    from casehub.api.models import ApiCredential, IdempotencyRecord

    client = APIClient()
    client.force_login(getattr(district, who))
    first = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="issue-1")
    assert first.status_code == 201
    secret = first.json()["token"]
    assert authenticate_token(secret) is not None
    assert secret not in str(IdempotencyRecord.objects.get(key="issue-1").response_body)

    again = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="issue-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert "token" not in again.json() and secret not in again.content.decode()
    assert again["Idempotent-Secret-Withheld"] == "token"
    assert again.json()["key_id"] == first.json()["key_id"]
    assert ApiCredential.objects.filter(name=body["name"]).count() == 1
