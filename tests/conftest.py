"""Shared pytest hooks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

CLUSTER = Path(__file__).parent / "slurm" / "cluster.sh"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed cluster test shows the SLURM daemons' logs beside its own output."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and item.get_closest_marker("slurm") is not None:
        logs = subprocess.run(["bash", str(CLUSTER), "logs"], capture_output=True, text=True, timeout=60)
        report.sections.append(("SLURM daemons' logs (tests/slurm/cluster.sh logs)", logs.stdout + logs.stderr))


# Training tests (test_train.py, test_resume.py): the workflow's own prepared and split built-in data,
# its splits in memory, and torch's global state put back after each test (they use it as a mark).


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    """The workflow's own prepare and split jobs on the built-in data, with the default split."""
    from snakesweep import jobs

    d = tmp_path_factory.mktemp("data")
    jobs.prepare_data(source="builtin:breast_cancer", target="target", positive_class=None, exclude=[],
                      drop_missing=False, sha256=None, max_download_mb=100, resources=str(d / "resources"),
                      table_out=str(d / "table.tsv"), labels_out=str(d / "labels.json"))
    outputs = {s: str(d / f"{s}.npz") for s in ("train", "val", "test")}
    outputs |= {"assignment": str(d / "assignment.tsv"), "scaler": str(d / "scaler.json")}
    jobs.split_data(table=str(d / "table.tsv"), labels=str(d / "labels.json"),
                    fractions={"train": 0.6, "val": 0.2, "test": 0.2}, seed=42, standardize=True, outputs=outputs)
    return {**outputs, "labels": str(d / "labels.json"),
            "features": json.loads((d / "labels.json").read_text())["features"]}


@pytest.fixture
def restore_torch_state():
    """Train on one thread, as the jobs do (tiny batches only lose from more); run_point and Lightning
    switch torch to deterministic mode and set its thread count: undo all of that afterwards."""
    import torch

    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.set_num_threads(threads)


@pytest.fixture
def splits(prepared):
    from snakesweep.kernel import load_split

    return load_split(prepared["train"]), load_split(prepared["val"])
