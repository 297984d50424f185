"""Tests for snakesweep.metrics: ROC-AUC against scikit-learn, and the bootstrap intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from snakesweep.metrics import bootstrap_auc, paired_bootstrap_diff, roc_auc


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


def test_bootstrap_ci_contains_point_estimate():
    for seed in range(3):
        y, s = noisy(200, seed)
        lo, hi = bootstrap_auc(y, s, n_boot=1000, seed=seed)
        assert lo < roc_auc(y, s) < hi
        assert 0 <= lo < hi <= 1


def test_bootstrap_is_deterministic_per_seed():
    y, s = noisy(150, 1)
    assert bootstrap_auc(y, s, n_boot=500, seed=3) == bootstrap_auc(y, s, n_boot=500, seed=3)
    assert bootstrap_auc(y, s, n_boot=500, seed=3) != bootstrap_auc(y, s, n_boot=500, seed=4)


def test_bootstrap_narrows_with_more_rows():
    widths = []
    for n in (60, 600, 3000):
        y, s = noisy(n, 2)
        lo, hi = bootstrap_auc(y, s, n_boot=500, seed=0)
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]
    # Roughly 1/sqrt(n): ten times the rows, about a third of the width.
    assert widths[1] < 0.5 * widths[0]


def test_bootstrap_level_widens_the_interval():
    y, s = noisy(200, 4)
    lo90, hi90 = bootstrap_auc(y, s, n_boot=800, seed=0, level=0.9)
    lo99, hi99 = bootstrap_auc(y, s, n_boot=800, seed=0, level=0.99)
    assert lo99 <= lo90 and hi90 <= hi99 and (hi99 - lo99) > (hi90 - lo90)


def test_bootstrap_of_one_class_or_nan_scores_is_nan():
    assert all(math.isnan(v) for v in bootstrap_auc([1, 1, 1], [0.1, 0.2, 0.3], n_boot=10))
    assert all(math.isnan(v) for v in bootstrap_auc([0, 1, 1], [0.1, np.nan, 0.3], n_boot=10))


def test_paired_diff_of_identical_scores_is_zero():
    y, s = noisy(200, 5)
    assert paired_bootstrap_diff(y, s, s.copy(), n_boot=500, seed=0) == [0.0, 0.0]


def test_paired_diff_detects_a_better_model():
    y, s = noisy(300, 6, signal=2.0)
    worse = s + np.random.default_rng(1).normal(scale=3.0, size=len(s))
    lo, hi = paired_bootstrap_diff(y, s, worse, n_boot=500, seed=0)
    assert 0 < lo < roc_auc(y, s) - roc_auc(y, worse) < hi
    lo2, hi2 = paired_bootstrap_diff(y, worse, s, n_boot=500, seed=0)
    assert (lo2, hi2) == pytest.approx((-hi, -lo))
    assert paired_bootstrap_diff(y, s, worse, n_boot=500, seed=0) == [lo, hi]


def test_paired_diff_is_narrower_than_unpaired_intervals():
    y, s = noisy(300, 7)
    other = s + np.random.default_rng(2).normal(scale=0.2, size=len(s))
    lo, hi = paired_bootstrap_diff(y, s, other, n_boot=500, seed=0)
    alo, ahi = bootstrap_auc(y, s, n_boot=500, seed=0)
    assert hi - lo < ahi - alo


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
