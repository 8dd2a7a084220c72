"""Each suspect's own procedural position, beside the case's stage (issue #15: "each person has
their own procedural state ... the UI shows both"). Co-suspects of one case stand in different
places once something is decided for one of them alone: a termination of the investigation
(MPS Provisions 2020 arts. 186(2), 187), a judgment per defendant (CPL arts. 200-201), a plea
(art. 15). The case page and the API show each person's position."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from casehub.api.credentials import issue_personal_token
from casehub.cases.models import CustodyStatus, PersonRole
from casehub.cases.persons import add_person
from tests.procedure.conftest import at, put_in_review
from tests.workflow.test_appeal_and_execution import _judged
from workflows import nonprosecution, positions
from workflows.definition import BY_NAME, Stage


def _co_suspect(case, district, name: str = "李四"):
    return add_person(case, acting_user=district.investigator,
                      data={"role": PersonRole.SUSPECT, "name": name, "custody_status": CustodyStatus.NOT_DETAINED})


def _api_persons(user, case) -> dict[str, dict]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_personal_token(acting_user=user, name='t').token}")
    response = client.get(f"/api/v1/cases/{case.pk}/persons/")
    assert response.status_code == 200, response.content
    rows = response.json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    return {row["name"]: row for row in rows}


def test_a_terminated_co_suspect_stands_apart_while_the_case_goes_on_against_the_other(case, drive, district, client):
    li = _co_suspect(case, district)
    drive.fire(case, "terminate_investigation", "investigator", persons=[li.pk], ground="not_the_offender",
               reason="监控录像显示李四案发时不在现场")
    case.refresh_from_db()
    assert case.stage == Stage.INVESTIGATION  # the case goes on

    where = {case.persons.get(pk=pk).name: pos for pk, pos in positions.positions(case).items()}
    assert where["张三"].code == Stage.INVESTIGATION and "犯罪嫌疑人" in where["张三"].label
    assert where["李四"].code == "terminated" and where["李四"].detail == "犯罪不是该犯罪嫌疑人实施的"
    assert where["李四"].since is not None

    client.force_login(district.investigator)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert page.count('data-position="investigation"') == 1 and page.count('data-position="terminated"') == 1
    assert "已终止侦查" in page

    rows = _api_persons(district.investigator, case)
    assert rows["李四"]["position"]["code"] == "terminated"
    assert rows["张三"]["position"]["code"] == "investigation" and rows["张三"]["position"]["since"] is None


def test_a_plea_is_shown_for_the_suspect_who_pleads_and_not_for_the_co_suspect(case, drive, district, client):
    li = _co_suspect(case, district)
    drive.fire(case, "record_plea", "investigator", persons=[li.pk], statement="如实供述，愿意接受处罚。")
    where = positions.positions(case)
    assert where[li.pk].plea and where[li.pk].plea_detail == "侦查阶段认罪认罚"
    zhang = case.persons.get(name="张三")
    assert not where[zhang.pk].plea

    client.force_login(district.investigator)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert page.count("data-plea") == 1
    assert _api_persons(district.investigator, case)["李四"]["position"]["plea"] is True


def test_after_the_judgment_each_defendant_stands_by_their_own_outcome(case, drive, district, time_machine):
    time_machine.move_to("2026-03-02T10:00:00+08:00")
    _co_suspect(case, district)
    _judged(drive, district, case, decisions={"李四": {"outcome": "acquitted"}})
    assert case.stage == Stage.APPEAL_PERIOD
    by_name = {case.persons.get(pk=pk).name: pos for pk, pos in positions.positions(case).items()}
    assert by_name["张三"].code == by_name["李四"].code == "judged"
    assert "尚未生效" in by_name["张三"].label and "有罪" in by_name["张三"].label
    assert by_name["李四"].label.endswith("无罪") and by_name["李四"].detail == "被告人李四无罪。"


def test_before_judgment_a_defendant_is_called_so(case, drive, district):
    drive.to_review(case)
    drive.fire(case, "indict", "prosecutor", facts="经审查查明……", charges="盗窃罪")
    case.refresh_from_db()
    (position,) = positions.positions(case).values()
    assert position.code == Stage.COURT_FILING and position.label.startswith("被告人")


@pytest.mark.time_machine(at("2026-11-02"))
def test_a_non_prosecution_decision_names_its_kind_for_every_suspect(case, drive, district):
    _co_suspect(case, district)
    put_in_review(case, district, when=at("2026-11-02", 9))
    drive.fire(case, "decide_non_prosecution", "prosecutor", facts="情节轻微。", legal_basis="刑事诉讼法第一百七十七条第二款",
               kind="discretionary")
    case.refresh_from_db()
    assert case.stage == Stage.CLOSED
    where = positions.positions(case)
    assert len(where) == 2
    assert {(p.code, p.detail) for p in where.values()} == {("non_prosecuted", "酌定不起诉")}
    # A later request to reconsider, fired on the closed case, does not change who closed it.
    assert all(p.since is not None and p.since <= timezone.now() for p in where.values())


def test_a_victim_has_no_procedural_position(case, district):
    add_person(case, acting_user=district.investigator, data={"role": PersonRole.VICTIM, "name": "王某"})
    assert len(positions.positions(case)) == 1  # only the suspect 张三


def test_the_closings_the_positions_name_are_transitions_that_close_a_case():
    for name in (*positions.EXECUTED, *nonprosecution.CLOSINGS, "withdraw_case"):
        assert BY_NAME[name].target == Stage.CLOSED, name
