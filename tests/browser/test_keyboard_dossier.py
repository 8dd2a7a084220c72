"""Keyboard only: upload, order and assemble a dossier without the mouse (headless Chromium).

Every control is reached with Tab and used with Enter, Space or Alt+arrows, as a keyboard or
switch user would. The one stand-in is the operating system's file dialog, which a browser test
cannot drive: the files are typed into the focused file input instead, which is what the dialog
does.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from casehub.cases.services import register_case
from casehub.dossier.models import Document, VolumeStatus
from tests.dossier import files
from tests.fixtures.browser import login, screenshot
from tests.fixtures.district import PASSWORD, build_district

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def press(browser, *keys):
    ActionChains(browser).send_keys(*keys).perform()


def tab_to(browser, css: str, limit: int = 200):
    """Press Tab until the element ``css`` has the focus (fails if it is never reached)."""
    target = browser.find_element(By.CSS_SELECTOR, css)
    for _ in range(limit):
        if browser.switch_to.active_element == target:
            return target
        press(browser, Keys.TAB)
    raise AssertionError(f"{css} cannot be reached with the Tab key")


def titles_in_draft(case) -> list[str]:
    return list(Document.objects.filter(case=case, is_current=True).order_by("position")
                .values_list("title", flat=True))


def test_upload_order_and_assemble_with_the_keyboard_only(browser, live_server, tmp_path):
    district = build_district()
    case = register_case(acting_user=district.investigator, title="键盘操作测试案", summary="入室盗窃")
    paths = [str(files.write(tmp_path, f"{name}.pdf", files.text_pdf(1, name))) for name in ("甲", "乙", "丙")]
    login(browser, live_server, "investigator", PASSWORD)
    browser.get(f"{live_server.url}/dossier/case/{case.pk}/")

    # Upload: the file input is reached with Tab; the upload button is pressed with Enter.
    tab_to(browser, "#file-input").send_keys("\n".join(paths))
    tab_to(browser, "#upload-button")
    press(browser, Keys.ENTER)
    # Watch the page, not the database (SQLite: reading while the server writes can lock).
    WebDriverWait(browser, 120).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, '.job[data-status="done"]')) == 3)
    assert sorted(titles_in_draft(case)) == ["丙", "乙", "甲"], "the keyboard upload did not reach the dossier"
    screenshot(browser, "keyboard-01-uploaded")

    # Order: ↑ on 丙 twice (Enter, then Space), then Alt+↓ on 甲 → 丙, 乙, 甲.
    browser.get(f"{live_server.url}/dossier/case/{case.pk}/")
    assert titles_in_draft(case) == ["甲", "乙", "丙"]
    up = tab_to(browser, 'button.move-up[aria-label="上移“丙”"]')
    press(browser, Keys.ENTER)
    assert browser.switch_to.active_element == up  # the focus stays on the button that moved
    press(browser, Keys.SPACE)
    status = browser.find_element(By.CSS_SELECTOR, ".order-status").get_attribute("textContent")
    assert "“丙”已移到第 1 位" in status
    tab_to(browser, "#doc-{} .doc-title".format(Document.objects.get(case=case, title="甲").pk))
    ActionChains(browser).key_down(Keys.ALT).send_keys(Keys.ARROW_DOWN).key_up(Keys.ALT).perform()
    shown = [e.get_attribute("data-title") for e in browser.find_elements(By.CSS_SELECTOR, ".doc-list .doc-item")]
    assert shown == ["丙", "乙", "甲"]
    assert browser.find_element(By.CSS_SELECTOR, ".order-unsaved").is_displayed()
    assert titles_in_draft(case) == ["甲", "乙", "丙"]  # nothing saved yet
    screenshot(browser, "keyboard-02-ordered-unsaved")

    # Save: Enter on "保存顺序"; the page says it was saved.
    tab_to(browser, ".save-order")
    press(browser, Keys.ENTER)
    WebDriverWait(browser, 20).until(lambda b: b.find_elements(By.CSS_SELECTOR, '[data-message="success"]'))
    assert "已保存卷内顺序（3 份材料）" in browser.find_element(By.CSS_SELECTOR, '[data-message="success"]').text
    assert titles_in_draft(case) == ["丙", "乙", "甲"]
    screenshot(browser, "keyboard-03-order-saved")

    # Assemble: Enter on "封卷并组卷", then Enter on the confirmation.
    tab_to(browser, 'form[action$="/assemble/"] button[type=submit]')
    press(browser, Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda b: _alert(b))
    alert = browser.switch_to.alert
    assert "封卷后卷内材料和顺序不能再改变" in alert.text
    alert.accept()
    WebDriverWait(browser, 120).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, '.volume-card[data-status="assembled"]'))
    volume = case.volumes.get(status=VolumeStatus.ASSEMBLED)
    assert list(volume.documents.order_by("position").values_list("title", flat=True)) == ["丙", "乙", "甲"]
    browser.get(f"{live_server.url}/dossier/case/{case.pk}/")
    read = tab_to(browser, f'a[href="/dossier/volume/{volume.pk}/"]')
    press(browser, Keys.ENTER)
    WebDriverWait(browser, 20).until(lambda b: f"/dossier/volume/{volume.pk}/" in b.current_url)
    assert read is not None
    screenshot(browser, "keyboard-04-assembled")


def _alert(browser):
    try:
        return browser.switch_to.alert
    except Exception:  # noqa: BLE001 - no dialog yet
        return False
