"""A person opens casehub in a real browser: logs in, sees their home page, switches language."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.fixtures.browser import login, screenshot
from tests.fixtures.district import PASSWORD, build_district

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_investigator_logs_in_sees_chinese_home_and_switches_to_english(browser, live_server):
    build_district()
    login(browser, live_server, "investigator", PASSWORD)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-hans"
    assert "深圳市公安局龙岗分局" in browser.find_element(By.ID, "whoami").text
    nav = browser.find_element(By.ID, "main-nav").text
    assert "案件" in nav and "审计日志" not in nav
    screenshot(browser, "home-investigator-zh")

    select = browser.find_element(By.CSS_SELECTOR, "#language-form select")
    select.find_element(By.CSS_SELECTOR, "option[value=en]").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
    WebDriverWait(browser, 10).until(lambda b: "Welcome" in b.find_element(By.TAG_NAME, "h1").text)
    screenshot(browser, "home-investigator-en")


def test_wrong_password_shows_an_error_and_no_session(browser, live_server):
    build_district()
    login(browser, live_server, "investigator", "not-the-password")
    assert "用户名或密码错误" in browser.find_element(By.CSS_SELECTOR, ".alert-danger").text
    browser.get(f"{live_server.url}/")
    assert "/login/" in browser.current_url
