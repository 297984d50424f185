"""Tests for snakesweep.metrics: ROC-AUC and the ROC curve against scikit-learn (intervals: test_intervals.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from snakesweep.metrics import roc_auc


def noisy(n: int, seed: int, signal: float = 1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    return y, signal * y + rng.normal(size=n)


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_matches_sklearn_on_random_data(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(10, 500))
    y, s = noisy(n, seed, signal=rng.uniform(0, 2))
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


@pytest.mark.parametrize("levels", [2, 3, 10])
def test_roc_auc_matches_sklearn_with_ties(levels):
    y, s = noisy(400, levels)
    s = np.round(s * levels / 4)  # few distinct values: many ties, across classes too
    assert len(np.unique(s)) < 20
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_roc_auc_all_tied_is_one_half():
    assert roc_auc([0, 1, 0, 1, 1], [0.3] * 5) == pytest.approx(0.5)


def test_roc_auc_perfectly_separated():
    y = np.array([0, 0, 0, 1, 1, 0, 1])
    s = np.where(y == 1, 5.0, -1.0) + np.arange(7) * 0.01
    assert roc_auc(y, s) == 1.0 == roc_auc_score(y, s)
    assert roc_auc(y, -s) == 0.0 == roc_auc_score(y, -s)


def test_roc_auc_accepts_bool_and_float_labels():
    y, s = noisy(100, 9)
    ref = roc_auc_score(y, s)
    assert roc_auc(y.astype(bool), s) == pytest.approx(ref, abs=1e-12)
    assert roc_auc(y.astype(np.float32), s.astype(np.float32)) == pytest.approx(
        roc_auc_score(y, s.astype(np.float32)), abs=1e-12)


def test_roc_auc_is_nan_when_undefined():
    assert math.isnan(roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert math.isnan(roc_auc([0, 0], [0.1, 0.2]))
    assert math.isnan(roc_auc([0, 1], [0.1, np.nan]))
    assert math.isnan(roc_auc([0, 1], [0.1, np.inf]))


def test_roc_points_match_scikit_learn_with_ties():
    from sklearn.metrics import roc_curve

    from snakesweep.metrics import roc_points

    rng = np.random.default_rng(3)
    for _ in range(50):
        y = rng.integers(0, 2, 40)
        s = np.round(rng.normal(size=40), 1)  # many ties
        fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
        ours = roc_points(y, s)
        assert np.allclose(ours[0], fpr) and np.allclose(ours[1], tpr)
