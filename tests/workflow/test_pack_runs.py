"""Packs in real runs: bytes equal to a point trained alone, caching, a real error, a pack killed midway."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from e2e import (
    edit_config,
    make_workdir,
    pack_jobs,
    point_files,
    processes_in,
    snakemake,
    trained_points,
    wait_for_kept,
)


def pack_sizes(wd: Path) -> list[int]:
    return sorted(json.loads(m.read_text())["pack"]["size"] for m in (wd / "results/points").glob("*/metrics.json"))


def test_a_pack_gives_each_point_the_bytes_it_gets_alone_with_both_engines(tmp_path):
    sweep = {"method": "grid", "parameters": {"engine": {"values": ["torch", "lightning"]},
                                              "learning_rate": {"values": [0.01, 0.02, 0.05]}}}
    alone = make_workdir(tmp_path / "alone", sweep=sweep, **{"train.pack_size": 1})
    packed = make_workdir(tmp_path / "packed", sweep=sweep, **{"train.pack_size": 4})
    dry = snakemake(packed, "--cores", "2", "-n").stdout
    assert sorted(len(j["points"]) for j in pack_jobs(dry).values()) == [2, 4]
    assert dry.count("rule learning_curves:") == 1  # the curves come from the packs, not from a job each
    snakemake(alone, "--cores", "2")
    snakemake(packed, "--cores", "2")
    assert pack_sizes(alone) == [1] * 6 and pack_sizes(packed) == [2, 2, 4, 4, 4, 4]
    a, b = point_files(alone), point_files(packed)
    assert len(a) == 6 and list(a) == list(b)
    assert {m["metrics"]["engine"] for m in a.values()} == {"torch", "lightning"}
    for point in a:
        assert a[point] == b[point], point
    drop = ["train_seconds", "startup_seconds"]
    pd.testing.assert_frame_equal(pd.read_csv(alone / "results/summary.tsv", sep="\t").drop(columns=drop),
                                  pd.read_csv(packed / "results/summary.tsv", sep="\t").drop(columns=drop))


def test_a_point_is_the_same_batched_in_any_sweep_or_alone(tmp_path):
    """The default search space: 8 points trained batched, and the same 8 inside a 24-point sweep trained
    one at a time (train.batched: false), in packs of other sizes: every shared point's bytes are equal."""
    small = make_workdir(tmp_path / "small", points=8, epochs=4, **{"sweep.seed": 3})
    large = make_workdir(tmp_path / "large", points=24, epochs=4,
                         **{"sweep.seed": 3, "train.batched": False, "train.pack_size": 7})
    snakemake(small, "--cores", "2")
    snakemake(large, "--cores", "2")
    a, b = point_files(small), point_files(large)
    assert len(a) == 8 and len(b) == 24 and set(a) <= set(b)
    for point in a:
        assert a[point] == b[point], point
    batched = [json.loads((small / "results/points" / p / "metrics.json").read_text())["batched"] for p in a]
    assert sum(1 for x in batched if x) >= 2  # some points shared a group, and trained batched
    assert not any(json.loads(m.read_text())["batched"] for m in (large / "results/points").glob("*/metrics.json"))
    log = "".join(f.read_text() for f in (small / "results/logs/packs").glob("*.log"))
    assert "trained batched in" in log


def test_caching_stays_exact_with_packs(tmp_path):
    wd = make_workdir(tmp_path, points=3, **{"train.pack_size": 2})
    snakemake(wd, "--cores", "2")
    points = sorted(p.name for p in (wd / "results/points").iterdir())

    # Deleting one point's folder trains that point again, and no other point of its pack.
    gone = points[0]
    for f in sorted((wd / "results/points" / gone).rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    (wd / "results/points" / gone).rmdir()
    started = time.time()
    snakemake(wd, "--cores", "2")
    assert trained_points(wd, started) == {gone}
    assert "Nothing to be done" in snakemake(wd, "--cores", "2", "-n").stdout
    summary = (wd / "results/summary.tsv").read_bytes()

    # Another table and back: the split is rewritten twice, but no point of the first table retrains.
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame.iloc[::2]
    (wd / "data").mkdir()
    frame.to_csv(wd / "data/other.csv", index=False)
    edit_config(wd, **{"data.source": "data/other.csv", "data.positive_class": 0})
    snakemake(wd, "--cores", "2")
    assert len(list((wd / "results/points").iterdir())) == 6
    edit_config(wd, **{"data.source": "builtin:breast_cancer", "data.positive_class": None})
    assert pack_jobs(snakemake(wd, "--cores", "2", "-n").stdout) == {}
    started = time.time()
    snakemake(wd, "--cores", "2")
    assert trained_points(wd, started) == set()
    assert (wd / "results/summary.tsv").read_bytes() == summary


def test_a_real_error_costs_only_its_point_and_the_run_fails_loudly(tmp_path):
    # Two hidden layers of 3,000,000 neurons need 36 TB: torch's allocator refuses, a real out-of-memory
    # error inside the pack, not a diverging point.
    sweep = {"method": "grid", "parameters": {"hidden_layers": {"value": 2},
                                              "hidden_neurons": {"values": [4, 3000000]}}}
    wd = make_workdir(tmp_path, sweep=sweep)
    p = snakemake(wd, "--cores", "2", "--keep-going", check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert "raised an error" in out and "can't allocate memory" in out
    summary = pd.read_csv(wd / "results/summary.tsv", sep="\t")  # --keep-going: the summary names it
    bad = summary[summary["status"] == "error"]
    assert bad["hidden_neurons"].tolist() == [3000000] and "can't allocate memory" in bad["reason"].item()
    good = summary.loc[summary["status"] == "ok", "point"].item()
    assert (wd / "results/points" / good / "model.pt").is_file()
    log = (wd / "results/logs/train" / f"{bad['point'].item()}.log").read_text()
    assert "Traceback" in log and "RuntimeError" in log
    assert not (wd / "results/best.json").exists()  # no best point, the test split untouched

    # The next run trains the failed point again (and fails again, loudly); the good one is kept.
    (job,) = pack_jobs(snakemake(wd, "--cores", "2", "-n").stdout).values()
    assert len(job["points"]) == 2
    kept = (wd / "results/points" / good / "metrics.json").read_bytes()
    started = time.time()
    p = snakemake(wd, "--cores", "2", check=False)
    assert p.returncode != 0 and "raised an error" in p.stdout + p.stderr
    assert trained_points(wd, started) == {bad["point"].item()}
    assert (wd / "results/points" / good / "metrics.json").read_bytes() == kept
    assert len((wd / "results/points" / bad["point"].item() / "errors.log").read_text().splitlines()) == 2


def test_a_pack_killed_midway_keeps_the_points_it_finished(tmp_path):
    # As the kernel's OOM killer or a scheduler would: SIGKILL to the pack alone, Snakemake survives,
    # sees the job fail and removes the files it declared. The finished points come back untrained.
    sweep = {"method": "grid", "parameters": {"max_epochs": {"values": [1, 2, 100000]}}}
    wd = make_workdir(tmp_path, sweep=sweep)
    run = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=wd,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    kept = wait_for_kept(wd, 2)
    assert len(kept) == 2, "the pack did not finish its quick points in time"
    pids = processes_in(wd, b"train_pack.py")
    assert pids, "no pack process found"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    out, _ = run.communicate(timeout=120)
    assert run.returncode != 0
    assert "Removing output files of failed job" in out
    assert not any((wd / "results/points" / p / "metrics.json").exists() for p in kept)

    edit_config(wd, **{"sweep.file": "config/tiny-sweep.yaml"})
    (wd / "config/tiny-sweep.yaml").write_text(json.dumps(
        {"method": "grid", "parameters": {"max_epochs": {"values": [1, 2, 3]}}}))
    # The slow point is now a quicker one (another id): the pack's two finished points are restored.
    started = time.time()
    snakemake(wd, "--cores", "2")
    assert trained_points(wd, started) == set(os.listdir(wd / "results/points")) - set(kept)
    for point, data in kept.items():
        assert (wd / "results/points" / point / "metrics.json").read_bytes() == data
    logs = "".join(f.read_text() for f in (wd / "results/logs/packs").glob("*.log"))
    assert logs.count("kept from an earlier attempt") == 2


