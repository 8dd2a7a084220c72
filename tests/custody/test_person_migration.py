"""Migrations carry existing cases over: one person per measure as the case had it (issue 15).

A database from before the per-person state has persons with a custody status only, and clocks
whose holiday rule came from their kind. Migrating forward gives each person their measure's
deciding authority and start, and brings the running clocks of persons in custody back to their
last day (art. 105(4) per person) — without touching anything else.

The database is a copy of the demo: ``load_demo`` builds the demo district and its living cases
first; the schema then goes back to before the per-person state and forward again, and every demo
case keeps its persons, each with the measure it had and one deciding authority for it, and every
clock (one migration cycle for both checks: each costs ~15 s).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from casehub.cases.models import Person
from casehub.clocks.models import Clock
from workflows.models import TransitionLog

BEFORE = [("cases", "0002_number_sequence_per_type_code"), ("clocks", "0002_alter_clock_kind")]
# A migration test takes 9-15 s on CI and what it checks does not depend on the day: once is enough.
pytestmark = pytest.mark.dateless

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


MEASURES = ("detained", "arrested", "bail", "residential_surveillance")
CLOCK_FIELDS = ("case_id", "kind", "person_id", "agency_id", "status", "started_at", "period_months", "period_days")


def _demo_copy() -> tuple[dict, dict, dict]:
    """The demo database: its persons, the procuratorate that approved each case's arrests, its clocks."""
    call_command("load_demo", verbosity=0)
    persons = {p.pk: (p.case_id, p.name, p.custody_status, p.custody_since) for p in Person.objects.all()}
    approving: dict[int, int] = {}
    for case_id, agency_id in (TransitionLog.objects.filter(transition="approve_arrest")
                               .order_by("occurred_at", "id").values_list("case_id", "from_agency_id")):
        approving[case_id] = agency_id
    clocks = {c["id"]: c for c in Clock.objects.values("id", *CLOCK_FIELDS)}
    assert persons and clocks and any(s in MEASURES for _c, _n, s, _t in persons.values())
    return persons, approving, clocks


def _check_demo_carried_over(persons: dict, approving: dict, clocks: dict) -> None:
    """Each demo person keeps case, name and measure; one deciding authority per measure: an arrest the
    procuratorate's that approved it, any other measure the registering police agency's; no measure,
    no authority. Every clock is there with its kind, person, agency, status, start and period."""
    after = {p.pk: p for p in Person.objects.select_related("case").filter(pk__in=persons)}
    assert {pk: (p.case_id, p.name, p.custody_status, p.custody_since) for pk, p in after.items()} == persons
    for person in after.values():
        if person.custody_status in ("not_detained", "released"):
            expected = None
        elif person.custody_status == "arrested":
            expected = approving.get(person.case_id)
        else:
            expected = person.case.origin_agency_id
        assert person.measure_authority_id == expected, (person.name, person.custody_status)
        assert (person.measure_since is not None) == (expected is not None), person.name
    assert {c["id"]: c for c in Clock.objects.filter(pk__in=clocks).values("id", *CLOCK_FIELDS)} == clocks


@pytest.mark.django_db(transaction=True)
def test_existing_persons_and_clocks_are_carried_over(district):
    from casehub.clocks.holidays_source import load_year

    load_year(2026)
    demo = _demo_copy()
    executor = _migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    OldCase = old.get_model("cases", "Case")
    OldPerson = old.get_model("cases", "Person")
    OldClock = old.get_model("clocks", "Clock")
    case = OldCase.objects.create(title="旧案", origin_agency_id=district.police.pk,
                                  holder_agency_id=district.police.pk, created_by_id=district.investigator.pk)
    since = datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
    detained = OldPerson.objects.create(case=case, name="甲", custody_status="detained", custody_since=since)
    arrested = OldPerson.objects.create(case=case, name="乙", custody_status="arrested", custody_since=since)
    bailed = OldPerson.objects.create(case=case, name="丙", custody_status="bail")
    free = OldPerson.objects.create(case=case, name="丁")
    TransitionLog.objects.create(case_id=case.pk, transition="approve_arrest", source="arrest_review",
                          target="investigation", from_agency_id=district.procuratorate.pk)
    # A decision period of the detained person, moved past the weekend by its kind (Sat 7 March 2026
    # → Mon 9 March), and one of the person on bail.
    moved = OldClock.objects.create(case=case, kind="arrest_decision", agency_id=district.procuratorate.pk,
                                    person=detained, started_at=datetime(2026, 2, 28, 10, tzinfo=SHANGHAI),
                                    period_days=7, due_date=date(2026, 3, 9), custody=False)
    kept = OldClock.objects.create(case=case, kind="arrest_decision", agency_id=district.procuratorate.pk,
                                   person=bailed, started_at=datetime(2026, 2, 28, 10, tzinfo=SHANGHAI),
                                   period_days=7, due_date=date(2026, 3, 9), custody=False)

    _migrate(list(MigrationExecutor(connection).loader.graph.leaf_nodes()))
    _check_demo_carried_over(*demo)

    people = {p.name: p for p in Person.objects.filter(case_id=case.pk)}
    assert (people["甲"].custody_status, people["甲"].measure_authority_id, people["甲"].measure_since) == (
        "detained", district.police.pk, since)
    assert (people["乙"].custody_status, people["乙"].measure_authority_id) == ("arrested", district.procuratorate.pk)
    assert (people["丙"].custody_status, people["丙"].measure_authority_id) == ("bail", district.police.pk)
    assert people["丙"].measure_since is not None
    assert (people["丁"].measure_authority_id, people["丁"].measure_since) == (None, None)
    assert (Clock.objects.get(pk=moved.pk).custody, Clock.objects.get(pk=moved.pk).due_date) == (
        True, date(2026, 3, 7))
    assert (Clock.objects.get(pk=kept.pk).custody, Clock.objects.get(pk=kept.pk).due_date) == (
        False, date(2026, 3, 9))
    assert {detained.pk, arrested.pk, bailed.pk, free.pk} == set(people[n].pk for n in people)
