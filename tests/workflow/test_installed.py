"""`snakesweep run` from an installed wheel, with no checkout: the workflow's files come from the wheel
(snakesweep/_workflow), the run leaves the same results and a crate that validates, and a bad table ends
it with the workflow's own one line, last on stderr (what a Galaxy user sees)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from e2e import REPO, crate_validates


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The project built as a wheel and unpacked as pip would install it (its files as a site-packages)."""
    d = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(d),
                    str(REPO)], check=True, capture_output=True, text=True)
    wheel = next(d.glob("snakesweep-*.whl"))
    site = d / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    return site


def snakesweep(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "snakesweep.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


def test_the_wheel_carries_the_workflow_and_runs_it_with_no_checkout(installed, tmp_path):
    packaged = installed / "snakesweep/_workflow"
    for rel in ("Snakefile", "workflow/rules/common.smk", "workflow/schemas/config.schema.yaml",
                "config/sweep.yaml", "profiles/default/profile.yaml", "src/snakesweep/run.py"):
        assert (packaged / rel).is_file(), rel
    (tmp_path / "c.yaml").write_text("sweep: {count: 3}\ntrain: {max_epochs: 2}\n")
    p = snakesweep(installed, "run", "--configfile", "c.yaml", "--cores", "2", "--gpus", "0", "--report",
                   "report.html", "--model-zip", "model.zip", cwd=tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr
    assert f"--snakefile {packaged / 'Snakefile'}" in p.stdout
    best = json.loads((tmp_path / "results/best.json").read_text())
    assert best["test_roc_auc"] > 0.9
    assert (tmp_path / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    with zipfile.ZipFile(tmp_path / "model.zip") as z:
        assert best["final_model"]["model"] in z.namelist()
    # The crate records the wheel's workflow and library files, as it does a checkout's.
    crate = json.loads((tmp_path / "results/crate/ro-crate-metadata.json").read_text())
    ids = {e["@id"] for e in crate["@graph"]}
    assert {"Snakefile", "workflow/rules/common.smk", "src/snakesweep/run.py", "config/config.yaml"} <= ids
    crate_validates(tmp_path, tmp_path / "scratch")
    # The model predicts the test split's rows with their recorded scores.
    out = snakesweep(installed, "predict", "model.zip", str(REPO / "galaxy/test-data/new_rows.tsv"), "--out",
                     "p.tsv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "p.tsv").read_text().splitlines()[0] == "sample\tscore\tprobability\tpredicted"


def test_a_refused_table_ends_the_run_with_the_workflows_one_line(installed, tmp_path):
    table = REPO / "galaxy/test-data/text_feature.tsv"
    (tmp_path / "c.yaml").write_text(json.dumps({"data": {"source": str(table), "positive_class": "malignant"}}))
    p = snakesweep(installed, "run", "--configfile", "c.yaml", "--gpus", "0", cwd=tmp_path)
    assert p.returncode == 2
    assert p.stderr == ("snakesweep: error: data: feature column(s) ['mean radius'] are not numeric; expected "
                        "numbers only (list identifier or text columns in data.exclude)\n")
    assert not list(tmp_path.glob("results/points/*/model.pt"))  # nothing was trained
