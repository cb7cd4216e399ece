"""The dashboard in a real browser: Debian's chromium, driven by Selenium through Debian's chromedriver.

No browser is downloaded: `make tools` installs both packages, and Selenium is pointed at
/usr/bin/chromedriver (so Selenium Manager is never run). docs/screenshot.py takes the
README's picture the same way.
"""
from __future__ import annotations

import shutil

import pytest

from .helpers import PY, SLEEP, alive, wait_gone

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# A program busy at times, for a chart with something on it.
BUSY = """
import time, signal, sys
signal.signal(signal.SIGUSR1, lambda *a: print("USR1", flush=True))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
blob = []
print("ready", flush=True)
n = 0
while True:
    n += 1
    end = time.time() + (0.3 if n % 4 else 0.9)
    while time.time() < end:
        pass
    blob.append(b"x" * 400000)
    del blob[:-20]
    print("request", n, "served", flush=True)
    time.sleep(0.7)
"""


@pytest.fixture
def browser(tmp_path):
    for path in (CHROMIUM, CHROMEDRIVER):
        if shutil.which(path) is None:
            pytest.skip(f"{path} is missing: `make tools` installs Debian's chromium and chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,760",
                f"--user-data-dir={tmp_path / 'chromium'}", "--disable-gpu"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.timeout(300)
def test_dashboard_shows_follows_and_stops(dctl, serve, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    worker = dctl.start("worker", PY, "-c", BUSY)
    idle = dctl.start("idle", SLEEP, "1000")
    server = serve("--listen", "127.0.0.1:0")
    wait = WebDriverWait(browser, 30, poll_frequency=0.1)

    browser.get(server.where)
    token_box = wait.until(lambda d: d.find_element(By.ID, "token") if d.find_element(By.ID, "auth").is_displayed() else None)
    assert browser.find_elements(By.CSS_SELECTOR, "#daemons tbody tr") == [], "nothing is shown without the token"
    token_box.send_keys(server.token)
    browser.find_element(By.ID, "token-use").click()

    def row(name: str):
        found = browser.find_elements(By.CSS_SELECTOR, f'#daemons tr[data-name="{name}"]')
        return found[0] if found else None

    def cells(name: str) -> dict[str, str]:
        r = row(name)
        return {c: r.find_element(By.CSS_SELECTOR, f"td.{c}").text for c in ("pid", "uptime", "cpu", "memory")} if r else {}

    wait.until(lambda d: row("worker") is not None and row("idle") is not None)
    assert row("worker").get_attribute("data-state") == "running"
    assert cells("worker")["pid"] == str(worker) and cells("idle")["pid"] == str(idle)
    # Figures come from the server's sampling: memory first, CPU once two samples are in.
    wait.until(lambda d: cells("worker")["memory"].endswith("iB") and cells("worker")["cpu"].endswith("%"))

    # The log view shows the last lines, then follows.
    row("worker").find_element(By.CSS_SELECTOR, 'button[data-action="logs"]').click()
    log = browser.find_element(By.ID, "log-lines")
    wait.until(lambda d: "ready" in log.text and d.find_element(By.ID, "log-state").text == "following")
    assert dctl("signal", "worker", "USR1").returncode == 0
    wait.until(lambda d: "USR1" in log.text)

    # Stop, cancelled: nothing happens.
    row("idle").find_element(By.CSS_SELECTOR, 'button[data-action="stop"]').click()
    dialog = browser.find_element(By.ID, "confirm")
    wait.until(lambda d: dialog.is_displayed())
    assert browser.find_element(By.ID, "confirm-text").text == "Stop idle?"
    browser.find_element(By.ID, "confirm-cancel").click()
    wait.until(lambda d: not dialog.is_displayed())
    assert alive(idle)

    # Stop, confirmed: the real process goes, and the page says so.
    row("idle").find_element(By.CSS_SELECTOR, 'button[data-action="stop"]').click()
    wait.until(lambda d: dialog.is_displayed())
    browser.find_element(By.ID, "confirm-ok").click()
    assert wait_gone(idle, 30)
    # The message comes once the server has answered, that is once the stop is over.
    wait.until(lambda d: "stop: idle" in d.find_element(By.ID, "message").text)
    assert not dctl.pidfile("idle").exists()
    wait.until(lambda d: row("idle").get_attribute("data-state") == "stopped")
    assert cells("idle")["pid"] == "—"
    assert alive(worker), "only the daemon asked for was stopped"

    problems = [e["message"] for e in browser.get_log("browser")
                if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
    assert problems == []
