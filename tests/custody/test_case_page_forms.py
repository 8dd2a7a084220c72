"""Issue #19: the forms of a case's custody page keep what the user typed after a validation error.

A refused registration, notice or paper custody transfer brings the page back (400) with the
error next to its field, every typed value still in the form and the submit button usable; the
corrected form then saves."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from casehub.cases import access
from casehub.custody import services
from casehub.custody.models import (
    Channel,
    CustodyCertificate,
    CustodyNotice,
    CustodyRecord,
    Measure,
    NoticeKind,
)
from workflows import engine

pytestmark = pytest.mark.django_db


def _local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _form(page: str, action: str) -> str:
    """The HTML of the page's posted form of ``action``."""
    match = re.search(rf'<form method="post" class="custody-form" data-action="{action}" id="custody-form-posted">'
                      r".*?</form>", page, re.S)
    assert match, f"no posted {action} form on the page"
    return match.group(0)


def _usable_submit(form: str) -> bool:
    button = re.search(r"<button[^>]*type=\"submit\"[^>]*>", form)
    return bool(button) and "disabled" not in button.group(0)


def test_a_refused_custody_registration_keeps_the_input_and_then_saves(client, gang_case, district):
    wang = gang_case.persons.get(name="王五")  # on bail: the page offers to register custody
    url = reverse("custody:case", args=[gang_case.pk])
    client.force_login(district.investigator)
    tomorrow = _local(timezone.now() + timedelta(days=1))
    response = client.post(url, {"action": "register", "person": wang.pk, "detention_centre": district.detention.pk,
                                 "measure": Measure.DETENTION, "since": tomorrow})
    assert response.status_code == 400
    form = _form(response.content.decode(), "register")
    assert f'id="register-{wang.pk}-since_error"' in form and "羁押起始时间不能晚于现在" in form
    assert f'value="{tomorrow}"' in form and 'aria-invalid="true"' in form
    assert f'<option value="{district.detention.pk}" selected>' in form
    assert f'name="person" value="{wang.pk}"' in form and _usable_submit(form)
    assert not CustodyRecord.objects.filter(person=wang).exists()

    response = client.post(url, {"action": "register", "person": wang.pk, "detention_centre": district.detention.pk,
                                 "measure": Measure.DETENTION, "since": _local(timezone.now() - timedelta(hours=1))})
    assert response.status_code == 302
    assert CustodyRecord.objects.get(person=wang).detention_centre == district.detention

    # Sent again from a stale page: the row offers a notice now, so the refusal stands above the table.
    again = client.post(url, {"action": "register", "person": wang.pk, "detention_centre": district.detention.pk,
                              "measure": Measure.DETENTION, "since": _local(timezone.now() - timedelta(hours=1))})
    assert again.status_code == 400
    alert = re.search(r'<div class="alert alert-danger" role="alert" id="custody-form-errors">.*?</div>',
                      again.content.decode(), re.S)
    assert alert and "王五已有羁押记录" in alert.group(0)


def test_a_refused_change_notice_keeps_the_input_and_then_saves(client, gang_case, district):
    record = CustodyRecord.objects.get(person__name="张三")
    url = reverse("custody:case", args=[gang_case.pk])
    client.force_login(district.investigator)
    new_end = (timezone.localdate() + timedelta(days=30)).isoformat()
    reason = "延长羁押期限决定书（深龙公延字〔2026〕8号）"
    response = client.post(url, {"action": "notice", "record": record.pk, "kind": NoticeKind.ARREST,
                                 "new_end": new_end, "reason": reason})
    assert response.status_code == 400
    form = _form(response.content.decode(), "notice")
    assert f'id="notice-{record.pk}-kind_error"' in form and "逮捕须经人民检察院批准" in form
    assert f'value="{reason}"' in form and f'value="{new_end}"' in form
    assert f'<option value="{NoticeKind.ARREST}" selected>' in form and _usable_submit(form)
    assert not CustodyNotice.objects.filter(record=record).exists()

    # A notice names the running period's end; it cannot set another (workflows.engine._check_period_notice).
    response = client.post(url, {"action": "notice", "record": record.pk, "kind": NoticeKind.EXTENSION,
                                 "new_end": new_end, "reason": reason})
    assert response.status_code == 400 and "不能另定届满日" in _form(response.content.decode(), "notice")
    end = services.custody_period(record)[2].isoformat()
    response = client.post(url, {"action": "notice", "record": record.pk, "kind": NoticeKind.EXTENSION,
                                 "new_end": end, "reason": reason})
    assert response.status_code == 302
    notice = CustodyNotice.objects.get(record=record)
    assert (notice.kind, notice.reason, notice.new_end.isoformat()) == (NoticeKind.EXTENSION, reason, end)


def test_a_refused_paper_custody_transfer_keeps_the_input_and_then_saves(client, gang_case, district):
    # The police sent the case to the procuratorate on paper; the procuratorate registered that hand-over
    # and now registers the custody transfer that went with it.
    access.grant(gang_case, district.procuratorate, act=False)
    handover = engine.register_paper_transfer(
        acting_user=district.prosecutor, from_agency=district.police, kind="review_transfer",
        received_on=timezone.localdate(), volumes=1, pages=40, reason="纸质卷宗移送", case=gang_case)
    zhang = gang_case.persons.get(name="张三")
    url = reverse("custody:case", args=[gang_case.pk])
    client.force_login(district.prosecutor)
    later = _local(timezone.now() + timedelta(hours=3))
    reference = "深龙公换押〔2026〕12号"
    response = client.post(url, {"action": "paper", "person": zhang.pk, "handover": handover.pk,
                                 "transferred_at": later, "reference": reference})
    assert response.status_code == 400
    form = _form(response.content.decode(), "paper")
    assert f'id="paper-{zhang.pk}-transferred_at_error"' in form and "换押时间不能晚于现在" in form
    assert f'value="{reference}"' in form and f'value="{later}"' in form
    assert f'<option value="{handover.pk}" selected>' in form and _usable_submit(form)
    assert not CustodyCertificate.objects.filter(channel=Channel.PAPER).exists()

    response = client.post(url, {"action": "paper", "person": zhang.pk, "handover": handover.pk,
                                 "transferred_at": _local(timezone.now() - timedelta(hours=1)), "reference": reference})
    assert response.status_code == 302
    cert = CustodyCertificate.objects.get(channel=Channel.PAPER)
    assert (cert.person, cert.transfer, cert.paper_reference) == (zhang, handover, reference)
