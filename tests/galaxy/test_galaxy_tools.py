"""The Galaxy tool suite (galaxy/) in a real Galaxy 26.1 from PyPI, offline, that tests/galaxy/galaxy.sh
starts on this machine: planemo lints every tool, and runs every tool's own <tests> against that Galaxy
(`planemo test --engine external_galaxy`): the bundled data giving the command line's chosen point, a
table with text labels, cross-validation with the user's own sweep file, refused tables, predictions.

Galaxy is started once for these tests (and stopped again if they started it). These tests never skip:
a Galaxy that cannot be installed or started fails them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from e2e import REPO

GALAXY_SH = REPO / "tests/galaxy/galaxy.sh"
TOOLS = sorted((REPO / "galaxy").glob("snakesweep_*.xml"))


def galaxy_sh(command: str, timeout: int = 300) -> subprocess.CompletedProcess:
    # The tools' requirement resolves to this test run's own environment (galaxy.sh's env.sh).
    env = {**os.environ, "SNAKESWEEP_ENV": sys.prefix}
    return subprocess.run(["bash", str(GALAXY_SH), command], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def galaxy():
    was_running = galaxy_sh("status").returncode == 0
    # The first start installs Galaxy and planemo into their cached venvs: minutes.
    started = galaxy_sh("start", timeout=1800)
    if started.returncode != 0:
        if not was_running:
            galaxy_sh("stop")
        pytest.fail(f"tests/galaxy/galaxy.sh start failed:\n{started.stdout}\n{started.stderr}")
    values = dict(re.findall(r"(\w+)=(\S+)", galaxy_sh("env").stdout))
    yield values
    if not was_running:
        galaxy_sh("stop")


def test_planemo_lints_every_tool_without_a_warning(galaxy):
    assert len(TOOLS) == 2
    for tool in TOOLS:
        p = subprocess.run([galaxy["PLANEMO"], "lint", str(tool)], capture_output=True, text=True, timeout=300)
        out = p.stdout + p.stderr
        flagged = [line for line in out.splitlines() if re.search(r"\.\. (WARNING|ERROR)", line)]
        assert p.returncode == 0 and not flagged, f"{tool.name}:\n{out}"
        assert "CHECK (HelpValidRST)" in out and "CHECK (CitationsFound)" in out, out


def test_every_tool_test_passes_in_a_real_galaxy(galaxy, tmp_path):
    report = tmp_path / "planemo.json"
    p = subprocess.run(
        [galaxy["PLANEMO"], "test", "--engine", "external_galaxy", "--galaxy_url", galaxy["GALAXY_URL"],
         "--galaxy_admin_key", galaxy["GALAXY_API_KEY"], "--galaxy_user_key", galaxy["GALAXY_API_KEY"],
         "--test_output_json", str(report), *map(str, TOOLS)],
        cwd=tmp_path, capture_output=True, text=True, timeout=1800,
    )
    assert report.is_file(), p.stdout[-3000:] + p.stderr[-3000:]
    tests = json.loads(report.read_text())["tests"]
    declared = sum(len(ET.parse(t).getroot().findall("./tests/test")) for t in TOOLS)
    assert len(tests) == declared >= 8
    failed = {t["id"]: t["data"].get("output_problems") or t["data"].get("job", {}).get("stderr")
              for t in tests if t["data"]["status"] != "success"}
    assert not failed, failed
    assert p.returncode == 0, p.stdout[-3000:]
    # What the closing notes quote: each test's time in Galaxy (upload, job, checks).
    for t in tests:
        print(f"{t['id']}: {t['data']['time_seconds']:.1f} s")


def expected_by_builtin_test() -> dict:
    """The chosen point and test ROC-AUC that the sweep tool's built-in-data test asserts."""
    root = ET.parse(REPO / "galaxy/snakesweep_sweep.xml").getroot()
    test = next(t for t in root.findall("./tests/test")
                if t.find("./conditional/param[@name='source']").get("value") == "builtin")
    texts = [a.get("text") for a in test.findall("./output[@name='best']/assert_contents/has_text")]
    point = next(re.fullmatch(r'"point": "(\w+)"', t).group(1) for t in texts if t.startswith('"point"'))
    auc = next(float(re.fullmatch(r'"test_roc_auc": ([0-9.]+),', t).group(1)) for t in texts
               if t.startswith('"test_roc_auc"'))
    return {"point": point, "test_roc_auc": auc}


def test_the_tools_builtin_test_expects_what_the_command_line_gives(tmp_path):
    """The Galaxy test's expected values are the command line's: `snakesweep run` with every default."""
    subprocess.run([sys.executable, "-m", "snakesweep.cli", "run", "--directory", str(tmp_path), "--cores", "2",
                    "--gpus", "0"], check=True, capture_output=True, text=True, timeout=900)
    best = json.loads((tmp_path / "results/best.json").read_text())
    assert {k: best[k] for k in ("point", "test_roc_auc")} == expected_by_builtin_test()


def test_the_sweep_tools_form_shows_in_galaxys_page(galaxy, tmp_path):
    """What a Galaxy user sees first: the form, drawn by Galaxy's own web client in a real Chromium."""
    from browser import evidence, headless_chromium, require_browser
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    require_browser()
    labels = ["Data", "Table", "Label column", "Positive class", "Columns to leave out", "Search space",
              "Choose the model on", "Training engine", "Training settings", "Evaluation settings", "Run Tool"]
    with headless_chromium() as driver, evidence(driver, tmp_path):
        driver.get(f"{galaxy['GALAXY_URL']}/?tool_id=snakesweep_sweep&version=latest")
        body = lambda d: d.find_element(By.TAG_NAME, "body").text  # noqa: E731
        WebDriverWait(driver, 60).until(lambda d: "Label column" in body(d))
        text = body(driver)
        assert "Sweep neural networks" in text and "(Galaxy Version 0." in text
        assert [label for label in labels if label not in text] == []
        # The help below the form, rendered from its reStructuredText, and the citations.
        assert "What it does" in text and "Reading the report" in text and "**" not in text
        driver.save_screenshot(str(tmp_path / "form.png"))
