"""Consecutive tests share one build of the ``district`` fixture (tests/fixtures/district.py), and
the sharing must be invisible: each test sees exactly the database it would have built itself, and
what one test writes is gone before the next starts."""

from __future__ import annotations

import pytest
from django.db import connection

from casehub.agencies.models import Agency, User
from casehub.audit.models import AuditEvent
from tests.fixtures.district import PASSWORD, _SharedDistricts

_FIRST_SEEN: dict[str, list] = {}


def _as_built(district) -> None:
    """The district as build_district leaves it: its 7 agencies, its 13 accounts, and the same
    unbroken run of audit events every test of this module sees (whichever test saw them first)."""
    assert set(Agency.objects.values_list("name", flat=True)) == {
        a.name for a in (district.police, district.procuratorate, district.court, district.detention,
                         district.committee, district.justice, district.law_firm)}
    assert sorted(User.objects.values_list("username", flat=True)) == sorted(u.username for u in district.users.values())
    events = list(AuditEvent.objects.order_by("sequence").values_list("sequence", "action"))
    assert [sequence for sequence, _action in events] == list(range(1, len(events) + 1))
    assert events == _FIRST_SEEN.setdefault("events", events)


def test_a_test_that_changes_its_district(district, make_user):
    _as_built(district)
    district.police.name = "改名的公安局"
    district.police.save()
    make_user(district.police, ["investigator"], username="intruder")
    district.investigator.set_password("another-password-entirely-1")
    district.investigator.save()
    assert Agency.objects.filter(name="改名的公安局").exists()


def test_the_next_test_sees_none_of_it(district):
    _as_built(district)
    assert not User.objects.filter(username="intruder").exists()
    assert User.objects.get(pk=district.investigator.pk).check_password(PASSWORD)


def test_each_test_gets_its_own_python_objects(district):
    """A test that changes an object in memory (not saved) must not hand the change to the next."""
    _as_built(district)
    assert district.police.name.endswith("龙岗分局")
    district.police.name = "只在内存中改名"


def test_and_does_not_see_the_previous_tests_objects(district):
    assert district.police.name.endswith("龙岗分局")


def test_two_districts_asked_together_are_both_there_and_apart(district, other_district):
    assert district.committee.region != other_district.committee.region
    assert User.objects.count() == 26


def test_a_test_without_the_fixture_sees_an_empty_database(db):
    assert not Agency.objects.exists() and not User.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_builds_its_own_and_is_never_inside_the_shared_transaction(request, district):
    assert _SharedDistricts(None).key_for(request.node) is None
    assert not connection.in_atomic_block  # its own district was committed, as a transactional test expects
    _as_built(district)


def test_a_read_only_test_qualifies_for_sharing(request, district):
    names, _instant = _SharedDistricts(None).key_for(request.node)
    assert names == ("district",)


@pytest.mark.time_machine("2028-02-28T23:59:00+08:00")
def test_a_pinned_test_gets_a_district_built_at_its_own_instant(district):
    from django.utils import timezone

    joined = {u.date_joined for u in User.objects.all()}
    assert joined and all(moment <= timezone.now() for moment in joined)
    assert {timezone.localtime(moment).date().isoformat() for moment in joined} == {"2028-02-28"}


class _Item:
    """As much of a pytest item as the sharing decision reads."""

    def __init__(self, *fixturenames: str) -> None:
        from types import SimpleNamespace

        self.fixturenames = list(fixturenames)
        self._fixtureinfo = SimpleNamespace(name2fixturedefs={})

    def get_closest_marker(self, name: str):
        return None


@pytest.mark.django_db(transaction=True)
def test_consecutive_tests_share_one_build_until_one_needs_something_else(django_db_blocker):
    from tests.fixtures import district as fixtures

    shared = _SharedDistricts(django_db_blocker)
    first, second, other, plain = _Item("district", "db"), _Item("district", "db"), _Item("district", "other_district", "db"), _Item("db")
    builds = fixtures._COUNTS["builds"]
    try:
        shared.prepare(first)
        police = shared.copy_for(first, "district").police
        assert shared.copy_for(second, "district") is None  # only for the test it was prepared for
        Agency.objects.filter(pk=police.pk).update(name="第一个测试写的名字")  # (no savepoint here)
        shared.prepare(second)
        again = shared.copy_for(second, "district").police
        assert (again.pk, fixtures._COUNTS["builds"]) == (police.pk, builds + 1)  # the same rows, one build
        assert again is not police  # but objects of its own
        assert Agency.objects.get(pk=police.pk).name == "第一个测试写的名字"  # the same transaction

        shared.prepare(other)  # other districts: rolled back and built again, with both
        assert fixtures._COUNTS["builds"] == builds + 2 and User.objects.count() == 26
        assert not Agency.objects.filter(name="第一个测试写的名字").exists()

        shared.prepare(plain)  # no district: rolled back, nothing left
        assert shared.copy_for(plain, "district") is None
        assert not User.objects.exists() and not Agency.objects.exists()
    finally:
        shared.close()
