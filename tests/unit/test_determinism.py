"""The scientific contract: training runs deterministically, on the threads asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

# --- the scientific contract: code and determinism -----------------------------------------------------


PROBE = """
import json, os, sys
import torch
from snakesweep import engine_torch, train
seen = {}
real = engine_torch.fit_torch
def spy(*args, **kwargs):
    seen["deterministic"] = torch.are_deterministic_algorithms_enabled()
    seen["cublas"] = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    seen["threads"] = torch.get_num_threads()
    return real(*args, **kwargs)
engine_torch.fit_torch = spy
out = sys.argv[1]
record = train.run_point(point="p", hp=json.loads(sys.argv[2]), train_path=out + "/train.npz",
                         val_path=out + "/val.npz", features=["a", "b", "c"], threads=1,
                         model_out=out + "/m.pt", history_out=out + "/h.csv", metrics_out=out + "/m.json")
print(json.dumps({**seen, "recorded": record["deterministic"]}))
"""


def test_training_runs_with_deterministic_algorithms_and_cublas_workspace(tmp_path):
    from snakesweep.hparams import HPARAMS

    rng = np.random.default_rng(0)
    for name, n in (("train", 60), ("val", 20)):
        y = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(np.float32)
        np.savez(tmp_path / f"{name}.npz", x=rng.normal(size=(n, 3)).astype(np.float32), y=y)
    hp = {k: v.default for k, v in HPARAMS.items()} | {"engine": "torch", "max_epochs": 1}
    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    p = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), json.dumps(hp)], capture_output=True,
                       text=True, env=env, check=True)
    seen = json.loads(p.stdout.strip().splitlines()[-1])
    assert seen == {"deterministic": True, "cublas": ":4096:8", "threads": 1, "recorded": True}
