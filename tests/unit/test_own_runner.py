"""An own program's pack: each point run once through the W&B agent's contract, its record and metric
history written as the built-in trainer's are, complete points kept, the summary ranked by the
program's own metric."""

from __future__ import annotations

import json

import pytest

from snakesweep import SnakesweepError
from snakesweep.own import program_context, run_own_pack
from snakesweep.summary import program_table
from snakesweep.sweep import expand, parse_spec

PROGRAM = """\
import wandb
run = wandb.init()
lr = wandb.config["lr"]
if wandb.config["mode"] == "crash":
    raise SystemExit(4)
for step in range(3):
    wandb.log({"score": -abs(lr - 0.01) * (step + 1)})
run.finish()
"""
SPEC = {"program": "train.py", "method": "grid", "metric": {"name": "score", "goal": "maximize"},
        "parameters": {"lr": {"values": [0.001, 0.01, 0.1]}, "mode": {"values": ["ok"]}}}


@pytest.fixture
def project(wandb_sandbox, tmp_path):
    """The program in the W&B sandbox (conftest.py)."""
    (tmp_path / "train.py").write_text(PROGRAM)
    return tmp_path


def _pack(project, points, **kw):
    files = [str(project / "results/points" / p.id / "metrics.json") for p in points]
    lines = run_own_pack(pack="p", members=points, metrics_files=files, spec_program="train.py", spec_command=None,
                         metric="score", workdir=str(project), logs_dir=str(project / "results/logs/own"),
                         sweep_id="sweep", timeout_s=60, **kw)
    return lines, [json.loads(open(f).read()) for f in files]


def test_a_pack_runs_each_point_once_and_keeps_complete_ones(project):
    spec = parse_spec(SPEC, "sweep.yaml")
    points = expand(spec, count=1, seed=0, defaults={}, context=program_context(spec, workdir=".", base=project))
    lines, records = _pack(project, points)
    assert [line["status"] for line in lines] == ["ok"] * 3
    for rec in records:
        assert rec["config_received"]["lr"] == rec["params"]["lr"]
        assert rec["score"] == pytest.approx(-abs(rec["params"]["lr"] - 0.01) * 3)
    history = (project / "results/points" / points[0].id / "history.csv").read_text().splitlines()
    assert history[0] == "step,score" and len(history) == 4
    table = program_table(records, spec.names, "score", "maximize")
    assert list(table["lr"]) == [0.01, 0.001, 0.1] and list(table.columns[:3]) == ["point", "lr", "mode"]
    assert table["score"].is_monotonic_decreasing
    again, _ = _pack(project, points)
    assert [line["status"] for line in again] == ["complete already"] * 3


def test_a_failing_program_is_a_failed_point_ranked_last(project):
    spec = parse_spec({**SPEC, "parameters": {"lr": {"values": [0.01]}, "mode": {"values": ["ok", "crash"]}}},
                      "sweep.yaml")
    points = expand(spec, count=1, seed=0, defaults={}, context=program_context(spec, workdir=".", base=project))
    lines, records = _pack(project, points)
    crashed = next(r for r in records if r["params"]["mode"] == "crash")
    assert crashed["status"] == "failed" and "status 4" in crashed["reason"] and crashed["score"] is None
    table = program_table(records, spec.names, "score", "maximize")
    assert list(table["status"]) == ["ok", "failed"]


def test_the_program_file_is_part_of_every_point_id(project):
    spec = parse_spec(SPEC, "sweep.yaml")
    before = expand(spec, count=1, seed=0, defaults={}, context=program_context(spec, workdir=".", base=project))
    (project / "train.py").write_text(PROGRAM + "# edited\n")
    after = expand(spec, count=1, seed=0, defaults={}, context=program_context(spec, workdir=".", base=project))
    assert not {p.id for p in before} & {p.id for p in after}
    with pytest.raises(SnakesweepError, match=r"program 'missing\.py' does not exist"):
        program_context(parse_spec({**SPEC, "program": "missing.py"}, "s"), workdir=".", base=project)
