"""End-to-end: the workflow's HTML report (`snakemake --report`) opened in a real headless Chromium.

Snakemake 9's report is a single-page React app, so what a person sees exists only after its scripts
ran: these tests load it, navigate it the way a person would (a category in the side bar, then the eye
button of a result), and check what is rendered, and that the page made no JavaScript error on the way.

Without Chromium (`bash tests/browser.sh install`) they skip, unless SNAKESWEEP_REQUIRE_BROWSER=1 (CI)
makes that a failure."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from browser import evidence, headless_chromium, page_errors, require_browser
from e2e import make_workdir, snakemake

# The plot a person must be able to open from the report, its category, and its caption (by the
# workflow's convention, workflow/report/<plot's stem>.rst).
PLOT = "ranking.svg"
CATEGORY = "Summary"
CAPTION = Path(PLOT).stem + ".rst"

WAIT = 30  # seconds for anything the page renders


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    require_browser()  # before the run: a machine without a browser skips (or fails) at once
    wd = make_workdir(tmp_path_factory.mktemp("report"))
    snakemake(wd, "--cores", "2")
    snakemake(wd, "--cores", "1", "--report", "results/report.html")
    return wd / "results" / "report.html"


@pytest.fixture
def page(report, tmp_path):
    """A fresh browser on the report's home page, with no error logged yet."""
    with headless_chromium() as driver, evidence(driver, tmp_path / "page"):
        driver.get(report.as_uri())
        wait(driver).until(lambda d: d.find_elements("xpath", category_link(CATEGORY)),
                           f"the report's side bar never showed the category {CATEGORY!r}")
        yield driver


def wait(driver):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT)


def xpath_literal(text: str) -> str:
    return f"'{text}'" if "'" not in text else f'"{text}"'


def category_link(name: str) -> str:
    """The side bar's link to a category of results (under the side bar's 'Results' heading)."""
    return f"//nav//li[normalize-space(.)='Results']/following-sibling::li/a[normalize-space(.)={xpath_literal(name)}]"


def open_category(driver, name: str) -> None:
    driver.find_element("xpath", category_link(name)).click()
    # The side bar becomes the category: a breadcrumb ending in its name, above its table of results.
    wait(driver).until(lambda d: d.find_elements("xpath", f"//nav//ol//a[normalize-space(.)={xpath_literal(name)}]"),
                       f"clicking {name!r} did not open that category")


def result_rows(driver) -> dict[str, object]:
    """{path as the report lists it: table row} of the category open in the side bar."""
    wait(driver).until(lambda d: d.find_elements("css selector", "nav table tbody tr"), "the category lists nothing")
    return {row.find_element("css selector", "td").text.strip(): row
            for row in driver.find_elements("css selector", "nav table tbody tr")}


def show_result(driver, name: str):
    """Open the category, click the eye button of the result named `name`; returns (its row's path,
    the element that displays it in the main pane)."""
    open_category(driver, CATEGORY)
    rows = result_rows(driver)
    matches = [path for path in rows if Path(path).name == name]
    assert matches, f"{CATEGORY!r} lists no {name}: it lists {sorted(rows)}"
    (path,) = matches
    rows[path].find_element("css selector", "a[iconname='eye']").click()
    # The main pane (outside the side bar) shows the file as an image whose data URI names it.
    shown = f"//img[not(ancestor::nav) and contains(@src, {xpath_literal(f'filename={name};')})]"
    wait(driver).until(lambda d: d.find_elements("xpath", shown), f"clicking the eye of {path} showed no image of it")
    return path, driver.find_element("xpath", shown)


def assert_no_errors(driver) -> None:
    errors = page_errors(driver)
    assert not errors, "the report made JavaScript errors:\n" + "\n".join(errors)


def test_report_renders_and_every_category_opens_without_javascript_errors(page, tmp_path):
    with evidence(page, tmp_path / "page"):
        assert not page.find_element("id", "jswarning").is_displayed()
        assert not page.find_element("id", "loading-screen").is_displayed()
        # The rule graph is drawn by Vega, the last of the page's scripts to do anything on load.
        graph = wait(page).until(lambda d: d.find_elements("css selector", "#rulegraph canvas, #rulegraph svg"),
                                 "the rule graph was never drawn")
        assert graph[0].size["width"] > 50 and graph[0].size["height"] > 50, graph[0].size
        names = [a.text.strip() for a in page.find_elements(
            "xpath", "//nav//li[normalize-space(.)='Results']/following-sibling::li/a")]
        assert CATEGORY in names, names
        for name in names:
            open_category(page, name)
            page.find_element("xpath", "//nav//ol/li[1]/a").click()  # the breadcrumb's home button
            wait(page).until(lambda d, name=name: d.find_elements("xpath", category_link(name)),
                             f"the home button did not lead back from {name!r}")
        assert_no_errors(page)


def test_report_shows_the_plot_with_its_caption(page, report, tmp_path):
    with evidence(page, tmp_path / "page"):
        path, img = show_result(page, PLOT)
        assert img.is_displayed(), f"{PLOT} is in the page but hidden"
        state = page.execute_script("""
            const img = arguments[0], r = img.getBoundingClientRect();
            const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            return {complete: img.complete, natural: [img.naturalWidth, img.naturalHeight],
                    rendered: [r.width, r.height], inView: r.top < innerHeight && r.left < innerWidth
                    && r.bottom > 0 && r.right > 0, onTop: top === img};""", img)
        assert state["complete"] and min(state["natural"]) > 0, f"the browser could not decode {PLOT}: {state}"
        assert min(state["rendered"]) > 50, f"{PLOT} is shown too small to see: {state}"
        assert state["inView"] and state["onTop"], f"{PLOT} is off screen or covered: {state}"
        # It is that file: the image's bytes are the plot the workflow wrote.
        data = re.fullmatch(r"data:image/svg\+xml;[^,]*;base64,(.*)", img.get_attribute("src"), re.S)
        assert data, img.get_attribute("src")[:100]
        assert base64.b64decode(data.group(1)) == (report.parents[1] / path).read_bytes()

        # Its information button shows the caption written for it.
        result_rows(page)[path].find_element("css selector", "a[iconname='information-circle']").click()
        description = "//nav//li[normalize-space(.)='Description']/following-sibling::li[1]"
        shown = wait(page).until(lambda d: d.find_elements("xpath", description), f"{path} has no description")
        shown = " ".join(shown[0].text.split())
        assert shown, f"{path}'s description is empty"
        caption = (report.parents[1] / "workflow" / "report" / CAPTION).read_text()
        words = caption.split()[:6]  # the caption's plain opening words, before any markup
        words = words[:next((i for i, w in enumerate(words) if re.search(r"[`*_|{}\[\]<>:]", w)), len(words))]
        assert len(words) < 2 or " ".join(words) in shown, f"{path}'s description is not {CAPTION}: {shown[:200]!r}"
        assert_no_errors(page)


def test_page_errors_sees_a_script_error_and_a_missing_resource(report, tmp_path):
    """The check above is only worth something if it can fail: the same report with a throwing script
    and an image that does not exist."""
    broken = tmp_path / "report.html"
    html = report.read_text()
    at = html.rindex("</body>")
    broken.write_text(html[:at] + '<img src="no-such-image.png"><script>throw new Error("injected")</script>'
                      + html[at:])
    with headless_chromium() as driver:
        driver.get(broken.as_uri())
        wait(driver).until(lambda d: d.find_elements("xpath", category_link(CATEGORY)))
        errors = "\n".join(page_errors(driver))
    assert "injected" in errors and "no-such-image.png" in errors, errors
