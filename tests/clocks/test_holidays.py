"""Loading the holiday schedule: the command, official vs estimated years, recounting clocks."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import CommandError, call_command

from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import Holiday, HolidayYear
from casehub.clocks.services import open_clock
from tests.clocks.conftest import at

pytestmark = pytest.mark.django_db


def test_load_holidays_2026_has_days_off_and_adjusted_working_days(capsys):
    call_command("load_holidays", "--year", "2026")
    assert Holiday.objects.get(date=date(2026, 2, 17)).is_working_day is False  # Spring Festival
    assert Holiday.objects.get(date=date(2026, 2, 28)).is_working_day is True   # 调休 Saturday
    assert HolidayYear.objects.get(year=2026).is_official
    assert "2026:" in capsys.readouterr().out


def test_reloading_replaces_rather_than_duplicates():
    call_command("load_holidays", year=[2026])  # the form load_demo uses
    count = Holiday.objects.filter(year=2026).count()
    call_command("load_holidays", "--year", "2026")
    assert Holiday.objects.filter(year=2026).count() == count


def test_default_loads_this_and_next_year():
    from django.utils import timezone

    call_command("load_holidays")
    year = timezone.localdate().year
    assert set(HolidayYear.objects.values_list("year", flat=True)) == {year, year + 1}


def test_estimate_year_and_confirmation_recounts_provisional_clocks(free_case, district):
    call_command("load_holidays", "--year", "2030")
    assert not HolidayYear.objects.get(year=2030).is_official
    clock = open_clock(free_case, ClockKind.ARREST_DECISION, agency=district.procuratorate, start=at(2030, 3, 1))
    assert clock.provisional
    call_command("load_holidays", "--year", "2030", "--official")
    clock.refresh_from_db()
    assert not clock.provisional


def test_out_of_range_year_is_a_clear_error():
    with pytest.raises(CommandError):
        call_command("load_holidays", "--year", "1800")
    assert not Holiday.objects.exists()


def test_admin_adding_a_holiday_moves_running_due_dates(client, schedule_2026, case, free_case, district):
    from casehub.agencies.models import User
    from casehub.clocks.models import Clock

    # A clock of a case with nobody in custody due Thu 5 Mar 2026 and a custody clock due the same day.
    review = open_clock(free_case, ClockKind.ARREST_DECISION, agency=district.procuratorate, start=at(2026, 2, 26))
    custody = open_clock(case, ClockKind.DETENTION, agency=district.police, start=at(2026, 2, 3),
                         person=case.persons.get())
    assert review.due_date == custody.due_date == date(2026, 3, 5)
    admin = User.objects.create_superuser("root", password="x" * 16)
    client.force_login(admin)
    response = client.post("/admin/clocks/holiday/add/", {"date": "2026-03-05", "name": "测试假日"})
    assert response.status_code == 302, response.content.decode()[:500]
    assert Clock.objects.get(pk=review.pk).due_date == date(2026, 3, 6)
    assert Clock.objects.get(pk=custody.pk).due_date == date(2026, 3, 5)  # custody: never moved
    client.post(f"/admin/clocks/holiday/{Holiday.objects.get(date=date(2026, 3, 5)).pk}/delete/", {"post": "yes"})
    assert Clock.objects.get(pk=review.pk).due_date == date(2026, 3, 5)
