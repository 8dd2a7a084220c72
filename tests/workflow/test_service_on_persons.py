"""Service of the judgment on persons (CPL arts. 107, 202; SPC Interpretation art. 303): the court
records each service — the defendant, the victim, counsel — with a 送达回证 it signs (checked by pyHanko
and pdfsig); the page lists who has not been served; the copy to the defendant's work unit or the
police station of the registered residence is refused before the judgment takes effect and recorded
after it."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from casehub.cases.models import PersonRole
from casehub.cases.persons import add_person
from casehub.objectstore.services import read_bytes
from tests.workflow.test_generated_documents import assert_signed_by, generated, text_of
from workflows import judgment as judgments
from workflows import service
from workflows.models import ServiceRecord

pytestmark = pytest.mark.needs_poppler


def _served_form(judgment, person, recipient, name, *, method="direct", on="2026-03-03"):
    return {"document": judgment.pk, "recipient": recipient, "person": person.pk if person else "",
            "recipient_name": name, "method": method, "served_on": on, "signed_by": ""}


@pytest.mark.time_machine("2026-03-03T10:00:00+08:00")
def test_each_person_served_gets_a_signed_receipt_and_the_work_unit_only_after_effect(
        case, drive, district, other_district, client, time_machine):
    victim = add_person(case, acting_user=district.investigator, data={"role": PersonRole.VICTIM, "name": "王五"})
    drive.to_court(case)
    zhang = case.persons.get(role=PersonRole.SUSPECT)
    judgments.record_decision(case, zhang, outcome="guilty", charge="盗窃罪", penalty="fixed_term", term="二年",
                              acting_user=district.judge)
    drive.fire(case, "announce_judgment", "judge", announced_on="2026-03-03", in_court="yes", verdict="见判决结果")
    drive.fire(case, "deliver_judgment", "court_clerk")
    judgment = generated(case, "刑事判决书")
    url = reverse("transfers:service", args=[case.pk])

    client.force_login(district.court_clerk)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert url in page
    page = client.get(url).content.decode()
    outstanding = page[page.index('id="service-outstanding"'):].split("</div>")[0]
    assert "被告人（张三）" in outstanding and "被害人（王五）" in outstanding

    response = client.post(url, _served_form(judgment, zhang, "defendant", "张三"))
    assert response.status_code == 302 and response.url == url, response.content.decode()[:3000]
    record = ServiceRecord.objects.get(recipient="defendant")
    assert record.person == zhang and record.document == judgment and record.agency == district.court
    data = read_bytes(record.receipt.stored)
    assert_signed_by(data, district.court)
    text = text_of(data)
    assert "送达回证" in text and "刑事判决书" in text and "张三" in text and "直接送达" in text
    assert "2026年3月3日" in text and "第二百零二条" in text

    # Counsel and the victim are served too (art. 202), each with a receipt.
    assert client.post(url, _served_form(judgment, zhang, "counsel", "赵律师", method="electronic")).status_code == 302
    assert client.post(url, _served_form(judgment, victim, "victim", "王五", method="post")).status_code == 302
    assert ServiceRecord.objects.filter(case=case).count() == 3
    assert generated(case, "送达回证（王五）").author_agency == district.court

    # Before the judgment takes effect there is nothing to send to the work unit (art. 303).
    response = client.post(url, _served_form(judgment, zhang, "work_unit", "深圳市某某公司"))
    assert response.status_code == 400 and "第三百零三条" in response.content.decode()
    assert not service.outstanding(case)

    time_machine.move_to("2026-03-14T10:00:00+08:00")
    drive.fire(case, "judgment_effective", "court_clerk")
    assert [m["recipient"] for m in service.outstanding(case)] == ["work_unit"]
    client.force_login(district.court_clerk)  # a new day, a new session
    response = client.post(url, _served_form(judgment, zhang, "residence_police", "深圳市公安局龙岗分局某某派出所",
                                             method="post", on="2026-03-14"))
    assert response.status_code == 302 and response.url == url
    receipt = text_of(read_bytes(ServiceRecord.objects.get(recipient="residence_police").receipt.stored))
    assert "第三百零三条" in receipt and "被告人张三" in receipt
    assert not service.outstanding(case)

    # The police read the case but do not serve for the court; another district does not see it.
    client.force_login(district.investigator)
    assert client.get(url).status_code == 403
    client.force_login(other_district.court_clerk)
    assert client.get(url).status_code == 404


@pytest.mark.time_machine("2026-03-03T10:00:00+08:00")
def test_a_service_date_in_the_future_or_on_someone_else_is_refused(case, drive, district):
    from django.core.exceptions import ValidationError

    drive.to_court(case)
    zhang = case.persons.get()
    judgments.record_decision(case, zhang, outcome="acquitted", acting_user=district.judge)
    drive.fire(case, "announce_judgment", "judge", announced_on="2026-03-03", in_court="yes", verdict="—")
    judgment = generated(case, "刑事判决书")
    with pytest.raises(ValidationError, match="晚于今天"):
        service.record_service(case, document=judgment, recipient="defendant", recipient_name="张三", method="direct",
                               served_on=timezone.localdate().replace(day=4), acting_user=district.court_clerk,
                               person=zhang)
    with pytest.raises(ValidationError, match="被害人"):
        service.record_service(case, document=judgment, recipient="victim", recipient_name="张三", method="direct",
                               served_on=timezone.localdate(), acting_user=district.court_clerk, person=zhang)
