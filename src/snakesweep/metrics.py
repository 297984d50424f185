"""ROC-AUC, its bootstrap confidence intervals and their caveats, in numpy alone.

Training jobs compute these every epoch; importing scikit-learn there would cost more than training.

Every AUC here is the Mann-Whitney statistic computed from counts per tied score: a bootstrap replicate
is a vector of how often each row was drawn, so no replicate copies or sorts the scores. Replicates
are processed in chunks of at most CHUNK_CELLS counts, so memory stays bounded however many rows and
replicates there are.
"""

from __future__ import annotations

import numpy as np

CHUNK_CELLS = 1 << 20  # cells per array at once: 8 MiB of int64 or float64
MIN_CLASS_ROWS = 20


def _tie_groups(scores: np.ndarray) -> tuple[np.ndarray, int]:
    """For each score, the rank of its value among the distinct values (ties share one)."""
    values, inverse = np.unique(scores, return_inverse=True)
    return inverse.ravel(), len(values)


def _auc_from_counts(g_pos, g_neg, n_groups: int, c_pos: np.ndarray, c_neg: np.ndarray) -> np.ndarray:
    """AUC of each replicate (row of c_pos/c_neg: how often each positive/negative row was drawn).

    P(score_pos > score_neg) + 0.5 P(tie), summed over tie groups in ascending order of score.
    """
    b = c_pos.shape[0]
    offset = (np.arange(b) * n_groups)[:, None]
    pos = np.bincount((g_pos[None, :] + offset).ravel(), weights=c_pos.ravel(), minlength=b * n_groups)
    neg = np.bincount((g_neg[None, :] + offset).ravel(), weights=c_neg.ravel(), minlength=b * n_groups)
    pos, neg = pos.reshape(b, n_groups), neg.reshape(b, n_groups)
    below = np.cumsum(neg, axis=1) - neg
    return (pos * (below + 0.5 * neg)).sum(axis=1) / (c_pos.sum(axis=1) * c_neg.sum(axis=1))


def _draw_counts(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    """(b, n): how often each of n rows is drawn in each of b resamples of n rows with replacement."""
    idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=b * n).reshape(b, n)


def _labels_scores(y_true, scores):
    return np.asarray(y_true).astype(bool), np.asarray(scores, dtype=np.float64)


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve via the Mann-Whitney U statistic (equals scikit-learn's, ties included)."""
    y, s = _labels_scores(y_true, scores)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y) or not np.isfinite(s).all():
        return float("nan")
    g, n_groups = _tie_groups(s)
    ones = np.ones((1, len(y)), dtype=np.int64)
    return float(_auc_from_counts(g[y], g[~y], n_groups, ones[:, :n_pos], ones[:, n_pos:])[0])


def roc_points(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve's corners (false and true positive rates), one per distinct score, from (0, 0) to
    (1, 1); tied scores make one diagonal step, as in scikit-learn's roc_curve."""
    y, s = _labels_scores(y_true, scores)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    return np.r_[0.0, fp / max(1, (~y).sum())], np.r_[0.0, tp / max(1, y.sum())]


def _bootstrap(y: np.ndarray, score_sets: list[np.ndarray], n_boot: int, seed: int) -> list[np.ndarray]:
    """AUCs of each score set on the same n_boot stratified resamples (rows drawn within each class)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    groups = [_tie_groups(s) for s in score_sets]
    # Per replicate the largest arrays hold one cell per row or per tie group (at most one per row).
    chunk = max(1, min(n_boot, CHUNK_CELLS // max(len(y), 1)))
    out = [[] for _ in score_sets]
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        c_pos, c_neg = _draw_counts(rng, len(pos), b), _draw_counts(rng, len(neg), b)
        for acc, (g, n_groups) in zip(out, groups, strict=True):
            acc.append(_auc_from_counts(g[pos], g[neg], n_groups, c_pos, c_neg))
    return [np.concatenate(acc) for acc in out]


def _interval(values: np.ndarray, level: float) -> list[float]:
    alpha = (1 - level) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha])
    return [float(lo), float(hi)]


def bootstrap_auc(y_true, scores, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95):
    """Percentile bootstrap CI of the ROC-AUC, resampling rows within each class (stratified).

    Stratified resampling keeps both classes in every replicate, so no replicate is undefined.
    """
    y, s = _labels_scores(y_true, scores)
    if not np.isfinite(s).all() or y.all() or not y.any():
        return [float("nan"), float("nan")]
    return _interval(_bootstrap(y, [s], n_boot, seed)[0], level)


def paired_bootstrap_diff(y_true, scores_a, scores_b, *, n_boot: int = 2000, seed: int = 0, level=0.95):
    """Percentile CI of AUC(a) - AUC(b) on the same resampled rows: the honest way to compare two models."""
    y = np.asarray(y_true).astype(bool)
    a, b = np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)
    if not (np.isfinite(a).all() and np.isfinite(b).all()) or y.all() or not y.any():
        return [float("nan"), float("nan")]
    auc_a, auc_b = _bootstrap(y, [a, b], n_boot, seed)
    return _interval(auc_a - auc_b, level)


def few_rows_caveat(y_true, *, subset: str, min_class_rows: int = MIN_CLASS_ROWS) -> str | None:
    """A warning when a subset has too few rows of a class for its bootstrap intervals to be trusted.

    With few rows of a class the percentile bootstrap's intervals are much too narrow: they miss the
    true value far more often than 5% (measured by benchmarks/coverage.py; figures in docs/choosing.md).
    """
    y = np.asarray(y_true).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if min(n_pos, n_neg) >= min_class_rows:
        return None
    return (f"the {subset} has only {n_pos} positive and {n_neg} negative rows; with fewer than "
            f"{min_class_rows} rows of a class its 95% intervals are too narrow to trust")


def zero_width_caveat(ci, *, what: str) -> str | None:
    """A warning when every resample gave the same value: a zero-width interval is not certainty."""
    if ci is None or not all(v is not None and np.isfinite(v) for v in ci) or ci[0] != ci[1]:
        return None
    return (f"the 95% interval of {what} has zero width because every resample gave the same value "
            "(the classes are separated perfectly); that shows too few rows, not certainty")
