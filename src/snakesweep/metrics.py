"""ROC-AUC and the ROC curve, in numpy alone.

Training jobs compute the AUC every epoch; importing scikit-learn there would cost more than training.
Every AUC here is the Mann-Whitney statistic computed from counts per tied score, so a bootstrap
replicate (intervals.py) can be a vector of how often each row was drawn. Intervals are not computed
here: they come after training, from the stored scores (intervals.py).
"""

from __future__ import annotations

import numpy as np


def tie_groups(scores: np.ndarray) -> tuple[np.ndarray, int]:
    """For each score, the rank of its value among the distinct values (ties share one)."""
    values, inverse = np.unique(scores, return_inverse=True)
    return inverse.ravel(), len(values)


def auc_from_counts(g_pos, g_neg, n_groups: int, c_pos: np.ndarray, c_neg: np.ndarray) -> np.ndarray:
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


def _labels_scores(y_true, scores):
    return np.asarray(y_true).astype(bool), np.asarray(scores, dtype=np.float64)


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve via the Mann-Whitney U statistic (equals scikit-learn's, ties included)."""
    y, s = _labels_scores(y_true, scores)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y) or not np.isfinite(s).all():
        return float("nan")
    g, n_groups = tie_groups(s)
    ones = np.ones((1, len(y)), dtype=np.int64)
    return float(auc_from_counts(g[y], g[~y], n_groups, ones[:, :n_pos], ones[:, n_pos:])[0])


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
