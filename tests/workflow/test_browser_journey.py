"""The whole journey in a real browser (headless Chromium): a case goes from the police to the
procuratorate, back for supplementary investigation, to court, and is closed with a judgment.
Each user sees only their part, and at each step the home page of every role involved shows what
that role must do now (asserted panel by panel); screenshots of the pages and of every home page
visited are saved under artifacts/screenshots/ (ignored by git, kept by CI as artefacts)."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse
from django.utils import timezone
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from casehub.cases.models import Case
from tests.dossier import files
from tests.fixtures.axe import describe, run_axe
from tests.fixtures.browser import find_now, login, screenshot
from tests.fixtures.district import PASSWORD, build_district

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def as_user(browser, live_server, username):
    login(browser, live_server, username, PASSWORD)
    WebDriverWait(browser, 15).until(lambda b: "/login/" not in b.current_url)


def attr_is(element_id, attr, value):
    def check(browser):
        try:
            return browser.find_element(By.ID, element_id).get_attribute(attr) == value
        except (StaleElementReferenceException, NoSuchElementException):
            return False  # the page is being replaced; look again
    return check


def click(browser, element):
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    browser.execute_script("arguments[0].click()", element)


def fill(browser, name, value):
    el = browser.find_element(By.NAME, name)
    if el.get_attribute("type") in ("date", "datetime-local"):
        browser.execute_script("arguments[0].value = arguments[1]", el, value)
    elif el.tag_name == "select":
        Select(el).select_by_value(str(value))
    else:
        el.clear()
        el.send_keys(value)


def open_case(browser, live_server, case):
    browser.get(f"{live_server.url}/cases/{case.pk}/")


def click_transition(browser, name):
    click(browser, browser.find_element(By.CSS_SELECTOR, f'#case-actions a[data-transition="{name}"]'))
    WebDriverWait(browser, 15).until(lambda b: b.find_elements(By.ID, "transition-form"))


def submit_transition(browser, **inputs):
    for name, value in inputs.items():
        fill(browser, name, value)
    click(browser, browser.find_element(By.ID, "transition-submit"))
    WebDriverWait(browser, 30).until(lambda b: not find_now(b, By.ID, "transition-form"))


def approve_pending(browser, live_server, supervisor, shot):
    as_user(browser, live_server, supervisor)
    browser.get(f"{live_server.url}/transfers/inbox/")
    click(browser, browser.find_element(By.CSS_SELECTOR, "#inbox-approvals a"))
    screenshot(browser, shot)
    browser.find_element(By.ID, "comment").send_keys("同意")
    click(browser, browser.find_element(By.ID, "approve"))
    WebDriverWait(browser, 60).until(attr_is("approval-status", "data-status", "approved"))


def accept_incoming(browser, live_server, user, transition, shot, check=None, **inputs):
    as_user(browser, live_server, user)
    browser.get(f"{live_server.url}/transfers/inbox/")
    click(browser, browser.find_element(By.CSS_SELECTOR, "#inbox-incoming a"))
    WebDriverWait(browser, 60).until(attr_is("verification", "data-status", "passed"))
    assert browser.find_elements(By.CSS_SELECTOR, "#manifest-documents tbody tr")
    screenshot(browser, shot)
    if check is not None:
        check(browser)
    click(browser, browser.find_element(By.CSS_SELECTOR, f'#transfer-actions a[data-transition="{transition}"]'))
    submit_transition(browser, **inputs)


def check_resent_package(browser):
    """The re-sent package marks what is new since the first one (the return's documents)."""
    summary = browser.find_element(By.CSS_SELECTOR, "[data-package-changes]").text
    assert "较" in summary and "新增 2 份" in summary, summary
    assert browser.find_elements(By.CSS_SELECTOR, '#manifest-documents [data-change="new"]')
    found = run_axe(browser)
    assert not found, describe(found)


def home(browser, live_server, user, step, **panels):
    """Sign in as ``user``, open the home page, save its screenshot, and check its panels:
    ``panels`` maps a panel key (``data-inbox``, dashes as underscores) to texts it must show, or
    to None when the role must not have that panel at all."""
    as_user(browser, live_server, user)
    browser.get(f"{live_server.url}/")
    screenshot(browser, f"journey-home-{step}-{user}")
    for key, texts in panels.items():
        cards = find_now(browser, By.CSS_SELECTOR, f'[data-inbox="{key.replace("_", "-")}"]')
        if texts is None:
            assert not cards, f"step {step}: {user} has a {key} panel"
            continue
        assert cards, f"step {step}: {user} has no {key} panel"
        text = cards[0].text
        for expected in texts:
            assert expected in text, f"step {step}: {user}'s {key} panel does not show {expected!r}:\n{text}"


def lacks(browser, key, text):
    cards = find_now(browser, By.CSS_SELECTOR, f'[data-inbox="{key}"]')
    return not cards or text not in cards[0].text


def stage_of(case):
    case.refresh_from_db()
    return case.stage


def test_case_journey_police_procuratorate_court(browser, live_server, tmp_path):
    district = build_district()
    # 1. The investigator registers the case, adds the suspect and uploads a document.
    as_user(browser, live_server, "investigator")
    browser.get(f"{live_server.url}/cases/register/")
    fill(browser, "title", "钱九涉嫌盗窃案")
    fill(browser, "summary", "钱九入室盗窃笔记本电脑一台。")
    fill(browser, "persons-0-name", "钱九")
    fill(browser, "persons-0-role", "suspect")
    fill(browser, "persons-0-custody_status", "detained")
    fill(browser, "persons-0-detention_centre", district.detention.pk)
    since = timezone.localtime() - timezone.timedelta(days=1)
    fill(browser, "persons-0-custody_since", since.strftime("%Y-%m-%dT%H:%M"))
    click(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    time.sleep(2)
    errors = [e.text for e in find_now(browser, By.CSS_SELECTOR, ".text-danger, .errorlist")]
    WebDriverWait(browser, 15).until(lambda b: Case.objects.filter(title="钱九涉嫌盗窃案").exists(), errors)
    case = Case.objects.get(title="钱九涉嫌盗窃案")
    assert case.persons.filter(name="钱九").exists()

    pdf = files.write(tmp_path, "evidence.pdf", files.text_pdf(3, "evidence"))
    browser.get(f"{live_server.url}/dossier/case/{case.pk}/")
    browser.find_element(By.ID, "file-input").send_keys(str(pdf))
    title = browser.find_elements(By.ID, "id_title")
    if title and title[0].is_displayed():
        title[0].send_keys("现场勘验笔录")
    click(browser, browser.find_element(By.ID, "upload-button"))
    # Watch the page, not the database (SQLite: reading while the live server writes can lock).
    WebDriverWait(browser, 90).until(lambda b: b.find_elements(By.CSS_SELECTOR, '.job[data-status="done"]'))
    assert case.documents.exists(), "the upload did not reach the dossier"
    screenshot(browser, "journey-01-dossier-uploaded")
    home(browser, live_server, "investigator", "01", my_cases=["钱九涉嫌盗窃案"], headline=None)

    # 2. Transfer for review; the police supervisor approves it.
    open_case(browser, live_server, case)
    click_transition(browser, "transfer_for_review")
    submit_transition(browser, facts="钱九于2026年1月入室盗窃笔记本电脑一台。", evidence="现场勘验笔录")
    assert "已提交本机关审批" in browser.page_source
    home(browser, live_server, "police_supervisor", "02", transfers_approvals=["钱九涉嫌盗窃案"],
         notifications=["待审批：钱九涉嫌盗窃案"])
    approve_pending(browser, live_server, "police_supervisor", "journey-02-supervisor-approval")
    assert stage_of(case) == "review_requested"
    home(browser, live_server, "police_supervisor", "02b")
    assert lacks(browser, "transfers-approvals", "钱九涉嫌盗窃案"), "the decided approval is still listed"
    home(browser, live_server, "investigator", "02b", notifications=["审批结果（已批准）：钱九涉嫌盗窃案"])
    home(browser, live_server, "prosecutor", "02b", transfers_incoming=["钱九涉嫌盗窃案"],
         notifications=["收到移送审查起诉：钱九涉嫌盗窃案"])

    # 3. The prosecutor cannot open the case yet, sees the verified package, accepts it.
    as_user(browser, live_server, "prosecutor")
    open_case(browser, live_server, case)
    # The localised 404 page (templates/404.html): the case is not the prosecutor's to see yet.
    assert browser.title.startswith("页面不存在") and "无权查看" in browser.page_source
    accept_incoming(browser, live_server, "prosecutor", "accept_review_transfer", "journey-03-package-verified")
    assert stage_of(case) == "prosecution_review"
    open_case(browser, live_server, case)
    assert "审查起诉" in browser.find_element(By.ID, "case-stage").text
    screenshot(browser, "journey-04-under-review")
    home(browser, live_server, "prosecutor", "04", my_cases=["钱九涉嫌盗窃案"], clocks=["钱九涉嫌盗窃案"])
    assert lacks(browser, "transfers-incoming", "钱九涉嫌盗窃案")
    home(browser, live_server, "investigator", "04")
    assert lacks(browser, "my-cases", "钱九涉嫌盗窃案"), "a case handed over stays in the sender's list"
    as_user(browser, live_server, "prosecutor")
    open_case(browser, live_server, case)

    # 4. Return for supplementary investigation (approved), the investigator answers and re-sends.
    click_transition(browser, "return_for_supplementary")
    submit_transition(browser, reason="补充调取监控录像。")
    approve_pending(browser, live_server, "procuratorate_supervisor", "journey-05-return-approval")
    assert stage_of(case) == "supplementary_investigation"
    home(browser, live_server, "investigator", "05", my_cases=["钱九涉嫌盗窃案"], clocks=["补充侦查", "钱九涉嫌盗窃案"])
    as_user(browser, live_server, "investigator")
    open_case(browser, live_server, case)
    assert "补充侦查" in browser.find_element(By.ID, "case-stage").text
    # The outline is in view while the supplementary investigation runs; the police handle the case.
    assert "补充调取监控录像。" in browser.find_element(By.ID, "supplementary-outline").text
    assert "investigator" in browser.find_element(By.ID, "case-current-handlers").text
    assert "prosecutor" in browser.find_element(By.ID, "case-earlier-handlers").text
    found = run_axe(browser)
    assert not found, describe(found)
    click_transition(browser, "resubmit_for_review")
    submit_transition(browser, reason="已补充调取监控录像。")
    approve_pending(browser, live_server, "police_supervisor", "journey-06-resubmit-approval")
    accept_incoming(browser, live_server, "prosecutor", "accept_review_transfer", "journey-07-resubmitted",
                    check=check_resent_package)

    # 5. Indictment; the court clerk verifies, accepts and dockets.
    open_case(browser, live_server, case)
    click_transition(browser, "indict")
    submit_transition(browser, facts="钱九入室盗窃笔记本电脑一台，价值八千元。", charges="盗窃罪，刑法第二百六十四条。")
    approve_pending(browser, live_server, "procuratorate_supervisor", "journey-08-indictment-approval")
    assert stage_of(case) == "court_filing"
    accept_incoming(browser, live_server, "court_clerk", "docket_case", "journey-09-court-filing")
    assert stage_of(case) == "trial"
    open_case(browser, live_server, case)
    year = timezone.localdate().year
    assert f"（{year}）粤0307刑初1号" in browser.page_source
    screenshot(browser, "journey-10-docketed")
    home(browser, live_server, "judge", "10", my_cases=["钱九涉嫌盗窃案"], clocks=["钱九涉嫌盗窃案"])
    home(browser, live_server, "court_clerk", "10", my_cases=["钱九涉嫌盗窃案"])
    home(browser, live_server, "detention_officer", "10", custody=["钱九"], my_cases=None)
    home(browser, live_server, "auditor", "10", headline=["网上案件流转率"], my_cases=None)

    # 6. The judge announces the judgment; the clerk delivers it; the police officer and the prosecutor
    # open the delivered judgment; no appeal within the window (art. 230): it takes effect, is handed
    # over for execution (art. 264) and the case closes.
    as_user(browser, live_server, "judge")
    open_case(browser, live_server, case)
    click_transition(browser, "announce_judgment")
    submit_transition(browser, announced_on=timezone.localdate().isoformat(), verdict="被告人钱九犯盗窃罪，判处有期徒刑一年。")
    open_case(browser, live_server, case)
    assert "judge" in browser.find_element(By.ID, "case-current-handlers").text  # the court's handler now
    as_user(browser, live_server, "court_clerk")
    open_case(browser, live_server, case)
    click_transition(browser, "deliver_judgment")
    submit_transition(browser)
    assert stage_of(case) == "appeal_period"
    from casehub.dossier.models import Document

    judgment = Document.objects.get(case=case, title="刑事判决书")
    for user in ("investigator", "prosecutor"):  # from the case page's judgment block to the signed 判决书
        as_user(browser, live_server, user)
        open_case(browser, live_server, case)
        click(browser, browser.find_element(By.ID, "case-judgment-document"))
        WebDriverWait(browser, 15).until(
            lambda b: b.current_url.endswith(reverse("dossier:document", args=[judgment.pk])))
        assert "刑事判决书" in browser.page_source and "404" not in browser.title
    screenshot(browser, "journey-10b-judgment-delivered")
    _execute(case)
    assert stage_of(case) == "closed"

    # 7. Everyone who held the case sees it closed; nobody has an action left.
    for user in ("investigator", "prosecutor", "court_clerk"):
        as_user(browser, live_server, user)
        open_case(browser, live_server, case)
        assert "结案" in browser.find_element(By.ID, "case-stage").text
        assert not find_now(browser, By.CSS_SELECTOR, "#case-actions a[data-transition]")
    screenshot(browser, "journey-11-closed")
    home(browser, live_server, "judge", "11")
    assert lacks(browser, "my-cases", "钱九涉嫌盗窃案") and lacks(browser, "clocks", "钱九涉嫌盗窃案")


def _execute(case):
    """The appeal windows pass (art. 230), the judgment takes effect and the police sign for its
    execution (art. 264) — through the engine, eleven days later."""
    from datetime import timedelta

    import time_machine

    from casehub.agencies.models import User
    from workflows import engine

    clerk, police = User.objects.get(username="court_clerk"), User.objects.get(username="investigator")
    with time_machine.travel(timezone.now() + timedelta(days=11), tick=True):
        engine.fire(case, "judgment_effective", acting_user=clerk, inputs={})
        engine.fire(case, "hand_over_for_execution", acting_user=clerk, inputs={"executor": "police"})
        transfer = case.transfers.get(kind="execution")
        from casehub.transfers.tasks import verify_transfer

        verify_transfer.apply(args=[transfer.pk])
        engine.fire(case, "accept_execution", acting_user=police, inputs={})
