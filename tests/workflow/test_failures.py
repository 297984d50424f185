"""Reliability, for real: diverging points, kill -9 mid-run, concurrent invocations, injection attempts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from e2e import make_workdir, snakemake, trained_points

GRID = {"method": "grid", "metric": {"name": "val_loss", "goal": "minimize"},
        "parameters": {"hidden_layers": {"values": [1, 2]}, "hidden_neurons": {"values": [4, 8]},
                       "learning_rate": {"value": 0.01}}}
TIMINGS = ("train_seconds", "startup_seconds", "device")


def stable(summary_path):
    df = pd.read_csv(summary_path, sep="\t")
    return df.drop(columns=[c for c in TIMINGS if c in df.columns])


def test_a_diverging_point_fails_alone_and_the_sweep_completes(tmp_path):
    sweep = dict(GRID, parameters={"hidden_layers": {"value": 1}, "hidden_neurons": {"value": 8},
                                   "optimizer": {"value": "sgd"}, "learning_rate": {"values": [0.001, 1.0e6]}})
    wd = make_workdir(tmp_path, sweep=sweep)
    snakemake(wd, "--cores", "2")
    s = pd.read_csv(wd / "results/summary.tsv", sep="\t")
    failed = s[s["status"] == "failed"]
    assert len(failed) == 1 and failed.iloc[0]["learning_rate"] == 1.0e6
    assert "diverged" in failed.iloc[0]["reason"]
    assert s.iloc[-1]["status"] == "failed"  # failed points sort last
    best = json.loads((wd / "results/best.json").read_text())
    assert best["params"]["learning_rate"] == 0.001
    assert json.loads((wd / "results/sweep/chosen.json").read_text())["point"] == best["point"]


def test_kill_minus_nine_mid_training_then_resume_matches_an_uninterrupted_run(tmp_path):
    changes = {"sweep.count": 6, "train.max_epochs": 40}
    ref = make_workdir(tmp_path / "ref", **changes)
    snakemake(ref, "--cores", "2")

    wd = make_workdir(tmp_path / "kill", **changes)
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=wd, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if len(list((wd / "results/points").glob("*/metrics.json"))) >= 2:
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {f.parent.name for f in (wd / "results/points").glob("*/metrics.json")}
    assert len(done) < 6

    written = {point: (wd / "results/points" / point / "metrics.json").read_bytes() for point in done}
    snakemake(wd, "--unlock")  # Snakemake's own advice after a kill: its lock outlived the process
    p = snakemake(wd, "--cores", "2", "-n", check=False)
    # Snakemake flags the killed pack's files as incomplete and does not trust them...
    assert p.returncode != 0 and "--rerun-incomplete" in p.stdout + p.stderr
    started = time.time()
    snakemake(wd, "--cores", "2", "--rerun-incomplete")
    # ...the pack runs again, and keeps its points that were complete (written atomically, metrics.json
    # last, with the same cache key): only the unfinished points train.
    assert trained_points(wd, started) == {f.parent.name for f in (wd / "results/points").glob("*/metrics.json")} - done
    for point, data in written.items():
        assert (wd / "results/points" / point / "metrics.json").read_bytes() == data
    pd.testing.assert_frame_equal(stable(wd / "results/summary.tsv"), stable(ref / "results/summary.tsv"))
    assert not list((wd / "results").rglob("*.tmp"))


def test_one_and_two_cores_give_identical_summaries_and_byte_identical_results(tmp_path):
    a = make_workdir(tmp_path / "one", points=4)
    b = make_workdir(tmp_path / "two", points=4)
    snakemake(a, "--cores", "1")
    snakemake(b, "--cores", "2")
    pd.testing.assert_frame_equal(stable(a / "results/summary.tsv"), stable(b / "results/summary.tsv"))
    # Two runs of the workflow, in two places: checkpoints, histories, splits and plots are the same bytes.
    names = ["points/*/model.pt", "points/*/history.csv", "points/*/learning_curve.svg", "split/*.npz",
             "plots/*.svg", "explore/*.svg", "best.json", "best_test_predictions.tsv"]
    files = sorted(f.relative_to(a) for n in names for f in (a / "results").glob(n))
    assert len(files) >= 4 * 3 + 3 + 3 + 2 + 2
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_a_second_invocation_on_the_same_directory_is_refused_by_the_lock(tmp_path):
    wd = make_workdir(tmp_path, points=4, epochs=20)
    first = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "1"], cwd=wd,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list((wd / ".snakemake/locks").glob("*")):
        time.sleep(0.05)
    # Plain, Snakemake refuses either at its lock or at the running jobs' incomplete files; even told
    # to redo incomplete files, the lock refuses it.
    plain = snakemake(wd, "--cores", "1", check=False)
    assert plain.returncode != 0
    assert any(w in plain.stdout + plain.stderr for w in ("LockException", "IncompleteFilesException"))
    forced = snakemake(wd, "--cores", "1", "--rerun-incomplete", check=False)
    assert forced.returncode != 0
    assert "LockException" in forced.stdout + forced.stderr
    assert first.wait(timeout=600) == 0, first.stdout.read()
    assert (pd.read_csv(wd / "results/summary.tsv", sep="\t")["status"] == "ok").all()


@pytest.mark.parametrize("key", ["train.activation", "data.target", "explore.features"])
def test_a_shell_injection_in_a_config_value_is_data_not_a_command(tmp_path, key):
    marker = tmp_path / "pwned"
    value = f"; touch {marker}"
    wd = make_workdir(tmp_path, **{key: [value] if key == "explore.features" else value})
    p = snakemake(wd, "--cores", "2", check=False)
    assert p.returncode != 0
    assert value in p.stdout + p.stderr  # refused, with the value quoted back
    assert not marker.exists()
