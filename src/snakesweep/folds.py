"""Cross-validation folds and seed repeats: the units a point trains as, and their data.

A point's *units* are every (repeat, fold, seed) it trains once for: `split.repeats` repetitions of a
stratified `split.folds`-fold cross-validation over the rows outside the test split, times
`sweep.repeats` seeds. With one fold and one seed a point is its own single unit, trained on the
tutorial's train / validation split as it always was.

The split job writes the rows outside the test split, unscaled, with each repeat's fold of each row
(`cv.npz`); a training job fits each unit's scaler on that unit's training rows only. With one fold
(seed repeats alone), "fold 0" is the validation split itself, so every seed sees the very rows and
scaling of the single split.
"""

from __future__ import annotations

import numpy as np

from . import SnakesweepError

# Fold numbers of the rows a repeat does not validate on: with one fold, the training rows.
TRAIN_ONLY = -1


def derive_seed(seed: int, index: int) -> int:
    """The seed of a point's index-th seed repeat: its own seed first, then numpy's SeedSequence of the
    pair (seed, index), which gives statistically independent streams for neighbouring indices."""
    if index == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint32)[0])


def unit_name(repeat: int, fold: int, seed_index: int, folds: int) -> str:
    return f"r{repeat}-f{fold}-s{seed_index}" if folds > 1 else f"s{seed_index}"


def units_of(seed: int, *, folds: int, repeats: int, seeds: int) -> list[dict]:
    """The units of a point whose own seed is `seed`: empty for the single split with one seed."""
    if folds == 1 and seeds == 1:
        return []
    return [{"unit": unit_name(r, f, j, folds), "repeat": r, "fold": f, "seed_index": j,
             "seed": derive_seed(seed, j)}
            for r in range(repeats if folds > 1 else 1) for f in range(folds) for j in range(seeds)]


def stratified_folds(y: np.ndarray, k: int, seed: int, repeat: int, groups: np.ndarray | None = None,
                     labels=None) -> np.ndarray:
    """A fold number (0..k-1) per row, each class spread evenly over the folds.

    Rows of one group (identical features, see split.identical_rows) share a fold, so no copy of a
    training row is validated on. Per class, groups are shuffled with their own generator (seeded by
    the split's seed, the repeat and the class) and dealt to folds by their running row count; the
    folds depend only on the labels, groups, k, seed and repeat.
    """
    y = np.asarray(y)
    n = len(y)
    groups = np.arange(n) if groups is None else np.asarray(groups)
    # Group numbers are row indices of the full table; renumber them within these rows.
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    leaders_of = first[inverse.ravel()]
    size = np.bincount(leaders_of, minlength=n)
    leaders = np.flatnonzero(leaders_of == np.arange(n))
    fold = np.empty(n, dtype=np.int64)
    for ci, cls in enumerate(np.unique(y)):
        idx = leaders[y[leaders] == cls]
        rng = np.random.Generator(np.random.PCG64([int(seed), 1 + int(repeat), ci]))
        idx = idx[rng.permutation(len(idx))]
        rows = size[idx]
        start = np.cumsum(rows) - rows
        total = int(rows.sum())
        fold[idx] = np.minimum(k - 1, (start * k) // max(total, 1))
        got = np.bincount(fold[idx], weights=rows, minlength=k)
        if (got < 1).any():
            name = str(labels[ci] if labels is not None else cls)
            raise SnakesweepError(
                f"split.folds: class {name!r} has only {total} row(s) outside the test split ({len(idx)} distinct), "
                f"too few to put at least one in each of {k} folds; lower split.folds or add rows")
    return fold[leaders_of]


def fold_table(y: np.ndarray, subset: np.ndarray, *, folds: int, repeats: int, seed: int,
               groups: np.ndarray | None = None, labels=None) -> np.ndarray:
    """(repeats, rows outside the test split): each row's fold in each repeat. With one fold, the
    validation rows are fold 0 and the training rows TRAIN_ONLY."""
    dev = subset != "test"
    if folds == 1:
        return np.where(subset[dev] == "val", 0, TRAIN_ONLY)[None, :].astype(np.int64)
    g = None if groups is None else np.asarray(groups)[dev]
    return np.stack([stratified_folds(np.asarray(y)[dev], folds, seed, r, groups=g, labels=labels)
                     for r in range(repeats)])


def unit_rows(fold_of: np.ndarray, unit: dict) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into the rows outside the test split) of a unit's training and validation rows."""
    row_fold = fold_of[unit["repeat"]]
    val = row_fold == unit["fold"]
    return np.flatnonzero(~val), np.flatnonzero(val)


def fold_sizes(fold_of: np.ndarray) -> tuple[int, int]:
    """Rows trained and validated on per unit, on average: the ratio of the two sets the correction
    for overlapping training sets in selection.corrected_t."""
    val = np.mean([np.count_nonzero(row == f) for row in fold_of for f in np.unique(row[row >= 0])])
    return int(round(fold_of.shape[1] - val)), int(round(val))
