"""End-to-end: the real `snakemake` on a tiny config, in a fresh copy of the workflow."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from e2e import REPO, edit_config, make_workdir, pack_jobs, snakemake, trained_points

from snakesweep.gpu import AUTO_ENV, count_gpus


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    wd = make_workdir(tmp_path_factory.mktemp("tiny"))
    snakemake(wd, "--cores", "2")
    return wd


def test_summary_has_one_ok_row_per_point_sorted_by_metric(tiny_run):
    points = pd.read_csv(tiny_run / "results/sweep/points.tsv", sep="\t")
    summary = pd.read_csv(tiny_run / "results/summary.tsv", sep="\t")
    assert list(points.columns) == ["point", "hidden_layers", "hidden_neurons", "learning_rate", "draws"]
    assert points["draws"].astype(str).str.fullmatch(r"\d+(,\d+)*").all()
    assert len(points) == 3 and points["point"].is_unique
    assert set(summary["point"]) == set(points["point"])
    for col in ["point", "hidden_layers", "hidden_neurons", "learning_rate", "status", "val_loss",
                "val_roc_auc", "epochs", "train_seconds"]:
        assert col in summary.columns, col
    assert (summary["status"] == "ok").all()
    assert (summary["epochs"] == 2).all()
    assert summary["val_loss"].is_monotonic_increasing  # the tutorial's sweep minimises val_loss
    assert summary["val_roc_auc"].between(0, 1).all()


def test_best_is_chosen_on_validation_and_tested_once_with_cis(tiny_run):
    summary = pd.read_csv(tiny_run / "results/summary.tsv", sep="\t")
    best = json.loads((tiny_run / "results/best.json").read_text())
    assert best["point"] == summary.iloc[0]["point"]
    assert best["chosen_by"] == {"metric": "val_loss", "goal": "minimize", "split": "val"}
    lo, hi = best["test_roc_auc_ci95"]
    assert lo <= best["test_roc_auc"] <= hi
    base = best["baseline"]
    assert isinstance(base["test_roc_auc"], float) and base["test_roc_auc"] > 0.9
    assert base["test_roc_auc_ci95"][0] <= base["test_roc_auc"] <= base["test_roc_auc_ci95"][1]
    assert set(best["params"]) == {"hidden_layers", "hidden_neurons", "learning_rate"}
    for name in ("test_roc.svg", "top_learning_curves.svg", "val_auc_by_param.svg"):
        assert (tiny_run / "results/plots" / name).stat().st_size > 1000


def test_test_roc_auc_is_computed_on_the_test_rows_with_the_chosen_model(tiny_run):
    import numpy as np
    import torch

    from snakesweep.kernel import load_model
    from snakesweep.metrics import roc_auc

    best = json.loads((tiny_run / "results/best.json").read_text())
    model, _ = load_model(tiny_run / "results/points" / best["point"] / "model.pt")

    def auc_on(split):
        with np.load(tiny_run / f"results/split/{split}.npz") as z, torch.no_grad():
            return roc_auc(z["y"], model(torch.from_numpy(z["x"])).double().numpy()), z["y"]

    test_auc, y_test = auc_on("test")
    assert best["test_roc_auc"] == pytest.approx(test_auc, abs=1e-12)
    assert best["test_rows"] == len(y_test) and best["test_positives"] == int(y_test.sum())
    assert auc_on("val")[0] != pytest.approx(test_auc, abs=1e-6)  # so this test would see the wrong split
    predictions = pd.read_csv(tiny_run / "results/best_test_predictions.tsv", sep="\t")
    assert (predictions["label"].to_numpy() == y_test).all()
    assert roc_auc(predictions["label"], predictions["best"]) == pytest.approx(test_auc, abs=1e-9)


def test_each_point_has_weights_history_curve_log_and_benchmark(tiny_run):
    for point in pd.read_csv(tiny_run / "results/sweep/points.tsv", sep="\t")["point"]:
        d = tiny_run / "results/points" / point
        for name in ("model.pt", "history.csv", "metrics.json", "learning_curve.svg", "val_scores.tsv"):
            assert (d / name).is_file(), name
        history = pd.read_csv(d / "history.csv")
        assert list(history.columns) == ["epoch", "train_loss", "val_loss", "val_roc_auc"]
        metrics = json.loads((d / "metrics.json").read_text())
        assert metrics["seed"] == 42 and metrics["hparams"]["max_epochs"] == 2
        assert metrics["deterministic"] is True and metrics["cublas_workspace_config"] == ":4096:8"
        assert set(metrics["params"]) == {"hidden_layers", "hidden_neurons", "learning_rate"}
        assert "bootstrap" not in metrics and "val_roc_auc_ci95" not in metrics  # intervals come after training
        assert (tiny_run / "results/logs/train" / f"{point}.log").is_file()
        assert metrics["pack"]["size"] == 3 and metrics["cache_key"]
        pack = metrics["pack"]["id"]
        assert (tiny_run / "results/benchmarks/packs" / f"{pack}.tsv").is_file()
        assert (tiny_run / "results/logs/packs" / f"{pack}.log").is_file()


def test_the_single_split_is_as_before_no_units_and_the_chosen_points_own_model_tested(tiny_run):
    """split.folds 1 and sweep.repeats 1 (the default): no units, no final model trained again."""
    best = json.loads((tiny_run / "results/best.json").read_text())
    assert best["final_model"] == {"model": f"results/points/{best['point']}/model.pt",
                                   "scaler": "results/split/scaler.json",
                                   "trained_on": "the train split (the chosen point's own model)",
                                   "epochs": 2, "seed": 42}
    assert not (tiny_run / "results/final").exists() and not (tiny_run / "results/split/cv.npz").exists()
    assert not list((tiny_run / "results/points").glob("*/units"))
    summary = pd.read_csv(tiny_run / "results/summary.tsv", sep="\t")
    assert not {"n_units", "val_roc_auc_mean"} & set(summary.columns)
    # Ties on the one split: every point but the best tested against it on the same validation rows.
    assert summary.loc[0, "tied_with_best"] and pd.isna(summary.loc[0, "p_vs_best"])
    assert summary["p_vs_best"].iloc[1:].between(0, 1).all() and (summary["interval"] == "newcombe").all()
    assert (summary["val_roc_auc_lo"] < summary["val_roc_auc_hi"]).all()
    assert best["intervals"]["method"] == "newcombe" and best["val_roc_auc_ci95"][0] < best["val_roc_auc_ci95"][1]
    assert "fold_r0" not in pd.read_csv(tiny_run / "results/split/assignment.tsv", sep="\t").columns
    assert (tiny_run / "results/plots/ranking.svg").stat().st_size > 1000


def test_split_scaler_is_fitted_on_training_rows_only(tiny_run):
    import numpy as np

    scaler = json.loads((tiny_run / "results/split/scaler.json").read_text())
    with np.load(tiny_run / "results/split/train.npz") as z:
        x_train = z["x"]
    # Standardised with the training rows' own statistics: their mean is 0 and their sd is 1.
    assert np.allclose(x_train.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(x_train.std(axis=0), 1, atol=1e-3)
    assert scaler["fitted_on"] == "train"
    assignment = pd.read_csv(tiny_run / "results/split/assignment.tsv", sep="\t")
    assert sorted(assignment["subset"].unique()) == ["test", "train", "val"]


def test_second_run_has_nothing_to_do_and_report_builds(tiny_run):
    p = snakemake(tiny_run, "--cores", "2", "-n")
    assert "Nothing to be done" in p.stdout + p.stderr
    snakemake(tiny_run, "--cores", "1", "--report", "results/report.html")
    html = (tiny_run / "results/report.html").read_text(errors="replace")
    assert len(html) > 100_000
    for category in ("Exploration", "Sweep", "Summary"):
        assert category in html


def test_another_interval_method_recomputes_the_intervals_and_trains_nothing(tiny_run):
    best = json.loads((tiny_run / "results/best.json").read_text())
    edit_config(tiny_run, **{"evaluate.interval": "bootstrap"})
    try:
        assert not pack_jobs(snakemake(tiny_run, "--cores", "2", "-n").stdout)
        started = time.time()
        snakemake(tiny_run, "--cores", "2")
        assert trained_points(tiny_run, started) == set()
        again = json.loads((tiny_run / "results/best.json").read_text())
        assert again["intervals"]["method"] == "bootstrap" and again["intervals"]["replicates"] == 2000
        assert again["point"] == best["point"] and again["test_roc_auc"] == best["test_roc_auc"]
        assert again["test_roc_auc_ci95"] != best["test_roc_auc_ci95"]
        assert (pd.read_csv(tiny_run / "results/summary.tsv", sep="\t")["interval"] == "bootstrap").all()
    finally:
        edit_config(tiny_run, **{"evaluate.interval": "newcombe"})
        snakemake(tiny_run, "--cores", "2")
    assert json.loads((tiny_run / "results/best.json").read_text()) == best


def test_raising_count_trains_only_the_new_points(tiny_run):
    before = pd.read_csv(tiny_run / "results/sweep/points.tsv", sep="\t")["point"].tolist()
    edit_config(tiny_run, **{"sweep.count": 4})
    p = snakemake(tiny_run, "--cores", "2", "-n")
    (job,) = pack_jobs(p.stdout).values()  # the pack of three became a pack of four
    assert len(job["points"]) == 4 and set(before) < set(job["points"])
    started = time.time()
    snakemake(tiny_run, "--cores", "2")
    after = pd.read_csv(tiny_run / "results/sweep/points.tsv", sep="\t")["point"].tolist()
    assert after[:3] == before and len(after) == 4
    # The pack of three grew to four: the three complete points are kept, only the new one trains.
    assert trained_points(tiny_run, started) == {after[3]}
    assert len(pd.read_csv(tiny_run / "results/summary.tsv", sep="\t")) == 4


def test_wandb_offline_leaves_one_readable_run_per_point(tmp_path):
    from snakesweep.wandb_reader import read_offline_run

    wd = make_workdir(tmp_path, **{"tracking.wandb.enabled": True, "tracking.wandb.mode": "offline"})
    secret = "local-0123456789abcdef0123456789abcdef01234567"
    snakemake(wd, "--cores", "2", env={"WANDB_API_KEY": secret})
    for f in [*wd.joinpath("results").rglob("*"), *wd.joinpath(".snakemake/log").rglob("*")]:
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f
    runs = sorted((wd / "results").rglob("*.wandb"))
    assert len(runs) == 3
    points = set(pd.read_csv(wd / "results/sweep/points.tsv", sep="\t")["point"])
    for run in runs:
        rec = read_offline_run(run)
        assert rec["config"]["point"] in points
        assert [h["train_loss"] is not None for h in rec["history"]] == [True, True]
        assert {"train_loss", "val_loss", "val_roc_auc"} <= set(rec["history"][-1])
        assert rec["summary"]["val_roc_auc"] > 0.5
        assert rec["group"] == "sweep"


@pytest.mark.parametrize(
    ("changes", "sweep", "word"),
    [
        ({"train.optimizr": "adam"}, None, "optimizr"),
        ({"data.target": "no_such_column"}, None, "no_such_column"),
        ({"data.source": "data/missing.csv"}, None, "missing.csv"),
        ({}, {"method": "random", "parameters": {"learning_rate": {"min": 0.1, "max": 0.01}}}, "learning_rate"),
    ],
    ids=["unknown-key", "missing-target", "missing-file", "min-gt-max"],
)
def test_bad_input_is_refused_before_training(tmp_path, changes, sweep, word):
    wd = make_workdir(tmp_path, sweep=sweep, **changes)
    p = snakemake(wd, "--cores", "2", check=False)
    assert p.returncode != 0
    assert word in p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    assert not list((wd / "results").rglob("*.pt")) if (wd / "results").exists() else True


def test_lint_and_snakefmt_are_clean():
    p = snakemake(REPO, "--lint", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow"], cwd=REPO,
                         capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_grid_with_a_linear_model_collapses_widths_and_completes(tmp_path):
    sweep = {"method": "grid", "metric": {"name": "val_roc_auc", "goal": "maximize"},
             "parameters": {"hidden_layers": {"values": [0, 1]}, "hidden_neurons": {"values": [4, 8]},
                            "learning_rate": {"value": 0.01}}}
    wd = make_workdir(tmp_path, sweep=sweep)
    snakemake(wd, "--cores", "2")
    summary = pd.read_csv(wd / "results/summary.tsv", sep="\t")
    assert len(summary) == 3  # hidden_layers 0 with two widths is one point
    assert summary.loc[summary["hidden_layers"] == 0, "hidden_neurons"].isna().all()
    assert summary["val_roc_auc"].is_monotonic_decreasing  # maximised metric: best first
    assert (wd / "results/plots/val_auc_by_param.svg").stat().st_size > 1000


def test_changing_the_sweep_keeps_earlier_results_and_summarises_only_the_new_spec(tmp_path):
    wd = make_workdir(tmp_path, sweep={"method": "grid", "parameters": {"learning_rate": {"values": [0.01, 0.02]}}})
    snakemake(wd, "--cores", "2")
    old = {p.parent.name: p.read_bytes() for p in (wd / "results/points").glob("*/metrics.json")}
    assert len(old) == 2
    (wd / "config/tiny-sweep.yaml").write_text(
        yaml.safe_dump({"method": "grid", "parameters": {"learning_rate": {"values": [0.01, 0.05]}}}))
    snakemake(wd, "--cores", "2")
    summary = pd.read_csv(wd / "results/summary.tsv", sep="\t")
    assert sorted(summary["learning_rate"]) == [0.01, 0.05]
    for point, data in old.items():  # the dropped point and the kept one, untouched
        assert (wd / "results/points" / point / "metrics.json").read_bytes() == data
    assert len(list((wd / "results/points").glob("*/metrics.json"))) == 3


@pytest.mark.skipif(count_gpus() > 0, reason="needs a machine without GPUs")
def test_a_real_error_fails_its_job_loudly_and_keep_going_finishes_the_rest(tmp_path):
    # Told that jobs will see a GPU (as on a cluster login node) when they do not: a real error in the
    # GPU point's job, not a diverging point; the CPU point still finishes.
    sweep = {"method": "grid", "parameters": {"accelerator": {"values": ["cpu", "auto"]}}}
    wd = make_workdir(tmp_path, sweep=sweep)
    p = snakemake(wd, "--cores", "2", "--keep-going", check=False, env={AUTO_ENV: "gpu"})
    assert p.returncode != 0
    assert "no GPU is visible" in p.stdout + p.stderr
    points = pd.read_csv(wd / "results/sweep/points.tsv", sep="\t")
    cpu = points.loc[points["accelerator"] == "cpu", "point"].item()
    gpu = points.loc[points["accelerator"] == "auto", "point"].item()
    assert (wd / "results/points" / cpu / "metrics.json").is_file()
    assert not (wd / "results/points" / gpu / "metrics.json").exists()


def dry_run_jobs(wd, env=None) -> dict:
    """{point: resources of its pack} for the points whose packs a dry run would start."""
    out = snakemake(wd, "--cores", "2", "-n", env=env).stdout
    return {point: job["resources"] for job in pack_jobs(out).values() for point in job["points"]}


@pytest.mark.skipif(count_gpus() > 0, reason="needs a machine without GPUs")
def test_gpu_jobs_declare_one_gpu_and_cpu_jobs_none(tmp_path):
    sweep = {"method": "grid", "parameters": {"accelerator": {"values": ["cpu", "auto"]}}}
    wd = make_workdir(tmp_path, sweep=sweep)
    jobs = dry_run_jobs(wd, env={AUTO_ENV: "gpu"})
    claims = sorted(int(m.group(1)) if (m := re.search(r"\bgpu=(\d+)", r)) else 0 for r in jobs.values())
    assert claims == [0, 1]  # the CPU point asks for no GPU, so --resources gpu=1 never holds it back


def test_auto_is_decided_once_and_passed_on_to_the_jobs(tmp_path):
    from snakesweep.plan import auto_choice

    wd = make_workdir(tmp_path, points=1, **{"train.accelerator": "auto"})
    decided = auto_choice()
    snakemake(wd, "--cores", "1")
    point = pd.read_csv(wd / "results/sweep/points.tsv", sep="\t")["point"].item()
    log = (wd / "results/logs/train" / f"{point}.log").read_text()
    assert f"accelerator {decided} ({AUTO_ENV}={decided!r})" in log  # the job got the decision
    # A job step that rebuilds the DAG with that decision finds the same id; the other one would not.
    assert list(dry_run_jobs(wd, env={AUTO_ENV: decided})) == []  # nothing to do: same ids
    other = "gpu" if decided == "cpu" else "cpu"
    rebuilt = dry_run_jobs(wd, env={AUTO_ENV: other})
    assert len(rebuilt) == 1 and point not in rebuilt


def test_a_comment_keeps_the_ids_and_a_change_to_the_loss_gives_new_ones(tmp_path):
    wd = make_workdir(tmp_path)
    snakemake(wd, "--cores", "2")
    ids = pd.read_csv(wd / "results/sweep/points.tsv", sep="\t", dtype=str)["point"].tolist()
    engine = wd / "src/snakesweep/engine_torch.py"
    engine.write_text("# A reader's note.\n" + engine.read_text().replace('"""', '""" Reworded.', 1) + "\n# The end.\n")
    assert dry_run_jobs(wd) == {}  # the same ids: nothing to train again
    engine.write_text(engine.read_text().replace("nn.BCEWithLogitsLoss()", "nn.BCEWithLogitsLoss(reduction='sum')"))
    after = set(dry_run_jobs(wd))
    assert len(after) == 3 and not after & set(ids)


def test_turning_tracking_on_retrains_and_other_tracking_edits_do_not(tmp_path):
    wd = make_workdir(tmp_path, points=2)
    snakemake(wd, "--cores", "2")
    edit_config(wd, **{"tracking.wandb.project": "another", "tracking.wandb.log_model": True})
    assert dry_run_jobs(wd) == {}  # tracking is off: its settings change no result
    edit_config(wd, **{"tracking.wandb.enabled": True})
    assert len(dry_run_jobs(wd)) == 2
