"""95% intervals of a ROC-AUC and of the paired difference of two, and the paired tests that find ties.

Everything here runs after training, on the validation or test scores each point stored: choosing
another method recomputes intervals, never a model. Methods (`evaluate.interval`), measured on binormal
data with a known AUC by `benchmarks/run.py coverage` (figures in docs/choosing.md):

- `newcombe` (the default): the score interval of Newcombe (2006, "Confidence intervals for an effect
  size measure based on the Mann-Whitney statistic. Part 2", Statistics in Medicine 25:559-573, his
  method 5). It solves (A - theta)^2 = z^2 V(theta) for theta, where V is Hanley & McNeil's variance
  written as a function of the true AUC theta, with both class sizes replaced by N* = (m + n)/2 - 1.
  V(theta) vanishes only at 0 and 1, so the interval never has zero width, an observed AUC of 1
  included; it is the one that held 95% coverage near AUC 1 in our measurements.
- `delong`: DeLong, DeLong & Clarke-Pearson (1988), the default of pROC: AUC +- z SE with the
  variance of the placement values, cut to [0, 1]. Zero width whenever the classes are separated.
- `delong_logit`: the same SE on the logit scale (Pepe 2003): inside (0, 1), but still zero width at 1.
- `hanley_mcneil`: Hanley & McNeil (1982): AUC +- z SE with their variance at the observed AUC.
- `bootstrap`: the stratified percentile bootstrap of snakesweep 0.4 and before (`evaluate.bootstrap`
  replicates, seed `evaluate.seed`), kept so older results can be reproduced.

A difference of two AUCs on the same rows takes, for `newcombe` and `hanley_mcneil`, the MOVER of Zou &
Donner (2008, Statistics in Medicine 27:1693-1702): the two AUCs' own intervals, recombined with the
correlation of the two estimates from DeLong's covariance (0 where one of them has no variance: the
widest). `delong` and `delong_logit` use DeLong's paired Wald interval, `bootstrap` the same resamples
for both. Ties with the best point use DeLong's paired test for a ROC-AUC and a paired t-test of the
per-row losses for a loss, with Holm's step-down correction over the comparisons (see `ties`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np

from .io import read_json, write_json

# Labels as bools, scores as float64, as the AUC reads them (metrics is in every id: reused, not edited).
from .metrics import _labels_scores, auc_from_counts, tie_groups

# Computed from stored scores after training: not part of a point's id (identity.py).
RESULT_CODE = False

LEVEL = 0.95
DEFAULT = "newcombe"
MIN_CLASS_ROWS = 20
CHUNK_CELLS = 1 << 20  # bootstrap: cells per array at once (8 MiB of int64 or float64)

METHODS = {
    "newcombe": "Newcombe (2006) score interval with the modified Hanley-McNeil variance",
    "delong": "DeLong (1988) Wald interval, cut to [0, 1]",
    "delong_logit": "DeLong (1988) standard error on the logit scale",
    "hanley_mcneil": "Hanley-McNeil (1982) Wald interval, cut to [0, 1]",
    "bootstrap": "stratified percentile bootstrap",
}
DIFFERENCE = {
    "newcombe": "MOVER (Zou & Donner 2008) from the two Newcombe intervals, correlated as DeLong's covariance says",
    "delong": "DeLong (1988) paired Wald interval",
    "delong_logit": "DeLong (1988) paired Wald interval",
    "hanley_mcneil": "MOVER (Zou & Donner 2008) from the two Hanley-McNeil intervals, with DeLong's correlation",
    "bootstrap": "paired stratified percentile bootstrap (the same resamples for both)",
}
# Each method's lowest coverage over true AUCs 0.7 to 0.995 at 10 and 20 rows per class, as
# benchmarks/run.py coverage measured it (benchmarks/coverage.jsonl; a unit test holds these to that
# file). The warning for too few rows quotes it.
MEASURED_COVERAGE = {"newcombe": {10: 0.945, 20: 0.9435}, "delong": {10: 0.217, 20: 0.538},
                     "delong_logit": {10: 0.2, 20: 0.51}, "hanley_mcneil": {10: 0.217, 20: 0.538},
                     "bootstrap": {10: 0.217, 20: 0.538}}


def z_of(level: float = LEVEL) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2)


def defined(y: np.ndarray, *score_sets: np.ndarray) -> bool:
    """Both classes present and every score finite: an AUC and its interval exist."""
    return bool(y.any()) and not bool(y.all()) and all(np.isfinite(s).all() for s in score_sets)


def _midranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing the mean of their ranks."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.r_[0, np.flatnonzero(np.diff(xs)) + 1]
    ends = np.r_[starts[1:], len(xs)]
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts + ends + 1) / 2, ends - starts)
    return ranks


@dataclass(frozen=True)
class Placements:
    """DeLong's placement values: for each positive the share of negatives it outscores (ties count
    half), for each negative the share of positives that outscore it. Their mean is the AUC."""

    pos: np.ndarray
    neg: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray, s: np.ndarray) -> Placements:
        m, n = int(y.sum()), int((~y).sum())
        ranks = _midranks(s)
        pos = (ranks[y] - _midranks(s[y])) / n
        neg = 1 - (ranks[~y] - _midranks(s[~y])) / m
        return cls(pos, neg)

    @property
    def auc(self) -> float:
        return float(self.pos.mean())

    def cov(self, other: Placements) -> float:
        """DeLong's covariance of two AUCs on the same rows (the variance, with itself)."""
        def c(a, b):
            return float(np.cov(a, b)[0, 1]) if len(a) > 1 else 0.0
        return c(self.pos, other.pos) / len(self.pos) + c(self.neg, other.neg) / len(self.neg)


# --- one AUC --------------------------------------------------------------------------------------------


def _cut(lo: float, hi: float) -> list[float]:
    return [float(max(0.0, lo)), float(min(1.0, hi))]


def _hm_variance(theta: float, m: int, n: int, modified: bool) -> float:
    """Hanley & McNeil's variance of the AUC at a true AUC theta; Newcombe's modification puts
    N* = (m + n)/2 - 1 for both class sizes. Plain floats: the score interval calls it a hundred times."""
    a, b = ((m + n) / 2 - 1,) * 2 if modified else (n, m)
    return theta * (1 - theta) / (m * n) * (1 + (a - 1) * (1 - theta) / (2 - theta) + (b - 1) * theta / (1 + theta))


def _score_root(f, lo: float, hi: float) -> float:
    """The root of f between lo (f <= 0) and hi (f >= 0), to machine precision, by bisection."""
    while True:
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            return mid
        lo, hi = (mid, hi) if f(mid) <= 0 else (lo, mid)


def newcombe(y: np.ndarray, s: np.ndarray, level: float = LEVEL) -> list[float]:
    """The theta that (A - theta)^2 <= z^2 V(theta) holds for, V the modified Hanley-McNeil variance."""
    m, n = int(y.sum()), int((~y).sum())
    a, z2 = Placements.of(y, s).auc, z_of(level) ** 2

    def f(theta):
        return (a - theta) ** 2 - z2 * _hm_variance(theta, m, n, modified=True)

    # f is > 0 at theta 0 and 1 (unless A is there) and <= 0 at A: one root on each side.
    lo = 0.0 if a <= 0 else _score_root(lambda t: -f(t), 0.0, a)
    hi = 1.0 if a >= 1 else _score_root(f, a, 1.0)
    return [float(lo), float(hi)]


def hanley_mcneil(y: np.ndarray, s: np.ndarray, level: float = LEVEL) -> list[float]:
    m, n = int(y.sum()), int((~y).sum())
    a = Placements.of(y, s).auc
    half = z_of(level) * math.sqrt(_hm_variance(a, m, n, modified=False))
    return _cut(a - half, a + half)


def delong(y: np.ndarray, s: np.ndarray, level: float = LEVEL) -> list[float]:
    p = Placements.of(y, s)
    half = z_of(level) * math.sqrt(max(0.0, p.cov(p)))
    return _cut(p.auc - half, p.auc + half)


def delong_logit(y: np.ndarray, s: np.ndarray, level: float = LEVEL) -> list[float]:
    p = Placements.of(y, s)
    a = p.auc
    if a <= 0 or a >= 1:
        return [a, a]
    half = z_of(level) * math.sqrt(max(0.0, p.cov(p))) / (a * (1 - a))
    logit = math.log(a / (1 - a))
    return [1 / (1 + math.exp(-(logit - half))), 1 / (1 + math.exp(-(logit + half)))]


def _draw_counts(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    """(b, n): how often each of n rows is drawn in each of b resamples of n rows with replacement."""
    idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
    return np.bincount(idx.ravel(), minlength=b * n).reshape(b, n)


def bootstrap_aucs(y: np.ndarray, score_sets: list[np.ndarray], n_boot: int, seed: int) -> list[np.ndarray]:
    """AUCs of each score set on the same n_boot stratified resamples (rows drawn within each class, so
    every replicate has both), in chunks of at most CHUNK_CELLS counts so memory stays bounded."""
    rng = np.random.Generator(np.random.PCG64(seed))
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    groups = [tie_groups(s) for s in score_sets]
    chunk = max(1, min(n_boot, CHUNK_CELLS // max(len(y), 1)))
    out = [[] for _ in score_sets]
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        c_pos, c_neg = _draw_counts(rng, len(pos), b), _draw_counts(rng, len(neg), b)
        for acc, (g, n_groups) in zip(out, groups, strict=True):
            acc.append(auc_from_counts(g[pos], g[neg], n_groups, c_pos, c_neg))
    return [np.concatenate(acc) for acc in out]


def _percentile(values: np.ndarray, level: float) -> list[float]:
    alpha = (1 - level) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha])
    return [float(lo), float(hi)]


def bootstrap(y: np.ndarray, s: np.ndarray, level: float = LEVEL, *, n_boot: int = 2000, seed: int = 0):
    return _percentile(bootstrap_aucs(y, [s], n_boot, seed)[0], level)


ONE = {"newcombe": newcombe, "delong": delong, "delong_logit": delong_logit, "hanley_mcneil": hanley_mcneil,
       "bootstrap": bootstrap}


@dataclass(frozen=True)
class Method:
    """An interval method as the config names it, with the bootstrap's replicates and seed (used by
    `bootstrap` alone)."""

    name: str = DEFAULT
    n_boot: int = 2000
    seed: int = 0
    level: float = LEVEL

    def __post_init__(self):
        if self.name not in ONE:
            raise ValueError(f"evaluate.interval must be one of {sorted(ONE)}, found {self.name!r}")

    @classmethod
    def of(cls, evaluate: dict | str | Path | None) -> Method:
        """From the config's `evaluate` section, or the file write_settings made of it (None: the default)."""
        if isinstance(evaluate, str | Path):
            evaluate = read_json(evaluate)
        evaluate = evaluate or {}
        return cls(evaluate.get("interval", DEFAULT), int(evaluate.get("bootstrap", 2000)),
                   int(evaluate.get("seed", 0)))

    def _options(self) -> dict:
        return {"n_boot": self.n_boot, "seed": self.seed} if self.name == "bootstrap" else {}

    def auc(self, y_true, scores) -> list[float]:
        """The 95% interval of the ROC-AUC of `scores` (NaNs when it is undefined)."""
        y, s = _labels_scores(y_true, scores)
        if not defined(y, s):
            return [float("nan"), float("nan")]
        return ONE[self.name](y, s, self.level, **self._options())

    def difference(self, y_true, scores_a, scores_b) -> list[float]:
        """The 95% interval of AUC(a) - AUC(b), both scored on the same rows."""
        y, a = _labels_scores(y_true, scores_a)
        b = np.asarray(scores_b, dtype=np.float64)
        if not defined(y, a, b):
            return [float("nan"), float("nan")]
        if self.name == "bootstrap":
            auc_a, auc_b = bootstrap_aucs(y, [a, b], self.n_boot, self.seed)
            return _percentile(auc_a - auc_b, self.level)
        pa, pb = Placements.of(y, a), Placements.of(y, b)
        d = pa.auc - pb.auc
        if self.name in ("delong", "delong_logit"):
            half = z_of(self.level) * math.sqrt(max(0.0, pa.cov(pa) + pb.cov(pb) - 2 * pa.cov(pb)))
            return [max(-1.0, d - half), min(1.0, d + half)]
        (l1, u1), (l2, u2) = self.auc(y, a), self.auc(y, b)
        va, vb = pa.cov(pa), pb.cov(pb)
        r = pa.cov(pb) / math.sqrt(va * vb) if va > 0 and vb > 0 else 0.0
        r = min(1.0, max(-1.0, r))
        lo = d - math.sqrt(max(0.0, (pa.auc - l1) ** 2 + (u2 - pb.auc) ** 2 - 2 * r * (pa.auc - l1) * (u2 - pb.auc)))
        hi = d + math.sqrt(max(0.0, (u1 - pa.auc) ** 2 + (pb.auc - l2) ** 2 - 2 * r * (u1 - pa.auc) * (pb.auc - l2)))
        return [lo, hi]

    def describe(self) -> dict:
        """What best.json says of the intervals it gives."""
        return {"method": self.name, "level": self.level, "roc_auc": METHODS[self.name],
                "difference": DIFFERENCE[self.name], **({"replicates": self.n_boot, "seed": self.seed}
                                                         if self.name == "bootstrap" else {})}


def write_settings(*, settings: dict, out: str) -> None:
    """The interval settings as a file (the rule interval_settings), checked: the jobs that compute
    intervals read it, so a changed method reruns them and nothing else."""
    method = Method.of(settings)
    write_json(out, {"interval": method.name, "bootstrap": method.n_boot, "seed": method.seed})
    print(f"intervals: {METHODS[method.name]}")


# --- caveats ---------------------------------------------------------------------------------------------


def few_rows_caveat(y_true, *, subset: str, method: str = DEFAULT,
                    min_class_rows: int = MIN_CLASS_ROWS) -> str | None:
    """A warning when a subset has fewer than `min_class_rows` rows of a class, quoting the method's lowest
    coverage measured at 10 rows per class (far below 95% for every method but newcombe)."""
    y = np.asarray(y_true).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if min(n_pos, n_neg) >= min_class_rows:
        return None
    low = MEASURED_COVERAGE[method][10]
    return (f"the {subset} has only {n_pos} positive and {n_neg} negative rows, fewer than {min_class_rows} of a "
            f"class: at 10 rows per class the {method} 95% interval held the true ROC-AUC in as few as {low:.1%} of "
            "simulated data sets (benchmarks/run.py coverage), and below 10 rows its coverage is unmeasured")


def zero_width_caveat(ci, *, what: str) -> str | None:
    """A warning when an interval has zero width (`delong`, `bootstrap`: the classes are separated
    perfectly): that is not certainty."""
    if ci is None or not all(v is not None and np.isfinite(v) for v in ci) or ci[0] != ci[1]:
        return None
    return (f"the 95% interval of {what} has zero width (the classes are separated perfectly); that shows too "
            f"few rows, not certainty: the default interval method, {DEFAULT}, never gives one")


# --- ties with the best point ------------------------------------------------------------------------------


def _two_sided(z: float) -> float:
    return 2 * NormalDist().cdf(-abs(z))


def delong_paired_p(y_true, best, other) -> float:
    """DeLong's paired test of AUC(best) = AUC(other) on the same rows: two-sided p-value."""
    y, a = _labels_scores(y_true, best)
    b = np.asarray(other, dtype=np.float64)
    pa, pb = Placements.of(y, a), Placements.of(y, b)
    d = pa.auc - pb.auc
    var = pa.cov(pa) + pb.cov(pb) - 2 * pa.cov(pb)
    if var <= 0:  # both rank the rows alike (no variance of the difference): equal or not at all
        return 1.0 if d == 0 else 0.0
    return _two_sided(d / math.sqrt(var))


def row_losses(y_true, logits) -> np.ndarray:
    """Binary cross-entropy of each row from its logit, in float64 (the mean is the point's val_loss)."""
    y, x = _labels_scores(y_true, logits)
    return np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta function (modified Lentz's method)."""
    tiny, c, d = 1e-300, 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    out = d
    for m in range(1, 10_000):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d, c = 1 + num * d, 1 + num / c
            d, c = 1 / (d if abs(d) > tiny else tiny), (c if abs(c) > tiny else tiny)
            out *= d * c
        if abs(d * c - 1) < 1e-16:
            break
    return out


def t_two_sided(t: float, df: int) -> float:
    """P(|T| >= |t|) for Student's t with `df` degrees of freedom: the regularized incomplete beta
    I_x(df/2, 1/2) at x = df/(df + t^2). Here rather than scipy, whose import is most of a summary
    job's cost on one split (0.2 s)."""
    x, a, b = df / (df + t * t), df / 2, 0.5
    if x <= 0 or x >= 1:  # |t| infinite, or 0
        return 0.0 if x <= 0 else 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    # The fraction converges fast for x < (a + 1)/(a + b + 2); otherwise through I_x(a, b) = 1 - I_1-x(b, a).
    if x < (a + 1) / (a + b + 2):
        return min(1.0, front * _beta_fraction(a, b, x) / a)
    return min(1.0, 1 - front * _beta_fraction(b, a, 1 - x) / b)


def loss_paired_p(y_true, best, other) -> float:
    """Paired t-test of the per-row losses of two models on the same rows: two-sided p-value."""
    d = row_losses(y_true, other) - row_losses(y_true, best)
    n = len(d)
    sd = float(d.std(ddof=1)) if n > 1 else 0.0
    if sd == 0:
        return 1.0 if float(d.mean()) == 0 else 0.0
    return t_two_sided(float(d.mean()) / (sd / math.sqrt(n)), n - 1)


PAIRED = {"val_roc_auc": (delong_paired_p, "DeLong's paired test of the validation ROC-AUC"),
          "val_loss": (loss_paired_p, "paired t-test of the per-row validation losses")}


def holm(p_values: dict[str, float | None]) -> dict[str, float | None]:
    """Holm's step-down adjustment of the p-values of k comparisons: the i-th smallest times (k - i + 1),
    never below the one before it, at most 1. Deciding "tied" at adjusted p >= 0.05 declares any point
    worse than the best with a family-wise error of at most 5% over all comparisons."""
    known = sorted((p, key) for key, p in p_values.items() if p is not None)
    k, running, out = len(known), 0.0, {key: None for key in p_values}
    for i, (p, key) in enumerate(known):
        running = max(running, min(1.0, (k - i) * p))
        out[key] = running
    return out


def single_split_p(metric: str, y, best_scores, other_scores) -> float | None:
    """The raw p-value of a point against the best on the same validation rows, by the test that fits
    `metric`; None for a metric measured on no stored rows (train_loss)."""
    if metric not in PAIRED:
        return None
    return PAIRED[metric][0](y, best_scores, other_scores)
