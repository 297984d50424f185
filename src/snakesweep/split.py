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


def stratified_split(y: np.ndarray, fractions: dict, seed: int, labels=None) -> np.ndarray:
    """Assign each row to 'train', 'val' or 'test', keeping each class's share in every subset.

    Each class is shuffled with its own seeded generator and cut by the fractions, so the split depends
    only on the labels, the fractions and the seed (not on library versions).
    """
    fr = check_fractions(fractions)
    y = np.asarray(y)
    out = np.empty(len(y), dtype=object)
    for ci, cls in enumerate(np.unique(y)):
        idx = np.flatnonzero(y == cls)
        rng = np.random.Generator(np.random.PCG64([int(seed), ci]))
        idx = idx[rng.permutation(len(idx))]
        n = len(idx)
        n_val, n_test = round(n * fr["val"]), round(n * fr["test"])
        n_train = n - n_val - n_test
        name = str(labels[ci] if labels is not None else cls.item() if hasattr(cls, "item") else cls)
        if min(n_train, n_val, n_test) < 1:
            raise SnakesweepError(
                f"data: class {name!r} has only {n} row(s), too few to give each of train/val/test at least "
                f"one with split.fractions {fr}; add rows or change the fractions")
        out[idx[:n_train]] = "train"
        out[idx[n_train:n_train + n_val]] = "val"
        out[idx[n_train + n_val:]] = "test"
    return out


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

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale

    def to_dict(self, features) -> dict:
        return {"features": list(features), "mean": self.mean.tolist(), "scale": self.scale.tolist()}
