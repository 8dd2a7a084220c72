"""Fixtures for clock tests: an aware-datetime helper, the 2026 schedule, a registered case."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from casehub.cases.models import CustodyStatus
from casehub.cases.services import register_case
from casehub.clocks.holidays_source import load_year

SHANGHAI = ZoneInfo("Asia/Shanghai")



def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """An aware moment in the platform's time zone."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def schedule_2026(db):
    """The published 2026 schedule (holidays 0.109 has its 调休 days): official."""
    return load_year(2026)


@pytest.fixture
def case(district):
    return register_case(
        acting_user=district.investigator, title="张某盗窃案",
        persons=[{"name": "张三", "custody_status": CustodyStatus.DETAINED, "detention_centre": district.detention}],
    )


@pytest.fixture
def free_case(district):
    """A case whose only suspect is not in custody: its periods move past holidays (art. 105(4))."""
    return register_case(acting_user=district.investigator, title="李某盗窃案", persons=[{"name": "李四"}])
