"""Tests for snakesweep.intervals: each interval method against its definition, the paired tests and
Holm's correction, the caveats, and the coverage benchmark's cells."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from snakesweep import intervals
from snakesweep.intervals import Method, Placements
from snakesweep.metrics import roc_auc

REPO = Path(__file__).resolve().parents[2]
METHODS = sorted(intervals.ONE)


def noisy(n: int, seed: int, signal: float = 1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    return y.astype(bool), signal * y + rng.normal(size=n)


def separated(rows: int):
    """Positives all above negatives: an observed AUC of 1."""
    return np.r_[np.ones(rows), np.zeros(rows)].astype(bool), np.r_[np.arange(rows) + rows, np.arange(rows)] * 1.0


def brute_delong(y, a, b):
    """DeLong's variances and covariance from the O(mn) kernel psi, as the 1988 paper writes them."""
    def placements(s):
        pos, neg = s[y], s[~y]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(axis=1), psi.mean(axis=0), psi.mean()

    (a10, a01, auc_a), (b10, b01, auc_b) = placements(a), placements(b)
    m, n = len(a10), len(a01)
    cov = np.cov(a10, b10)[0, 1] / m + np.cov(a01, b01)[0, 1] / n
    var_a = np.var(a10, ddof=1) / m + np.var(a01, ddof=1) / n
    var_b = np.var(b10, ddof=1) / m + np.var(b01, ddof=1) / n
    return auc_a, auc_b, var_a, var_b, cov


# --- DeLong ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ties", [False, True])
def test_placements_give_delongs_variance_and_covariance(ties):
    y, a = noisy(90, 1)
    b = a + np.random.default_rng(2).normal(scale=0.7, size=len(a))
    if ties:
        a, b = np.round(a, 1), np.round(b)
    pa, pb = Placements.of(y, a), Placements.of(y, b)
    auc_a, auc_b, var_a, var_b, cov = brute_delong(y, a, b)
    assert pa.auc == pytest.approx(auc_a, abs=1e-12) and pa.auc == pytest.approx(roc_auc(y, a), abs=1e-12)
    assert pb.auc == pytest.approx(auc_b, abs=1e-12)
    assert pa.cov(pa) == pytest.approx(var_a, rel=1e-10) and pb.cov(pb) == pytest.approx(var_b, rel=1e-10)
    assert pa.cov(pb) == pytest.approx(cov, rel=1e-10)
    lo, hi = Method("delong").auc(y, a)
    z = stats.norm.ppf(0.975)
    assert (lo, hi) == pytest.approx((auc_a - z * math.sqrt(var_a), auc_a + z * math.sqrt(var_a)), abs=1e-12)


def test_delong_paired_test_is_the_z_test_of_the_difference():
    y, a = noisy(120, 3)
    b = a + np.random.default_rng(4).normal(scale=1.5, size=len(a))
    auc_a, auc_b, var_a, var_b, cov = brute_delong(y, a, b)
    z = (auc_a - auc_b) / math.sqrt(var_a + var_b - 2 * cov)
    assert intervals.delong_paired_p(y, a, b) == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    assert intervals.delong_paired_p(y, a, b) < 0.05  # much noise added: clearly worse
    assert intervals.delong_paired_p(y, a, a.copy()) == 1.0
    # Both separate the classes: no difference, and no variance of one.
    y1, s1 = separated(20)
    assert intervals.delong_paired_p(y1, s1, s1 * 2) == 1.0


def test_loss_paired_test_is_the_paired_t_test_of_row_losses():
    import torch

    y, a = noisy(100, 5, signal=2.0)
    b = a * 0.5
    la = intervals.row_losses(y, a)
    # The mean of the row losses is the loss the engines record.
    ref = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(a), torch.tensor(y, dtype=torch.float64))
    assert la.mean() == pytest.approx(float(ref), rel=1e-12)
    expected = stats.ttest_rel(intervals.row_losses(y, b), la).pvalue
    assert intervals.loss_paired_p(y, a, b) == pytest.approx(expected, rel=1e-9)
    assert intervals.loss_paired_p(y, a, a.copy()) == 1.0


@pytest.mark.parametrize("df", [1, 2, 5, 30, 112, 1000, 100_000])
def test_the_t_distributions_tail_matches_scipy(df):
    for t in (0.0, 0.1, 0.7, 1.96, 3.0, 8.0, 40.0):
        assert intervals.t_two_sided(t, df) == pytest.approx(2 * stats.t.sf(t, df), rel=1e-10, abs=1e-300)
        assert intervals.t_two_sided(-t, df) == intervals.t_two_sided(t, df)


# --- Newcombe and Hanley-McNeil ------------------------------------------------------------------------


def hm(theta, m, n, modified):
    a, b = ((m + n) / 2 - 1,) * 2 if modified else (n, m)
    q1, q2 = theta / (2 - theta), 2 * theta**2 / (1 + theta)
    return (theta * (1 - theta) + (a - 1) * (q1 - theta**2) + (b - 1) * (q2 - theta**2)) / (m * n)


@pytest.mark.parametrize("rows", [5, 20, 42, 400])
def test_newcombe_bounds_solve_the_score_equation_and_never_have_zero_width(rows):
    y, s = separated(rows)
    lo, hi = Method("newcombe").auc(y, s)
    z2 = stats.norm.ppf(0.975) ** 2
    assert hi == 1.0 and 0 < lo < 1
    assert (1 - lo) ** 2 == pytest.approx(z2 * hm(lo, rows, rows, True), rel=1e-9)
    # The same bound from the quartic the equation becomes, solved by numpy.
    m = n = rows
    k = (m + n) / 2 - 2
    # (1 - t)^2 (2 - t)(1 + t) mn = z2 t (1 - t) [(2 - t)(1 + t) + k (1 - t)(1 + t) + k t (2 - t)], / (1 - t)
    lhs = np.polymul(np.polymul([-1, 1], [-1, 2]), [1, 1]) * m * n
    bracket = np.polyadd(np.polyadd(np.polymul([-1, 2], [1, 1]), k * np.polymul([-1, 1], [1, 1])),
                         k * np.polymul([1, 0], [-1, 2]))
    roots = np.roots(np.polysub(lhs, z2 * np.polymul([1, 0], bracket)))
    real = [r.real for r in roots if abs(r.imag) < 1e-9 and 0 < r.real < 1]
    assert lo == pytest.approx(max(real), abs=1e-9)


def test_newcombe_and_hanley_mcneil_contain_the_estimate_and_narrow_with_rows():
    for name in ("newcombe", "hanley_mcneil"):
        widths = []
        for n in (60, 600, 3000):
            y, s = noisy(n, 2)
            lo, hi = Method(name).auc(y, s)
            assert lo < roc_auc(y, s) < hi
            widths.append(hi - lo)
        assert widths[0] > widths[1] > widths[2] and widths[1] < 0.5 * widths[0]


def test_hanley_mcneil_is_the_wald_interval_of_their_variance():
    y, s = noisy(80, 6)
    a, m, n = roc_auc(y, s), int(y.sum()), int((~y).sum())
    half = stats.norm.ppf(0.975) * math.sqrt(hm(a, m, n, False))
    assert Method("hanley_mcneil").auc(y, s) == pytest.approx([a - half, a + half], abs=1e-12)


def test_only_some_methods_give_zero_width_at_an_auc_of_one():
    y, s = separated(42)
    widths = {name: np.diff(Method(name).auc(y, s))[0] for name in METHODS}
    assert widths["newcombe"] > 0.02
    assert widths["delong"] == widths["delong_logit"] == widths["hanley_mcneil"] == widths["bootstrap"] == 0


# --- the bootstrap, as snakesweep 0.4 computed it ----------------------------------------------------------


def test_bootstrap_contains_the_estimate_is_seeded_and_narrows():
    for seed in range(3):
        y, s = noisy(200, seed)
        lo, hi = intervals.bootstrap(y, s, n_boot=1000, seed=seed)
        assert 0 <= lo < roc_auc(y, s) < hi <= 1
    y, s = noisy(150, 1)
    assert intervals.bootstrap(y, s, n_boot=500, seed=3) == intervals.bootstrap(y, s, n_boot=500, seed=3)
    assert intervals.bootstrap(y, s, n_boot=500, seed=3) != intervals.bootstrap(y, s, n_boot=500, seed=4)
    lo90, hi90 = intervals.bootstrap(y, s, 0.9, n_boot=800)
    lo99, hi99 = intervals.bootstrap(y, s, 0.99, n_boot=800)
    assert lo99 <= lo90 and hi90 <= hi99 and (hi99 - lo99) > (hi90 - lo90)


def test_bootstrap_method_uses_the_configs_replicates_and_seed():
    y, s = noisy(150, 1)
    method = Method.of({"interval": "bootstrap", "bootstrap": 500, "seed": 3})
    assert method.auc(y, s) == intervals.bootstrap(y, s, n_boot=500, seed=3)
    assert method.describe()["replicates"] == 500 and "replicates" not in Method().describe()


def test_bootstrap_memory_stays_bounded_as_rows_grow():
    import tracemalloc

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100_000)
    s = y + rng.normal(size=len(y))
    tracemalloc.start()
    try:
        Method("bootstrap", n_boot=400, seed=3).difference(y, s, s + rng.normal(size=len(y)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # All replicates at once would take 400 x 100,000 x 8 bytes = 320 MB per array; chunked, it stays
    # near ten arrays of CHUNK_CELLS.
    assert peak < 100e6, f"{peak / 1e6:.0f} MB"


# --- differences -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", METHODS)
def test_difference_finds_a_better_model_and_is_antisymmetric(name):
    y, s = noisy(300, 6, signal=2.0)
    worse = s + np.random.default_rng(1).normal(scale=3.0, size=len(s))
    method = Method(name, n_boot=500)
    lo, hi = method.difference(y, s, worse)
    assert 0 < lo < roc_auc(y, s) - roc_auc(y, worse) < hi
    assert method.difference(y, worse, s) == pytest.approx([-hi, -lo], abs=1e-12)
    assert method.difference(y, s, s.copy())[0] <= 0 <= method.difference(y, s, s.copy())[1]


def test_mover_is_the_square_and_add_of_the_two_intervals():
    y, a = noisy(150, 8)
    b = a + np.random.default_rng(3).normal(scale=1.0, size=len(a))
    pa, pb = Placements.of(y, a), Placements.of(y, b)
    r = pa.cov(pb) / math.sqrt(pa.cov(pa) * pb.cov(pb))
    (l1, u1), (l2, u2) = Method().auc(y, a), Method().auc(y, b)
    t1, t2 = pa.auc, pb.auc
    lo = t1 - t2 - math.sqrt((t1 - l1) ** 2 + (u2 - t2) ** 2 - 2 * r * (t1 - l1) * (u2 - t2))
    hi = t1 - t2 + math.sqrt((u1 - t1) ** 2 + (t2 - l2) ** 2 - 2 * r * (u1 - t1) * (t2 - l2))
    assert Method().difference(y, a, b) == pytest.approx([lo, hi], abs=1e-12)


def test_undefined_intervals_are_nan():
    for name in METHODS:
        assert all(math.isnan(v) for v in Method(name, n_boot=10).auc([1, 1, 1], [0.1, 0.2, 0.3]))
        assert all(math.isnan(v) for v in Method(name, n_boot=10).auc([0, 1, 1], [0.1, np.nan, 0.3]))
        assert all(math.isnan(v) for v in Method(name, n_boot=10).difference([0, 1], [0.1, 0.2], [0.3, np.inf]))


def test_an_unknown_method_names_the_key():
    with pytest.raises(ValueError, match="evaluate.interval must be one of"):
        Method.of({"interval": "wald"})


# --- ties: Holm's correction ---------------------------------------------------------------------------


def test_holm_adjusts_step_down_and_keeps_the_order():
    got = intervals.holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005, "e": None})
    assert got == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06, "d": 0.02, "e": None})
    assert intervals.holm({"a": 0.6, "b": 0.9}) == {"a": 1.0, "b": 1.0}
    assert intervals.holm({}) == {}


# --- caveats and the measured coverage -----------------------------------------------------------------


def test_few_rows_caveat_quotes_the_measured_coverage_of_the_method():
    y = np.r_[np.ones(5), np.zeros(5)]
    text = intervals.few_rows_caveat(y, subset="test split", method="bootstrap")
    assert "only 5 positive and 5 negative" in text and "as few as 21.7%" in text and "bootstrap" in text
    assert "94.5%" in intervals.few_rows_caveat(y, subset="test split")
    assert intervals.few_rows_caveat(np.r_[np.ones(40), np.zeros(40)], subset="test split") is None
    assert "zero width" in intervals.zero_width_caveat([1.0, 1.0], what="x")
    assert intervals.zero_width_caveat([0.9, 0.95], what="x") is None


def test_measured_coverage_is_what_the_committed_benchmark_measured():
    rows = [json.loads(line) for line in (REPO / "benchmarks/coverage.jsonl").read_text().splitlines()]
    cells = [r for r in rows if r["name"] == "coverage"]
    for method, by_rows in intervals.MEASURED_COVERAGE.items():
        for n, value in by_rows.items():
            assert value == min(r["coverage"] for r in cells if r["method"] == method and r["rows_per_class"] == n)
    default = [r for r in cells if r["default"]]
    assert {r["method"] for r in default} == {intervals.DEFAULT}
    assert all(r["coverage"] >= 0.93 and r["zero_width"] == 0 for r in default if r["rows_per_class"] >= 20)


def test_a_coverage_cell_is_seeded_and_measures_what_it_says():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import interval_coverage as bench
    finally:
        sys.path.pop(0)
    cell = bench.auc_cell("newcombe", 20, 0.995, trials=200)
    assert cell == bench.auc_cell("newcombe", 20, 0.995, trials=200)
    assert cell["name"] == "coverage" and cell["default"] is True and cell["zero_width"] == 0
    assert cell["coverage"] >= 0.93
    # The same data sets: DeLong's interval collapses at an observed AUC of 1 and misses the truth.
    delong = bench.auc_cell("delong", 20, 0.995, trials=200)
    assert delong["zero_width"] > 0.3 and delong["coverage"] < 0.7
    diff = bench.difference_cell("newcombe", 40, (0.9, 0.8), trials=100)
    assert diff["name"] == "coverage_difference" and diff["difference"] == pytest.approx(0.1)
    assert 0.85 <= diff["coverage"] <= 1


def test_the_settings_file_is_what_the_jobs_after_training_read(tmp_path):
    out = tmp_path / "intervals.json"
    intervals.write_settings(settings={"interval": "bootstrap", "bootstrap": 500, "seed": 7}, out=str(out))
    assert Method.of(out) == Method("bootstrap", n_boot=500, seed=7) == Method.of(str(out))
    assert Method.of(None) == Method() and Method().name == intervals.DEFAULT
    with pytest.raises(ValueError, match="evaluate.interval"):
        intervals.write_settings(settings={"interval": "exact"}, out=str(out))
