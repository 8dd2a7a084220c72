"""Cross-agency rules of the trial, appeal and execution transitions (#17): the court above approves
an extension of *its* district court only (party ``higher``); only the procuratorate whose indictment
the court accepted protests (party ``prosecuting``); an agency outside the case gets a 404, not a form;
only the executing authority the package names signs for it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.workflow.conftest import case, drive, make_case  # noqa: F401 - fixtures
from workflows import appeal, engine

pytestmark = pytest.mark.django_db


def test_only_the_court_above_decides_an_extension_and_only_the_prosecuting_procuratorate_protests(
        case, drive, district, other_district, city, client, time_machine,  # noqa: F811
):
    time_machine.move_to("2026-03-02T10:00:00+08:00")
    drive.to_court(case)
    drive.fire(case, "request_higher_extension", "judge", ground="civil", reason="附带民事诉讼")
    for outsider in (other_district.judge, district.judge, city.city_prosecutor):
        with pytest.raises(engine.NotAllowed):
            engine.fire(case, "approve_higher_extension", acting_user=outsider, inputs={"decision": "越权批准"})
    client.force_login(other_district.judge)
    assert client.get(reverse("transfers:fire", args=[case.pk, "approve_higher_extension"])).status_code == 404
    client.force_login(city.intermediate_judge)  # the court above reads the case it is asked about
    assert client.get(reverse("transfers:fire", args=[case.pk, "approve_higher_extension"])).status_code == 200

    drive.fire(case, "announce_judgment", "judge", announced_on="2026-03-02", verdict="判处有期徒刑一年")
    drive.fire(case, "deliver_judgment", "court_clerk")
    person = case.persons.get()
    for outsider in (other_district.prosecutor, city.city_prosecutor, district.investigator):
        with pytest.raises(engine.NotAllowed):
            engine.fire(case, "protest", acting_user=outsider, inputs={"persons": [person.pk], "reason": "越权抗诉"})
    client.force_login(other_district.prosecutor)
    assert client.get(reverse("transfers:fire", args=[case.pk, "protest"])).status_code == 404
    drive.fire(case, "protest", "prosecutor", persons=[person.pk], reason="量刑畸轻")
    assert appeal.appeals(case) == {person.pk: ["protest"]}

    time_machine.move_to("2026-03-13T10:00:00+08:00")
    with pytest.raises(engine.NotAllowed):  # the police do not send cases to court
        engine.fire(case, "forward_appeal", acting_user=district.investigator, inputs={})


def test_only_the_named_executing_authority_signs_for_the_execution(
        case, drive, district, other_district, time_machine,  # noqa: F811
):
    time_machine.move_to("2026-03-02T10:00:00+08:00")
    drive.to_court(case)
    drive.fire(case, "announce_judgment", "judge", announced_on="2026-03-02", verdict="判处有期徒刑一年")
    drive.fire(case, "deliver_judgment", "court_clerk")
    time_machine.move_to("2026-03-13T10:00:00+08:00")
    drive.fire(case, "judgment_effective", "court_clerk")
    drive.fire(case, "hand_over_for_execution", "court_clerk", executor="police")
    for outsider in (other_district.investigator, district.correction_officer, district.detention_officer):
        name = {"justice": "accept_execution_correction", "detention": "accept_execution_detention"}.get(
            outsider.agency.kind, "accept_execution")
        with pytest.raises(engine.NotAllowed):
            engine.fire(case, name, acting_user=outsider, inputs={})
