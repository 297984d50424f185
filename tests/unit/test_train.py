"""Tests for the training kernel and its two engines (engine_torch, engine_lightning), on the real breast-cancer
data."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from snakesweep.engine_torch import fit_torch
from snakesweep.hparams import HPARAMS
from snakesweep.intervals import row_losses
from snakesweep.io import read_scores
from snakesweep.kernel import (
    batch_generator,
    epoch_batches,
    load_model,
    load_split,
    predict,
    write_history,
)
from snakesweep.metrics import roc_auc
from snakesweep.records import RUN_FIELDS
from snakesweep.train import run_point

# prepared, splits and restore_torch_state: tests/conftest.py
pytestmark = pytest.mark.usefixtures("restore_torch_state")

DEFAULTS = {k: v.default for k, v in HPARAMS.items()}
TIMING_KEYS = {"train_seconds", "startup_seconds"}
assert set(RUN_FIELDS) >= TIMING_KEYS
CPU = torch.device("cpu")




def fit(engine: str, hp: dict, train, val, **kw):
    if engine == "lightning":
        from snakesweep.engine_lightning import fit_lightning

        return fit_lightning(hp, train, val, CPU, **kw)
    return fit_torch(hp, train, val, CPU, **kw)


def test_splits_are_the_expected_size(splits):
    train, val = splits
    # Per class: round(357 * 0.2) = 71 and round(212 * 0.2) = 42 rows go to val (and to test).
    assert train.x.shape == (343, 30) and val.x.shape == (113, 30)
    assert train.x.dtype == torch.float32 and train.y.dtype == torch.float32
    assert int(train.y.sum()) == 128 and int(val.y.sum()) == 42


@pytest.mark.parametrize("engine", ["torch", "lightning"])
def test_default_hparams_learn_the_data(engine, splits):
    rows = []
    result = fit(engine, DEFAULTS, *splits, on_epoch=rows.append)
    assert result.status == "ok" and result.reason == ""
    assert [r["epoch"] for r in result.history] == list(range(1, 11))
    assert rows == result.history
    assert result.history[-1]["val_roc_auc"] >= 0.98
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.history[-1]["val_loss"] < result.history[0]["val_loss"]
    assert result.val_scores.shape == (113,)
    assert roc_auc(splits[1].y.numpy(), result.val_scores) == result.history[-1]["val_roc_auc"]
    assert result.first_step_at is not None and result.train_seconds > 0


def test_engines_give_identical_history_and_weights(splits):
    a = fit("torch", DEFAULTS, *splits)
    b = fit("lightning", DEFAULTS, *splits)
    assert len(a.history) == len(b.history) == 10
    assert a.history == b.history  # the same floats, not merely close ones
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert np.array_equal(a.val_scores, b.val_scores)


@pytest.mark.parametrize("engine", ["torch", "lightning"])
def test_fit_is_repeatable_and_seed_dependent(engine, splits):
    hp = {**DEFAULTS, "max_epochs": 3}
    a, b = fit(engine, hp, *splits), fit(engine, hp, *splits)
    c = fit(engine, {**hp, "seed": 7}, *splits)
    assert a.history == b.history
    assert a.history != c.history


@pytest.mark.parametrize("engine", ["torch", "lightning"])
def test_engines_agree_on_other_hparams(engine, splits):
    hp = {**DEFAULTS, "hidden_layers": 2, "hidden_neurons": 6, "activation": "tanh", "optimizer": "rmsprop",
          "batch_size": 50, "max_epochs": 3, "weight_decay": 0.01, "seed": 3}
    assert fit(engine, hp, *splits).history == fit("torch", hp, *splits).history


def run(prepared, out: Path, hp: dict, point: str = "abcdef012345") -> dict:
    out.mkdir(parents=True, exist_ok=True)
    record = run_point(point=point, hp=hp, train_path=prepared["train"], val_path=prepared["val"],
                       features=prepared["features"], threads=1, model_out=out / "model.pt",
                       history_out=out / "history.csv", metrics_out=out / "metrics.json",
                       scores_out=out / "val_scores.tsv")
    return record


@pytest.mark.parametrize("engine", ["lightning", "torch"])
def test_run_point_is_bit_identical(engine, prepared, tmp_path):
    hp = {**DEFAULTS, "engine": engine}
    rec_a = run(prepared, tmp_path / "a", hp)
    rec_b = run(prepared, tmp_path / "b", hp)
    ma = json.loads((tmp_path / "a" / "metrics.json").read_text())
    mb = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert set(ma) >= TIMING_KEYS
    assert {k: v for k, v in ma.items() if k not in TIMING_KEYS} == {
        k: v for k, v in mb.items() if k not in TIMING_KEYS}
    assert ma["status"] == "ok" and ma["epochs"] == 10 and ma["val_roc_auc"] >= 0.98
    assert ma["val_roc_auc"] == rec_a["val_roc_auc"] == rec_b["val_roc_auc"]
    # The validation scores, from which intervals and ties are computed later, read back exactly: the
    # AUC from them is the one recorded, bit for bit, and their mean row loss is the recorded val_loss.
    assert (tmp_path / "a" / "val_scores.tsv").read_bytes() == (tmp_path / "b" / "val_scores.tsv").read_bytes()
    y, s = read_scores(tmp_path / "a" / "val_scores.tsv")
    assert len(y) == sum(ma["val_rows"].values()) and int(y.sum()) == ma["val_rows"]["positive"]
    assert roc_auc(y, s) == ma["val_roc_auc"]
    assert row_losses(y, s).mean() == pytest.approx(ma["val_loss"], rel=1e-6)
    assert "val_roc_auc_ci95" not in ma and "bootstrap" not in ma  # no interval method is part of training
    assert ma["hparams"] == hp and ma["engine"] == engine and ma["device"] == "cpu"
    sa = torch.load(tmp_path / "a" / "model.pt", weights_only=True)["model_state"]
    sb = torch.load(tmp_path / "b" / "model.pt", weights_only=True)["model_state"]
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert (tmp_path / "a" / "history.csv").read_bytes() == (tmp_path / "b" / "history.csv").read_bytes()


def test_run_point_outputs_agree(prepared, tmp_path):
    record = run(prepared, tmp_path, DEFAULTS)
    with open(tmp_path / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == list(range(1, 11))
    last = rows[-1]
    # Floats are written with repr, so they read back exactly.
    assert float(last["val_loss"]) == record["val_loss"]
    assert float(last["val_roc_auc"]) == record["val_roc_auc"]
    assert float(last["train_loss"]) == record["train_loss"]
    assert record["point"] == "abcdef012345" and record["threads"] == 1 and record["seed"] == DEFAULTS["seed"]


def test_diverging_point_fails_with_a_reason(prepared, tmp_path):
    hp = {**DEFAULTS, "optimizer": "sgd", "learning_rate": 1e6}
    record = run(prepared, tmp_path, hp)
    assert record["status"] == "failed"
    assert "loss" in record["reason"] and "diverged" in record["reason"]
    assert record["epochs"] < hp["max_epochs"]
    m = json.loads((tmp_path / "metrics.json").read_text())  # valid JSON: no NaN
    assert m["status"] == "failed" and m["reason"] == record["reason"]
    assert m["val_loss"] is None and m["val_roc_auc"] is None
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "history.csv").is_file()


@pytest.mark.parametrize("engine", ["torch", "lightning"])
def test_divergence_stops_both_engines(engine, splits):
    result = fit(engine, {**DEFAULTS, "optimizer": "sgd", "learning_rate": 1e6}, *splits)
    assert result.status == "failed"
    assert "loss" in result.reason
    assert len(result.history) < DEFAULTS["max_epochs"]
    assert not math.isfinite(result.history[-1]["train_loss"]) or not math.isfinite(
        result.history[-1]["val_loss"])


def test_load_model_round_trips(prepared, tmp_path):
    hp = {**DEFAULTS, "hidden_layers": 2, "hidden_neurons": 7, "activation": "sigmoid", "max_epochs": 4,
          "engine": "torch"}
    record = run(prepared, tmp_path, hp)
    model, state = load_model(tmp_path / "model.pt")
    assert not model.training
    assert state["hparams"] == hp
    assert state["features"] == prepared["features"] and state["n_features"] == 30
    assert state["epoch"] == 4
    assert "optimizer_state" in state
    for k, v in model.state_dict().items():
        assert torch.equal(v, state["model_state"][k])
    val = load_split(prepared["val"])
    scores = predict(model, val.x).double().numpy()
    assert roc_auc(val.y.numpy(), scores) == record["val_roc_auc"]
    # Same model as training produced: retraining in memory gives the same weights.
    retrained = fit_torch(hp, load_split(prepared["train"]), val, CPU).model.state_dict()
    for k, v in retrained.items():
        assert torch.equal(v, state["model_state"][k])


# --- batches and small helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(("n", "batch_size"), [(341, 32), (10, 3), (5, 5), (4, 100)])
def test_epoch_batches_cover_every_row_once(n, batch_size):
    batches = epoch_batches(n, batch_size, batch_generator(0, "cpu"), "cpu")
    assert len(batches) == math.ceil(n / batch_size)
    assert all(len(b) == batch_size for b in batches[:-1]) and 1 <= len(batches[-1]) <= batch_size
    assert sorted(torch.cat(batches).tolist()) == list(range(n))


def test_epoch_batches_are_seeded_and_reshuffled_each_epoch():
    g1, g2 = batch_generator(5, "cpu"), batch_generator(5, "cpu")
    first = torch.cat(epoch_batches(100, 10, g1, "cpu"))
    assert torch.equal(first, torch.cat(epoch_batches(100, 10, g2, "cpu")))
    second = torch.cat(epoch_batches(100, 10, g1, "cpu"))
    assert not torch.equal(first, second)
    other = torch.cat(epoch_batches(100, 10, batch_generator(6, "cpu"), "cpu"))
    assert not torch.equal(first, other)


def test_write_history_round_trips_floats(tmp_path):
    rows = [{"epoch": 1, "train_loss": 0.1 + 0.2, "val_loss": 1 / 3, "val_roc_auc": float("nan")}]
    write_history(tmp_path / "h.csv", rows)
    with open(tmp_path / "h.csv", newline="") as fh:
        back = list(csv.DictReader(fh))
    assert float(back[0]["train_loss"]) == 0.1 + 0.2
    assert float(back[0]["val_loss"]) == 1 / 3
    assert math.isnan(float(back[0]["val_roc_auc"]))


def test_checkpoints_and_plots_are_byte_identical_between_saves(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from snakesweep.io import savefig
    from snakesweep.kernel import FitResult, save_checkpoint

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    result = FitResult(model, torch.optim.Adam(model.parameters()))
    for name in ("a.pt", "b.pt"):
        save_checkpoint(tmp_path / name, result, {"x": 1}, ["f1", "f2", "f3"])
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    for name in ("a.svg", "b.svg"):
        savefig(fig, tmp_path / name)
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
