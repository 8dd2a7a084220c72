"""After a non-prosecution: the victim's petition to the next-higher procuratorate (CPL art. 180) and
the appeal of the person not prosecuted under art. 177(2) to the deciding procuratorate (art. 181),
each within 7 days of receiving the decision; a late one is examined as a complaint, not refused.
Each review ends in a 复查决定书 (or, for a late complaint found unfounded, a conclusion) signed by
the procuratorate that decides.

SPP Rules 2019 arts. 381 (the higher procuratorate reviews a timely petition; one lodged with the
deciding procuratorate is sent up), 382 (a late petition: the complaints department), 383 (service;
a revocation hands the prosecution to the procuratorate below), 385 (the person's appeal), 386 (three
months, the chief procurator's approval), 388 (a wrong decision is revoked and the case prosecuted).
"""

from __future__ import annotations

from datetime import date

import pytest

from casehub.audit.models import AuditEvent
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import Clock
from casehub.dossier.models import Document
from casehub.objectstore.services import read_bytes
from tests.procedure.conftest import at, put_in_review
from tests.procedure.test_non_prosecution import decide, decision_text
from tests.workflow.test_generated_documents import assert_signed_by
from workflows import engine

pytestmark = pytest.mark.time_machine(at("2026-11-02"))


@pytest.fixture
def closed(new_case, district, fire):
    """A discretionary non-prosecution (art. 177(2)) decided on Monday 2 November 2026."""
    case = put_in_review(new_case(), district, when=at("2026-11-02", 9))
    decide(fire, case, "discretionary")
    return case


def fire_city(case, city, name: str, **inputs):
    """A decision of the city procuratorate, approved by its chief procurator (SPP Rules art. 386)."""
    result = engine.fire(case, name, acting_user=city.city_prosecutor, inputs=inputs)
    assert result.awaiting_approval
    result = engine.decide_approval(result.approval, acting_user=city.city_procuratorate_supervisor,
                                    approve=True, comment="同意")
    case.refresh_from_db()
    return result


@pytest.mark.needs_poppler
def test_a_timely_victim_petition_is_reviewed_above_and_the_prosecution_ordered(closed, district, city, fire,
                                                                              time_machine):
    """Art. 180; SPP Rules arts. 381(2), 383(2), 386: lodged with the district procuratorate within 7
    days, sent up; the city procuratorate revokes and the district procuratorate prosecutes."""
    time_machine.move_to(at("2026-11-10"))  # received 3 Nov: the 7 days end on Tuesday 10 Nov
    fire(closed, "forward_victim_petition", "prosecutor", petitioner="张三", received_on="2026-11-03",
         reason="李四多次盗窃，不属于情节轻微。")
    clock = Clock.objects.get(case=closed, kind=ClockKind.NP_PETITION_REVIEW)
    assert clock.agency == city.procuratorate and clock.due_date == date(2027, 2, 10)  # three months
    assert AuditEvent.objects.filter(action="workflow.forward_victim_petition", case_id=closed.pk).exists()
    with pytest.raises(engine.GuardFailed, match="正在上一级人民检察院复查"):
        fire(closed, "forward_victim_petition", "prosecutor", petitioner="张三", received_on="2026-11-03",
             reason="再次")
    with pytest.raises(engine.NotAllowed):  # the procuratorate that decided does not review the petition
        fire(closed, "revoke_non_prosecution_on_petition", "prosecutor", reason="x")

    fire_city(closed, city, "revoke_non_prosecution_on_petition", reason="李四盗窃三次，应当追究刑事责任。")
    assert closed.status == "active" and closed.stage == "prosecution_review"
    assert closed.holder_agency == district.procuratorate
    assert clock.__class__.objects.get(pk=clock.pk).status == "stopped"
    review = Clock.objects.get(case=closed, kind=ClockKind.REVIEW_PROSECUTION, status="running")
    assert review.agency == district.procuratorate and review.due_date == date(2026, 12, 10)
    doc = Document.objects.filter(case=closed, generated=True, title="复查决定书").latest("id")
    assert doc.author_agency == city.procuratorate
    data = read_bytes(doc.stored)
    assert_signed_by(data, city.procuratorate)
    text = decision_text(closed, "复查决定书")
    assert text.startswith("复查决定书深检刑复查〔2026〕1号") and "深圳市人民检察院2026年11月10日" in text
    assert "张三：你不服深圳市龙岗区人民检察院于2026年11月2日作出的" in text
    assert "交由该院对李四提起公诉" in text and "抄送" in text and "第三百八十三条" in text


def test_a_late_victim_petition_is_examined_as_a_complaint(closed, district, city, fire, time_machine):
    """SPP Rules art. 382: after the 7 days the petition is not sent up and not refused: the deciding
    procuratorate's complaints department examines it and answers with a conclusion."""
    time_machine.move_to(at("2026-11-11"))
    with pytest.raises(engine.GuardFailed, match="受理逾期申诉"):
        fire(closed, "forward_victim_petition", "prosecutor", petitioner="张三", received_on="2026-11-03",
             reason="不服")
    with pytest.raises(engine.GuardFailed, match="七日以内"):  # a timely one takes its own path
        fire(closed, "receive_late_np_complaint", "prosecutor", petitioner_role="victim", petitioner="张三",
             received_on="2026-11-05", reason="不服")
    fire(closed, "receive_late_np_complaint", "prosecutor", petitioner_role="victim", petitioner="张三",
         received_on="2026-11-03", reason="李四多次盗窃。")
    assert Clock.objects.get(case=closed, kind=ClockKind.NP_APPEAL_REVIEW).agency == district.procuratorate
    fire(closed, "answer_np_complaint", "prosecutor", reason="李四系初犯，赃物已退还，犯罪情节轻微。")
    assert closed.status == "closed"
    text = decision_text(closed, "申诉审查结论")
    assert "申诉已超过七日" in text and "第三百八十二条" in text and "本院作出的不起诉决定正确" in text
    assert "可以向人民法院起诉" in text


def test_the_persons_appeal_only_against_a_discretionary_non_prosecution(new_case, closed, district, fire,
                                                                         time_machine):
    """Art. 181; SPP Rules arts. 385, 386: the person not prosecuted under 177(2) appeals to the deciding
    procuratorate within 7 days; it reviews and keeps the decision (copy to the police)."""
    time_machine.move_to(at("2026-11-06"))
    person = closed.persons.get()
    fire(closed, "receive_np_appeal", "prosecutor", persons=[person.pk], received_on="2026-11-02",
         reason="我没有犯罪，不应认定有罪。")
    assert Clock.objects.get(case=closed, kind=ClockKind.NP_APPEAL_REVIEW).due_date == date(2027, 2, 8)  # 6 Feb: Sat
    with pytest.raises(engine.GuardFailed, match="正在审查"):  # a late complaint waits for this review
        fire(closed, "receive_late_np_complaint", "prosecutor", petitioner_role="victim", petitioner="张三",
             received_on="2026-11-02", filed_on="2026-11-01", reason="x")
    result = fire(closed, "keep_non_prosecution_on_appeal", "prosecutor", reason="李四的行为已构成盗窃罪，但情节轻微。")
    assert result.log.approved_by == district.procuratorate_supervisor  # the chief procurator (art. 386)
    text = decision_text(closed, "复查决定书")
    assert "李四：你不服本院" in text and "第一百八十一条" in text and "决定维持本院的不起诉决定" in text
    assert f"抄送{district.police.name}" in text

    statutory = put_in_review(new_case("王五涉嫌盗窃案"), district, when=at("2026-11-06", 9))
    decide(fire, statutory, "statutory")
    with pytest.raises(engine.GuardFailed, match="第一百八十一条"):
        fire(statutory, "receive_np_appeal", "prosecutor", received_on="2026-11-06", reason="不服")


def test_a_late_appeal_passed_on_for_review_can_revoke_the_decision(closed, district, fire, time_machine):
    """SPP Rules arts. 385(1), 388: a late appeal the complaints department thinks may be right goes to
    review; a wrong decision is revoked and the case prosecuted, with a new review period."""
    time_machine.move_to(at("2026-11-20"))
    with pytest.raises(engine.GuardFailed, match="受理逾期申诉"):
        fire(closed, "receive_np_appeal", "prosecutor", received_on="2026-11-02", reason="不服")
    fire(closed, "receive_late_np_complaint", "prosecutor", petitioner_role="non_prosecuted", petitioner="李四",
         received_on="2026-11-02", reason="我没有实施盗窃。")
    fire(closed, "revoke_non_prosecution_on_appeal", "prosecutor", reason="证据表明盗窃数额较大，不属于情节轻微。")
    assert closed.status == "active" and closed.stage == "prosecution_review"
    text = decision_text(closed, "复查决定书")
    assert "第三百八十五条" in text and "决定撤销本院的不起诉决定" in text and "第三百八十八条" in text


def test_the_review_ends_when_the_court_accepts_the_victims_own_prosecution(closed, district, city, fire,
                                                                          time_machine):
    """Art. 180; SPP Rules art. 384: told that the court accepted the victim's prosecution of the person,
    the higher procuratorate ends its review; the decision stands and nothing reopens."""
    fire(closed, "forward_victim_petition", "prosecutor", petitioner="张三", received_on="2026-11-02",
         reason="不服不起诉决定。")
    time_machine.move_to(at("2026-11-20"))
    result = engine.fire(closed, "end_petition_review", acting_user=city.city_prosecutor,
                         inputs={"court_notice": "深圳市龙岗区人民法院2026年11月19日受理张三的自诉。"})
    closed.refresh_from_db()
    assert result.log.actor_agency == city.procuratorate and closed.status == "closed"
    assert Clock.objects.get(case=closed, kind=ClockKind.NP_PETITION_REVIEW).status == "stopped"
    with pytest.raises(engine.GuardFailed, match="没有待复查的被害人申诉"):
        engine.fire(closed, "keep_non_prosecution_on_petition", acting_user=city.city_prosecutor,
                    inputs={"reason": "x"})


def test_a_victim_petitions_the_higher_procuratorate_directly(new_case, district, city, other_district, fire, client,
                                                              time_machine):
    """Art. 180; SPP Rules art. 381(1): the victim may petition the next-higher procuratorate itself. The
    non-prosecution opens the case to that procuratorate (read only), which registers the petition and
    reviews it; nobody else sees the case, and a late petition goes to the deciding procuratorate (art. 382)."""
    from django.urls import reverse

    case = put_in_review(new_case(), district, when=at("2026-11-02", 9))
    url = reverse("cases:detail", args=[case.pk])
    client.force_login(city.city_prosecutor)
    assert client.get(url).status_code == 404  # before the decision the city procuratorate does not see it
    decide(fire, case, "discretionary")
    page = client.get(url)
    assert page.status_code == 200 and "受理被害人申诉（向本院提出）" in page.content.decode()
    client.force_login(other_district.prosecutor)
    assert client.get(url).status_code == 404
    with pytest.raises(engine.NotAllowed):
        engine.fire(case, "register_victim_petition", acting_user=other_district.prosecutor,
                    inputs={"petitioner": "张三", "received_on": "2026-11-02", "reason": "不服"})
    with pytest.raises(engine.NotAllowed):  # lodged with the deciding procuratorate, it forwards instead
        fire(case, "register_victim_petition", "prosecutor", petitioner="张三", received_on="2026-11-02", reason="x")

    time_machine.move_to(at("2026-11-11"))
    with pytest.raises(engine.GuardFailed, match="请将申诉材料转交该院"):
        engine.fire(case, "register_victim_petition", acting_user=city.city_prosecutor,
                    inputs={"petitioner": "张三", "received_on": "2026-11-03", "reason": "不服"})
    engine.fire(case, "register_victim_petition", acting_user=city.city_prosecutor,
                inputs={"petitioner": "张三", "received_on": "2026-11-04", "reason": "李四多次盗窃。"})
    clock = Clock.objects.get(case=case, kind=ClockKind.NP_PETITION_REVIEW)
    assert clock.agency == city.procuratorate and clock.due_date == date(2027, 2, 11)
    fire_city(case, city, "keep_non_prosecution_on_petition", reason="李四系初犯，犯罪情节轻微。")
    text = decision_text(case, "复查决定书")
    assert "张三：你不服深圳市龙岗区人民检察院" in text and "可以向人民法院起诉" in text


def test_a_revoked_non_prosecution_is_no_longer_contested_by_the_police(closed, district, city, fire):
    """Art. 179; MPS Provisions art. 294: the police contest the decision in force. Revoked on the victim's
    petition (SPP Rules art. 383(2)) and the case closed again by a withdrawal (art. 163), the old decision
    is gone: no reconsideration of it."""
    from casehub.cases import access
    from casehub.cases.state import engine_writes
    from tests.procedure.conftest import _log

    fire(closed, "forward_victim_petition", "prosecutor", petitioner="张三", received_on="2026-11-02", reason="不服")
    fire_city(closed, city, "revoke_non_prosecution_on_petition", reason="应当追究刑事责任。")
    with engine_writes():  # returned for supplementary investigation (as return_for_supplementary leaves it)
        closed.stage, closed.holder_agency = "supplementary_investigation", district.police
        closed.save(update_fields=["stage", "holder_agency"])
    access.grant(closed, district.police, act=True)
    _log(closed, "return_for_supplementary", "prosecution_review", "supplementary_investigation",
         actor=district.prosecutor, from_agency=district.procuratorate, to_agency=district.police, when=at("2026-11-02"))
    fire(closed, "withdraw_case", "investigator", ground="no_crime", reason="补充侦查查明财物系李四本人所有")
    closed.refresh_from_db()
    assert closed.stage == "closed"
    with pytest.raises(engine.GuardFailed, match="没有生效的不起诉决定"):
        fire(closed, "request_np_reconsideration", "investigator", reason="有错误")
