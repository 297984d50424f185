"""How often does snakesweep's bootstrap 95% interval of ROC-AUC contain the true AUC?

The reason for `evaluate.min_class_rows`: below some number of rows per class the percentile
bootstrap's interval is too narrow, and a reader who takes it at face value is misled. This draws many
data sets from a binormal model with a known AUC (negatives N(0, 1), positives N(d, 1), so
AUC = Phi(d / sqrt 2)), computes snakesweep's interval (`metrics.bootstrap_auc`, stratified percentile
bootstrap) on each, and prints the share of intervals that contain the true value, and how many have
zero width.

    python benchmarks/coverage.py                  # about a minute on 2 cores
    python benchmarks/coverage.py --trials 1000 --rows 5 10 20 40
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from statistics import NormalDist

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from snakesweep.metrics import bootstrap_auc  # noqa: E402


def coverage(rows_per_class: int, auc: float, trials: int, n_boot: int, seed: int) -> dict:
    d = math.sqrt(2) * NormalDist().inv_cdf(auc)
    rng = np.random.default_rng([seed, rows_per_class, round(auc * 1000)])
    y = np.r_[np.zeros(rows_per_class), np.ones(rows_per_class)].astype(bool)
    hit = zero = 0
    for t in range(trials):
        s = np.r_[rng.normal(size=rows_per_class), rng.normal(d, 1, size=rows_per_class)]
        lo, hi = bootstrap_auc(y, s, n_boot=n_boot, seed=t)
        hit += lo <= auc <= hi
        zero += lo == hi
    return {"rows_per_class": rows_per_class, "true_auc": auc, "coverage": hit / trials,
            "zero_width": zero / trials, "trials": trials}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[5, 10, 20, 40, 80])
    ap.add_argument("--auc", type=float, nargs="+", default=[0.8, 0.9, 0.98])
    ap.add_argument("--trials", type=int, default=400)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print("| rows per class | " + " | ".join(f"AUC {a}: coverage (zero width)" for a in args.auc) + " |")
    print("| --- |" + " --- |" * len(args.auc))
    for n in args.rows:
        cells = [coverage(n, a, args.trials, args.bootstrap, args.seed) for a in args.auc]
        print(f"| {n} | " + " | ".join(f"{c['coverage']:.0%} ({c['zero_width']:.0%})" for c in cells) + " |",
              flush=True)


if __name__ == "__main__":
    main()
