"""The dashboard in a real browser: headless Chromium (Debian's chromium and
chromium-driver, which .ci/run installs) driven by Selenium. The numbers on the page must
be those of the run's metrics.parquet, for a finished run, for a run started, paused,
stepped and resumed from the page, and for a run of a sweep.

Screenshots go to the test's folder; with TOWNSQUARE_SCREENSHOTS=DIR they are also
written to DIR (docs/images holds the ones the docs show)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cli_checks import invoke

pytest.importorskip("dash")
webdriver = pytest.importorskip("selenium.webdriver")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip(
        "no headless browser here: install Debian's chromium and chromium-driver "
        "(apt-get install chromium chromium-driver; .ci/run does)",
        allow_module_level=True,
    )

from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from townsquare.dashboard.app import Server, build_app  # noqa: E402

WAIT_S = 90


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,2400"):  # fmt: skip
        options.add_argument(arg)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    yield driver
    driver.quit()


def serve(path, runs_dir):
    return Server(build_app(path, runs_dir), 0).start()


def waiting(driver, timeout: float = WAIT_S) -> WebDriverWait:
    """A wait that looks again while Dash redraws the element (every second)."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(NoSuchElementException,
                                             StaleElementReferenceException))  # fmt: skip


def element(driver, element_id: str):
    """The page's element once Dash has drawn it."""
    return waiting(driver).until(lambda d: d.find_element(By.ID, element_id))


def text(driver, element_id: str) -> str:
    found: list[str] = []

    def read(d) -> bool:
        found[:] = [d.find_element(By.ID, element_id).text]
        return True

    waiting(driver).until(read)
    return found[0]


def number(driver, element_id: str) -> float:
    return float(text(driver, element_id).replace(",", ""))


def wait_text(driver, element_id: str, predicate, timeout: float = WAIT_S) -> str:
    """The element's text once ``predicate`` holds for it."""
    found: list[str] = []

    def holds(d) -> bool:
        found[:] = [d.find_element(By.ID, element_id).text]
        return predicate(found[0])

    try:
        waiting(driver, timeout).until(holds)
    except TimeoutException:
        raise AssertionError(f"#{element_id} still shows {found[:1]} after {timeout} s") from None
    return found[0]


def screenshot(driver, tmp_path: Path, name: str) -> None:
    driver.save_screenshot(str(tmp_path / name))
    target = os.environ.get("TOWNSQUARE_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / name, Path(target) / name)


def check_numbers_match(driver, folder: Path) -> None:
    """The page's numbers are metrics.parquet's: totals, the last step's opinions."""
    rows = pq.read_table(folder / "metrics.parquet").to_pylist()
    wait_text(driver, "stat-step", lambda t: t == str(len(rows)))
    wait_text(driver, "stat-posts", lambda t: t == f"{sum(r['posts'] for r in rows):,}")
    for column in ("replies", "reposts", "likes", "follows"):
        assert number(driver, f"stat-{column}") == sum(r[column] for r in rows)
    assert number(driver, "stat-opinion-mean") == pytest.approx(rows[-1]["opinion_mean"], abs=5e-5)
    assert number(driver, "stat-bimodality") == pytest.approx(rows[-1]["bimodality"], abs=5e-5)


def test_a_finished_run_shows_the_numbers_of_its_metrics(browser, tmp_path, small_scenario):
    from townsquare.metrics.realism import measure_run

    out = tmp_path / "run"
    invoke("run", small_scenario, "--out", out, "-q", "--no-plot", "--no-report")
    server = serve(out, tmp_path / "runs")
    try:
        browser.get(server.url)
        check_numbers_match(browser, out)
        shown = wait_text(browser, "score-posting_top10_share", lambda t: t not in ("", "n/a"))
        assert float(shown) == pytest.approx(measure_run(out)["posting_top10_share"], abs=5e-5)
        assert "finished" in text(browser, "run-title")
    finally:
        server.stop()


def test_a_run_started_paused_stepped_and_resumed_from_the_page(browser, tmp_path):
    server = serve(None, tmp_path / "runs")
    try:
        browser.get(server.url)
        for element_id, value in (("ctl-users", 3000), ("ctl-steps", 150), ("ctl-seed", 4)):
            box = element(browser, element_id)
            box.clear()
            box.send_keys(str(value))
        element(browser, "btn-start").click()
        wait_text(browser, "run-status", lambda t: ": running, step" in t)
        element(browser, "btn-pause").click()
        status = wait_text(browser, "run-status", lambda t: ": paused, step" in t)
        held = int(status.split(": paused, step ")[1].split(" ")[0])
        assert 0 < held < 150, status
        wait_text(browser, "stat-step", lambda t: t == str(held))
        time.sleep(1.5)
        assert f": paused, step {held} of 150" in text(browser, "run-status")
        element(browser, "btn-step").click()
        wait_text(browser, "run-status", lambda t: f": paused, step {held + 1} of" in t)
        folder = Path(text(browser, "run-status").split(": paused")[0])
        check_numbers_match(browser, folder)  # the paused run, step by step
        wait_text(browser, "fig-graph", lambda t: "Follow graph" in t)
        screenshot(browser, tmp_path, "dashboard-live-run.png")
        element(browser, "btn-resume").click()
        wait_text(browser, "run-status", lambda t: ": finished, step" in t, timeout=300)
        check_numbers_match(browser, folder)
    finally:
        server.stop()


def test_a_sweep_is_browsed_run_by_run(browser, tmp_path, small_sweep):
    _, out = small_sweep
    server = serve(out, tmp_path / "runs")
    try:
        browser.get(server.url)
        wait_text(browser, "sweep-fig", lambda t: "against opinion.epsilon" in t)
        dropdown = element(browser, "sweep-run")
        dropdown.click()
        option = waiting(browser).until(
            lambda d: next(
                (
                    o
                    for o in d.find_elements(By.CSS_SELECTOR, "[role=option]")
                    if o.text == "r0001-s2"
                ),
                None,
            )  # fmt: skip
        )
        option.click()
        check_numbers_match(browser, out / "runs" / "r0001-s2")
        wait_text(browser, "fig-graph", lambda t: "Follow graph" in t)
        screenshot(browser, tmp_path, "dashboard-sweep.png")
    finally:
        server.stop()
