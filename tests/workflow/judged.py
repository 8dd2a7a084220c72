"""Court paths the trial and execution scenarios share (test helpers, not fixtures): two co-defendants
judged together and the judgment delivered, one or both appealing and the case sent up, and a judgment
that takes effect. The scenarios run on a pinned clock starting 2 March 2026 (10:00 China time)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from casehub.cases.models import CustodyStatus, PersonRole
from casehub.cases.persons import add_person
from workflows import judgment as judgments

PRISON = {"outcome": "guilty", "charge": "盗窃罪", "penalty": "fixed_term", "term": "二年"}
PROBATION = {"outcome": "guilty", "charge": "盗窃罪", "penalty": "fixed_term", "term": "一年", "probation": True}
OUTSIDE = {"outcome": "guilty", "charge": "盗窃罪", "penalty": "fixed_term", "term": "二年", "outside_prison": True}
# Art. 230: the windows of a judgment delivered on 2 March end on 12 March; the next day the case may go up.
AFTER_THE_WINDOWS = "2026-03-13T10:00:00+08:00"


def two_defendants_judged(case: Any, drive: Any, district: Any, **decisions: dict) -> tuple[Any, Any]:
    """张三 (the case's suspect) and 李四 (added, at large) tried together; each judged as ``decisions``
    names them (by default two years' imprisonment), announced in court today and delivered."""
    add_person(case, acting_user=district.investigator,
               data={"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.NOT_DETAINED})
    drive.to_court(case)
    zhang, li = case.persons.get(name="张三"), case.persons.get(name="李四")
    for person in (zhang, li):
        judgments.record_decision(case, person, acting_user=district.judge, **decisions.get(person.name, PRISON))
    drive.fire(case, "announce_judgment", "judge", announced_on=timezone.localdate().isoformat(), in_court="yes",
               verdict="见判决结果")
    drive.fire(case, "deliver_judgment", "court_clerk")
    return zhang, li


def appeal_goes_up(case: Any, drive: Any, time_machine: Any, *appellants: Any) -> None:
    """Arts. 227, 231: the appellants appeal within their windows; the case goes up after every window."""
    drive.fire(case, "record_appeal", "court_clerk", persons=[p.pk for p in appellants], reason="量刑过重")
    time_machine.move_to(AFTER_THE_WINDOWS)
    drive.fire(case, "forward_appeal", "court_clerk")


def judged_and_effective(case: Any, drive: Any, district: Any, time_machine: Any, decision: dict) -> Any:
    """The case's one defendant judged as ``decision``; no appeal, and the judgment takes effect (art. 259)."""
    drive.to_court(case)
    judgments.record_decision(case, case.persons.get(), acting_user=district.judge, **decision)
    drive.fire(case, "announce_judgment", "judge", announced_on=timezone.localdate().isoformat(), in_court="yes",
               verdict="见判决结果")
    drive.fire(case, "deliver_judgment", "court_clerk")
    time_machine.move_to(AFTER_THE_WINDOWS)
    drive.fire(case, "judgment_effective", "court_clerk")
    return case
