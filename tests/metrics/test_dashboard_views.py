"""The dashboard's doors: who may see it, what a bad selection does, what it shows of whom."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from casehub.agencies.models import AgencyKind, Role
from casehub.audit.models import AuditEvent
from casehub.transfers.services import register_paper_transfer
from tests.fixtures.district import make_agency

pytestmark = pytest.mark.django_db


@pytest.fixture
def paper_transfer(district):
    """A review transfer that happened on paper, registered by the receiving prosecutor."""
    return register_paper_transfer(
        acting_user=district.prosecutor, from_agency=district.police, kind="review_transfer",
        received_on=timezone.localdate() - timedelta(days=1), volumes=2, pages=180, reason="系统故障，纸质移送",
        external_reference="李四盗窃案", complete=True,
    )


def test_only_metric_viewers_get_in(client, district):
    urls = [reverse("metrics:dashboard"), reverse("metrics:chart", args=["rates_over_time"]),
            reverse("metrics:export", args=["rates", "csv"]), reverse("metrics:drilldown") + "?metric=online"]
    for url in urls:
        assert client.get(url).status_code == 302
    client.force_login(district.prosecutor)
    for url in urls:
        assert client.get(url).status_code == 403
    client.force_login(district.auditor)
    assert client.get(urls[0]).status_code == 200


def test_empty_dashboard_renders_with_dashes_and_bounded_queries(client, district, django_assert_max_num_queries):
    client.force_login(district.auditor)
    with django_assert_max_num_queries(30):
        response = client.get(reverse("metrics:dashboard"))
    body = response.content.decode()
    assert response.context["board"].totals["online"].denominator == 0
    assert 'data-rate="online">—<' in body
    assert "本期间没有数据" in body


def test_a_paper_hand_over_counts_in_the_denominator_only(client, district, paper_transfer):
    client.force_login(district.auditor)
    board = client.get(reverse("metrics:dashboard")).context["board"]
    assert (board.totals["online"].numerator, board.totals["online"].denominator) == (0, 1)
    assert (board.totals["dossier"].numerator, board.totals["dossier"].denominator) == (0, 1)
    row, = board.rates
    assert row.agency_id == district.police.pk and row.direction == "police>procuratorate"
    kinds, = board.kinds
    assert (kinds.kind, kinds.online, kinds.paper) == ("review_transfer", 0, 1)


def test_bad_selections_change_nothing_and_say_why(client, district, paper_transfer):
    client.force_login(district.auditor)
    backwards = client.get(reverse("metrics:dashboard"), {"date_from": "2026-05-01", "date_to": "2026-01-01"})
    assert backwards.status_code == 200 and "board" not in backwards.context
    assert "起始日期不能晚于截止日期" in backwards.content.decode()
    too_long = client.get(reverse("metrics:dashboard"), {"date_from": "2010-01-01", "date_to": "2026-01-01"})
    assert "统计期间最长三年" in too_long.content.decode()
    assert client.get(reverse("metrics:dashboard"), {"direction": "court>moon"}).context.get("board") is None
    assert client.get(reverse("metrics:chart", args=["pie"])).status_code == 404
    assert client.get(reverse("metrics:export", args=["nope", "csv"])).status_code == 404
    assert client.get(reverse("metrics:export", args=["rates", "pdf"])).status_code == 404
    assert client.get(reverse("metrics:export", args=["all", "csv"])).status_code == 404
    assert client.get(reverse("metrics:drilldown"), {"metric": "secret"}).status_code == 404
    assert client.get(reverse("metrics:drilldown"), {"metric": "online", "agency": "x"}).status_code == 404
    assert not AuditEvent.objects.filter(action="metrics.exported").exists()


def test_an_auditor_of_another_region_sees_none_of_this_district(client, district, make_user, paper_transfer):
    elsewhere = make_agency(AgencyKind.COMMITTEE, "ZFW110101", "东城区委政法委", region="110101")
    outsider = make_user(elsewhere, [Role.AUDITOR])
    client.force_login(outsider)
    board = client.get(reverse("metrics:dashboard")).context["board"]
    assert board.totals["online"].denominator == 0
    police = district.police.pk
    assert client.get(reverse("metrics:drilldown"), {"metric": "online", "agency": police}).status_code == 404
    assert client.get(reverse("metrics:dashboard"), {"agency": police}).context.get("board") is None


def test_drill_down_shows_metadata_of_the_paper_registration(client, district, paper_transfer):
    client.force_login(district.auditor)
    page = client.get(reverse("metrics:drilldown"), {"metric": "online", "part": "den",
                                                     "agency": district.police.pk,
                                                     "direction": "police>procuratorate"})
    assert page.status_code == 200
    assert [t.pk for t in page.context["items"]] == [paper_transfer.pk]
    body = page.content.decode()
    assert "李四盗窃案" in body and "纸质移送（登记）" in body
    empty = client.get(reverse("metrics:drilldown"), {"metric": "online", "part": "num"})
    assert empty.context["page"].paginator.count == 0


def test_exports_neutralise_formulas_and_are_audited(client, district, paper_transfer):
    sneaky = make_agency(AgencyKind.POLICE, "GA440399", "=HYPERLINK(\"http://x\")分局", region="440307")
    register_paper_transfer(acting_user=district.prosecutor, from_agency=sneaky, kind="review_transfer",
                            received_on=timezone.localdate(), volumes=1, pages=10, reason="纸质",
                            external_reference="案")
    client.force_login(district.auditor)
    response = client.get(reverse("metrics:export", args=["rates", "csv"]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    names = [r[0] for r in rows[1:]]
    assert "'=HYPERLINK(\"http://x\")分局" in names
    event = AuditEvent.objects.get(action="metrics.exported")
    assert event.actor_id == district.auditor.pk and event.details["table"] == "rates"
