"""Deadline pages and the home inbox countdown, scoped to the user's agency."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from casehub.cases import access
from casehub.clocks.kinds import ClockKind
from casehub.clocks.services import open_clock
from casehub.notifications.services import notify
from tests.clocks.conftest import SHANGHAI

pytestmark = pytest.mark.django_db


@pytest.fixture
def at_procuratorate(free_case, district):
    # What the workflow engine does on acceptance: the procuratorate holds, the police keep read access.
    # Nobody of this case is in custody, so its periods move past weekends (art. 105(4)).
    access.grant(free_case, district.procuratorate, act=True)
    access.grant(free_case, district.police, act=False)
    return free_case


def test_prosecutor_sees_countdown_on_home_and_deadline_list(client, at_procuratorate, district):
    now, today = timezone.now(), timezone.localdate()
    # Opened 3 days ago, a 7-day clock is due at most 4 days from today plus a weekend (no holiday
    # schedule is loaded here), so it is inside the home page's 7-day window on any day of the year.
    arrest = open_clock(at_procuratorate, ClockKind.ARREST_DECISION, agency=district.procuratorate,
                        start=now - timedelta(days=3))
    assert arrest.due_date <= today + timedelta(days=settings.CASEHUB_CLOCK_INBOX_DAYS)
    overdue = open_clock(at_procuratorate, ClockKind.JUDGMENT_DELIVERY, agency=district.procuratorate,
                         start=now - timedelta(days=40))
    client.force_login(district.prosecutor)
    home = client.get(reverse("home")).content.decode()
    assert 'data-inbox="clocks"' in home and "审查批准逮捕期限" in home
    assert f"剩余 {(arrest.due_date - today).days} 日" in home
    assert f"已超期 {(today - overdue.due_date).days} 日" in home
    page = client.get(reverse("clocks:list"))
    assert page.status_code == 200
    body = page.content.decode()
    assert f'data-clock="{overdue.pk}" class="table-danger"' in body
    assert f'data-clock="{arrest.pk}"' in body


@pytest.mark.time_machine(datetime(2026, 12, 5, 23, 30, tzinfo=SHANGHAI))  # a Saturday night
def test_home_lists_every_running_clock_soonest_first_and_states_the_window(client, at_procuratorate, district):
    now = timezone.now()
    # Opened on a Saturday, a 7-day clock's 7th day is the next Saturday (12 Dec): it ends on
    # Monday 14 Dec (CPL art. 105), 9 days away, beyond the home page's 7-day warning window;
    # a 1-month supplementary investigation (art. 175) runs much longer. All are on the home page.
    opened_tonight = open_clock(at_procuratorate, ClockKind.ARREST_DECISION, agency=district.procuratorate,
                                start=now)
    assert opened_tonight.due_date == date(2026, 12, 14)
    opened_wednesday = open_clock(at_procuratorate, ClockKind.ARREST_DECISION, agency=district.procuratorate,
                                  start=now - timedelta(days=3))
    assert opened_wednesday.due_date == date(2026, 12, 9)
    long_running = open_clock(at_procuratorate, ClockKind.SUPPLEMENTARY_INVESTIGATION,
                              agency=district.procuratorate, start=now)
    client.force_login(district.prosecutor)
    home = client.get(reverse("home")).content.decode()
    panel = home[home.index('data-inbox="clocks"'):]
    panel = panel[:panel.index("</ul>")]
    assert "其中 1 项 7 日内届满或已超期" in panel
    shown = [panel.index("剩余 4 日"), panel.index("剩余 9 日"),
             panel.index(f"剩余 {(long_running.due_date - timezone.localdate()).days} 日")]
    assert long_running.due_date > opened_tonight.due_date and shown == sorted(shown)
    assert "期限 7日" in panel  # each clock states its statutory window
    body = client.get(reverse("clocks:list")).content.decode()
    assert f'data-clock="{opened_tonight.pk}"' in body and f'data-clock="{opened_wednesday.pk}"' in body


@pytest.mark.time_machine(datetime(2026, 12, 5, 23, 30, tzinfo=SHANGHAI))
def test_home_window_follows_the_setting(client, at_procuratorate, district, settings):
    settings.CASEHUB_CLOCK_INBOX_DAYS = 10
    open_clock(at_procuratorate, ClockKind.ARREST_DECISION, agency=district.procuratorate, start=timezone.now())
    client.force_login(district.prosecutor)
    home = client.get(reverse("home")).content.decode()
    assert "其中 1 项 10 日内届满或已超期" in home and "剩余 9 日" in home


def test_clock_of_another_agency_is_not_listed(client, at_procuratorate, district):
    police_clock = open_clock(at_procuratorate, ClockKind.SUPPLEMENTARY_INVESTIGATION, agency=district.police,
                              start=timezone.now())
    client.force_login(district.prosecutor)
    assert f'data-clock="{police_clock.pk}"' not in client.get(reverse("clocks:list")).content.decode()
    # ... but the case page shows every clock of a case the user may see.
    page = client.get(reverse("clocks:case", args=[at_procuratorate.pk]))
    assert f'data-clock="{police_clock.pk}"' in page.content.decode()


def test_case_page_of_an_invisible_case_is_404(client, case, other_district):
    client.force_login(other_district.prosecutor)
    assert client.get(reverse("clocks:case", args=[case.pk])).status_code == 404


def test_detention_officer_and_anonymous_have_no_clock_pages(client, case, district):
    assert client.get(reverse("clocks:list")).status_code == 302  # to login
    # A role that works on no cases gets 403 on the list (the one rule, casehub.agencies.doors).
    client.force_login(district.detention_officer)
    assert client.get(reverse("clocks:list")).status_code == 403


def test_provisional_due_date_is_labelled(client, at_procuratorate, district):
    # No holiday schedule loaded at all in this test: every non-custody due date is provisional.
    open_clock(at_procuratorate, ClockKind.ARREST_DECISION, agency=district.procuratorate, start=timezone.now())
    client.force_login(district.prosecutor)
    body = client.get(reverse("clocks:list")).content.decode()
    assert "暂定" in body


def test_notifications_are_private_and_can_be_marked_read(client, case, district):
    notify([district.prosecutor], kind="test", title="审查期限即将届满", key="k1")
    notify([district.prosecutor], kind="test", title="审查期限即将届满", key="k1")  # idempotent
    notify([district.judge], kind="test", title="法院内部通知", key="k2")
    client.force_login(district.prosecutor)
    body = client.get(reverse("notifications:list")).content.decode()
    assert body.count("审查期限即将届满") == 1 and "法院内部通知" not in body
    assert 'data-inbox="notifications"' in client.get(reverse("home")).content.decode()
    client.post(reverse("notifications:read"))
    assert district.prosecutor.notifications.filter(read_at__isnull=True).count() == 0
    assert district.judge.notifications.filter(read_at__isnull=True).count() == 1


def test_clock_list_query_count_does_not_grow_with_rows(client, at_procuratorate, district,
                                                       django_assert_max_num_queries):
    client.force_login(district.prosecutor)
    open_clock(at_procuratorate, ClockKind.ARREST_DECISION, agency=district.procuratorate, start=timezone.now())
    client.get(reverse("clocks:list"))
    with django_assert_max_num_queries(15) as few:
        client.get(reverse("clocks:list"))
    for person in [at_procuratorate.persons.create(name=f"人{i}") for i in range(5)]:
        open_clock(at_procuratorate, ClockKind.DETENTION, agency=district.procuratorate, start=timezone.now(),
                   person=person)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("clocks:list")).content.decode().count("data-clock=") == 6


def test_beat_schedule_names_the_registered_task():
    from django.conf import settings

    from casehub.celery import app

    app.loader.import_default_modules()
    assert settings.CELERY_BEAT_SCHEDULE["clocks-check"]["task"] in app.tasks
