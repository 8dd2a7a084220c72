"""The custody-terms actions through the REST API (issue #15): the same route and rule as the page —
the police request an extension of 张三's investigation custody (CPL art. 156; SPP Rules 2019 art.
309), the district procuratorate forwards it, the city procuratorate decides; another agency's role is
403 on the step it may not take, another district 404."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from rest_framework.test import APIClient

from casehub.api.credentials import issue_personal_token
from tests.procedure.conftest import at
from tests.procedure.test_custody_extensions import gang  # noqa: F401 - the fixture

pytestmark = pytest.mark.time_machine(at("2026-03-02"))


def _api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_personal_token(acting_user=user, name='test').token}")
    return client


def test_an_art_156_extension_through_the_api(gang, district, city, other_district):  # noqa: F811
    zhang = gang["张三"]
    terms = f"/api/v1/cases/{zhang.case_id}/persons/{zhang.pk}/custody-terms/"
    body = {"action": "request_extension", "reason": "案情复杂，需继续侦查"}
    with time_machine.travel(at("2026-04-26"), tick=False):
        late = _api(district.investigator).post(terms, body, format="json")
        assert late.status_code == 400 and "第三百零九条" in late.content.decode()
    with time_machine.travel(at("2026-04-20"), tick=False):
        assert _api(other_district.investigator).post(terms, body, format="json").status_code == 404
        assert _api(district.prosecutor).post(terms, body, format="json").status_code == 403
        made = _api(district.investigator).post(terms, body, format="json")
        assert made.status_code == 201, made.content
        ext = made.json()["extension"]
        assert ext["article"] == "156" and ext["status"] == "requested"
        forward = f"/api/v1/custody/extensions/{ext['id']}/forward/"
        decide = f"/api/v1/custody/extensions/{ext['id']}/decide/"
        assert _api(city.city_prosecutor).post(forward, {"opinion": "x"}, format="json").status_code == 404
        assert _api(district.prosecutor).post(forward, {"opinion": "建议批准"}, format="json").status_code == 200
        assert _api(district.prosecutor).post(decide, {"approve": True, "reason": "越权"},
                                              format="json").status_code == 403
        decided = _api(city.city_prosecutor).post(decide, {"approve": True, "reason": "同意延长一个月"}, format="json")
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "approved" and decided.json()["new_end"] == "2026-06-02"
    listed = _api(district.investigator).get("/api/v1/custody/extensions/", {"case": zhang.case_id}).json()
    assert [e["id"] for e in listed["results"]] == [ext["id"]]
    assert date.fromisoformat(decided.json()["new_end"]) == date(2026, 6, 2)
