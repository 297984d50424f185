"""A training pack imports only what training needs: start-up is most of a small point's cost."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from snakesweep.prepare import prepare_data, split_data

PROBE = """
import json, sys
from snakesweep.runner import run_pack
from snakesweep.hparams import HPARAMS
hp = {k: v.default for k, v in HPARAMS.items()} | {"engine": sys.argv[1], "max_epochs": 1}
d = sys.argv[2]
members = [{"point": f"{i:012x}", "hparams": {**hp, "seed": i}, "params": {"seed": i}} for i in range(2)]
lines = run_pack(pack="0" * 12, members=members, train=d + "/train.npz", val=d + "/val.npz",
                 labels=d + "/labels.json", threads=1, logs_dir=d + "/logs",
                 metrics_files=[f"{d}/points/{m['point']}/metrics.json" for m in members])
assert [x["status"] for x in lines] == ["ok", "ok"], lines
print(json.dumps(sorted(m for m in sys.modules if "." not in m)))
"""


@pytest.fixture(scope="module")
def split_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("lean")
    prepare_data(source="builtin:breast_cancer", target="target", positive_class=None, exclude=[],
                 drop_missing=False, sha256=None, max_download_mb=1, resources=str(d),
                 table_out=str(d / "table.tsv"), labels_out=str(d / "labels.json"))
    split_data(table=str(d / "table.tsv"), labels=str(d / "labels.json"),
               fractions={"train": 0.6, "val": 0.2, "test": 0.2}, seed=1, standardize=True,
               outputs={k: str(d / f"{k}.npz") for k in ("train", "val", "test")}
               | {"assignment": str(d / "a.tsv"), "scaler": str(d / "s.json")})
    return d


@pytest.mark.parametrize(("engine", "forbidden"), [
    # matplotlib draws the points' learning curves in the pack: one import instead of a process per curve.
    ("torch", {"pandas", "seaborn", "sklearn", "lightning", "scipy", "wandb", "snakemake"}),
    ("lightning", {"pandas", "seaborn", "sklearn", "wandb", "snakemake"}),
])
def test_training_job_imports(split_dir: Path, engine, forbidden):
    p = subprocess.run([sys.executable, "-c", PROBE, engine, str(split_dir)], capture_output=True, text=True,
                       check=True)
    loaded = set(json.loads(p.stdout.strip().splitlines()[-1]))
    assert "torch" in loaded
    assert not loaded & forbidden, loaded & forbidden
