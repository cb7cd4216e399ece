"""Take docs/dashboard.png: a few daemons, `daemonctl serve`, and the page in Debian's chromium.

    .venv/bin/python docs/screenshot.py [OUTPUT]

Runs in a throw-away state directory and stops everything it started. Needs `make tools`
(chromium, chromium-driver) and the test extra (selenium).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

DAEMONCTL = str(Path(sys.executable).parent / "daemonctl")
BUSY = """
import time
n = 0
while True:
    n += 1
    end = time.time() + (0.2 if n % 5 else 0.8)
    while time.time() < end:
        pass
    print("job", n, "done", flush=True)
    time.sleep(0.8)
"""
FLAKY = ("import time, random; print('connecting', flush=True); "
         "time.sleep(random.uniform(8, 14)); raise SystemExit('lost the database')")


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("dashboard.png")).resolve()
    state = tempfile.mkdtemp(prefix="daemonctl-demo-")
    site = tempfile.mkdtemp(prefix="site-")
    dc = [DAEMONCTL, "--state-dir", state]

    def run(*args: str) -> None:
        subprocess.run([*dc, *args], check=True, stdout=subprocess.DEVNULL)

    try:
        run("start", "-n", "web", "-d", site, "--", sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0")
        run("start", "-n", "worker", "--", sys.executable, "-c", BUSY)
        run("start", "-n", "sync", "--respawn", "--restart-delay", "1", "--min-uptime", "1", "--max-restarts", "0",
            "--", sys.executable, "-c", FLAKY)
        run("start", "-n", "backup", "--", "sleep", "1")
        time.sleep(2)
        serve = subprocess.Popen([*dc, "serve", "--listen", "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
        assert serve.stderr is not None
        line = serve.stderr.readline()
        url = re.search(r"serving (\S+)", line).group(1)  # type: ignore[union-attr]
        token = Path(state, "daemonctl.token").read_text().strip()
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,700"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
        try:
            driver.get(url)
            WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "auth").is_displayed())
            driver.find_element(By.ID, "token").send_keys(token)
            driver.find_element(By.ID, "token-use").click()
            time.sleep(75)  # a minute and more of samples for the charts
            driver.find_element(By.CSS_SELECTOR, 'tr[data-name="worker"] button[data-action="logs"]').click()
            time.sleep(3)
            driver.save_screenshot(str(out))
        finally:
            driver.quit()
            serve.terminate()
            serve.wait()
    finally:
        for name in ("web", "worker", "sync"):
            subprocess.run([*dc, "stop", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(site, ignore_errors=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    os.environ.setdefault("SE_OFFLINE", "true")
    main()
