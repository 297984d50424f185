"""End to end: a W&B sweep's own program run per point by the real workflow, offline, as W&B's agent
would run it: random and bayes, what reaches wandb.config, values that hold shell metacharacters, and
the status of a program that crashes, hangs or never logs the metric."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from e2e import REPO, crate_validates, make_workdir, snakemake

PROGRAM = """\
import json, os, sys, time
import wandb
run = wandb.init()
cfg = dict(wandb.config)
with open(os.path.join(os.environ["WANDB_DIR"], "received.json"), "w") as fh:
    json.dump({"config": cfg, "argv": sys.argv, "mode": os.environ.get("WANDB_MODE")}, fh)
behaviour = cfg.get("behaviour", "ok")
if behaviour == "crash":
    sys.exit(3)
if behaviour == "hang":
    time.sleep(600)
for step in range(3):
    score = -abs(cfg["lr"] - 0.01) * (step + 1) + cfg["model"]["depth"]
    wandb.log({"other": step} if behaviour == "nometric" else {"score": score})
run.finish()
"""
NOTE = "a;b $(touch pwned) `touch pwned2` | rm -rf x"
SPEC = {"program": "own/train.py", "command": ["${env}", "${interpreter}", "${program}", "${args}"],
        "method": "random", "metric": {"name": "score", "goal": "maximize"},
        "parameters": {"lr": {"distribution": "log_uniform_values", "min": 0.001, "max": 0.1},
                       "model": {"parameters": {"depth": {"values": [1, 2, 3]}}},
                       "note": {"value": NOTE}}}


def own_workdir(tmp_path, spec=SPEC, points=4, **changes):
    wd = make_workdir(tmp_path, points=points, sweep=spec, **changes)
    (wd / "own").mkdir()
    (wd / "own/train.py").write_text(PROGRAM)
    return wd


def received(wd, point):
    """What the program saw, from the file it wrote into its WANDB_DIR: the point's folder (in a round,
    the folder of the point's stage inside it)."""
    (path,) = (wd / "results/points" / point).rglob("received.json")
    return json.loads(path.read_text())


def test_a_random_sweep_runs_the_program_per_point_offline_as_the_agent_would(tmp_path):
    wd = own_workdir(tmp_path)
    p = snakemake(wd, "--cores", "2")
    assert "prepare_data" not in p.stdout + p.stderr  # the built-in model's rules do not run
    assert not (wd / "results/data").exists() and not (wd / "results/split").exists()
    s = pd.read_csv(wd / "results/summary.tsv", sep="\t", dtype={"point": str})
    assert list(s.columns[:5]) == ["point", "lr", "model.depth", "note", "score"]
    assert len(s) == 4 and (s["status"] == "ok").all() and s["score"].is_monotonic_decreasing
    for _, row in s.iterrows():
        got = received(wd, row["point"])
        # wandb.config holds the point's values in the sweep's nesting; the argv is W&B's ${args}.
        assert got["config"] == {"lr": row["lr"], "model": {"depth": row["model.depth"]}, "note": NOTE}
        assert got["mode"] == "offline"
        assert got["argv"][1:] == [f"--lr={row['lr']}", f"--model={{'depth': {row['model.depth']}}}", f"--note={NOTE}"]
        assert row["score"] == pytest.approx(-abs(row["lr"] - 0.01) * 3 + row["model.depth"])
    assert not list(wd.rglob("pwned*"))
    best = json.loads((wd / "results/best.json").read_text())
    assert best["point"] == s.loc[0, "point"] and best["chosen_by"]["metric"] == "score"
    for plot in ("metric_by_param.svg", "top_learning_curves.svg"):
        assert (wd / "results/plots" / plot).stat().st_size > 1000
    # The run's crate holds the program and validates as a Provenance Run Crate.
    crate_validates(wd, tmp_path)
    assert (wd / "results/crate/own/train.py").read_text() == PROGRAM
    # Nothing to do on a second run; an edited program is a new program: every point runs again.
    assert "Nothing to be done" in (lambda r: r.stdout + r.stderr)(snakemake(wd, "--cores", "2", "-n"))
    (wd / "own/train.py").write_text(PROGRAM + "# edited\n")
    again = pd.read_csv(wd / "results/sweep/points.tsv", sep="\t", dtype={"point": str})
    snakemake(wd, "--cores", "2")
    after = pd.read_csv(wd / "results/sweep/points.tsv", sep="\t", dtype={"point": str})
    assert not set(after["point"]) & set(again["point"])


def test_bayes_rounds_propose_from_the_programs_metric(tmp_path):
    spec = {**SPEC, "method": "bayes"}
    wd = own_workdir(tmp_path, spec=spec, **{"sweep.round_size": 2})
    snakemake(wd, "--cores", "2")
    s = pd.read_csv(wd / "results/summary.tsv", sep="\t", dtype={"point": str})
    assert len(s) == 4 and sorted(s["round"]) == [0, 0, 1, 1] and (s["status"] == "ok").all()
    for _, row in s.iterrows():
        assert received(wd, row["point"])["config"]["lr"] == row["lr"]
    crate_validates(wd, tmp_path)  # rounds: the points come from the rounds' jobs
    graph = json.loads((wd / "results/crate/ro-crate-metadata.json").read_text())["@graph"]
    assert {f"results/points/{p}/metrics.json" for p in s["point"]} <= {e["@id"] for e in graph}
    assert "Nothing to be done" in (lambda r: r.stdout + r.stderr)(snakemake(wd, "--cores", "2", "-n"))


def test_a_crash_a_hang_and_a_missing_metric_each_fail_with_a_clear_reason(tmp_path):
    spec = {**SPEC, "method": "grid",
            "parameters": {"lr": {"value": 0.01}, "model": {"parameters": {"depth": {"value": 1}}},
                           "behaviour": {"values": ["ok", "crash", "hang", "nometric"]}}}
    wd = own_workdir(tmp_path, spec=spec, **{"program.timeout": 8, "program.pack_size": 4})
    snakemake(wd, "--cores", "2")
    s = pd.read_csv(wd / "results/summary.tsv", sep="\t").set_index("behaviour")
    assert s.loc["ok", "status"] == "ok"
    assert s.loc["crash", "status"] == "failed" and "exited with status 3" in s.loc["crash", "reason"]
    assert s.loc["hang", "status"] == "failed" and "ran past its timeout of 8 s" in s.loc["hang", "reason"]
    assert s.loc["nometric", "status"] == "failed"
    assert "never logged the metric 'score' (keys it logged: other)" in s.loc["nometric", "reason"]


def test_the_example_own_program_runs_end_to_end(tmp_path):
    wd = make_workdir(tmp_path)
    shutil.rmtree(wd / "config/examples")
    shutil.copytree(REPO / "config/examples", wd / "config/examples")
    args = ("--cores", "2", "--configfile", "config/examples/own-program/config.yaml")
    snakemake(wd, *args, "-n")
    snakemake(wd, *args)
    s = pd.read_csv(wd / "results/summary.tsv", sep="\t")
    assert len(s) == 8 and (s["status"] == "ok").all() and s["val_auc"].is_monotonic_decreasing
    assert s["val_auc"].between(0.5, 1).all()


BAD_COMMANDS = [(["${env}", "${interpreter}", "${program}", "--x=${envvar:NO_SUCH_VAR_X}"], "NO_SUCH_VAR_X"),
                (["${interpreter}", "${program}", "${arg}"], "${arg}")]


@pytest.mark.parametrize(("command", "named"), BAD_COMMANDS)
def test_a_command_that_cannot_run_is_refused_before_any_job(tmp_path, command, named):
    wd = own_workdir(tmp_path, spec={**SPEC, "command": command})
    p = snakemake(wd, "--cores", "2", check=False)
    assert p.returncode != 0 and named in p.stdout + p.stderr
    assert not (wd / "results/points").exists()
