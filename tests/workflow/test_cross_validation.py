"""End to end: cross-validation and seed repeats as units of the packs, the final model, its one test
evaluation, and predict on it, with real Snakemake runs on tiny settings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from e2e import crate_validates, edit_config, make_workdir, snakemake


def read(path):
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def cv_run(tmp_path_factory):
    wd = make_workdir(tmp_path_factory.mktemp("cv"), points=4, epochs=3, **{"split.folds": 5})
    snakemake(wd, "--cores", "2")
    return wd


def test_every_point_trains_once_per_fold_and_the_summary_has_its_statistics(cv_run):
    s = pd.read_csv(cv_run / "results/summary.tsv", sep="\t", dtype={"point": str})
    assert len(s) == 4 and (s["n_units"] == 5).all()
    for col in ("val_roc_auc_mean", "val_roc_auc_sd", "val_loss_mean", "val_loss_sd", "tied_with_best", "p_vs_best"):
        assert col in s.columns, col
    assert s["val_loss"].is_monotonic_increasing  # ranked by the mean, the sweep's metric
    assert s.loc[0, "tied_with_best"] and pd.isna(s.loc[0, "p_vs_best"])  # the best: no test against itself
    assert s["val_roc_auc_lo"].le(s["val_roc_auc"]).all() and s["val_roc_auc_hi"].ge(s["val_roc_auc"]).all()
    bases = sorted(p.name for p in (cv_run / "results/units").iterdir())
    assert len(bases) == 4
    for base in bases:
        assert sorted(p.name for p in (cv_run / "results/units" / base).iterdir()) == [f"r0-f{f}-s0" for f in range(5)]
    for point in s["point"]:
        rec = read(cv_run / "results/points" / point / "metrics.json")
        assert rec["val_loss"] == pytest.approx(np.mean([u["val_loss"] for u in rec["units"]]))
    # Every row outside the test split is validated on exactly once per repeat.
    a = pd.read_csv(cv_run / "results/split/assignment.tsv", sep="\t")
    assert (a.loc[a["subset"] == "test", "fold_r0"] == -1).all()
    assert sorted(a.loc[a["subset"] != "test", "fold_r0"].unique()) == [0, 1, 2, 3, 4]


def test_the_final_model_is_retrained_on_all_rows_and_tested_once(cv_run):
    best = read(cv_run / "results/best.json")
    a = pd.read_csv(cv_run / "results/split/assignment.tsv", sep="\t")
    n_dev = int((a["subset"] != "test").sum())
    assert best["chosen_by"]["split"] == "cross-validation"
    assert best["chosen_by"]["validation"].startswith("5-fold cross-validation")
    assert best["final_model"]["model"] == f"results/final/{best['point']}/model.pt"
    assert best["final_model"]["trained_on"] == f"all {n_dev} rows outside the test split"
    assert best["final_model"]["epochs"] == 3 and best["n_units"] == 5
    assert best["val_roc_auc_mean"] == read(cv_run / "results/points" / best["point"] / "metrics.json")["val_roc_auc"]
    # The baseline is validated on the same folds and compared unit by unit.
    assert best["baseline"]["n_units"] == 5 and best["val_roc_auc_minus_baseline_p"] is not None
    # The test AUC is the final model's, on the test rows scaled by its own scaler.
    from snakesweep.kernel import load_model, predict
    from snakesweep.metrics import roc_auc
    from snakesweep.split import Scaler

    model, _ = load_model(cv_run / best["final_model"]["model"])
    scaler = read(cv_run / best["final_model"]["scaler"])
    with np.load(cv_run / "results/split/cv.npz") as z:
        x = Scaler(np.asarray(scaler["mean"]), np.asarray(scaler["scale"])).transform(z["x_test"]).astype(np.float32)
        y = z["y_test"]
    scores = predict(model, torch.from_numpy(x)).double().numpy()
    assert best["test_roc_auc"] == roc_auc(y, scores)
    ref = pd.read_csv(cv_run / "results/best_test_predictions.tsv", sep="\t")
    assert np.array_equal(ref["best"].to_numpy(), scores)
    # No unit's model is the final one: it saw rows that every unit held out.
    base = read(cv_run / "results/points" / best["point"] / "metrics.json")["unit_base"]
    unit = torch.load(cv_run / f"results/units/{base}/r0-f0-s0/model.pt", weights_only=True)
    final = torch.load(cv_run / best["final_model"]["model"], weights_only=True)
    first = next(iter(final["model_state"]))
    assert not torch.equal(unit["model_state"][first], final["model_state"][first])
    for plot in ("ranking.svg", "test_roc.svg"):
        assert (cv_run / "results/plots" / plot).stat().st_size > 1000
    assert "tied with it" in (cv_run / "results/plots/ranking.svg").read_text()


def test_the_crate_holds_the_final_model_and_validates(cv_run, tmp_path):
    crate_validates(cv_run, tmp_path)
    best = read(cv_run / "results/best.json")
    graph = {e["@id"]: e for e in read(cv_run / "results/crate/ro-crate-metadata.json")["@graph"]}
    final = {best["final_model"]["model"], f"results/final/{best['point']}/metrics.json", "results/split/cv.npz"}
    assert final <= set(graph)
    # Units' models stay out: the crate holds the model that was tested.
    assert not [i for i in graph if i.startswith("results/units/") or i.endswith("/model.pt") and "/final/" not in i]


def test_a_rerun_has_nothing_to_do_and_more_repeats_train_only_the_new_units(cv_run):
    p = snakemake(cv_run, "--cores", "2", "-n")
    assert "Nothing to be done" in p.stdout + p.stderr
    points = pd.read_csv(cv_run / "results/sweep/points.tsv", sep="\t", dtype={"point": str})["point"].tolist()
    old = {f: f.stat().st_mtime_ns for f in (cv_run / "results/units").glob("*/*/model.pt")}
    assert len(old) == 20
    edit_config(cv_run, **{"split.repeats": 2, "sweep.repeats": 2})
    snakemake(cv_run, "--cores", "2")
    # Points with more units are other points (the summary and everything after it see them), on the
    # same unit bases: the units trained before are kept, only the new ones train.
    now = pd.read_csv(cv_run / "results/sweep/points.tsv", sep="\t", dtype={"point": str})["point"].tolist()
    assert len(now) == 4 and not set(now) & set(points)
    assert all(f.stat().st_mtime_ns == t for f, t in old.items())
    assert len(list((cv_run / "results/units").glob("*/*/model.pt"))) == 80
    s = pd.read_csv(cv_run / "results/summary.tsv", sep="\t")
    assert (s["n_units"] == 20).all()
    rec = read(cv_run / "results/points" / now[0] / "metrics.json")
    assert len({u["unit"] for u in rec["units"]}) == 20
    assert {u["seed"] for u in rec["units"]} == {42, rec["units"][1]["seed"]}  # two seeds, on every fold


def test_seed_repeats_on_the_single_split_and_predict_on_their_final_model(tmp_path):
    wd = make_workdir(tmp_path, points=2, epochs=2, **{"sweep.repeats": 3})
    snakemake(wd, "--cores", "2")
    s = pd.read_csv(wd / "results/summary.tsv", sep="\t")
    assert (s["n_units"] == 3).all()
    best = read(wd / "results/best.json")
    assert best["chosen_by"]["validation"] == "the validation split, 3 seed(s) per fold"
    assert "seeds" in best["interval"]
    # predict on the test rows gives the final model's test scores, bit for bit.
    table = pd.read_csv(wd / "results/data/table.tsv", sep="\t")
    a = pd.read_csv(wd / "results/split/assignment.tsv", sep="\t")
    labels = read(wd / "results/data/labels.json")
    new = table.iloc[a.loc[a["subset"] == "test", "row"].to_numpy()][labels["features"]]
    new.insert(0, "id", range(len(new)))
    new.to_csv(wd / "new.csv", index=False)
    snakemake(wd, "--cores", "1", "predict", "--config", "predict={input: new.csv, name: t}")
    got = pd.read_csv(wd / "results/predictions/t.tsv", sep="\t")
    ref = pd.read_csv(wd / "results/best_test_predictions.tsv", sep="\t")
    assert np.array_equal(got["score"].to_numpy(), ref["best"].to_numpy())
    assert list(got["id"]) == list(range(len(new)))


def test_the_cross_validation_example_plans_five_folds_twice(tmp_path):
    wd = make_workdir(tmp_path)
    p = snakemake(wd, "--cores", "2", "-n", "--configfile", "config/examples/cross-validation/config.yaml")
    out = p.stdout + p.stderr
    assert "train_final" not in out.split("Job stats:")[1].split("Reasons")[0]  # known only once a point is chosen
    assert "results/split/cv.npz" in out and "results/baseline/cv.json" in out
    from snakesweep.plan import make_plan

    cfg = yaml.safe_load((wd / "config/config.yaml").read_text())
    example = yaml.safe_load((wd / "config/examples/cross-validation/config.yaml").read_text())
    for block, keys in example.items():
        cfg[block].update(keys)
    plan = make_plan(cfg, base=wd)
    assert (plan.folds, plan.repeats, plan.seeds) == (5, 2, 1) and len(plan.points[0].units) == 10
