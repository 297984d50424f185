"""End to end: bayes rounds, hyperband rungs that resume from checkpoints, metric.target, and every
example sweep file, on tiny settings with real Snakemake runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from e2e import REPO, edit_config, make_workdir, snakemake

METRIC = {"name": "val_loss", "goal": "minimize"}
LR = {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}
BAYES = {"method": "bayes", "metric": METRIC,
         "parameters": {"learning_rate": LR, "hidden_neurons": {"values": [4, 8, 16]}}}
HYPERBAND = {"method": "random", "metric": METRIC, "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2},
             "parameters": {"learning_rate": LR, "hidden_layers": {"values": [1, 2]}}}
# Columns that differ between reruns by nature (timings), all else must be identical.
VOLATILE = ("train_seconds", "startup_seconds")


def summary(wd: Path) -> pd.DataFrame:
    return pd.read_csv(wd / "results/summary.tsv", sep="\t", dtype={"point": str}).drop(columns=list(VOLATILE))


def read(path: Path):
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def bayes_runs(tmp_path_factory):
    runs = []
    for name in ("a", "b"):
        wd = make_workdir(tmp_path_factory.mktemp(f"bayes-{name}"), points=4, sweep=BAYES, **{"sweep.round_size": 2})
        snakemake(wd, "--cores", "2")
        runs.append(wd)
    return runs


def test_bayes_trains_in_rounds_each_proposed_from_the_finished_points(bayes_runs):
    wd = bayes_runs[0]
    rounds = [read(wd / f"results/sweep/rounds/{r}.json") for r in (0, 1)]
    assert [len(r["points"]) for r in rounds] == [2, 2]
    assert not (wd / "results/sweep/rounds/2.json").exists()
    # Round 1 was proposed after round 0 had finished: its proposal is newer than round 0's results.
    done0 = wd / "results/sweep/rounds/0.done.json"
    assert (wd / "results/sweep/rounds/1.json").stat().st_mtime >= done0.stat().st_mtime
    assert {p["point"] for p in read(done0)["points"]} == {p["point"] for p in rounds[0]["points"]}
    s = summary(wd)
    assert len(s) == 4 and set(s["status"]) == {"ok"} and sorted(s["round"]) == [0, 0, 1, 1]
    points = pd.read_csv(wd / "results/sweep/points.tsv", sep="\t", dtype={"point": str})
    assert list(points["point"]) == [p["point"] for r in rounds for p in r["points"]]
    assert read(wd / "results/best.json")["point"] in set(s["point"])


def test_bayes_with_the_same_seed_gives_the_same_summary_and_reruns_nothing(bayes_runs):
    a, b = bayes_runs
    pd.testing.assert_frame_equal(summary(a), summary(b))
    again = snakemake(a, "--cores", "2")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_a_bayes_run_killed_between_rounds_resumes_in_its_round(tmp_path):
    wd = make_workdir(tmp_path, points=4, sweep=BAYES, **{"sweep.round_size": 2})
    # Stop after round 0: only its results are asked for.
    snakemake(wd, "--cores", "2", "results/sweep/rounds/0.done.json")
    assert not (wd / "results/sweep/rounds/1.json").exists()
    before = (wd / "results/sweep/rounds/0.json").read_bytes()
    snakemake(wd, "--cores", "2")
    assert (wd / "results/sweep/rounds/0.json").read_bytes() == before
    assert len(summary(wd)) == 4
    # Raising sweep.count adds a round; the rounds done are neither proposed nor trained again.
    done = {f: f.stat().st_mtime_ns for f in (wd / "results/sweep/rounds").rglob("*.json")}
    edit_config(wd, **{"sweep.count": 5})
    out = snakemake(wd, "--cores", "2")
    assert {f: f.stat().st_mtime_ns for f in done} == done
    assert len(read(wd / "results/sweep/rounds/2.json")["points"]) == 1
    assert out.stderr.count("rule train_stage:") == 1
    assert len(summary(wd)) == 5


@pytest.fixture(scope="module")
def hyperband_run(tmp_path_factory):
    wd = make_workdir(tmp_path_factory.mktemp("hyperband"), points=8, epochs=4, sweep=HYPERBAND)
    snakemake(wd, "--cores", "2")
    return wd


def test_hyperband_stops_points_at_the_bands_as_wandb_does(hyperband_run):
    wd = hyperband_run
    s = summary(wd)
    counts = s["status"].value_counts().to_dict()
    # W&B's threshold keeps the points at or under the value ranked int(n / eta): 8 -> 5 -> 3.
    assert counts == {"stopped": 5, "ok": 3}, counts
    assert sorted(s.loc[s["status"] == "stopped", "epochs"]) == [1, 1, 1, 2, 2]
    assert set(s.loc[s["status"] == "ok", "epochs"]) == {4}
    rung1 = read(wd / "results/sweep/rounds/0/rung1.json")
    assert rung1["band"] == 1 and sum(d["decision"] == "stop" for d in rung1["decisions"]) == 3
    stopped = s[s["status"] == "stopped"]
    assert stopped["reason"].str.contains("stopped by hyperband at epoch").all()
    assert (wd / "results/plots/rungs.svg").stat().st_size > 0


def test_a_resumed_point_equals_one_trained_straight_through(hyperband_run, tmp_path):
    """An ok point trained 1, then 2, then 4 epochs, resuming each time from its checkpoint, has the
    weights, optimiser state and history of the same point trained straight to 4 epochs."""
    from snakesweep.io import read_json
    from snakesweep.kernel import load_checkpoint
    from snakesweep.train import run_point

    wd = hyperband_run
    s = summary(wd)
    point = s.loc[s["status"] == "ok", "point"].iloc[0]
    folder = wd / "results/points" / point
    assert {p.name for p in folder.iterdir() if p.is_dir()} >= {"e1", "e2", "e4"}
    rec = read(folder / "metrics.json")
    straight = {k: tmp_path / k for k in ("model.pt", "history.csv", "metrics.json")}
    run_point(point=point, hp=rec["hparams"], train_path=wd / "results/split/train.npz",
              val_path=wd / "results/split/val.npz", features=read_json(wd / "results/data/labels.json")["features"],
              threads=1, model_out=straight["model.pt"], history_out=straight["history.csv"],
              metrics_out=straight["metrics.json"])
    assert (folder / "history.csv").read_bytes() == straight["history.csv"].read_bytes()
    resumed, direct = load_checkpoint(folder / "model.pt"), load_checkpoint(straight["model.pt"])
    for key, value in direct["model_state"].items():
        assert torch.equal(resumed["model_state"][key], value), key
    for idx, state in direct["optimizer_state"]["state"].items():
        for name, tensor in state.items():
            assert torch.equal(resumed["optimizer_state"]["state"][idx][name], tensor), (idx, name)
    assert read(straight["metrics.json"])["val_loss"] == rec["val_loss"]


def test_hyperband_with_the_same_seed_gives_the_same_summary(hyperband_run, tmp_path):
    again = make_workdir(tmp_path, points=8, epochs=4, sweep=HYPERBAND)
    snakemake(again, "--cores", "2")
    pd.testing.assert_frame_equal(summary(hyperband_run), summary(again))


def test_a_deleted_point_of_an_adaptive_sweep_is_made_again_with_its_rounds(hyperband_run):
    """No rule names an adaptive point's files: deleting the rounds' bookkeeping and the points table with
    the point makes the rounds again (the same decisions), training only that point."""
    wd = hyperband_run
    s = summary(wd)
    point = s.loc[s["status"] == "ok", "point"].iloc[0]
    folder = wd / "results/points" / point
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.suffix in (".csv", ".pt")}
    shutil.rmtree(folder)
    shutil.rmtree(wd / "results/sweep/rounds")
    (wd / "results/sweep/points.tsv").unlink()
    out = snakemake(wd, "--cores", "2")
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.suffix in (".csv", ".pt")}
    assert after == before
    pd.testing.assert_frame_equal(summary(wd).drop(columns="point"), s.drop(columns="point"))
    logs = "".join(f.read_text() for f in (wd / "results/logs/rounds").rglob("rung*/*.log"))
    assert set(re.findall(r"^([0-9a-f]{12}): ok", logs, re.M)) == {point}  # the others: complete already
    assert "rule train_stage:" in out.stdout + out.stderr


def test_metric_target_stops_the_rounds(tmp_path):
    spec = {"method": "random", "metric": {"name": "val_roc_auc", "goal": "maximize", "target": 0.5},
            "parameters": {"learning_rate": {"values": [0.01, 0.02, 0.03, 0.04]}}}
    wd = make_workdir(tmp_path, points=4, sweep=spec, **{"sweep.round_size": 2})
    snakemake(wd, "--cores", "2")
    assert len(summary(wd)) == 2
    assert "metric.target 0.5 reached" in read(wd / "results/sweep/rounds/1.json")["note"]


EXAMPLES = sorted((REPO / "config/examples").glob("*.yaml"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_every_example_sweep_runs_end_to_end_on_tiny_settings(example, tmp_path):
    wd = make_workdir(tmp_path, points=4, epochs=2, **{"sweep.file": f"config/examples/{example.name}",
                                                        "sweep.round_size": 2})
    snakemake(wd, "--cores", "2", "-n")
    snakemake(wd, "--cores", "2")
    s = summary(wd)
    assert len(s) >= 1 and (s["status"] == "ok").any()
    names = pd.read_csv(wd / "results/sweep/points.tsv", sep="\t", nrows=0).columns
    assert all(n in s.columns for n in names if n not in ("point", "round"))
