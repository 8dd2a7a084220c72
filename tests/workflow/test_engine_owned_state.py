"""State only the engine writes refuses a direct write: a case's stage and holder, a person's custody
status, a custody record's measure. An arrest reaches a person only through the procuratorate's
approval; registering a person or a detention cannot record one."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from casehub.cases.models import Case, CustodyStatus, Person, PersonRole
from casehub.cases.persons import add_person
from casehub.cases.services import register_case
from casehub.cases.state import EngineOwnedState
from casehub.custody.models import CustodyRecord, Measure
from casehub.custody.services import register_custody
from workflows import definition as d

pytestmark = pytest.mark.django_db


def test_assigning_stage_or_holder_outside_the_engine_raises(case, district):
    with pytest.raises(EngineOwnedState):
        case.stage = d.Stage.TRIAL
    with pytest.raises(EngineOwnedState):
        case.holder_agency = district.court
    with pytest.raises(EngineOwnedState):
        case.holder_agency_id = district.court.pk
    with pytest.raises(EngineOwnedState):
        Case.objects.filter(pk=case.pk).update(stage=d.Stage.CLOSED)
    with pytest.raises(EngineOwnedState):
        Case.objects.bulk_update([case], ["holder_agency"])
    case.refresh_from_db()
    assert (case.stage, case.holder_agency) == (d.Stage.INVESTIGATION, district.police)
    case.stage = d.Stage.INVESTIGATION  # the same value is not a change
    case.title = "改名"  # everything else stays ordinary
    case.save()


def test_a_persons_custody_status_and_a_records_measure_are_engine_owned(case, district):
    person = case.persons.get()
    with pytest.raises(EngineOwnedState):
        person.custody_status = CustodyStatus.ARRESTED
    with pytest.raises(EngineOwnedState):
        case.persons.update(custody_status=CustodyStatus.RELEASED)
    record = register_custody(person, detention_centre=district.detention, measure=Measure.DETENTION,
                              since=person.custody_since, acting_user=district.investigator)
    with pytest.raises(EngineOwnedState):
        record.measure = Measure.ARREST
    with pytest.raises(EngineOwnedState):
        CustodyRecord.objects.filter(pk=record.pk).update(measure=Measure.ARREST)
    person.refresh_from_db()
    assert person.custody_status == CustodyStatus.DETAINED


def test_the_engine_writes_them_and_callers_see_the_result(case, drive, district):
    drive.fire(case, "request_arrest", "investigator", reason="需要逮捕")
    drive.fire(case, "accept_arrest_request", "prosecutor")
    drive.fire(case, "approve_arrest", "prosecutor", reason="批准逮捕")
    assert (case.stage, case.holder_agency) == (d.Stage.INVESTIGATION, district.police)
    assert case.persons.get().custody_status == CustodyStatus.ARRESTED


def test_a_person_is_not_registered_as_arrested(case, district):
    with pytest.raises(ValidationError) as info:
        add_person(case, acting_user=district.investigator,
                   data={"role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.ARRESTED})
    assert "custody_status" in info.value.message_dict
    with pytest.raises(ValidationError):
        register_case(acting_user=district.investigator, title="另案", persons=[
            {"role": PersonRole.SUSPECT, "name": "王五", "custody_status": CustodyStatus.ARRESTED}])
    assert not Person.objects.filter(name__in=["李四", "王五"]).exists()


def test_the_person_form_refuses_an_arrest(case, district, client):
    from django.urls import reverse

    client.force_login(district.investigator)
    response = client.post(reverse("cases:person_add", args=[case.pk]), {
        "role": PersonRole.SUSPECT, "name": "李四", "custody_status": CustodyStatus.ARRESTED,
        "custody_since": "2026-01-01T08:00", "detention_centre": district.detention.pk})
    assert response.status_code == 200
    assert "逮捕须经人民检察院批准" in response.content.decode()
    assert not case.persons.filter(name="李四").exists()


def test_registering_custody_records_a_detention_never_an_arrest(case, district):
    person = add_person(case, acting_user=district.investigator,
                        data={"role": PersonRole.SUSPECT, "name": "李四"})
    with pytest.raises(ValidationError, match="逮捕须经人民检察院批准"):
        register_custody(person, detention_centre=district.detention, measure=Measure.ARREST,
                         since=timezone.now(), acting_user=district.investigator)
    person.refresh_from_db()
    assert person.custody_status == CustodyStatus.NOT_DETAINED
    register_custody(person, detention_centre=district.detention, measure=Measure.DETENTION,
                     since=timezone.now(), acting_user=district.investigator)
    person.refresh_from_db()
    assert person.custody_status == CustodyStatus.DETAINED
    assert CustodyRecord.objects.get(person=person).measure == Measure.DETENTION


def test_the_responsible_procuratorate_decides_an_arrest_and_the_notice_reports_it(case, drive, district):
    from casehub.custody.models import CustodyNotice, NoticeKind
    from casehub.custody.services import issue_notice_by_user

    drive.to_review(case)
    record = CustodyRecord.objects.get(case=case)
    version = Case.objects.get(pk=case.pk).version
    notice = issue_notice_by_user(record, kind=NoticeKind.ARREST, reason="深龙检捕〔2026〕1号",
                                  acting_user=district.prosecutor)
    record.refresh_from_db()
    assert (record.measure, record.person.custody_status) == (Measure.ARREST, CustodyStatus.ARRESTED)
    assert notice.agency == district.procuratorate and CustodyNotice.objects.filter(record=record).count() == 1
    assert Case.objects.get(pk=case.pk).version == version + 1
    from casehub.audit.models import AuditEvent

    decision = AuditEvent.objects.get(action="workflow.person_decision")
    assert decision.details["decision"] == "arrest" and decision.details["persons"] == [record.person_id]
