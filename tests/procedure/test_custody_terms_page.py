"""The per-person custody-terms page (custody:terms), reached from the case page: each step of an
extension (CPL arts. 156, 158, 159; SPP Rules 2019 art. 309), the recount (art. 160) and the
psychiatric assessment (art. 149) is offered to the agency and role the law names only — 403 for a
user who sees the case but may not act, 404 for another district's users."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock, ClockStatus
from casehub.custody.models import ExtensionStatus
from tests.procedure.conftest import at
from tests.procedure.test_custody_extensions import gang  # noqa: F401 - the fixture

pytestmark = pytest.mark.time_machine(at("2026-03-02"))


def _client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def test_extension_steps_on_the_page_each_for_the_agency_the_law_names(gang, district, city, other_district):  # noqa: F811
    """Art. 156 from the page: the investigator requests (SPP Rules art. 309: 7 days before), the
    district prosecutor forwards, the city prosecutor decides; the prosecutor may not request (403),
    another district's investigator gets 404; the case page links each suspect's page."""
    zhang = gang["张三"]
    case = zhang.case
    url = reverse("custody:terms", args=[case.pk, zhang.pk])
    assert url in _client(district.investigator).get(reverse("cases:detail", args=[case.pk])).content.decode()
    with time_machine.travel(at("2026-04-20"), tick=False):
        police = _client(district.investigator)  # logged in at the travelled time (sessions expire)
        page = police.get(url)
        assert page.status_code == 200 and 'data-action="request"' in page.content.decode()
        assert _client(other_district.investigator).get(url).status_code == 404
        assert _client(other_district.investigator).post(url, {"action": "request", "reason": "x"}).status_code == 404
        assert _client(district.prosecutor).post(url, {"action": "request", "reason": "越权"}).status_code == 403
        assert police.post(url, {"action": "request", "reason": ""}).status_code == 400
        response = police.post(url, {"action": "request", "reason": "案情复杂，需继续侦查"})
        assert response.status_code == 302
        ext = zhang.custody_extensions.get()
        prosecutor = _client(district.prosecutor)
        assert url in prosecutor.get(reverse("home")).content.decode()  # its inbox: to forward
        assert 'data-action="forward"' in prosecutor.get(url).content.decode()
        assert prosecutor.post(url, {"action": "forward", "opinion": "建议批准"}).status_code == 302
        decider = _client(city.city_prosecutor)
        assert url in decider.get(reverse("home")).content.decode()  # its inbox: to decide
        assert 'data-action="decide"' in decider.get(url).content.decode()
        assert prosecutor.post(url, {"action": "decide", "approve": "1", "reason": "越权"}).status_code == 403
        assert decider.post(url, {"action": "decide", "approve": "1", "reason": "同意延长"}).status_code == 302
    ext.refresh_from_db()
    assert ext.status == ExtensionStatus.APPROVED and ext.new_end == date(2026, 6, 2)
    police = _client(district.investigator)
    pdf = police.get(reverse("custody:pdf", args=["extension", ext.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert _client(other_district.investigator).get(reverse("custody:pdf", args=["extension", ext.pk])).status_code == 404


def test_recount_and_assessment_from_the_page(gang, district):  # noqa: F811
    """Art. 160 is a police chief's decision (the supervisor, MPS Provisions arts. 151-152): the
    investigator is not offered it; art. 149: the assessment pauses the person's periods and its end
    resumes them."""
    zhang = gang["张三"]
    url = reverse("custody:terms", args=[zhang.case.pk, zhang.pk])
    with time_machine.travel(at("2026-04-10"), tick=False):
        assert _client(district.investigator).post(url, {"action": "recount", "ground": "identified",
                                                         "since": "2026-04-09", "reason": "x"}).status_code == 403
        chief = _client(district.police_supervisor)
        assert chief.post(url, {"action": "recount", "ground": "identified", "since": "2026-04-09",
                                "reason": "查清真实身份"}).status_code == 302
    clock = Clock.objects.get(person=zhang, kind=ClockKind.INVESTIGATION_CUSTODY, status__in=ACTIVE_STATUSES)
    assert clock.due_date == date(2026, 6, 9)
    with time_machine.travel(at("2026-04-12"), tick=False):
        police = _client(district.investigator)
        assert police.post(url, {"action": "assessment_start", "reason": "委托司法精神病鉴定"}).status_code == 302
    clock.refresh_from_db()
    assert clock.status == ClockStatus.PAUSED
    with time_machine.travel(at("2026-04-22"), tick=False):
        police = _client(district.investigator)
        assert 'data-action="assessment_end"' in police.get(url).content.decode()
        assert police.post(url, {"action": "assessment_end", "reason": "鉴定结束"}).status_code == 302
    clock.refresh_from_db()
    assert clock.status == ClockStatus.RUNNING and clock.due_date == date(2026, 6, 19)
