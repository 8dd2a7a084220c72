"""Accessibility in CI: axe-core 4.x (tags wcag2a wcag2aa wcag21a wcag21aa) over every role's
home page and the pages of a case's journey, in Chinese and English; any violation of impact
serious or critical fails. The narrow (390 px) navbar collapses behind a toggle."""

from __future__ import annotations

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from casehub.cases.models import CustodyStatus, PersonRole
from casehub.cases.services import register_case
from casehub.dossier import services as dossier
from tests.dossier import files
from tests.fixtures.axe import describe, run_axe
from tests.fixtures.browser import login, screenshot
from tests.fixtures.district import PASSWORD, build_district
from workflows import engine
from workflows.models import ApprovalRequest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = ["investigator", "police_supervisor", "police_admin", "prosecutor", "procuratorate_supervisor",
         "court_clerk", "judge", "detention_officer", "auditor"]


def a_case_awaiting_review_approval(district, tmp_path):
    case = register_case(
        acting_user=district.investigator, title="张三涉嫌盗窃案", summary="入室盗窃",
        persons=[{"role": PersonRole.SUSPECT, "name": "张三", "sex": "M", "id_number": "440307199001011234",
                  "custody_status": CustodyStatus.DETAINED, "custody_since": timezone.now(),
                  "detention_centre": district.detention}],
    )
    path = files.write(tmp_path, "1.pdf", files.text_pdf(2, "doc1"))
    dossier.ingest_upload(case=case, acting_user=district.investigator, uploaded_file_or_path=path,
                          title="证据材料1", category="evidence")
    engine.fire(case, "transfer_for_review", acting_user=district.investigator,
                inputs={"facts": "入室盗窃", "evidence": "证人证言"})
    return case


def audit_pages(browser, live_server, username, paths, language):
    login(browser, live_server, username, PASSWORD)
    WebDriverWait(browser, 15).until(lambda b: "/login/" not in b.current_url)
    browser.add_cookie({"name": "django_language", "value": language})
    failures = []
    for path in paths:
        browser.get(f"{live_server.url}{path}")
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
        found = run_axe(browser)
        if found:
            failures.append(f"{username} {language} {path}\n{describe(found)}")
    return failures


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_role_home_and_the_case_pages_pass_axe(browser, live_server, tmp_path, language):
    district = build_district()
    case = a_case_awaiting_review_approval(district, tmp_path)
    approval = ApprovalRequest.objects.get(case=case)
    failures = []
    for role in ROLES:
        failures += audit_pages(browser, live_server, role, ["/"], language)
        screenshot(browser, f"home-{role}-{language}")
    failures += audit_pages(browser, live_server, "investigator", [
        "/cases/", f"/cases/{case.pk}/", f"/dossier/case/{case.pk}/", "/transfers/inbox/",
        "/clocks/", "/notifications/", f"/transfers/case/{case.pk}/fire/request_arrest/", "/no-such-page/",
    ], language)
    failures += audit_pages(browser, live_server, "police_supervisor",
                            [f"/transfers/approval/{approval.pk}/"], language)
    failures += audit_pages(browser, live_server, "auditor", ["/audit/", "/metrics/"], language)
    assert not failures, "\n\n".join(failures)


def test_the_navbar_collapses_on_a_phone(browser, live_server):
    build_district()
    browser.set_window_size(390, 844)
    login(browser, live_server, "investigator", PASSWORD)
    toggler = browser.find_element(By.CSS_SELECTOR, ".navbar-toggler")
    nav = browser.find_element(By.ID, "main-nav")
    assert toggler.is_displayed() and not nav.is_displayed()
    toggler.click()
    WebDriverWait(browser, 5).until(lambda b: b.find_element(By.ID, "main-nav").is_displayed())
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(browser, "home-investigator-390px-menu-open")
    # The English name of the platform is longer: it wraps, the page does not scroll sideways.
    browser.add_cookie({"name": "django_language", "value": "en"})
    browser.get(f"{live_server.url}/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
