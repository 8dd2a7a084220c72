"""Extensions of investigation custody after arrest, routed as the law says (CPL arts. 156, 158, 159;
SPP Rules 2019 art. 309): the police request at least 7 days before the period ends, the procuratorate
that approved the arrest forwards, the procuratorate one level up (art. 156) or the provincial one
(arts. 158-159) decides, and the signed decision comes back through the procuratorate that received the
request. 张三 and 李四 were arrested on 2 March 2026 (periods end 2 May); 王五 is on bail.
"""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.core.exceptions import ValidationError

from casehub.audit.models import AuditEvent
from casehub.cases import access
from casehub.cases.models import CustodyStatus, PersonRole
from casehub.clocks import services as clocks
from casehub.clocks.kinds import ClockKind
from casehub.clocks.models import ACTIVE_STATUSES, Clock
from casehub.custody.models import CustodyNotice, CustodyRecord, ExtensionStatus, NoticeKind
from tests.procedure.conftest import arrested, at
from workflows import custody_terms, engine

pytestmark = pytest.mark.time_machine(at("2026-03-02"))


def _clock(person) -> Clock:
    return Clock.objects.get(person=person, kind=ClockKind.INVESTIGATION_CUSTODY, status__in=ACTIVE_STATUSES)


@pytest.fixture
def gang(new_case, district):
    """张三 and 李四 arrested on 2 March 2026 (the district procuratorate approved), 王五 on bail."""
    case = new_case("张三等盗窃案", persons=[
        {"role": PersonRole.SUSPECT, "name": "张三", "sex": "M", "id_number": "440307199001011234",
         "birth_date": date(1990, 1, 1)},
        {"role": PersonRole.SUSPECT, "name": "李四", "sex": "M", "id_number": "440307199202023456",
         "birth_date": date(1992, 2, 2)},
        {"role": PersonRole.SUSPECT, "name": "王五", "sex": "F", "custody_status": CustodyStatus.BAIL,
         "birth_date": date(1993, 3, 3)},
    ])
    for name in ("张三", "李四"):
        person = case.persons.get(name=name)
        arrested(person, district, since=at("2026-02-27"))
        clocks.open_clock(case, ClockKind.INVESTIGATION_CUSTODY, agency=district.police, start=at("2026-03-02"),
                          person=person, decision="批准逮捕")
        assert _clock(person).due_date == date(2026, 5, 2)
    access.grant(case, district.procuratorate, act=False)  # it read the case to approve the arrests
    return {p.name: p for p in case.persons.all()}


def test_extension_requested_six_days_before_expiry_is_refused(gang, district, city):
    """SPP Rules 2019 art. 309: the police file the request at least 7 days before the period ends —
    on 26 April (6 days before 2 May) it is refused and nothing is recorded; on 25 April it is filed
    with the procuratorate that approved the arrest."""
    zhang = gang["张三"]
    with time_machine.travel(at("2026-04-26"), tick=False), pytest.raises(ValidationError, match="七日前"):
        custody_terms.request_extension(zhang, reason="案情复杂，需继续侦查", acting_user=district.investigator)
    assert not zhang.custody_extensions.exists()
    with time_machine.travel(at("2026-04-25"), tick=False):
        ext = custody_terms.request_extension(zhang, reason="案情复杂，需继续侦查", acting_user=district.investigator)
    assert ext.article == "156" and ext.status == ExtensionStatus.REQUESTED
    assert ext.received_by == district.procuratorate and ext.decided_by == city.procuratorate
    assert ext.period_end == date(2026, 5, 2)
    with time_machine.travel(at("2026-04-25"), tick=False), pytest.raises(ValidationError, match="尚未决定"):
        custody_terms.request_extension(zhang, reason="再次提请", acting_user=district.investigator)


def test_art_156_extension_decided_by_the_city_procuratorate_extends_only_that_suspects_clock(gang, district, city):
    """Art. 156: the district procuratorate (which approved the arrest) forwards the request; the city
    procuratorate one level up decides; its signed 延长侦查羁押期限决定书 goes back through the district
    procuratorate; 张三's period ends on 2 June, 李四's stays 2 May, 王五's bail is untouched; the
    detention centre receives a 变更羁押期限通知书 for 张三 only. Neither the district procuratorate nor
    the police may decide it, and the city procuratorate may not forward it."""
    zhang, li, wang = gang["张三"], gang["李四"], gang["王五"]
    city_prosecutor = city.users["city_prosecutor"]
    with time_machine.travel(at("2026-04-20"), tick=False):
        ext = custody_terms.request_extension(zhang, reason="案情复杂，需继续侦查", acting_user=district.investigator)
        with pytest.raises(engine.NotAllowed):
            custody_terms.forward_extension(ext, opinion="同意报请", acting_user=city_prosecutor)
        with pytest.raises(engine.NotAllowed):
            custody_terms.decide_extension(ext, approve=True, reason="同意", acting_user=district.prosecutor)
    with time_machine.travel(at("2026-04-22"), tick=False):
        with pytest.raises(ValidationError, match="尚未报送"):
            custody_terms.decide_extension(ext, approve=True, reason="同意", acting_user=city_prosecutor)
        ext = custody_terms.forward_extension(ext, opinion="案件复杂，建议批准延长一个月",
                                              acting_user=district.prosecutor)
    assert ext.status == ExtensionStatus.FORWARDED
    with time_machine.travel(at("2026-04-28"), tick=False):
        ext = custody_terms.decide_extension(ext, approve=True, reason="同意延长一个月", acting_user=city_prosecutor)

    assert ext.status == ExtensionStatus.APPROVED and ext.new_end == date(2026, 6, 2)
    assert ext.number.startswith("深检延押〔2026〕") and ext.pdf is not None
    assert _clock(zhang).due_date == date(2026, 6, 2)
    assert _clock(li).due_date == date(2026, 5, 2) and not _clock(li).extensions.exists()
    wang.refresh_from_db()
    assert wang.custody_status == CustodyStatus.BAIL
    notice = CustodyNotice.objects.get(person=zhang, kind=NoticeKind.EXTENSION)
    assert notice.new_end == date(2026, 6, 2) and notice.agency == city.procuratorate
    assert CustodyRecord.objects.get(person=zhang).period_end == date(2026, 6, 2)
    assert not CustodyNotice.objects.filter(person=li, kind=NoticeKind.EXTENSION).exists()
    event = AuditEvent.objects.get(action="workflow.person_decision", details__decision="custody_extension")
    assert event.details["decided_by"] == city.procuratorate.code
    assert event.details["received_by"] == district.procuratorate.code
    assert event.details["persons"] == [zhang.pk]


def test_art_158_without_a_provincial_procuratorate_the_city_records_the_paper_decision(gang, district, city):
    """Art. 158: +2 months decided by the provincial procuratorate, which is not on the platform: the
    district procuratorate forwards to the city procuratorate, which records the provincial decision it
    received on paper (its number required); the decision names 省级人民检察院. Art. 158 needs one of
    its four kinds of case."""
    zhang = gang["张三"]
    city_prosecutor = city.users["city_prosecutor"]
    with time_machine.travel(at("2026-04-20"), tick=False):
        first = custody_terms.request_extension(zhang, reason="案情复杂", acting_user=district.investigator)
        custody_terms.forward_extension(first, opinion="建议批准", acting_user=district.prosecutor)
        custody_terms.decide_extension(first, approve=True, reason="同意", acting_user=city_prosecutor)
    with time_machine.travel(at("2026-05-20"), tick=False):
        with pytest.raises(ValidationError, match="四类案件"):
            custody_terms.request_extension(zhang, reason="重大犯罪集团案件", acting_user=district.investigator)
        ext = custody_terms.request_extension(zhang, reason="重大犯罪集团案件", ground="group",
                                              acting_user=district.investigator)
        assert ext.article == "158" and ext.decided_by is None and ext.recorded_by == city.procuratorate
        custody_terms.forward_extension(ext, opinion="建议报省院批准", acting_user=district.prosecutor)
        with pytest.raises(ValidationError, match="纸质决定书"):
            custody_terms.decide_extension(ext, approve=True, reason="省院批准", acting_user=city_prosecutor)
        ext = custody_terms.decide_extension(ext, approve=True, reason="省院批准延长二个月",
                                             paper_reference="粤检延〔2026〕7号", acting_user=city_prosecutor)
    assert ext.status == ExtensionStatus.APPROVED and ext.new_end == date(2026, 8, 2)
    assert ext.decided_by_name == "省级人民检察院" and ext.paper_reference == "粤检延〔2026〕7号"
    assert "省级人民检察院批准（粤检延〔2026〕7号）" in _clock(zhang).extended_by


def test_a_refused_extension_leaves_the_period_as_it_was(gang, district, city):
    """Art. 156: the city procuratorate refuses; the signed 不批准延长侦查羁押期限决定书 is issued, the
    period still ends on 2 May and the detention centre receives no extension notice."""
    zhang = gang["张三"]
    with time_machine.travel(at("2026-04-20"), tick=False):
        ext = custody_terms.request_extension(zhang, reason="需继续侦查", acting_user=district.investigator)
        custody_terms.forward_extension(ext, opinion="不同意延长", acting_user=district.prosecutor)
        ext = custody_terms.decide_extension(ext, approve=False, reason="不符合延长条件",
                                             acting_user=city.users["city_prosecutor"])
    assert ext.status == ExtensionStatus.REFUSED and ext.new_end is None and ext.pdf is not None
    assert ext.number.startswith("深检不延押〔2026〕")
    assert _clock(zhang).due_date == date(2026, 5, 2)
    assert not CustodyNotice.objects.filter(person=zhang, kind=NoticeKind.EXTENSION).exists()


def test_without_a_procuratorate_above_on_the_platform_the_receiving_one_records_the_paper_decision(gang, district):
    """Art. 156: the city procuratorate that decides is not on the platform and neither is any
    procuratorate above the district's: there is nothing to forward to; the district procuratorate that
    received the request records the decision it received on paper (its number required), and the
    decision names "上一级人民检察院"."""
    zhang = gang["张三"]
    with time_machine.travel(at("2026-04-20"), tick=False):
        ext = custody_terms.request_extension(zhang, reason="案情复杂", acting_user=district.investigator)
        assert ext.recorded_by == ext.received_by == district.procuratorate and ext.decided_by is None
        with pytest.raises(ValidationError, match="纸质决定"):
            custody_terms.forward_extension(ext, opinion="建议批准", acting_user=district.prosecutor)
        ext = custody_terms.decide_extension(ext, approve=True, reason="上级院批准", paper_reference="深检延〔2026〕3号",
                                             acting_user=district.prosecutor)
    assert ext.decided_by_name == "上一级人民检察院" and ext.new_end == date(2026, 6, 2)
    assert _clock(zhang).due_date == date(2026, 6, 2)


def test_a_recount_makes_a_pending_request_moot(gang, district, city):
    """Art. 160 (MPS Provisions arts. 151-152): 张三's identity is established on 21 April while his
    request waits; the period counts again from that day, the old request can no longer be decided, and
    a request for the new period may be filed."""
    zhang = gang["张三"]
    with time_machine.travel(at("2026-04-20"), tick=False):
        old = custody_terms.request_extension(zhang, reason="案情复杂", acting_user=district.investigator)
    with time_machine.travel(at("2026-04-22"), tick=False):
        custody_terms.recount_investigation_custody(zhang, ground="identified", since=date(2026, 4, 21),
                                                    reason="查清真实身份", acting_user=district.police_supervisor)
        assert custody_terms.pending_extension(zhang) is None
        with pytest.raises(ValidationError, match="重新计算"):
            custody_terms.forward_extension(old, opinion="建议批准", acting_user=district.prosecutor)
        new = custody_terms.request_extension(zhang, reason="身份查清后继续侦查", acting_user=district.investigator)
    assert new.article == "156" and new.period_end == date(2026, 6, 21)


def test_arts_158_and_159_are_decided_by_the_registered_provincial_procuratorate(gang, district, city, make_user):
    """Arts. 158, 159 (SPP Rules 2019 arts. 311-313): after the city's art. 156 month, the provincial
    procuratorate on the platform decides +2 months for one of art. 158's four kinds of case, and +2 more
    only where the possible sentence is ten years or more; a fourth extension does not exist."""
    from casehub.agencies.models import AgencyKind, AgencyLevel, Role
    from tests.fixtures.district import make_agency
    from tests.procedure.conftest import extend_custody

    province = make_agency(AgencyKind.PROCURATORATE, "JC440000", "广东省人民检察院", abbreviation="粤",
                           region="440000", level=AgencyLevel.PROVINCE)
    city.procuratorate.parent = province
    city.procuratorate.save(update_fields=["parent"])
    provincial = make_user(province, [Role.PROSECUTOR])
    zhang = gang["张三"]
    assert extend_custody(zhang, district, date(2026, 4, 25), city.users["city_prosecutor"]).new_end == date(2026, 6, 2)
    second = extend_custody(zhang, district, date(2026, 5, 26), provincial, ground="group")
    assert (second.article, second.decided_by, second.new_end) == ("158", province, date(2026, 8, 2))
    with time_machine.travel(at("2026-07-20"), tick=False), pytest.raises(ValidationError, match="十年有期徒刑以上"):
        custody_terms.request_extension(zhang, reason="可能判处无期徒刑", acting_user=district.investigator)
    third = extend_custody(zhang, district, date(2026, 7, 20), provincial, sentence_ten_years=True)
    assert (third.article, third.new_end, _clock(zhang).due_date) == ("159", date(2026, 10, 2), date(2026, 10, 2))
    assert CustodyRecord.objects.get(person=zhang).period_end == date(2026, 10, 2)
    with time_machine.travel(at("2026-09-01"), tick=False), pytest.raises(ValidationError, match="不能再延长"):
        custody_terms.request_extension(zhang, reason="再延长", acting_user=district.investigator)


def test_the_police_cannot_extend_custody_after_arrest_themselves(gang, district):
    """Arts. 156, 158, 159; SPP Rules 2019 art. 309: the extension is a procuratorate's decision. The
    police may only request it: there is no one-step police extension in the engine, the police cannot
    forward or decide their own request, and a 变更羁押期限通知书 of the police cannot set a new end for
    the detention centre — 张三's clock still ends on 2 May and his record did not move."""
    from casehub.custody.services import issue_notice_by_user

    zhang = gang["张三"]
    assert not hasattr(engine, "extend_investigation_custody")
    record = CustodyRecord.objects.get(person=zhang)
    with time_machine.travel(at("2026-04-20"), tick=False):
        ext = custody_terms.request_extension(zhang, reason="案情复杂", acting_user=district.investigator)
        for user in (district.investigator, district.police_supervisor):
            with pytest.raises(engine.NotAllowed, match="人民检察院"):
                custody_terms.decide_extension(ext, approve=True, reason="自行延长", acting_user=user,
                                               paper_reference="深龙公延〔2026〕1号")
            with pytest.raises(engine.NotAllowed):
                custody_terms.forward_extension(ext, opinion="自行报送", acting_user=user)
        with pytest.raises(ValidationError, match="人民检察院批准"):
            issue_notice_by_user(record, kind=NoticeKind.EXTENSION, reason="深龙公延〔2026〕1号",
                                 new_end=date(2026, 6, 2), acting_user=district.investigator)
    assert _clock(zhang).due_date == date(2026, 5, 2) and not zhang.custody_extensions.exclude(pk=ext.pk).exists()
    assert CustodyRecord.objects.get(person=zhang).period_end == record.period_end
    assert not CustodyNotice.objects.filter(person=zhang, kind=NoticeKind.EXTENSION).exists()
