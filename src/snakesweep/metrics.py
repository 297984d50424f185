"""ROC-AUC and its bootstrap confidence interval, in numpy alone.

Training jobs compute these every epoch; importing scikit-learn there would cost more than training.
"""

from __future__ import annotations

import numpy as np


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) along the last axis, ties sharing the mean of their ranks."""
    order = np.argsort(scores, axis=-1, kind="mergesort")
    s = np.take_along_axis(scores, order, axis=-1)
    n = s.shape[-1]
    ranks_sorted = np.empty(s.shape, dtype=np.float64)
    for idx in np.ndindex(s.shape[:-1]):
        row = s[idx]
        new_group = np.r_[True, row[1:] != row[:-1]]
        starts = np.flatnonzero(new_group)
        ends = np.r_[starts[1:], n]
        avg = (starts + ends + 1) / 2.0  # mean of 1-based ranks start+1 .. end
        ranks_sorted[idx] = np.repeat(avg, ends - starts)
    ranks = np.empty_like(ranks_sorted)
    np.put_along_axis(ranks, order, ranks_sorted, axis=-1)
    return ranks


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve via the Mann-Whitney U statistic (equals scikit-learn's, ties included)."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    if not np.isfinite(s).all():
        return float("nan")
    r = _ranks(s)
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_auc(y_true, scores, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap CI of the ROC-AUC, resampling rows within each class (stratified).

    Stratified resampling keeps both classes in every replicate, so no replicate is undefined.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(s).all() or y.all() or not y.any():
        return [float("nan"), float("nan")]
    rng = np.random.Generator(np.random.PCG64(seed))
    pos, neg = s[y], s[~y]
    bp = pos[rng.integers(0, len(pos), size=(n_boot, len(pos)))]
    bn = neg[rng.integers(0, len(neg), size=(n_boot, len(neg)))]
    aucs = _auc_matrix(bp, bn)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(aucs, [alpha, 1 - alpha])
    return [float(lo), float(hi)]


def _auc_matrix(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """ROC-AUC of each row pair of positive and negative score matrices."""
    both = np.concatenate([pos, neg], axis=1)
    r = _ranks(both)
    n_pos, n_neg = pos.shape[1], neg.shape[1]
    return (r[:, :n_pos].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def paired_bootstrap_diff(y_true, scores_a, scores_b, *, n_boot: int = 2000, seed: int = 0, level=0.95):
    """Percentile CI of AUC(a) - AUC(b) on the same resampled rows: the honest way to compare two models."""
    y = np.asarray(y_true).astype(bool)
    a, b = np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)
    rng = np.random.Generator(np.random.PCG64(seed))
    pi, ni = np.flatnonzero(y), np.flatnonzero(~y)
    ip = pi[rng.integers(0, len(pi), size=(n_boot, len(pi)))]
    ineg = ni[rng.integers(0, len(ni), size=(n_boot, len(ni)))]
    diff = _auc_matrix(a[ip], a[ineg]) - _auc_matrix(b[ip], b[ineg])
    alpha = (1 - level) / 2
    lo, hi = np.quantile(diff, [alpha, 1 - alpha])
    return [float(lo), float(hi)]
