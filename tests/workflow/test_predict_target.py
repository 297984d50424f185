"""The predict target end to end: the final model applied to a new table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from e2e import REPO, make_workdir, snakemake

from snakesweep.crate import sha256_file
from snakesweep.io import read_tsv


def test_predict_target_end_to_end(tmp_path):
    include = 'include: "workflow/rules/predict.smk"'
    assert include in (REPO / "Snakefile").read_text(), f"the Snakefile lacks the line {include}"
    wd = make_workdir(tmp_path, points=2, epochs=2)
    p = snakemake(wd, "-n", "predict", check=False)  # predict.input is null by default
    assert p.returncode != 0 and "predict.input is not set" in p.stdout + p.stderr
    snakemake(wd, "--cores", "2")
    assert "final_model" in json.loads((wd / "results/best.json").read_text())

    table = pd.read_csv(wd / "results/data/table.tsv", sep="\t", dtype=str, keep_default_na=False)
    subset = pd.read_csv(wd / "results/split/assignment.tsv", sep="\t")["subset"]
    rows = table[(subset == "test").to_numpy()].reset_index(drop=True)
    rows.insert(0, "sample_id", [f"s{i}" for i in range(len(rows))])
    rows.to_csv(wd / "new.csv", index=False)
    snakemake(wd, "--cores", "1", "predict", "--config", "predict={input: new.csv, name: batch1}")
    out = read_tsv(wd / "results/predictions/batch1.tsv")
    expected = read_tsv(wd / "results/best_test_predictions.tsv")
    assert np.array_equal(out["score"].to_numpy(), expected["best"].to_numpy())
    assert out["sample_id"].tolist() == rows["sample_id"].tolist()
    assert f"predicted {len(rows)} rows" in (wd / "results/logs/predict/batch1.log").read_text()
    # The target made the run's crate again, with the prediction and the job that made it.
    graph = {e["@id"]: e for e in json.loads((wd / "results/crate/ro-crate-metadata.json").read_text())["@graph"]}
    made = graph["results/predictions/batch1.tsv"]
    assert made["sha256"] == sha256_file(wd / "results/predictions/batch1.tsv")
    assert any(e.get("name") == "predict_table" and "CreateAction" in e["@type"] for e in graph.values())

    rows.drop(columns="worst radius").to_csv(wd / "bad.csv", index=False)
    p = snakemake(wd, "--cores", "1", "predict", "--config", "predict={input: bad.csv, name: bad}", check=False)
    log = (wd / "results/logs/predict/bad.log").read_text()
    assert p.returncode != 0 and "'worst radius'" in log and "Traceback" not in log, log
    assert not (wd / "results/predictions/bad.tsv").exists()
    p = snakemake(wd, "--cores", "1", "-n")  # a normal run is unaffected
    assert "Nothing to be done" in p.stdout + p.stderr


