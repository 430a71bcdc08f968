#!/usr/bin/env python3
"""Loads a denytrail HTML report in headless Chromium and checks it renders, sorts and is inert.

Usage: check_report.py REPORT.html EXPECTED.json [--screenshot OUT.png]

EXPECTED.json: {"groups": 7, "hostile": "<script>alert(1)</script>"}
  groups   number of table rows (and detail sections) the report must have
  hostile  a log string that must appear as visible text, not as markup

Exits 0 when every check passes; otherwise prints one line per failed check and exits 1
(2 for a usage or setup error). Uses the system chromium/chromedriver only: nothing is downloaded.
"""

import argparse
import json
import os
import pathlib
import shutil
import sys
import tempfile

os.environ.setdefault("SE_OFFLINE", "1")  # Selenium Manager must never reach the network.

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


class Checks:
    def __init__(self):
        self.failed = []
        self.passed = 0

    def check(self, ok, message):
        if ok:
            self.passed += 1
        else:
            self.failed.append(message)
            print(f"FAIL: {message}")
        return ok


def start_browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1360,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def header_index(driver, name):
    heads = driver.find_elements(By.CSS_SELECTOR, "#groups thead th")
    for i, th in enumerate(heads):
        if th.get_attribute("data-col") == name:
            return i, th
    return None, None


def column(driver, i):
    """The text of column i, row by row, as shown."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#groups tbody tr'))"
        ".map(r => r.cells[arguments[0]].textContent.trim());",
        i,
    )


def click_sort(c, driver, name, expected_sort):
    i, th = header_index(driver, name)
    if not c.check(th is not None, f"table has no '{name}' header"):
        return None
    buttons = th.find_elements(By.TAG_NAME, "button")
    if not c.check(buttons, f"'{name}' header has no sort button (script did not run?)"):
        return None
    buttons[0].click()
    c.check(
        th.get_attribute("aria-sort") == expected_sort,
        f"after clicking '{name}', aria-sort is {th.get_attribute('aria-sort')!r}, expected {expected_sort!r}",
    )
    others = [h.get_attribute("data-col") for h in driver.find_elements(By.CSS_SELECTOR, "#groups th[aria-sort]")]
    c.check(others == [name], f"aria-sort is set on {others}, expected only on '{name}'")
    return column(driver, i)


def run(report, expected, screenshot):
    c = Checks()
    profile = tempfile.mkdtemp(prefix="denytrail-chromium-")
    driver = start_browser(profile)
    try:
        driver.get(report.resolve().as_uri())

        # It rendered.
        c.check(driver.title.strip() != "", "page has no <title>")
        c.check(driver.find_elements(By.TAG_NAME, "h1"), "page has no <h1>")
        rows = driver.find_elements(By.CSS_SELECTOR, "#groups tbody tr")
        c.check(len(rows) == expected["groups"], f"table has {len(rows)} rows, expected {expected['groups']}")
        details = driver.find_elements(By.CSS_SELECTOR, "article.group[id^='group-']")
        c.check(
            len(details) == expected["groups"],
            f"{len(details)} detail sections, expected {expected['groups']}",
        )
        links = [a.get_attribute("href").split("#")[-1] for a in driver.find_elements(By.CSS_SELECTOR, "#groups tbody a")]
        ids = {d.get_attribute("id") for d in details}
        c.check(set(links) == ids and links, f"row links {links} do not match detail anchors {sorted(ids)}")
        bars = driver.find_elements(By.CSS_SELECTOR, "svg.chart g.bar rect")
        note = driver.find_elements(By.ID, "no-timed-events")
        c.check(bars or note, "no chart bars and no 'no timed events' note")
        if bars:
            size = driver.find_element(By.CSS_SELECTOR, "svg.chart").size
            c.check(size["width"] > 300 and size["height"] > 80, f"chart renders at {size}, too small")
            tips = driver.find_elements(By.CSS_SELECTOR, "svg.chart g.bar rect > title")
            c.check(len(tips) == len(bars), f"{len(bars)} bars but {len(tips)} bar tooltips")
        if note:
            c.check(note[0].is_displayed(), "'no timed events' note is not visible")

        # Sorting: denied ascending (numeric), again descending, principal alphabetical.
        denied = click_sort(c, driver, "denied", "ascending")
        if denied is not None:
            nums = [int(v) for v in denied]
            c.check(nums == sorted(nums), f"denied ascending gave {nums}")
        denied = click_sort(c, driver, "denied", "descending")
        if denied is not None:
            nums = [int(v) for v in denied]
            c.check(nums == sorted(nums, reverse=True), f"denied descending gave {nums}")
        principals = click_sort(c, driver, "principal", "ascending")
        if principals is not None:
            c.check(principals == sorted(principals), f"principal ascending gave {principals}")
        first = click_sort(c, driver, "first_seen", "ascending")
        if first is not None:
            c.check(first == sorted(first), f"first_seen ascending gave {first}")
        order = click_sort(c, driver, "#", "ascending")
        if order is not None:
            c.check(order == [str(n) for n in range(1, len(order) + 1)], f"'#' ascending gave {order}")

        # Hostile text is text, and nothing it could have injected exists.
        text = driver.execute_script("return document.body.innerText;")
        c.check(expected["hostile"] in text, f"hostile string {expected['hostile']!r} is not visible as text")
        c.check(not driver.find_elements(By.CSS_SELECTOR, "img"), "an <img> element exists (injected?)")
        c.check(not driver.find_elements(By.CSS_SELECTOR, "[onerror], [onload], [onclick]"), "an event-handler attribute exists")
        scripts = driver.find_elements(By.TAG_NAME, "script")
        c.check(len(scripts) == 1, f"{len(scripts)} <script> elements, expected exactly 1")
        pwned = driver.execute_script("return typeof window.__pwned;")
        c.check(pwned == "undefined", f"window.__pwned is {pwned}: a hostile payload ran")
        csp = driver.find_elements(By.CSS_SELECTOR, "meta[http-equiv='Content-Security-Policy']")
        c.check(csp and "default-src 'none'" in csp[0].get_attribute("content"), "no CSP with default-src 'none'")
        resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name);")
        c.check(not resources, f"the page fetched {resources}")

        # The console: no errors, no CSP violations (a blocked inline script or style shows up here).
        logs = driver.get_log("browser")
        for entry in logs:
            msg = entry.get("message", "")
            c.check(entry.get("level") != "SEVERE", f"console SEVERE: {msg}")
            if entry.get("level") != "SEVERE":
                c.check("Content Security Policy" not in msg, f"console CSP message: {msg}")

        if screenshot:
            # Back to report order and the top of the page for a representative picture.
            driver.execute_script("window.scrollTo(0, 0);")
            height = driver.execute_script("return document.documentElement.scrollHeight;")
            driver.set_window_size(1360, min(max(height, 1000), 4000))
            c.check(driver.save_screenshot(str(screenshot)), f"could not write screenshot {screenshot}")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return c


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("report", type=pathlib.Path)
    p.add_argument("expected", type=pathlib.Path)
    p.add_argument("--screenshot", type=pathlib.Path)
    a = p.parse_args()
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            print(f"setup: {path} is missing (apt-get install chromium chromium-driver)")
            return 2
    if not a.report.is_file():
        print(f"usage: {a.report} is not a file")
        return 2
    expected = json.loads(a.expected.read_text())
    c = run(a.report, expected, a.screenshot)
    if c.failed:
        print(f"{len(c.failed)} check(s) failed, {c.passed} passed")
        return 1
    print(f"ok: {c.passed} checks passed" + (f"; screenshot {a.screenshot}" if a.screenshot else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
