"""The beat task: overdue clocks are marked, supervisors warned once, before and at the due date."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail

from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ClockStatus
from casehub.clocks.services import extend_clock, open_clock
from casehub.clocks.tasks import check_clocks
from casehub.notifications.models import Notification
from tests.clocks.conftest import at

pytestmark = pytest.mark.django_db


def test_warning_then_overdue_each_notified_once(schedule_2026, case, district, settings):
    settings.CASEHUB_CLOCK_WARNING_DAYS = 3
    clock = open_clock(case, ClockKind.REVIEW_PROSECUTION, agency=district.procuratorate, start=at(2026, 3, 10))
    assert clock.due_date == date(2026, 4, 10)

    assert check_clocks(date(2026, 4, 6)) == {"overdue": 0, "warned": 0}
    assert check_clocks(date(2026, 4, 7)) == {"overdue": 0, "warned": 1}
    assert check_clocks(date(2026, 4, 8)) == {"overdue": 0, "warned": 0}
    notes = Notification.objects.filter(recipient=district.procuratorate_supervisor)
    assert notes.count() == 1 and "即将到期" in notes.get().title
    # Only the holder agency's supervisors: not the prosecutor, not the police supervisor.
    assert not Notification.objects.exclude(recipient=district.procuratorate_supervisor).exists()

    assert check_clocks(date(2026, 4, 10)) == {"overdue": 0, "warned": 0}  # due today: not yet late
    assert check_clocks(date(2026, 4, 11)) == {"overdue": 1, "warned": 0}
    assert check_clocks(date(2026, 4, 12)) == {"overdue": 0, "warned": 0}
    clock.refresh_from_db()
    assert clock.status == ClockStatus.OVERDUE and clock.overdue_since == date(2026, 4, 11)
    assert notes.count() == 2 and notes.filter(title__contains="已超期").exists()


def test_extension_after_warning_warns_again_for_the_new_date(schedule_2026, case, district):
    clock = open_clock(case, ClockKind.REVIEW_PROSECUTION, agency=district.procuratorate, start=at(2026, 3, 10))
    check_clocks(date(2026, 4, 8))
    extend_clock(clock, days=15, decision="延长审查起诉期限决定")
    assert check_clocks(date(2026, 4, 24)) == {"overdue": 0, "warned": 1}
    assert Notification.objects.filter(recipient=district.procuratorate_supervisor).count() == 2


def test_email_copy_when_configured(schedule_2026, case, district, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    supervisor = district.procuratorate_supervisor
    supervisor.email = "sup@jc.example"
    supervisor.save()
    open_clock(case, ClockKind.ARREST_DECISION, agency=district.procuratorate, start=at(2026, 3, 2))
    with django_capture_on_commit_callbacks(execute=True):
        check_clocks(date(2026, 3, 8))
    assert [m.to for m in mail.outbox] == [["sup@jc.example"]]
    assert Notification.objects.get(recipient=supervisor, kind="clock").emailed_at is not None


def test_paused_clock_is_not_marked_overdue(schedule_2026, case, district):
    from casehub.clocks.services import pause_clock

    clock = open_clock(case, ClockKind.ARREST_DECISION, agency=district.procuratorate, start=at(2026, 3, 2))
    pause_clock(clock, at=at(2026, 3, 3))
    assert check_clocks(date(2026, 4, 1)) == {"overdue": 0, "warned": 0}
