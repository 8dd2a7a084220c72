"""A legal-aid notice states its ground (CPL arts. 35, 278); the minor's ground is for a minor.

CPL art. 278: a minor suspect without counsel — the police, procuratorate or court notify the legal-aid
agency (within 3 days, Legal Aid Law art. 36) to assign a lawyer; an adult's notice takes a ground of
art. 35 instead.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from casehub.cases.models import CustodyStatus, PersonRole
from casehub.legalaid import services
from tests.procedure.conftest import at

pytestmark = pytest.mark.time_machine(at("2026-11-02"))


def test_the_minors_ground_only_for_a_minor(new_case, district):
    adult = new_case()  # 李四, born 2 February 1992
    with pytest.raises(ValidationError, match="已满十八周岁"):
        services.send_request(adult, adult.persons.get(), kind="defence", ground="minor",
                              found_on=date(2026, 11, 2), acting_user=district.investigator)
    aid = services.send_request(adult, adult.persons.get(), kind="defence", ground="disability",
                                found_on=date(2026, 11, 2), acting_user=district.investigator)
    assert aid.ground == "disability" and aid.assignment_clock.due_date == date(2026, 11, 5)
    minor = new_case("少年甲涉嫌盗窃案", persons=[{"role": PersonRole.SUSPECT, "name": "少年甲",
                                              "birth_date": date(2010, 5, 1),
                                              "custody_status": CustodyStatus.NOT_DETAINED}])
    aid = services.send_request(minor, minor.persons.get(), kind="defence", ground="minor",
                                found_on=date(2026, 11, 2), acting_user=district.investigator)
    assert aid.notice_clock.status == "stopped" and aid.bureau == district.justice
