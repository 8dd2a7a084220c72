"""Issue #15: each person's timeline as a picture — the case page and the detention centre's
detainee page draw, per person, the measures over time, who held them, every clock with its due
date and the hand-overs (server-side SVG), with the same content as a table for screen readers.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from casehub.cases.models import PersonRole
from casehub.cases.services import register_case
from casehub.clocks.models import Clock
from casehub.custody.models import CustodyRecord
from casehub.custody.timeline import build

pytestmark = pytest.mark.django_db


def _svg(page: str) -> str:
    match = re.search(r"<svg\b.*?</svg>", page, re.S)
    assert match, "no SVG on the page"
    return match.group(0)


def _table(page: str) -> str:
    match = re.search(r'<table[^>]*id="person-timeline-table".*?</table>', page, re.S)
    assert match, "no text table next to the picture"
    return match.group(0)


def _due_dates(svg: str) -> dict[int, str]:
    return {int(pk): due for pk, due in re.findall(r'data-clock="(\d+)" data-due="([\d-]+)"', svg)}


def test_the_case_page_draws_every_suspect_with_their_clocks_and_hand_overs(gang_case, drive, district, client):
    case = gang_case
    drive.to_review(case)  # two custody certificates police → procuratorate, review clock running
    zhang, li, wang = (case.persons.get(name=n) for n in ("张三", "李四", "王五"))
    client.force_login(district.prosecutor)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    svg = _svg(page)
    assert 'role="img"' in svg and 'aria-describedby="tl-table-caption"' in svg
    for person in (zhang, li, wang):
        assert f'<g class="tl-person" data-person="{person.pk}">' in svg
        assert person.name in svg
    # Every clock of the case is drawn with the clock's own due date, for each person it concerns.
    clocks = list(Clock.objects.filter(case=case))
    assert clocks
    drawn = _due_dates(svg)
    assert drawn == {c.pk: c.due_date.isoformat() for c in clocks}
    # The hand-overs: one per certificate of 张三 and 李四 (a diamond with its date).
    for person in (zhang, li):
        group = re.search(rf'data-person="{person.pk}">(.*?)</g>\s*(?=<g class="tl-person"|</svg>)', svg, re.S).group(1)
        assert group.count("data-handover=") == person.custody_certificates.count() == 1
        assert district.procuratorate.name in group  # now held by the procuratorate
    # The text table says the same: each person, each clock with its due date.
    table = _table(page)
    for person in (zhang, li, wang):
        assert f'data-person="{person.pk}"' in table
    for clock in clocks:
        row = re.search(rf'<tr data-person="\d+" data-clock="{clock.pk}">(.*?)</tr>', table, re.S).group(1)
        assert clock.due_date.isoformat() in row


def test_the_detainee_page_draws_the_detainee_only(gang_case, drive, district, other_district, client):
    drive.to_review(gang_case)
    zhang = gang_case.persons.get(name="张三")
    record = CustodyRecord.objects.get(person=zhang)
    client.force_login(district.detention_officer)
    page = client.get(reverse("custody:detainee", args=[record.pk])).content.decode()
    svg = _svg(page)
    assert re.findall(r'class="tl-person" data-person="(\d+)"', svg) == [str(zhang.pk)]
    timeline = build(gang_case, [zhang])
    assert _due_dates(svg) == {c.clock.pk: c.due.isoformat() for c in timeline.persons[0].clocks}
    assert record.period_end.isoformat() in page
    assert "/dossier/" not in page
    # Another centre's officer, and another district's prosecutor on the case page: 404.
    client.force_login(other_district.detention_officer)
    assert client.get(reverse("custody:detainee", args=[record.pk])).status_code == 404
    client.force_login(other_district.prosecutor)
    assert client.get(reverse("cases:detail", args=[gang_case.pk])).status_code == 404


def test_names_are_escaped_in_the_picture_and_the_table(district, client):
    case = register_case(acting_user=district.investigator, title="测试案", summary="",
                         persons=[{"role": PersonRole.SUSPECT, "name": "<script>alert(1)</script>", "sex": "M"}])
    client.force_login(district.investigator)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _svg(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _table(page)
