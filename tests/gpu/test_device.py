"""On a CUDA GPU: bit-identical reruns of both engines, and the workflow's GPU path end to end.

Run where a GPU is: `python -m pytest -m gpu`. Elsewhere these are skipped:
a GPU is hardware the CI machines do not have, not a dependency that could be installed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch
from e2e import REPO, edit_config, make_workdir, snakemake

pytestmark = [pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_gpu_reruns_are_bit_identical_for_both_engines(tmp_path):
    out = tmp_path / "gpu.jsonl"
    subprocess.run([sys.executable, str(REPO / "benchmarks/gpu_check.py"), "--rows", "50000", "--out", str(out)],
                   check=True)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    engines = [line for line in lines if "engine" in line]
    assert {line["engine"] for line in engines} == {"torch", "lightning"}
    for line in engines:
        assert line["deterministic"] is True
        assert line["gpu_reruns_identical"] is True, line
        assert line["gpu_vs_cpu_max_abs_diff"] < 1e-3, line  # the same model, up to float rounding


def test_the_workflow_trains_on_the_gpu_and_auto_finds_the_same_points(tmp_path):
    wd = make_workdir(tmp_path, points=4, **{"train.accelerator": "gpu"})
    snakemake(wd, "--cores", "4", "--resources", "gpu=1")
    summary = pd.read_csv(wd / "results/summary.tsv", sep="\t")
    assert (summary["status"] == "ok").all()
    assert summary["device"].str.contains("NVIDIA").all()
    for log in (wd / "results/logs/train").glob("*.log"):
        assert "accelerator gpu" in log.read_text()
    # 'auto' on a machine with a GPU means 'gpu': the same ids, so nothing to retrain.
    edit_config(wd, **{"train.accelerator": "auto"})
    p = snakemake(wd, "--cores", "4", "--resources", "gpu=1", "-n")
    assert "Nothing to be done" in p.stdout + p.stderr
