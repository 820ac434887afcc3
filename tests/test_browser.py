"""The web page in a real Chromium, driven from the test suite, over the real model."""

import shutil

import pytest

from service.app import ServiceConfig, create_app

from .servers import running_server

pytestmark = [pytest.mark.browser, pytest.mark.model]

CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMEDRIVER and CHROMIUM):
        pytest.skip("chromium and chromedriver are not installed (make test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(390, 844)  # a phone's width
    yield driver
    driver.quit()


def test_ask_on_the_page_and_open_the_citation(browser, real_engine):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    with running_server(create_app(real_engine, ServiceConfig())) as url:
        browser.get(url + "/")
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#cities input")))
        box = browser.find_element(By.ID, "q")
        box.send_keys("which city achieved 100% national-section water quality")
        browser.find_element(By.ID, "go").click()
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#results .result")))

        results = browser.find_elements(By.CSS_SELECTOR, "#results .result")
        cities = [r.get_attribute("data-city") for r in results]
        # a question across cities: each answering report's best passage among the first five
        assert "温州" in cities[:5] and "赣州" in cities[:5]
        wenzhou = results[cities.index("温州")]
        assert "seeds/000_151f93f2618fcf8d.txt" in wenzhou.find_element(By.CSS_SELECTOR, ".cite").text
        assert wenzhou.find_elements(By.TAG_NAME, "mark"), "matches are highlighted"
        answer = browser.find_element(By.ID, "answer")
        assert answer.is_displayed() and "温州" in answer.text and "赣州" in answer.text
        # The typed answer: exactly 温州 (2023) and 赣州 (2022) as achieved, each cell citing its sentence.
        rows = answer.find_elements(By.CSS_SELECTOR, "#facts tbody tr")
        achieved = {r.get_attribute("data-city"): r for r in rows if r.get_attribute("data-kind") == "achieved"}
        assert set(achieved) == {"温州", "赣州"}
        assert "2023" in achieved["温州"].text and "2022" in achieved["赣州"].text
        value_link = achieved["温州"].find_element(By.CSS_SELECTOR, "a.value")
        assert "国控断面" in value_link.get_attribute("title") and "/view/000_151f93f2618fcf8d" in value_link.get_attribute("href")

        # A citation marker previews its source on tap, with the value marked; Esc closes it.
        marker = achieved["温州"].find_element(By.CSS_SELECTOR, "a.marker")
        marker.click()
        preview = wait.until(ready.visibility_of_element_located((By.ID, "preview")))
        assert "国控断面" in preview.text and "温州" in preview.text
        assert preview.find_element(By.TAG_NAME, "mark").text == "100%"
        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
        assert not preview.is_displayed()
        # Source cards: title and section first, offsets as detail, a citation to copy.
        card = answer.find_element(By.CSS_SELECTOR, ".card")
        card.find_element(By.CSS_SELECTOR, "button.copy").click()
        copied = wait.until(lambda d: card.find_element(By.CSS_SELECTOR, "button.copy").get_attribute("data-copied"))
        assert "seeds/" in copied and "[" in copied and "生态环境局" in copied
        save_screenshots(browser, "answer")
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")

        passage = wenzhou.find_element(By.CSS_SELECTOR, ".text").text
        wenzhou.find_element(By.CSS_SELECTOR, ".cite a").click()
        marked = wait.until(ready.presence_of_element_located((By.ID, "passage")))
        assert marked.text.replace("\n", "") == passage.replace("\n", "")
        assert "温州市生态环境局" in browser.find_element(By.ID, "title").text


def save_screenshots(browser, name: str) -> None:
    """Phone and desktop screenshots into $REPORTQA_SCREENSHOTS (`make screenshots` sets it to
    docs/screenshots), else a temporary folder; the window is left at the phone's width."""
    import os
    import tempfile
    from pathlib import Path

    folder = Path(os.environ.get("REPORTQA_SCREENSHOTS") or tempfile.mkdtemp(prefix="reportqa-screens-"))
    folder.mkdir(parents=True, exist_ok=True)
    for device, (width, height) in (("desktop", (1280, 1000)), ("phone", (390, 844))):
        browser.set_window_size(width, height)
        assert browser.save_screenshot(str(folder / f"{name}-{device}.png"))


def test_the_api_docs_render_without_the_internet(browser, fake_engine):
    """Swagger UI from the assets served here: the operations appear, nothing is fetched elsewhere."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    with running_server(create_app(fake_engine, ServiceConfig())) as url:
        browser.get(url + "/docs")
        WebDriverWait(browser, 60).until(ready.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))
        assert "/v1/search" in browser.find_element(By.CSS_SELECTOR, ".swagger-ui").text
        browser.get(url + "/redoc")
        WebDriverWait(browser, 60).until(ready.presence_of_element_located((By.CSS_SELECTOR, "[data-section-id]")))


def test_the_start_page_examples_and_a_search_in_the_url(browser, fake_engine):
    """An empty start shows examples and the collection; a search lands in the address bar,
    and opening that address runs it again; [n] in the answer links to its evidence."""
    from urllib.parse import parse_qs, urlparse

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    with running_server(create_app(fake_engine, ServiceConfig())) as url:
        browser.get(url + "/")
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#overview table")))
        assert "5 份报告" in browser.find_element(By.ID, "overview").text
        browser.find_element(By.CSS_SELECTOR, "#examples button:nth-child(2)").click()
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#results .result")))
        assert parse_qs(urlparse(browser.current_url).query)["q"] == ["赣州美丽建设项目完成了多少投资"]
        assert not browser.find_element(By.ID, "start").is_displayed()
        markers = browser.find_elements(By.CSS_SELECTOR, "#answer a.marker")
        assert markers and "/view/" in markers[0].get_attribute("href")

        browser.get(url + "/?q=%E5%8E%A6%E9%97%A8%E7%A9%BA%E6%B0%94%E8%B4%A8%E9%87%8F&city=%E5%8E%A6%E9%97%A8")
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#results .result")))
        assert browser.find_element(By.ID, "q").get_attribute("value") == "厦门空气质量"
        cities = {r.get_attribute("data-city") for r in browser.find_elements(By.CSS_SELECTOR, "#results .result")}
        assert cities == {"厦门"}

        # The page's own words switch language; the choice lands in the URL; "/" focuses the box.
        browser.find_element(By.ID, "lang").click()
        wait.until(lambda d: d.find_element(By.ID, "go").text == "Search")
        wait.until(lambda d: "lang=en" in d.current_url)
        assert parse_qs(urlparse(browser.current_url).query)["city"] == ["厦门"]
        browser.find_element(By.TAG_NAME, "body").send_keys("/")
        assert browser.switch_to.active_element.get_attribute("id") == "q"
        browser.get(url + "/?lang=en")
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "#overview table")))
        assert "5 reports" in browser.find_element(By.ID, "overview").text
        save_screenshots(browser, "start")
        browser.find_element(By.ID, "lang").click()  # back to Chinese for the tests after this one
