"""Resuming training from a checkpoint (for hyperband's successive halving) and the dropout hyperparameter:
a point trained to epoch e, saved, loaded and trained on to E is bit-identical to the same point trained
straight to E, in both engines, on the real breast-cancer data."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from snakesweep import SnakesweepError
from snakesweep.engine_torch import fit_torch
from snakesweep.hparams import HPARAMS, coerce, effective
from snakesweep.kernel import FitResult, load_checkpoint, predict, save_checkpoint
from snakesweep.model import build
from snakesweep.train import run_point

# prepared, splits and restore_torch_state: tests/conftest.py
pytestmark = pytest.mark.usefixtures("restore_torch_state")

DEFAULTS = {k: v.default for k, v in HPARAMS.items()}
HP = {**DEFAULTS, "dropout": 0.3, "max_epochs": 4}
CPU = torch.device("cpu")
TIMING_KEYS = {"train_seconds", "startup_seconds"}




@pytest.fixture
def features(prepared):
    return prepared["features"]


def fit(engine: str, hp: dict, train, val, **kw):
    if engine == "lightning":
        from snakesweep.engine_lightning import fit_lightning

        return fit_lightning(hp, train, val, CPU, **kw)
    return fit_torch(hp, train, val, CPU, **kw)


def save_and_load(result, hp: dict, features: list[str], path: Path) -> dict:
    save_checkpoint(path, result, hp, features)
    return load_checkpoint(path, CPU)


def exact(history: list[dict]) -> list[dict]:
    """Rows with floats as their exact hex form, so that NaN (a diverged epoch) compares equal to NaN."""
    return [{k: v.hex() if isinstance(v, float) else v for k, v in row.items()} for row in history]


def bits(t: torch.Tensor) -> tuple:
    """A tensor's exact bits (torch.equal, but NaN equals NaN: diverged weights are compared too)."""
    return t.dtype, tuple(t.shape), t.detach().cpu().contiguous().numpy().tobytes()


def assert_same_training(a, b) -> None:
    """Bit-identical weights, optimiser state, history and validation scores."""
    assert a.status == b.status and a.reason == b.reason
    assert exact(a.history) == exact(b.history)  # the same floats, not merely close ones
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert bits(sa[k]) == bits(sb[k]), k
    oa, ob = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert oa["param_groups"] == ob["param_groups"]
    assert oa["state"].keys() == ob["state"].keys()
    for i, state in oa["state"].items():
        assert state.keys() == ob["state"][i].keys()
        for k, v in state.items():
            assert bits(v) == bits(ob["state"][i][k]) if torch.is_tensor(v) else v == ob["state"][i][k], (i, k)
    assert np.array_equal(a.val_scores, b.val_scores, equal_nan=True)


def checkpoint_bytes(result, hp: dict, features: list[str], path: Path) -> bytes:
    save_checkpoint(path, result, hp, features)
    return path.read_bytes()


# --- resuming --------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("engine", ["torch", "lightning"])
def test_resumed_training_is_bit_identical_to_straight_training(engine, optimizer, splits, features, tmp_path):
    hp = {**HP, "optimizer": optimizer, "learning_rate": 0.01 if optimizer == "sgd" else 0.001}
    straight = fit(engine, hp, *splits)
    first = fit(engine, hp, *splits, epochs=2)
    assert [r["epoch"] for r in first.history] == [1, 2]
    rows = []
    resumed = fit(engine, hp, *splits, resume=save_and_load(first, hp, features, tmp_path / "e2.pt"),
                  on_epoch=rows.append)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4]
    assert rows == resumed.history[2:]  # on_epoch sees the new epochs only
    assert_same_training(straight, resumed)
    # The whole checkpoint agrees too: batch order generator, RNG states, history and all.
    assert (checkpoint_bytes(straight, hp, features, tmp_path / "a.pt")
            == checkpoint_bytes(resumed, hp, features, tmp_path / "b.pt"))


@pytest.mark.parametrize("engine", ["torch", "lightning"])
def test_two_resumes_are_bit_identical_to_straight_training(engine, splits, features, tmp_path):
    straight = fit(engine, HP, *splits)
    one = fit(engine, HP, *splits, epochs=1)
    two = fit(engine, HP, *splits, epochs=2, resume=save_and_load(one, HP, features, tmp_path / "e1.pt"))
    four = fit(engine, HP, *splits, epochs=4, resume=save_and_load(two, HP, features, tmp_path / "e2.pt"))
    assert [r["epoch"] for r in four.history] == [1, 2, 3, 4]
    assert_same_training(straight, four)


def test_a_checkpoint_resumes_in_the_other_engine(splits, features, tmp_path):
    straight = fit("torch", HP, *splits)
    for first, then in (("torch", "lightning"), ("lightning", "torch")):
        part = fit(first, {**HP, "engine": first}, *splits, epochs=2)
        resume = save_and_load(part, {**HP, "engine": first}, features, tmp_path / f"{first}.pt")
        assert_same_training(straight, fit(then, {**HP, "engine": then}, *splits, resume=resume))


@pytest.mark.parametrize("engine", ["torch", "lightning"])
def test_resuming_to_the_checkpoints_own_epoch_trains_nothing(engine, splits, features, tmp_path):
    part = fit(engine, HP, *splits, epochs=2)
    rows = []
    again = fit(engine, HP, *splits, epochs=2, resume=save_and_load(part, HP, features, tmp_path / "e2.pt"),
                on_epoch=rows.append)
    assert rows == []
    assert_same_training(part, again)


@pytest.mark.parametrize("engine", ["torch", "lightning"])
def test_divergence_is_reported_after_resuming(engine, splits, features, tmp_path):
    # A learning rate that diverges after the first epoch, so that there is something to resume.
    hp = {**DEFAULTS, "optimizer": "sgd", "learning_rate": 30.0, "max_epochs": 10}
    straight = fit(engine, hp, *splits)
    assert straight.status == "failed" and "diverged" in straight.reason
    failed_at = len(straight.history)
    assert 2 <= failed_at < hp["max_epochs"]
    part = fit(engine, hp, *splits, epochs=failed_at - 1)
    assert part.status == "ok"
    resumed = fit(engine, hp, *splits, resume=save_and_load(part, hp, features, tmp_path / "ok.pt"))
    assert_same_training(straight, resumed)
    # A failed checkpoint stays failed and trains no further, as training straight through stopped.
    rows = []
    again = fit(engine, hp, *splits, resume=save_and_load(straight, hp, features, tmp_path / "failed.pt"),
                on_epoch=rows.append)
    assert rows == [] and again.status == "failed" and again.reason == straight.reason
    assert exact(again.history) == exact(straight.history)


def test_resume_refuses_what_would_not_continue_the_same_training(splits, features, tmp_path):
    part = fit("torch", HP, *splits, epochs=2)
    resume = save_and_load(part, HP, features, tmp_path / "e2.pt")
    with pytest.raises(ValueError, match="learning_rate"):
        fit("torch", {**HP, "learning_rate": 0.01}, *splits, resume=resume)
    with pytest.raises(ValueError, match="more than"):
        fit("torch", HP, *splits, epochs=1, resume=resume)
    # A longer max_epochs is what resuming is for.
    assert len(fit("torch", {**HP, "max_epochs": 5}, *splits, resume=resume).history) == 5
    bare = FitResult(part.model, part.optimizer, part.history)  # no batch generator: cannot continue
    with pytest.raises(ValueError, match="batch_generator_state"):
        fit("torch", HP, *splits, resume=save_and_load(bare, HP, features, tmp_path / "bare.pt"))


def test_checkpoint_loads_with_weights_only_and_its_bytes_are_repeatable(splits, features, tmp_path):
    result = fit("torch", HP, *splits, epochs=2)
    save_checkpoint(tmp_path / "a.pt", result, HP, features)
    save_checkpoint(tmp_path / "b.pt", result, HP, features)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    state = torch.load(tmp_path / "a.pt", weights_only=True)
    assert state["epoch"] == 2 and state["history"] == result.history
    assert {"model_state", "optimizer_state", "batch_generator_state", "rng_state"} <= set(state)
    assert "cuda_rng_state" not in state and "scaler_state" not in state  # CPU, full precision
    assert torch.equal(state["batch_generator_state"], result.generator.get_state())
    assert torch.equal(state["rng_state"], result.rng_state["rng_state"])
    # torch.load's own default is weights_only=True; a file from memory loads the same.
    state = torch.load(io.BytesIO((tmp_path / "a.pt").read_bytes()), weights_only=True)
    assert state["hparams"] == HP


def test_run_point_resumes_to_the_same_files(prepared, tmp_path):
    hp = {**HP, "engine": "torch"}

    def run(out: Path, **kw) -> dict:
        out.mkdir()
        return run_point(point="abcdef012345", hp=hp, train_path=prepared["train"], val_path=prepared["val"],
                         features=prepared["features"], threads=1, model_out=out / "model.pt",
                         history_out=out / "history.csv", metrics_out=out / "metrics.json", **kw)

    straight = run(tmp_path / "straight")
    half = run(tmp_path / "half", epochs=2)
    assert half["epochs"] == 2
    resumed = run(tmp_path / "resumed", resume=tmp_path / "half" / "model.pt")
    assert resumed["epochs"] == straight["epochs"] == 4
    assert ({k: v for k, v in resumed.items() if k not in TIMING_KEYS}
            == {k: v for k, v in straight.items() if k not in TIMING_KEYS})
    for name in ("model.pt", "history.csv"):
        assert (tmp_path / "resumed" / name).read_bytes() == (tmp_path / "straight" / name).read_bytes(), name


# --- dropout ---------------------------------------------------------------------------------------


def test_engines_give_identical_bytes_with_dropout(splits, features, tmp_path):
    a, b = fit("torch", HP, *splits), fit("lightning", HP, *splits)
    assert_same_training(a, b)
    assert checkpoint_bytes(a, HP, features, tmp_path / "a.pt") == checkpoint_bytes(b, HP, features, tmp_path / "b.pt")
    # Dropout really acts: without it the same seed trains differently.
    assert fit("torch", {**HP, "dropout": 0.0}, *splits).history != a.history


def test_dropout_zero_builds_the_model_as_before():
    torch.manual_seed(0)
    plain = build(30, {**DEFAULTS, "hidden_layers": 2})
    assert not any(isinstance(m, nn.Dropout) for m in plain.modules())
    assert list(plain.state_dict()) == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
                                        "layers.4.weight", "layers.4.bias"]
    torch.manual_seed(0)
    dropped = build(30, {**DEFAULTS, "hidden_layers": 2, "dropout": 0.5})
    assert [type(m) for m in dropped.layers] == [nn.Linear, nn.ReLU, nn.Dropout] * 2 + [nn.Linear]
    assert all(m.p == 0.5 for m in dropped.modules() if isinstance(m, nn.Dropout))
    # Dropout has no parameters: the same seed gives the same weights.
    for va, vb in zip(plain.state_dict().values(), dropped.state_dict().values(), strict=True):
        assert torch.equal(va, vb)


def test_dropout_is_off_when_evaluating(splits):
    train, val = splits
    result = fit("torch", HP, train, val, epochs=2)
    model = result.model
    assert model.training  # predict must switch it off and back on
    first = predict(model, val.x)
    assert model.training
    assert torch.equal(first, predict(model, val.x))
    # The same weights without dropout layers give the same logits.
    plain = build(train.x.shape[1], {**HP, "dropout": 0.0})
    plain.load_state_dict({k: v for k, v in zip(plain.state_dict(), model.state_dict().values(), strict=True)})
    assert torch.equal(first, predict(plain, val.x))
    # While training, dropout does act.
    with torch.no_grad():
        assert not torch.equal(model(val.x), first)


def test_coerce_keeps_dropout_below_one():
    assert coerce("dropout", 0, "t") == 0.0 and coerce("dropout", "0.5", "t") == 0.5
    assert coerce("dropout", 0.999, "t") == 0.999
    with pytest.raises(SnakesweepError, match=r"'dropout' must be < 1, found 1\.0"):
        coerce("dropout", 1.0, "t")
    with pytest.raises(SnakesweepError, match="must be < 1"):
        coerce("dropout", 1, "t")
    with pytest.raises(SnakesweepError, match=">= 0"):
        coerce("dropout", -0.1, "t")
    assert coerce("seed", 2**32 - 1, "t") == 2**32 - 1  # inclusive maxima are unchanged


def test_dropout_is_not_part_of_a_linear_models_identity():
    linear = {**DEFAULTS, "hidden_layers": 0, "dropout": 0.3}
    # effective() is what point ids are made of: any p gives a linear model one id.
    assert "dropout" not in effective(linear)
    assert effective(linear) == effective({**linear, "dropout": 0.7})
    deep = {**DEFAULTS, "dropout": 0.3}
    assert effective(deep)["dropout"] == 0.3
    # p = 0 adds no layer and no random draws: points keep the ids they had before dropout existed.
    assert effective(DEFAULTS) == effective({k: v for k, v in DEFAULTS.items() if k != "dropout"})


def test_dropout_zero_trains_as_a_model_without_the_key(splits):
    old = {k: v for k, v in DEFAULTS.items() if k != "dropout"} | {"max_epochs": 2}  # as before dropout
    assert fit("torch", old, *splits).history == fit("torch", {**old, "dropout": 0.0}, *splits).history
