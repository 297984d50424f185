"""The stratified train / validation / test split and the scaler fitted on training rows only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import SnakesweepError

SUBSETS = ("train", "val", "test")


def check_fractions(fractions: dict) -> dict:
    fr = {k: float(fractions.get(k, 0)) for k in SUBSETS}
    extra = set(fractions) - set(SUBSETS)
    if extra:
        raise SnakesweepError(f"split.fractions: unknown subset(s) {sorted(extra)}; expected {list(SUBSETS)}")
    for k, v in fr.items():
        if not 0 < v < 1:
            raise SnakesweepError(f"split.fractions.{k} must be between 0 and 1 (exclusive), found {v}")
    if abs(sum(fr.values()) - 1) > 1e-6:
        raise SnakesweepError(f"split.fractions must add up to 1, found {fr} (sum {sum(fr.values()):.4g})")
    return fr


def identical_rows(x: np.ndarray) -> np.ndarray:
    """A group number per row: rows with identical feature values share one (the first row's index)."""
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # +0.0 turns -0.0 into 0.0, so rows that are equal as numbers are equal as bytes.
    rows = np.ascontiguousarray(x + 0.0)
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first[inverse.ravel()].astype(np.int64)


def duplicate_report(groups: np.ndarray, positive: np.ndarray) -> dict:
    """How many rows repeat an earlier row's features, in how many groups, and in how many of those the
    labels disagree (the same features labelled both ways)."""
    size = np.bincount(groups, minlength=len(groups))
    positives = np.bincount(groups, weights=np.asarray(positive, dtype=bool), minlength=len(groups))
    repeated = size > 1
    return {"rows_repeating_another": int(len(groups) - np.count_nonzero(size)),
            "groups_of_identical_rows": int(repeated.sum()),
            "groups_with_both_labels": int((repeated & (positives > 0) & (positives < size)).sum())}


def stratified_split(y: np.ndarray, fractions: dict, seed: int, labels=None, groups=None) -> np.ndarray:
    """Assign each row to 'train', 'val' or 'test', keeping each class's share in every subset.

    Rows of one group (identical features, see identical_rows) always go to the same subset, so no
    copy of a training row is ever validated or tested on. Groups are shuffled per class (a group's
    class is that of its first row) with their own seeded generator and cut by the fractions in rows:
    the split depends only on the labels, groups, fractions and seed (not on library versions). With
    no repeated rows this is the plain stratified split.
    """
    fr = check_fractions(fractions)
    y = np.asarray(y)
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    out = np.empty(len(y), dtype=object)
    leaders = np.flatnonzero(groups == np.arange(len(y)))  # a group's first row, in input order
    size = np.bincount(groups, minlength=len(y))
    for ci, cls in enumerate(np.unique(y)):
        idx = leaders[y[leaders] == cls]
        rng = np.random.Generator(np.random.PCG64([int(seed), ci]))
        idx = idx[rng.permutation(len(idx))]
        start = np.cumsum(size[idx]) - size[idx]  # where each group starts in the shuffled row order
        n = int(size[idx].sum())
        n_val, n_test = round(n * fr["val"]), round(n * fr["test"])
        n_train = n - n_val - n_test
        subset = np.where(start < n_train, "train", np.where(start < n_train + n_val, "val", "test"))
        out[idx] = subset
        name = str(labels[ci] if labels is not None else cls.item() if hasattr(cls, "item") else cls)
        got = {k: int(size[idx][subset == k].sum()) for k in SUBSETS}
        if min(got.values()) < 1:
            distinct = f" ({len(idx)} distinct)" if len(idx) < n else ""
            raise SnakesweepError(
                f"data: class {name!r} has only {n} row(s){distinct}, too few to give each of train/val/test "
                f"at least one with split.fractions {fr}; add rows or change the fractions")
    return out[groups]


@dataclass
class Scaler:
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Scaler:
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        # A constant column carries no information; dividing by 1 keeps it finite instead of NaN.
        scale[scale == 0] = 1.0
        return cls(mean, scale)

    @classmethod
    def identity(cls, n_features: int) -> Scaler:
        return cls(np.zeros(n_features), np.ones(n_features))

    @classmethod
    def fitted(cls, x: np.ndarray, standardize: bool) -> Scaler:
        """The scaler of the `standardize` setting: fitted on these rows (training rows only), or the
        identity, which keeps raw features as the tutorial feeds them."""
        return cls.fit(x) if standardize else cls.identity(x.shape[1])

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale

    def to_dict(self, features) -> dict:
        return {"features": list(features), "mean": self.mean.tolist(), "scale": self.scale.tolist()}
