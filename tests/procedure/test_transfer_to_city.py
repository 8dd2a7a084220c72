"""A first-instance case of the intermediate court (CPL art. 21): the district police transfer it to the
district procuratorate, which sends it up (报送) to the city procuratorate (SPP Rules 2019 art. 328(2),
telling the police); the city procuratorate reviews it within a period counted from its own receipt
(CPL art. 172(2)) and indicts at the intermediate court 粤03, which dockets it as a first-instance
case 刑初 (CPL art. 186)."""

from __future__ import annotations

from datetime import date

import pytest

from casehub.cases.models import CaseNumber, NumberKind
from casehub.clocks.counting import local_day
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock
from casehub.notifications.models import Notification
from tests.procedure.conftest import at
from workflows import engine

pytestmark = pytest.mark.time_machine(at("2026-11-02"))


@pytest.mark.needs_poppler
def test_the_district_sends_the_case_up_and_the_city_indicts_at_the_intermediate_court(
        new_case, district, city, fire, upload, django_capture_on_commit_callbacks, time_machine):
    from casehub.objectstore.services import read_bytes
    from tests.workflow.test_generated_documents import assert_signed_by, generated, text_of

    def as_city(case, name: str, user, **inputs):
        with django_capture_on_commit_callbacks(execute=True):
            result = engine.fire(case, name, acting_user=user, inputs=inputs)
        if result.awaiting_approval:  # the city's chief procurator (or the court's president) approves
            chief = city.city_procuratorate_supervisor if user.agency == city.procuratorate else city.intermediate_supervisor
            with django_capture_on_commit_callbacks(execute=True):
                result = engine.decide_approval(result.approval, acting_user=chief, approve=True, comment="同意")
        case.refresh_from_db()
        return result

    case = new_case("李四涉嫌故意杀人案")
    upload(case, "尸体检验报告", "investigator", category="evidence")
    fire(case, "transfer_for_review", "investigator", facts="2026年10月持刀致一人死亡。", evidence="尸体检验报告")
    fire(case, "accept_review_transfer", "prosecutor")
    district_review = Clock.objects.get(case=case, kind=ClockKind.REVIEW_PROSECUTION, status="running")

    time_machine.move_to(at("2026-11-04"))
    fire(case, "transfer_jurisdiction", "prosecutor", to_agency=city.procuratorate,
         reason="可能判处无期徒刑以上刑罚，属于中级人民法院管辖的第一审案件（刑事诉讼法第二十一条）")
    assert case.stage == "jurisdiction_transfer"
    told = Notification.objects.filter(recipient__agency=district.police, case=case, kind="workflow.transfer")
    assert any("深圳市人民检察院" in n.title for n in told)  # SPP Rules art. 328(2)

    time_machine.move_to(at("2026-11-06"))
    as_city(case, "accept_jurisdiction_transfer", city.city_prosecutor)
    assert (case.stage, case.holder_agency) == ("prosecution_review", city.procuratorate)
    assert Clock.objects.get(pk=district_review.pk).status == "stopped"
    review = Clock.objects.get(case=case, kind=ClockKind.REVIEW_PROSECUTION, status__in=ACTIVE_STATUSES)
    assert review.agency == city.procuratorate  # art. 172(2): from the city procuratorate's receipt
    assert local_day(review.started_at) == date(2026, 11, 6) and review.due_date == date(2026, 12, 7)  # 6 Dec: Sun
    assert CaseNumber.objects.filter(case=case, kind=NumberKind.PROCURATORATE_REVIEW,
                                     agency=city.procuratorate).exists()
    with pytest.raises(engine.NotAllowed):  # the district procuratorate no longer acts on it
        fire(case, "indict", "prosecutor", facts="x", charges="故意杀人罪")

    time_machine.move_to(at("2026-11-20"))
    as_city(case, "indict", city.city_prosecutor, facts="2026年10月，李四持刀致一人死亡。",
            charges="故意杀人罪，刑法第二百三十二条。")
    assert case.stage == "court_filing"
    indictment = generated(case, "起诉书")
    assert indictment.author_agency == city.procuratorate
    data = read_bytes(indictment.stored)
    assert_signed_by(data, city.procuratorate)
    assert "深圳市中级人民法院" in text_of(data) and "深龙检" not in text_of(data)  # the city's own number
    as_city(case, "docket_case", city.intermediate_clerk)
    assert (case.stage, case.holder_agency) == ("trial", city.court)
    docket = CaseNumber.objects.get(case=case, kind=NumberKind.COURT_DOCKET)
    assert docket.number == "（2026）粤03刑初1号" and docket.agency == city.court
