"""Fixtures of the unit tier: the workflow's own prepared data and split, torch's global state put back
after each test, and a W&B sandbox (no inherited W&B settings or credentials, a fresh HOME)."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest


@pytest.fixture
def wandb_sandbox(tmp_path, monkeypatch):
    """A fresh HOME inside tmp_path, no inherited WANDB_* or XDG_* variables: nothing of the user's W&B
    settings, credentials or caches reaches a test, and nothing a test writes reaches them."""
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if key.startswith("WANDB_"):
            monkeypatch.delenv(key)
    for key in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    return SimpleNamespace(root=tmp_path, home=home)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict:
    """The workflow's own prepare and split jobs on the built-in data, with the default split."""
    from snakesweep import prepare

    d = tmp_path_factory.mktemp("data")
    prepare.prepare_data(source="builtin:breast_cancer", target="target", positive_class=None, exclude=[],
                         drop_missing=False, sha256=None, max_download_mb=100, resources=str(d / "resources"),
                         table_out=str(d / "table.tsv"), labels_out=str(d / "labels.json"))
    outputs = {s: str(d / f"{s}.npz") for s in ("train", "val", "test")}
    outputs |= {"assignment": str(d / "assignment.tsv"), "scaler": str(d / "scaler.json")}
    prepare.split_data(table=str(d / "table.tsv"), labels=str(d / "labels.json"),
                       fractions={"train": 0.6, "val": 0.2, "test": 0.2}, seed=42, standardize=True,
                       outputs=outputs)
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
