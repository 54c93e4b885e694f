"""A real browser opens the report pages: headless Chromium through Selenium.

Checks that the leaderboard table rendered with the expected rows, that clicking a header
sorts it (which also proves the CSP hash lets the inline script run), that no hostile
string became markup, and saves screenshots to `test-artifacts/` in the repository root.
Skipped, with the reason, only when no Chromium and chromedriver can be found
(`.ci/run` installs them: `apt-get install -y chromium chromium-driver`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixtures.report_pages import HOSTILE_MODEL, page_store
from tests.fixtures.report_store import planted_store

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
    "--disable-component-update --disable-sync --window-size=1280,1600"
).split()


def _browser_paths() -> tuple[str, str] | None:
    binary = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
    paths = _browser_paths()
    if paths is None:
        pytest.skip("no headless Chromium/chromedriver on PATH: apt-get install -y chromium chromium-driver (.ci/run does)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=paths[1]))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _first_column(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [row.find_elements(By.TAG_NAME, "td")[0].text for row in driver.find_elements(By.CSS_SELECTOR, "table.leaderboard tbody tr")]


def _header(driver, text: str):
    from selenium.webdriver.common.by import By

    return next(th for th in driver.find_elements(By.CSS_SELECTOR, "table.leaderboard thead th") if th.text.replace("\n", " ") == text)


def test_leaderboard_page_renders_sorts_and_stays_inert_in_chromium(browser, tmp_path, cli):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    runs_dir, cards_root = page_store(tmp_path)
    page = tmp_path / "leaderboard.html"
    result = cli("report", "--suite", "fixpage", "--format", "html", "--out", page, "--runs-dir", runs_dir, "--cards", cards_root)
    assert result.code == 0, result.err
    browser.get(page.as_uri())

    assert _first_column(browser) == ["alpha", HOSTILE_MODEL, "beta"]  # ordered by the aggregate, label shown literally
    assert browser.execute_script("return document.querySelectorAll('img[src=x], svg, b, script').length") == 1  # our script only
    with pytest.raises(NoAlertPresentException):
        _ = browser.switch_to.alert.text
    chart = browser.find_element(By.CSS_SELECTOR, "img.chart")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", chart) > 100

    one = _header(browser, "fx-one")
    one.click()  # fx-one means: alpha 91, hostile 80, beta 62
    assert _first_column(browser) == ["beta", HOSTILE_MODEL, "alpha"] and one.get_attribute("aria-sort") == "ascending"
    one.click()
    assert _first_column(browser) == ["alpha", HOSTILE_MODEL, "beta"] and one.get_attribute("aria-sort") == "descending"
    _header(browser, "fx-two").click()  # fx-two means: alpha 72, hostile 76, beta 85
    assert _first_column(browser) == ["alpha", HOSTILE_MODEL, "beta"]
    assert one.get_attribute("aria-sort") == "none"

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report-leaderboard.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_comparison_page_marks_the_significant_card_in_chromium(browser, tmp_path, cli):
    from selenium.webdriver.common.by import By

    planted_store(tmp_path, {"strong": {"fx-sent": 0.85, "fx-nli": 0.75}, "weak": {"fx-sent": 0.65, "fx-nli": 0.74}}, seeds=1, n_test=300)
    page = tmp_path / "compare.html"
    result = cli("compare", "strong", "weak", "--suite", "fixsig", "--format", "html", "--out", page, "--n-bootstrap", 300,
                 "--runs-dir", tmp_path / "runs", "--cards", tmp_path / "cards")
    assert result.code == 0, result.err
    browser.get(page.as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "table.comparison tbody tr")
    cells = [[td.text for td in r.find_elements(By.TAG_NAME, "td")] for r in rows]
    assert [c[0] for c in cells] == ["fx-sent", "fx-nli", "mean (polyglue)"]
    assert [r.get_attribute("class") for r in rows] == ["significant", "plain", "significant"]
    assert cells[0][-1] == "strong better ✱" and cells[1][-1] == "no significant difference"
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "report-comparison.png"))
