"""Co-defendants served on different days (CPL art. 230): each defendant's appeal window runs from the
day after *he* received the judgment — the 送达回证 the court records for a defendant served later
recounts his window alone; the case goes up (or takes effect) only after the last window expired."""

from __future__ import annotations

from datetime import date

import pytest

from casehub.clocks.models import ACTIVE_STATUSES, Clock
from tests.workflow.conftest import case, drive, make_case  # noqa: F401 - fixtures
from tests.workflow.judged import two_defendants_judged
from workflows import appeal, engine, service


def _window(case, person):  # noqa: F811
    return Clock.objects.get(case=case, kind="appeal_period", person=person, status__in=ACTIVE_STATUSES).due_date


@pytest.mark.time_machine("2026-03-02T10:00:00+08:00")
def test_a_defendant_served_later_appeals_within_his_own_ten_days(case, drive, district, time_machine):  # noqa: F811
    zhang, li = two_defendants_judged(case, drive, district)  # 张三 in custody receives it today
    assert _window(case, zhang) == _window(case, li) == date(2026, 3, 12)
    drive.fire(case, "record_appeal", "court_clerk", persons=[zhang.pk], reason="量刑过重")
    forward = Clock.objects.get(case=case, kind="appeal_forward", status__in=ACTIVE_STATUSES)
    assert forward.due_date == date(2026, 3, 15)  # 3 days after 12 March (art. 231)

    time_machine.move_to("2026-03-06T10:00:00+08:00")  # 李四, at liberty, is served at home on 5 March
    judgment = service.servable_documents(case).get(title__startswith="刑事判决书")
    service.record_service(case, document=judgment, recipient="defendant", recipient_name="李四", person=li,
                           method="direct", served_on=date(2026, 3, 5), acting_user=district.court_clerk)
    # 15 March is a Sunday and 李四 is not in custody: the window ends on the Monday (art. 105(4))
    assert _window(case, li) == date(2026, 3, 16) and _window(case, zhang) == date(2026, 3, 12)

    time_machine.move_to("2026-03-13T10:00:00+08:00")
    assert appeal.open_windows(case) == [li.pk]
    with pytest.raises(engine.GuardFailed, match="2026-03-16"):  # nothing goes up before 李四's window ends
        engine.fire(case, "forward_appeal", acting_user=district.court_clerk, inputs={})
    drive.fire(case, "record_appeal", "court_clerk", persons=[li.pk], reason="量刑过重")
    forward = Clock.objects.get(case=case, kind="appeal_forward", status__in=ACTIVE_STATUSES)
    assert forward.due_date == date(2026, 3, 19)  # 3 days after the last window expired (art. 231)
