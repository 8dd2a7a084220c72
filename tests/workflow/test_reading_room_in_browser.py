"""Reading room: clicking a contents entry moves the PDF viewer to that document's first page."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from casehub.dossier import services as dossier
from tests.fixtures.browser import login
from tests.fixtures.district import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_contents_entry_loads_the_viewer_at_the_documents_page(browser, live_server, make_case):
    case = make_case(documents=2)
    district_investigator = case.created_by
    volume = dossier.seal_and_assemble(case, part="main", agency=case.holder_agency,
                                       acting_user=district_investigator)[0]
    login(browser, live_server, district_investigator.username, PASSWORD)
    browser.get(f"{live_server.url}/dossier/volume/{volume.pk}/")
    entries = browser.find_elements(By.CSS_SELECTOR, "#contents a[data-viewer-page]")
    assert len(entries) == 2
    page = entries[1].get_attribute("data-viewer-page")
    assert int(page) > 1  # the second document starts after the first one's pages
    entries[1].click()
    frame = browser.find_element(By.ID, "pdf-frame")
    WebDriverWait(browser, 5).until(lambda b: frame.get_attribute("src").endswith(f"?page={page}#page={page}"))
