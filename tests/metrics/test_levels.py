"""Auditors see their level (#17): a district committee its district, a city committee every district
of the city and the city's own agencies, a province committee the province."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from casehub.agencies.models import AgencyKind, AgencyLevel, Role
from casehub.audit.selectors import auditable_agencies
from casehub.transfers.services import register_paper_transfer
from tests.fixtures.district import make_agency

pytestmark = pytest.mark.django_db


def _paper(d):
    return register_paper_transfer(
        acting_user=d.prosecutor, from_agency=d.police, kind="review_transfer",
        received_on=timezone.localdate() - timedelta(days=1), volumes=1, pages=20, reason="纸质移送",
        external_reference="纸质案件", complete=True,
    )


def _denominator(client, user, **query):
    client.force_login(user)
    board = client.get(reverse("metrics:dashboard"), query).context["board"]
    return board.totals["online"].denominator


def test_a_city_auditor_sees_all_districts_and_a_district_auditor_only_its_own(
        client, district, other_district, make_user):
    # Longgang (440307) and the second district (440308) both lie in Shenzhen (4403).
    _paper(district), _paper(other_district)
    city = make_agency(AgencyKind.COMMITTEE, "ZFW440300", "中共深圳市委政法委员会", region="440300",
                       level=AgencyLevel.CITY)
    city_court = make_agency(AgencyKind.COURT, "FY440300", "深圳市中级人民法院", region="440300",
                             level=AgencyLevel.CITY, court_code="粤03")
    city_auditor = make_user(city, [Role.AUDITOR])
    province = make_agency(AgencyKind.COMMITTEE, "ZFW440000", "中共广东省委政法委员会", region="440000",
                           level=AgencyLevel.PROVINCE)
    guangzhou = make_agency(AgencyKind.COMMITTEE, "ZFW440100", "中共广州市委政法委员会", region="440100",
                            level=AgencyLevel.CITY)

    assert _denominator(client, city_auditor) == 2
    assert _denominator(client, make_user(province, [Role.AUDITOR])) == 2
    assert _denominator(client, make_user(guangzhou, [Role.AUDITOR])) == 0
    assert _denominator(client, district.auditor) == 1
    assert _denominator(client, other_district.auditor) == 1

    seen = set(auditable_agencies(city_auditor))
    assert {district.police, other_district.police, city_court, city} <= seen
    assert set(auditable_agencies(district.auditor)) == {
        a for a in seen if a.region == "440307"}
    # The city auditor narrows to one district's agency and drills into it; the district auditor
    # cannot reach the other district's.
    assert _denominator(client, city_auditor, agency=other_district.police.pk) == 1
    drill = {"metric": "online", "part": "den", "agency": other_district.police.pk}
    client.force_login(city_auditor)
    assert client.get(reverse("metrics:drilldown"), drill).status_code == 200
    client.force_login(district.auditor)
    assert client.get(reverse("metrics:drilldown"), drill).status_code == 404


def test_levels_name_the_area_and_the_region_above(district):
    assert district.police.level == AgencyLevel.DISTRICT
    assert district.police.area_prefix == "440307" and district.police.parent_region == "440300"
    city = make_agency(AgencyKind.PROCURATORATE, "JC440300", "深圳市人民检察院", region="440300",
                       level=AgencyLevel.CITY)
    assert city.area_prefix == "4403" and city.parent_region == "440000"
