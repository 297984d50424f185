"""Do the workflow's 95% intervals of the ROC-AUC hold 95%? Measured, method by method.

Data sets are drawn from a binormal model with a known AUC (negatives N(0, 1), positives N(d, 1), so
AUC = Phi(d / sqrt 2)); every interval method of snakesweep.intervals is computed on each, exactly as the
workflow computes it from a point's stored scores, and each cell reports the share of intervals that
contain the true AUC (`coverage`), their mean width and the share of zero width. The paired difference
of two correlated scores on the same rows (correlation 0.5 within each class, as two models of one data
set) is measured the same way. `benchmarks/run.py coverage` runs the whole grid and prints JSON lines;
this script also runs a part of it:

    python benchmarks/interval_coverage.py --rows 20 40 --auc 0.9 0.98 --trials 500 --methods newcombe bootstrap

Every cell is seeded by its rows, AUC(s) and the seed, so a cell's figures do not depend on which other
cells run. The bootstrap uses 1,000 resamples here (the workflow's default is 2,000), which changes its
coverage by less than the trials' own noise and halves the benchmark.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from statistics import NormalDist

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from snakesweep.intervals import DEFAULT, ONE, Method  # noqa: E402

ROWS = (10, 20, 40, 100, 400)
AUCS = (0.7, 0.8, 0.9, 0.95, 0.98, 0.995)
# (AUC of model a, AUC of model b) for the paired difference: a real difference, and none at the top.
PAIRS = ((0.8, 0.7), (0.9, 0.8), (0.95, 0.9), (0.98, 0.95), (0.995, 0.98), (0.995, 0.995))
CORRELATION = 0.5
TRIALS = {"default": 2000, "other": 1000}
BOOTSTRAP = 1000


def _shift(auc: float) -> float:
    return math.sqrt(2) * NormalDist().inv_cdf(auc)


def _cell(hits: list[bool], widths: list[float], trials: int) -> dict:
    w = np.asarray(widths)
    return {"coverage": round(sum(hits) / trials, 4), "mean_width": round(float(w.mean()), 5),
            "zero_width": round(float((w == 0).mean()), 4), "trials": trials}


def auc_cell(method: str, rows: int, auc: float, trials: int, seed: int = 0) -> dict:
    """One cell: `trials` data sets of `rows` rows per class with true AUC `auc`."""
    rng = np.random.default_rng([seed, rows, round(auc * 1000)])
    y = np.r_[np.zeros(rows), np.ones(rows)].astype(bool)
    m = Method(method, n_boot=BOOTSTRAP, seed=seed)
    hits, widths = [], []
    for _ in range(trials):
        s = np.r_[rng.normal(size=rows), rng.normal(_shift(auc), 1, size=rows)]
        lo, hi = m.auc(y, s)
        hits.append(lo <= auc <= hi)
        widths.append(hi - lo)
    return {"name": "coverage", "method": method, "default": method == DEFAULT, "rows_per_class": rows, "auc": auc,
            **_cell(hits, widths, trials)}


def difference_cell(method: str, rows: int, pair: tuple[float, float], trials: int, seed: int = 0) -> dict:
    """One cell of the paired difference AUC(a) - AUC(b), a and b correlated CORRELATION within a class."""
    a, b = pair
    rng = np.random.default_rng([seed, rows, round(a * 1000), round(b * 1000)])
    y = np.r_[np.zeros(rows), np.ones(rows)].astype(bool)
    m = Method(method, n_boot=BOOTSTRAP, seed=seed)
    shift = np.r_[np.zeros(rows), np.ones(rows)]
    hits, widths = [], []
    for _ in range(trials):
        e1, e2 = rng.normal(size=2 * rows), rng.normal(size=2 * rows)
        sa = e1 + _shift(a) * shift
        sb = CORRELATION * e1 + math.sqrt(1 - CORRELATION**2) * e2 + _shift(b) * shift
        lo, hi = m.difference(y, sa, sb)
        hits.append(lo <= a - b <= hi)
        widths.append(hi - lo)
    return {"name": "coverage_difference", "method": method, "default": method == DEFAULT, "rows_per_class": rows,
            "auc": a, "auc_b": b, "difference": round(a - b, 6), "correlation": CORRELATION,
            **_cell(hits, widths, trials)}


def trials_of(method: str, trials: dict | None = None) -> int:
    trials = trials or TRIALS
    return trials["default"] if method == DEFAULT else trials["other"]


def jobs(methods=tuple(ONE), rows=ROWS, aucs=AUCS, pairs=PAIRS, trials=None, seed=0) -> list[tuple]:
    """Every cell as (function, arguments), the slowest first so the pool's workers end together."""
    out = [(auc_cell, (m, n, a, trials_of(m, trials), seed)) for m in methods for n in rows for a in aucs]
    out += [(difference_cell, (m, n, p, trials_of(m, trials), seed)) for m in methods for n in rows for p in pairs]
    return sorted(out, key=lambda j: -(j[1][1] * j[1][3] * (20 if j[1][0] == "bootstrap" else 1)))


def _run(job):
    fn, args = job
    return fn(*args)


def run(workers: int | None = None, **grid):
    """Yield every cell's line, computed on `workers` processes (default: every CPU)."""
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        yield from pool.map(_run, jobs(**grid))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=list(ROWS))
    ap.add_argument("--auc", type=float, nargs="+", default=list(AUCS))
    ap.add_argument("--methods", nargs="+", default=list(ONE), choices=list(ONE))
    ap.add_argument("--trials", type=int, help="per cell, every method (default: 2000 for the default method, "
                                               "1000 for the others)")
    ap.add_argument("--no-difference", action="store_true", help="leave out the paired difference")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    trials = {"default": args.trials, "other": args.trials} if args.trials else None
    for line in run(methods=args.methods, rows=args.rows, aucs=args.auc, trials=trials, seed=args.seed,
                    pairs=() if args.no_difference else PAIRS):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
