"""Helpers for tests that open a page in a real headless Chromium (Debian's `chromium` and
`chromium-driver`, installed by tests/browser.sh), driven by Selenium with the system chromedriver, so
Selenium Manager never tries to download a browser or a driver.

Every error the page makes is collected twice over: Chromium's own log (console errors, uncaught
exceptions, failed resource loads) and listeners installed before any of the page's scripts run
(uncaught errors, unhandled promise rejections, elements whose resource failed to load)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

INSTALL = "bash tests/browser.sh install"
REQUIRE_ENV = "SNAKESWEEP_REQUIRE_BROWSER"
WINDOW = (1400, 1000)  # wide enough that the report's side bar and its main pane sit side by side

# Runs in every document before the page's own scripts.
ERROR_HOOKS = """
window.__pageErrors = [];
window.addEventListener('error', (e) => {
  const t = e.target;
  if (t && t !== window && (t.src || t.href)) {
    const url = String(t.src || t.href).slice(0, 200);
    window.__pageErrors.push('failed to load <' + t.tagName.toLowerCase() + '> ' + url);
  } else {
    window.__pageErrors.push('uncaught ' + (e.message || e.error) + ' at ' + e.filename + ':' + e.lineno);
  }
}, true);
window.addEventListener('unhandledrejection', (e) => {
  window.__pageErrors.push('unhandled rejection: ' + (e.reason && (e.reason.stack || e.reason)));
});
"""


def missing() -> str | None:
    """Why no browser test can run here, or None when one can."""
    lacking = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if lacking:
        return f"{' and '.join(lacking)} not installed: run `{INSTALL}`"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the Python package selenium is not installed: run `python -m pip install -e '.[dev]'`"
    return None


def require_browser() -> None:
    """Skip without a browser, unless SNAKESWEEP_REQUIRE_BROWSER=1 (CI) makes that a failure."""
    reason = missing()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 requires the browser tests to run)", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def headless_chromium() -> Iterator:
    """A Selenium driver for a fresh headless Chromium with a throw-away profile."""
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager: never look for (or download) anything
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="snakesweep-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-extensions", f"--user-data-dir={profile}", "--window-size={},{}".format(*WINDOW)):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ERROR_HOOKS})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def page_errors(driver) -> list[str]:
    """Errors since the last call: Chromium's log at level SEVERE (console.error, uncaught exceptions,
    failed loads) and what the hooks caught in the current document. Warnings are not errors."""
    logged = [f"{e['source']}: {e['message']}" for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    hooked = driver.execute_script("const e = window.__pageErrors || []; window.__pageErrors = []; return e;")
    return logged + [f"hook: {e}" for e in hooked]


@contextlib.contextmanager
def evidence(driver, folder: Path) -> Iterator[None]:
    """On a failure inside, leave a screenshot and the rendered DOM in `folder` and say where."""
    try:
        yield
    except BaseException as exc:
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            driver.save_screenshot(str(folder / "screenshot.png"))
            (folder / "dom.html").write_text(driver.page_source)
            exc.add_note(f"the page as it was: {folder / 'screenshot.png'} and {folder / 'dom.html'}")
        raise
