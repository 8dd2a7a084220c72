"""Numbers of the city-level agencies (#17): the intermediate court's second-instance docket number
（2021）粤03刑终N号 and the city procuratorate's document numbers, each its own gapless sequence."""

from __future__ import annotations

import pytest

from casehub.agencies.models import AgencyKind, AgencyLevel
from casehub.cases.models import NumberKind
from casehub.cases.numbering import issue_number
from casehub.cases.services import register_case
from tests.fixtures.district import make_agency

pytestmark = pytest.mark.django_db


def test_intermediate_court_and_city_procuratorate_numbers(district):
    case = register_case(acting_user=district.investigator, title="上诉案件", persons=[{"name": "甲", "sex": "M"}])
    court = make_agency(AgencyKind.COURT, "FY440300", "深圳市中级人民法院", abbreviation="深中", court_code="粤03",
                        region="440300", level=AgencyLevel.CITY)
    procuratorate = make_agency(AgencyKind.PROCURATORATE, "JC440300", "深圳市人民检察院", abbreviation="深",
                                region="440300", level=AgencyLevel.CITY)
    first = issue_number(case, court, NumberKind.COURT_DOCKET, type_code="刑终", year=2021)
    second = issue_number(case, court, NumberKind.COURT_DOCKET, type_code="刑终", year=2021)
    first_instance = issue_number(case, court, NumberKind.COURT_DOCKET, type_code="刑初", year=2021)
    assert [first.number, second.number, first_instance.number] == [
        "（2021）粤03刑终1号", "（2021）粤03刑终2号", "（2021）粤03刑初1号"]
    # The district court's own 刑初 series is untouched by the intermediate court's.
    assert issue_number(case, district.court, NumberKind.COURT_DOCKET, type_code="刑初", year=2021).number == \
        "（2021）粤0307刑初1号"
    assert issue_number(case, procuratorate, NumberKind.INDICTMENT, year=2021).number == "深检刑诉〔2021〕1号"
    assert issue_number(case, procuratorate, NumberKind.PROCURATORATE_REVIEW, year=2021).number == "深检刑受〔2021〕1号"
