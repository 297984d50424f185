"""Tests for snakesweep.split: the stratified split, its fractions and the train-only scaler."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snakesweep import SnakesweepError, prepare
from snakesweep.split import Scaler, check_fractions, stratified_split

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}


def labels(n_pos: int = 212, n_neg: int = 357, seed: int = 0) -> np.ndarray:
    y = np.r_[np.ones(n_pos), np.zeros(n_neg)].astype(np.float32)
    return y[np.random.default_rng(seed).permutation(len(y))]


@pytest.mark.parametrize(("n_pos", "n_neg", "fractions"), [
    (212, 357, FRACTIONS),
    (13, 101, FRACTIONS),
    (50, 50, {"train": 0.5, "val": 0.3, "test": 0.2}),
    (7, 993, {"train": 0.7, "val": 0.15, "test": 0.15}),
])
def test_split_is_stratified(n_pos, n_neg, fractions):
    y = labels(n_pos, n_neg)
    assign = stratified_split(y, fractions, seed=3)
    for cls, n in ((1.0, n_pos), (0.0, n_neg)):
        for subset, frac in fractions.items():
            got = int(((assign == subset) & (y == cls)).sum())
            assert abs(got - n * frac) <= 1, (cls, subset, got, n * frac)


def test_every_row_is_assigned_to_exactly_one_subset():
    y = labels()
    assign = stratified_split(y, FRACTIONS, seed=42)
    assert assign.shape == y.shape
    assert set(assign.tolist()) == {"train", "val", "test"}
    sets = {s: set(np.flatnonzero(assign == s)) for s in ("train", "val", "test")}
    assert not sets["train"] & sets["val"]
    assert not sets["train"] & sets["test"]
    assert not sets["val"] & sets["test"]
    assert sets["train"] | sets["val"] | sets["test"] == set(range(len(y)))


def test_split_is_deterministic_per_seed():
    y = labels()
    a = stratified_split(y, FRACTIONS, seed=42)
    b = stratified_split(y.copy(), dict(FRACTIONS), seed=42)
    assert (a == b).all()


def test_different_seed_gives_different_split():
    y = labels()
    a = stratified_split(y, FRACTIONS, seed=42)
    b = stratified_split(y, FRACTIONS, seed=43)
    assert (a != b).any()
    # Both are still stratified with the same subset sizes.
    for s in ("train", "val", "test"):
        assert (a == s).sum() == (b == s).sum()


def test_split_works_with_string_labels():
    y = np.array(["benign"] * 30 + ["malignant"] * 20)
    assign = stratified_split(y, FRACTIONS, seed=0)
    assert ((assign == "val") & (y == "malignant")).sum() == 4
    assert ((assign == "test") & (y == "benign")).sum() == 6


def test_too_few_rows_of_a_class_raises_naming_the_class():
    y = np.r_[np.zeros(50), np.ones(2)]
    with pytest.raises(SnakesweepError, match="malignant") as info:
        stratified_split(y, FRACTIONS, seed=0, labels=["benign", "malignant"])
    assert "2 row" in str(info.value)
    with pytest.raises(SnakesweepError, match="rare"):
        stratified_split(np.array(["common"] * 50 + ["rare"]), FRACTIONS, seed=0)


def test_too_few_rows_message_shows_the_plain_class_name():
    with pytest.raises(SnakesweepError, match=r"class 'rare' has only 1 row"):
        stratified_split(np.array(["common"] * 50 + ["rare"]), FRACTIONS, seed=0)


@pytest.mark.parametrize("fractions", [
    {"train": 0.6, "val": 0.2, "test": 0.1},
    {"train": 0.7, "val": 0.2, "test": 0.2},
    {"train": 0.6, "val": 0.4},
    {"train": 1.0, "val": 0.0, "test": 0.0},
    {"train": 0.6, "val": 0.2, "test": 0.2, "holdout": 0.1},
    {"train": 1.2, "val": -0.1, "test": -0.1},
])
def test_bad_fractions_raise(fractions):
    with pytest.raises(SnakesweepError, match="split.fractions"):
        check_fractions(fractions)
    with pytest.raises(SnakesweepError, match="split.fractions"):
        stratified_split(labels(), fractions, seed=0)


def test_check_fractions_normalises():
    assert check_fractions({"train": "0.5", "val": 0.25, "test": 0.25}) == {"train": 0.5, "val": 0.25, "test": 0.25}


# --- scaler --------------------------------------------------------------------------------------------


def test_scaler_standardises_and_handles_constant_columns():
    rng = np.random.default_rng(0)
    x = np.c_[rng.normal(5, 3, 200), np.full(200, 7.0), rng.uniform(-1, 1, 200)]
    sc = Scaler.fit(x)
    z = sc.transform(x)
    assert np.isfinite(z).all()
    assert sc.scale[1] == 1.0
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z[:, [0, 2]].std(axis=0), 1, atol=1e-12)
    assert (z[:, 1] == 0).all()


def test_identity_scaler_is_a_no_op():
    x = np.arange(12.0).reshape(4, 3)
    assert (Scaler.identity(3).transform(x) == x).all()


@pytest.fixture
def split_outputs(tmp_path):
    """prepare.split_data on a small table whose classes have very different feature means."""
    rng = np.random.default_rng(1)
    n = 200
    y = (np.arange(n) % 4 == 0)
    df = pd.DataFrame({"a": rng.normal(0, 1, n) + 10 * y, "b": rng.normal(100, 5, n), "const": 3.0,
                       "label": np.where(y, "yes", "no")})
    df.to_csv(tmp_path / "table.tsv", sep="\t", index=False)
    (tmp_path / "labels.json").write_text(json.dumps({
        "target": "label", "positive_class": "yes", "negative_class": "no", "features": ["a", "b", "const"]}))
    outputs = {s: str(tmp_path / f"{s}.npz") for s in ("train", "val", "test")}
    outputs |= {"assignment": str(tmp_path / "assignment.tsv"), "scaler": str(tmp_path / "scaler.json")}
    prepare.split_data(table=str(tmp_path / "table.tsv"), labels=str(tmp_path / "labels.json"),
                    fractions=FRACTIONS, seed=5, standardize=True, outputs=outputs)
    return df, outputs


def test_scaler_is_fitted_on_training_rows_only(split_outputs):
    df, outputs = split_outputs
    x = df[["a", "b", "const"]].to_numpy()
    assign = pd.read_csv(outputs["assignment"], sep="\t")
    train_rows = assign.loc[assign["subset"] == "train", "row"].to_numpy()
    scaler = json.loads(Path(outputs["scaler"]).read_text())
    assert scaler["fitted_on"] == "train"
    np.testing.assert_allclose(scaler["mean"], x[train_rows].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scaler["scale"][:2], x[train_rows, :2].std(axis=0), rtol=1e-12)
    assert not np.allclose(scaler["mean"][:2], x[:, :2].mean(axis=0), rtol=1e-9, atol=0)
    assert scaler["scale"][2] == 1.0
    with np.load(outputs["train"]) as z:
        np.testing.assert_allclose(z["x"].mean(axis=0), 0, atol=1e-5)
        assert (z["row"] == np.sort(train_rows)).all()
    for s in ("val", "test"):
        with np.load(outputs[s]) as z:
            assert np.isfinite(z["x"]).all()
            # Transformed with the train statistics, not re-standardised on their own rows.
            expected = (x[z["row"]] - scaler["mean"]) / scaler["scale"]
            np.testing.assert_allclose(z["x"], expected, rtol=1e-5, atol=1e-5)


def test_split_data_outputs_are_consistent(split_outputs):
    df, outputs = split_outputs
    assign = pd.read_csv(outputs["assignment"], sep="\t")
    assert len(assign) == len(df)
    assert (assign["label"] == (df["label"] == "yes").astype(int)).all()
    seen = []
    for s in ("train", "val", "test"):
        with np.load(outputs[s]) as z:
            assert z["x"].dtype == np.float32 and z["x"].shape == (len(z["row"]), 3)
            assert (z["y"] == (df["label"].to_numpy()[z["row"]] == "yes")).all()
            seen += z["row"].tolist()
    assert sorted(seen) == list(range(len(df)))
