"""Choosing the best point from the per-point records alone, and honest intervals on small splits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snakesweep import SnakesweepError, metrics
from snakesweep.choose import choose_best
from snakesweep.summary import results_table

# --- selection from per-point results ----------------------------------------------------------------


def record(point, val_loss, status="ok", auc=0.9, lr=0.01):
    return {"point": point, "params": {"learning_rate": lr}, "status": status, "reason": "",
            "val_loss": val_loss, "val_roc_auc": auc, "val_roc_auc_ci95": [auc - 0.05, min(1.0, auc + 0.05)],
            "val_rows": {"positive": 40, "negative": 70}, "train_loss": 0.1, "epochs": 2, "seed": 1}


RECORDS = [record("cccc", 0.30), record("aaaa", 0.20, auc=0.95), record("bbbb", 0.20, auc=0.80),
           record("dddd", None, status="failed"), record("eeee", 0.10, status="failed")]


@pytest.mark.parametrize(("metric", "goal", "best"), [
    ("val_loss", "minimize", "aaaa"),  # tied with bbbb: the smaller id wins
    ("val_loss", "maximize", "cccc"),
    ("val_roc_auc", "maximize", "aaaa"),
    ("val_roc_auc", "minimize", "bbbb"),
])
def test_choose_best_follows_metric_and_goal_and_ignores_failed_points(metric, goal, best):
    table = results_table(RECORDS, ["learning_rate"], metric, goal)
    assert choose_best(RECORDS, metric, goal)["point"] == best
    assert table.iloc[0]["point"] == best  # the summary's order agrees with the choice
    assert list(table["status"].iloc[-2:]) == ["failed", "failed"]
    # Any order of the points gives the same choice.
    rng = np.random.default_rng(0)
    for _ in range(5):
        assert choose_best([RECORDS[i] for i in rng.permutation(len(RECORDS))], metric, goal)["point"] == best


def test_choose_best_without_any_usable_point_is_refused():
    with pytest.raises(SnakesweepError, match="no point finished"):
        choose_best(RECORDS[3:], "val_loss", "minimize")


def test_summary_rows_carry_validation_warnings():
    small = dict(record("ffff", 0.1), val_rows={"positive": 3, "negative": 4}, val_roc_auc_ci95=[1.0, 1.0])
    table = results_table([small, RECORDS[0]], ["learning_rate"], "val_loss", "minimize")
    warn = table.set_index("point")["warnings"]
    assert "only 3 positive and 4 negative" in warn["ffff"] and "zero width" in warn["ffff"]
    assert warn["cccc"] == ""


def test_summarize_refuses_a_metrics_file_of_another_point(tmp_path):
    from snakesweep.choose import read_records

    path = tmp_path / "m.json"
    path.write_text(json.dumps(record("aaaa", 0.2)))
    with pytest.raises(SnakesweepError, match="not 'bbbb'"):
        read_records(["bbbb"], [str(path)])


# --- intervals on small splits ------------------------------------------------------------------------


def test_few_rows_and_zero_width_intervals_are_flagged():
    y = np.r_[np.ones(5), np.zeros(5)]
    s = np.r_[np.full(5, 2.0), np.zeros(5)] + np.arange(10) * 1e-3  # perfectly separated
    ci = metrics.bootstrap_auc(y, s, n_boot=500)
    assert ci == [1.0, 1.0]
    assert "only 5 positive and 5 negative" in metrics.few_rows_caveat(y, subset="test split")
    assert "zero width" in metrics.zero_width_caveat(ci, what="x")
    big = np.r_[np.ones(40), np.zeros(40)]
    assert metrics.few_rows_caveat(big, subset="test split") is None
    assert metrics.zero_width_caveat([0.9, 0.95], what="x") is None


def test_bootstrap_memory_stays_bounded_as_rows_grow():
    import tracemalloc

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100_000)
    s = y + rng.normal(size=len(y))
    tracemalloc.start()
    try:
        lo, hi = metrics.paired_bootstrap_diff(y, s, s + rng.normal(size=len(y)), n_boot=400, seed=3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # All replicates at once would take 400 x 100,000 x 8 bytes = 320 MB per array, of which the
    # computation needs several; chunked, it stays near ten arrays of CHUNK_CELLS.
    assert peak < 100e6, f"{peak / 1e6:.0f} MB"
    assert lo < hi
