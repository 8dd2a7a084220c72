"""The judgment reaches everyone (issue #17): the judge records the decision per defendant, the
announcement generates the 刑事判决书 signed by the court (verified by pyHanko and pdfsig), the case
page shows it, and both delivery packages carry it (CPL arts. 200-203; SPC Interpretation art. 303)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from casehub.objectstore.services import read_bytes
from tests.workflow.test_generated_documents import assert_signed_by, generated, text_of

pytestmark = pytest.mark.needs_poppler


def test_the_recorded_decision_becomes_a_signed_judgment_that_both_packages_carry(case, drive, district, client):
    drive.to_court(case)
    person = case.persons.get()
    client.force_login(district.judge)
    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert reverse("transfers:judgment", args=[case.pk]) in page
    response = client.post(reverse("transfers:judgment", args=[case.pk]), {
        f"p{person.pk}-outcome": "guilty", f"p{person.pk}-charge": "盗窃罪", f"p{person.pk}-penalty": "fixed_term",
        f"p{person.pk}-term": "一年，并处罚金人民币五千元"})
    assert response.status_code == 302, response.content.decode()[:2000]

    drive.fire(case, "announce_judgment", "judge", announced_on="2026-01-05", in_court="yes",
               verdict="（未记录时使用）")
    judgment = generated(case, "刑事判决书")
    data = read_bytes(judgment.stored)
    assert_signed_by(data, district.court)
    text = text_of(data)
    assert "被告人张三犯盗窃罪，判处有期徒刑一年，并处罚金人民币五千元" in text
    assert "犯罪嫌疑人" not in text and "未记录时使用" not in text
    assert "第二日起十日内" in text and district.procuratorate.name in text  # appeal period (art. 230)
    assert "2026年1月5日" in text and "当庭宣判" in text

    page = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    block = page[page.index('id="case-judgment"'):]
    assert "被告人张三犯盗窃罪" in block and reverse("dossier:document", args=[judgment.pk]) in block

    drive.fire(case, "deliver_judgment", "court_clerk")
    packages = list(case.transfers.filter(kind="judgment"))
    assert {t.to_agency for t in packages} == {district.procuratorate, district.police}
    for transfer in packages:
        assert judgment in transfer.documents.all()
        assert any(entry["title"] == "刑事判决书" for entry in transfer.manifest["documents"])
    client.force_login(district.investigator)  # the police open the delivered judgment
    assert client.get(reverse("dossier:document", args=[judgment.pk])).status_code == 200


def test_an_acquittal_is_written_as_such(case, drive, district):
    from workflows import judgment as judgments

    drive.to_court(case)
    person = case.persons.get()
    judgments.record_decision(case, person, outcome="acquitted", acting_user=district.judge)
    drive.fire(case, "announce_judgment", "judge", announced_on="2026-01-05", in_court="no", verdict="—")
    text = text_of(read_bytes(generated(case, "刑事判决书").stored))
    assert "被告人张三无罪" in text and "定期宣判" in text


def test_only_the_trial_court_records_a_decision(case, drive, district):
    from django.core.exceptions import PermissionDenied

    from workflows import judgment as judgments

    drive.to_review(case)
    with pytest.raises(PermissionDenied):
        judgments.record_decision(case, case.persons.get(), outcome="acquitted", acting_user=district.prosecutor)
