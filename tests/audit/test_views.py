"""The auditor's page: filter the trail, page through it, export it safely, verify it."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from casehub.agencies.models import AgencyKind, Role
from casehub.audit.models import AuditEvent
from casehub.audit.services import record_event
from casehub.cases.services import register_case
from tests.fixtures.district import make_agency

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(district):
    return register_case(acting_user=district.investigator, title="=HYPERLINK(\"http://evil\")盗窃案")


def test_only_auditors_may_open_the_trail(client, district):
    assert client.get(reverse("audit:list")).status_code == 302  # to login
    client.force_login(district.investigator)
    assert client.get(reverse("audit:list")).status_code == 403
    assert client.post(reverse("audit:verify")).status_code == 403
    assert client.get(reverse("audit:export", args=["csv"])).status_code == 403
    client.force_login(district.auditor)
    assert client.get(reverse("audit:list")).status_code == 200


def shown(response):
    return {e.action for e in response.context["events"]}


def test_filter_by_case_number_user_agency_action_and_period(client, district, case):
    record_event("test.other", actor=district.prosecutor)
    client.force_login(district.auditor)
    url = reverse("audit:list")
    number = case.numbers.first().number
    by_case = client.get(url, {"case": number})
    assert "case.registered" in shown(by_case) and "test.other" not in shown(by_case)
    assert all(e.case_id == case.pk for e in by_case.context["events"])
    assert f'data-sequence="{AuditEvent.objects.get(action="case.registered").sequence}"' in by_case.content.decode()
    assert number in by_case.content.decode()  # the case is shown by its number

    assert shown(client.get(url, {"user": "prosecutor"})) == {"test.other"}
    assert shown(client.get(url, {"agency": district.procuratorate.pk, "action": "test."})) == {"test.other"}
    assert shown(client.get(url, {"action": "case.registered"})) == {"case.registered"}

    empty = client.get(url, {"date_from": "2001-01-01", "date_to": "2001-01-31"})
    assert shown(empty) == set() and "没有符合条件的审计记录" in empty.content.decode()
    today = client.get(url, {"date_from": "2000-01-01", "date_to": "2099-12-31", "action": "test.other"})
    assert shown(today) == {"test.other"}

    bad = client.get(url, {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert "起始日期不能晚于截止日期" in bad.content.decode()
    assert shown(bad) == set()


def test_an_unknown_case_number_matches_nothing(client, district, case):
    client.force_login(district.auditor)
    body = client.get(reverse("audit:list"), {"case": "不存在的编号"}).content.decode()
    assert "没有这个编号的案件" in body
    assert "没有符合条件的审计记录" in body


def test_pages_are_keyset_paginated_newest_first_with_constant_queries(client, district,
                                                                      django_assert_max_num_queries):
    for i in range(120):
        record_event("test.bulk", agency=district.police, details={"i": i})
    client.force_login(district.auditor)
    with django_assert_max_num_queries(12):
        first = client.get(reverse("audit:list"), {"action": "test.bulk"})
    sequences = [e.sequence for e in first.context["events"]]
    assert len(sequences) == 50 and sequences == sorted(sequences, reverse=True)
    older = client.get(reverse("audit:list") + "?" + first.context["next_query"])
    older_sequences = [e.sequence for e in older.context["events"]]
    assert max(older_sequences) == min(sequences) - 1
    last = client.get(reverse("audit:list") + "?" + older.context["next_query"])
    assert len(last.context["events"]) == 20 and last.context["next_query"] == ""


def test_auditor_of_another_region_does_not_see_this_regions_events(client, district, make_user, case):
    elsewhere = make_agency(AgencyKind.COMMITTEE, "ZFW110101", "东城区委政法委", region="110101")
    outsider = make_user(elsewhere, [Role.AUDITOR])
    client.force_login(outsider)
    assert shown(client.get(reverse("audit:list"), {"action": "case.registered"})) == set()
    client.force_login(district.auditor)
    assert shown(client.get(reverse("audit:list"), {"action": "case.registered"})) == {"case.registered"}


def test_csv_export_neutralises_formulas_and_is_audited(client, district, case):
    client.force_login(district.auditor)
    response = client.get(reverse("audit:export", args=["csv"]), {"case": str(case.pk)})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "序号"
    registered = [r for r in rows[1:] if r[4] == "case.registered"]
    assert len(registered) == 1
    details = registered[0][10]
    assert '"title": "=HYPERLINK' in details  # inside JSON text: does not start a cell
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    exported = AuditEvent.objects.filter(action="audit.exported").get()
    assert exported.actor_id == district.auditor.pk
    assert exported.details == {"format": "csv", "filters": {"case": str(case.pk)}}


def test_csv_cell_that_starts_like_a_formula_gets_an_apostrophe(client, district, make_user):
    evil = make_user(district.police, [Role.INVESTIGATOR], username="+1-cmd@calc")
    client.force_login(district.auditor)
    record_event("test.evil", actor=evil)
    text = b"".join(client.get(reverse("audit:export", args=["csv"]), {"action": "test.evil"})
                    .streaming_content).decode("utf-8-sig")
    row = list(csv.reader(io.StringIO(text)))[1]
    assert row[2] == "'+1-cmd@calc"


def test_xlsx_export_keeps_text_as_text(client, district, make_user):
    evil = make_user(district.police, [Role.INVESTIGATOR], username="@sum.1+1")
    record_event("test.evil", actor=evil)
    client.force_login(district.auditor)
    response = client.get(reverse("audit:export", args=["xlsx"]), {"action": "test.evil"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=False))
    actor_cell = rows[1][2]
    assert actor_cell.value == "@sum.1+1" and actor_cell.data_type == "s"
    assert rows[1][0].value == AuditEvent.objects.get(action="test.evil").sequence


def test_unknown_export_format_is_404(client, district):
    client.force_login(district.auditor)
    assert client.get(reverse("audit:export", args=["pdf"])).status_code == 404


def test_verify_now_button_reports_ok_then_names_the_tampered_row(client, district, case, tamper_sql):
    client.force_login(district.auditor)
    ok = client.post(reverse("audit:verify"), HTTP_HX_REQUEST="true")
    assert 'data-ok="true"' in ok.content.decode()
    assert "<html" not in ok.content.decode()  # an htmx fragment
    victim = AuditEvent.objects.get(action="case.registered").sequence
    tamper_sql("UPDATE audit_auditevent SET actor_label = 'nobody' WHERE sequence = %s", [victim])
    bad = client.post(reverse("audit:verify")).content.decode()
    assert 'data-ok="false"' in bad
    assert f"第一个异常序号为 {victim}" in bad
    runs = AuditEvent.objects.filter(action="audit.verified").order_by("sequence")
    assert [r.details["ok"] for r in runs] == [True, False]
    assert runs[1].details["first_bad_sequence"] == victim


def test_a_long_trail_is_verified_in_the_background_and_the_result_lands_in_the_trail(
        client, district, case, settings, django_capture_on_commit_callbacks):
    settings.CASEHUB_AUDIT_VERIFY_INLINE_MAX = 5  # any real trail is longer than this
    client.force_login(district.auditor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("audit:verify"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="verify-background"' in body and "核验已在后台开始" in body
    run = AuditEvent.objects.get(action="audit.verified")
    assert run.actor_id == district.auditor.pk and run.details["ok"] is True


def test_every_event_is_scoped_to_a_region_notifications_and_failed_logins_included(client, district, make_user):
    """Issue #18 (F18.5): another region's auditor saw district A's notifications and everyone's
    failed logins, recorded without an agency."""
    from casehub.notifications.services import notify

    elsewhere = make_user(make_agency(AgencyKind.COMMITTEE, "ZFW110101", "东城区委政法委", region="110101"),
                          [Role.AUDITOR])
    national = make_user(make_agency(AgencyKind.COMMITTEE, "ZFW000000", "中央政法委", region=""), [Role.AUDITOR])
    notify([district.investigator], kind="deadline", title="期限将届满", key="clock:1")
    client.post(reverse("login"), {"username": "nobody-at-all", "password": "wrong"})
    client.post(reverse("login"), {"username": district.investigator.username, "password": "wrong"})

    def seen(user) -> list[str]:
        client.force_login(user)
        page = client.get(reverse("audit:list"))
        assert page.status_code == 200
        return sorted(e.action + (":" + e.details.get("username", "") if e.action == "auth.login_failed" else "")
                      for e in page.context["events"] if e.action in ("notification.sent", "auth.login_failed"))

    known = f"auth.login_failed:{district.investigator.username}"
    assert seen(elsewhere) == []
    assert seen(district.auditor) == [known, "notification.sent"]
    assert seen(national) == [known, "auth.login_failed:nobody-at-all", "notification.sent"]
    assert AuditEvent.objects.get(action="notification.sent").agency_id == district.police.pk
