"""Tests for snakesweep.tracking: real offline W&B runs, read back from their .wandb files."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import wandb  # noqa: F401 - a dependency: missing, these tests must fail, not skip

from snakesweep import tracking
from snakesweep.tracking import (
    WandbTracker,
    model_artifact_name,
    offline_runs,
    run_id,
    sync_offline_runs,
)
from snakesweep.wandb_reader import read_offline_run

POINT = "3f9a0c1b2d4e"
FAKE_KEY = "snkswpFAKEkey" + "0123456789abcdef" * 2  # 45 chars, unique marker
TRAIN = [0.75, 0.5, 0.25]
VAL = [0.875, 0.625, 0.5]
CONFIG = {"lr": 0.01, "hidden": [16, 8], "engine": "torch", "seed": 7}
MODEL_BYTES = b"\x00snakesweep-weights" * 64


@pytest.fixture
def sandbox(wandb_sandbox, tmp_path, monkeypatch):
    """The W&B sandbox (conftest.py) with a fresh CWD and TMPDIR inside tmp_path and a fake API key set."""
    home, cwd, tmp = wandb_sandbox.home, tmp_path / "cwd", tmp_path / "tmp"
    for d in (cwd, tmp):
        d.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
    monkeypatch.chdir(cwd)
    yield SimpleNamespace(root=tmp_path, home=home, cwd=cwd, tmp=tmp, run_dir=tmp_path / "results" / POINT)
    if "wandb" in sys.modules:  # never leave a service behind for the next test
        sys.modules["wandb"].teardown()


def _train(
    run_dir: Path,
    point: str = POINT,
    *,
    log_model: bool = True,
    config: dict | None = None,
    exit_code: int = 0,
) -> WandbTracker:
    """What a training script does: 3 epochs, then summary + model file."""
    tracker = WandbTracker(
        point=point,
        run_dir=run_dir,
        config=config or CONFIG,
        group="demo-sweep",
        tags=["unit"],
        log_model=log_model,
    )
    for epoch in range(3):
        # numpy scalars, as produced by sklearn metrics / tensor.item() mixes, are accepted
        tracker.log_epoch(epoch, {"train_loss": np.float32(TRAIN[epoch]), "val_loss": VAL[epoch]})
    model = run_dir / "model.pt"
    model.write_bytes(MODEL_BYTES)
    tracker.finish({"val_roc_auc": 0.9375, "best_epoch": 2}, model_path=model, exit_code=exit_code)
    return tracker


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


# ------------------------------------------------------------------------------------------ run ids
def test_run_id_is_deterministic_and_distinct():
    assert run_id(POINT, "snakesweep") == run_id(POINT, "snakesweep")
    assert run_id(POINT, "snakesweep") != run_id("0123456789ab", "snakesweep")
    assert run_id(POINT, "snakesweep") != run_id(POINT, "other-project")
    rid = run_id(POINT, "snakesweep")
    assert rid.startswith(POINT) and len(rid) <= 64
    assert not set(rid) & set(":;,#?/' ")
    assert len(run_id("a/b:c" * 40, "p")) <= 64
    with pytest.raises(ValueError):
        run_id("", "p")


def test_invalid_mode_rejected(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        WandbTracker(point=POINT, run_dir=tmp_path, config={}, mode="sometimes")


def test_module_import_is_light():
    """Importing the module must not import wandb, torch, lightning or snakemake."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('tracking_probe', {str(Path(tracking.__file__))!r})\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        "heavy = [m for m in ('wandb', 'torch', 'lightning', 'snakemake') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    assert importlib.util.find_spec("snakesweep.tracking") is not None
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------------------- offline round trip
def test_offline_run_round_trip(sandbox):
    tracker = _train(sandbox.run_dir)
    assert tracker.run_id == run_id(POINT, "snakesweep")
    assert tracker.run_path.parent == sandbox.run_dir / "wandb"
    assert tracker.run_path.name.startswith("offline-run-")
    assert tracker.run_file.is_file() and tracker.run_file.name == f"run-{tracker.run_id}.wandb"
    assert tracker.init_seconds < 60

    run = read_offline_run(tracker.run_file)
    assert run["run_id"] == tracker.run_id
    assert run["project"] == "snakesweep"
    assert run["group"] == "demo-sweep"
    assert run["name"] == POINT
    assert run["tags"] == ["unit"]
    assert {k: run["config"][k] for k in CONFIG} == CONFIG
    assert run["exit_code"] == 0

    rows = [r for r in run["history"] if "train_loss" in r]
    assert [r["_step"] for r in rows] == [0, 1, 2]
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    assert [r["train_loss"] for r in rows] == pytest.approx(TRAIN)
    assert [r["val_loss"] for r in rows] == pytest.approx(VAL)

    assert run["summary"]["val_roc_auc"] == pytest.approx(0.9375)
    assert run["summary"]["best_epoch"] == 2
    assert run["summary"]["val_loss"] == pytest.approx(VAL[-1])

    (art,) = run["artifacts"]
    assert art["name"] == model_artifact_name(POINT) == f"model-{POINT}"
    assert art["type"] == "model"
    assert "latest" in art["aliases"]
    assert art["metadata"]["point"] == POINT
    (entry,) = art["files"]
    assert entry["path"] == "model.pt" and entry["size"] == len(MODEL_BYTES)
    staged = Path(entry["local_path"])  # the copy `wandb sync` will upload, kept under run_dir
    assert staged.is_relative_to(sandbox.run_dir) and staged.read_bytes() == MODEL_BYTES

    # a run folder is accepted too
    assert read_offline_run(tracker.run_path)["run_id"] == tracker.run_id


def test_large_record_spanning_blocks(sandbox):
    """Records larger than a 32 KiB block are split FIRST/MIDDLE/LAST; the reader reassembles them."""
    blob = "0123456789abcdef" * 6000  # ~96 KiB
    tracker = _train(sandbox.run_dir, config={**CONFIG, "blob": blob}, log_model=False)
    run = read_offline_run(tracker.run_file)
    assert run["config"]["blob"] == blob
    assert [r["val_loss"] for r in run["history"] if "val_loss" in r] == pytest.approx(VAL)
    assert run["artifacts"] == []


def test_reader_tolerates_torn_and_corrupt_files(sandbox, tmp_path):
    tracker = _train(sandbox.run_dir, log_model=False)
    data = tracker.run_file.read_bytes()
    full = read_offline_run(tracker.run_file)

    torn = tmp_path / "torn.wandb"
    torn.write_bytes(data[: len(data) - 40])  # crash mid-write
    run = read_offline_run(torn)
    assert run["run_id"] == tracker.run_id and run["exit_code"] is None
    assert run["n_records"] < full["n_records"]

    corrupt = bytearray(data)
    corrupt[len(data) // 2] ^= 0xFF
    bad = tmp_path / "corrupt.wandb"
    bad.write_bytes(bytes(corrupt))
    assert read_offline_run(bad)["run_id"] == tracker.run_id  # records before the damage survive

    junk = tmp_path / "junk.wandb"
    junk.write_bytes(b"not a wandb file at all")
    with pytest.raises(ValueError):
        read_offline_run(junk)


# ------------------------------------------------------------------------------ ids across reruns
def test_same_point_resumes_same_id_different_points_differ(sandbox):
    first = _train(sandbox.run_dir)
    rerun = _train(sandbox.run_dir)
    other_dir = sandbox.root / "results" / "0123456789ab"
    other = _train(other_dir, point="0123456789ab")

    assert first.run_id == rerun.run_id != other.run_id
    assert first.run_path != rerun.run_path  # two offline folders (same id) -> sync resumes one run
    ids = {p: read_offline_run(p)["run_id"] for p in offline_runs(sandbox.root / "results")}
    assert sorted(ids.values()) == sorted([first.run_id, first.run_id, other.run_id])
    # chronological order within the rerun point's folder
    assert offline_runs(sandbox.run_dir) == [first.run_path, rerun.run_path]


# ----------------------------------------------------------------------------------------- isolation
def test_everything_stays_under_run_dir(sandbox):
    before = _files(sandbox.root)
    tracker = _train(sandbox.run_dir)
    created = _files(sandbox.root) - before
    outside = sorted(p for p in created if not p.is_relative_to(sandbox.run_dir) and p != sandbox.run_dir)
    assert outside == [p for p in (sandbox.root / "results",) if p in created]  # just the parent folder
    for d in (sandbox.home, sandbox.cwd, sandbox.tmp):
        assert list(d.iterdir()) == [], f"wandb wrote into {d}"
    # symlinks wandb makes (latest-run, debug*.log, debug-core.log) resolve inside run_dir as well
    for p in sandbox.run_dir.rglob("*"):
        if p.is_symlink():
            assert p.resolve().is_relative_to(sandbox.run_dir.resolve()), p
    # the process env is restored after finish
    for key in (
        "WANDB_DIR",
        "WANDB_DATA_DIR",
        "WANDB_CACHE_DIR",
        "WANDB_CONFIG_DIR",
        "WANDB_ARTIFACT_DIR",
        "WANDB_SILENT",
    ):
        assert key not in os.environ
    assert os.environ["WANDB_API_KEY"] == FAKE_KEY
    assert not tracker.active


def test_api_key_never_written(sandbox):
    _train(sandbox.run_dir)
    needle = FAKE_KEY.encode()
    leaked = [
        p for p in sandbox.root.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()
    ]
    assert leaked == []


def test_disabled_mode_is_a_noop(sandbox):
    model = sandbox.tmp / "model.pt"
    model.write_bytes(MODEL_BYTES)
    before = _files(sandbox.root)
    with WandbTracker(
        point=POINT, run_dir=sandbox.run_dir, config=CONFIG, mode="disabled", log_model=True
    ) as tracker:
        assert not tracker.active and tracker.run is None and tracker.run_file is None
        tracker.log_epoch(0, {"train_loss": 1.0})
        tracker.finish({"val_roc_auc": 0.5}, model_path=model)
        tracker.finish({})  # idempotent
    assert _files(sandbox.root) == before
    assert not sandbox.run_dir.exists()
    assert "WANDB_DIR" not in os.environ


def test_context_manager_marks_failure(sandbox):
    with (
        pytest.raises(RuntimeError, match="boom"),
        WandbTracker(point=POINT, run_dir=sandbox.run_dir, config=CONFIG) as tracker,
    ):
        tracker.log_epoch(0, {"train_loss": 1.0, "val_loss": 2.0})
        raise RuntimeError("boom")
    run = read_offline_run(tracker.run_file)
    assert run["exit_code"] == 1
    assert run["history"][0]["train_loss"] == 1
    assert "WANDB_DIR" not in os.environ


def test_missing_model_file_still_closes_run(sandbox):
    tracker = WandbTracker(point=POINT, run_dir=sandbox.run_dir, config=CONFIG, log_model=True)
    tracker.log_epoch(0, {"train_loss": 1.0})
    with pytest.raises(FileNotFoundError):
        tracker.finish({"val_roc_auc": 0.5}, model_path=sandbox.run_dir / "nope.pt")
    run = read_offline_run(tracker.run_file)
    assert run["exit_code"] == 0 and run["artifacts"] == []
    assert "WANDB_DIR" not in os.environ


# ------------------------------------------------------------------------------------- sync later
def test_sync_offline_runs(sandbox, monkeypatch):
    assert offline_runs(sandbox.root / "missing") == []
    a = _train(sandbox.run_dir)
    b = _train(sandbox.root / "results" / "0123456789ab", point="0123456789ab")
    root = sandbox.root / "results"

    cmds = sync_offline_runs(root, dry_run=True)
    assert len(cmds) == 2
    assert all(" sync " in c for c in cmds)
    assert any(str(a.run_path) in c for c in cmds) and any(str(b.run_path) in c for c in cmds)
    assert not any("latest-run" in c or FAKE_KEY in c for c in cmds)

    calls = []

    def fake_run(cmd, check=False):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(tracking.subprocess, "run", fake_run)
    assert sync_offline_runs(root) == cmds and len(calls) == 2

    # already-synced runs are skipped
    (a.run_path / f"run-{a.run_id}.wandb.synced").write_text("")
    assert sync_offline_runs(root, dry_run=True) == [c for c in cmds if str(b.run_path) in c]

    monkeypatch.setattr(
        tracking.subprocess, "run", lambda cmd, check=False: subprocess.CompletedProcess(cmd, 1)
    )
    with pytest.raises(RuntimeError, match="wandb sync failed"):
        sync_offline_runs(root)
