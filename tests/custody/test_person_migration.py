"""Migrations carry existing cases over: one person per measure as the case had it (issue 15).

A database from before the per-person state has persons with a custody status only, and clocks
whose holiday rule came from their kind. Migrating forward gives each person their measure's
deciding authority and start, and brings the running clocks of persons in custody back to their
last day (art. 105(4) per person) — without touching anything else.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
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


@pytest.mark.django_db(transaction=True)
def test_existing_persons_and_clocks_are_carried_over(district):
    from casehub.clocks.holidays_source import load_year

    load_year(2026)
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
