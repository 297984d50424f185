"""Choosing the best point from the per-point records alone, and honest intervals on small splits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snakesweep import SnakesweepError
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


# --- intervals and ties on one split, from the stored scores ------------------------------------------------


def scored(tmp_path, point, logits, y, **fields):
    """A point's record and its val_scores.tsv, as a pack leaves them."""
    from snakesweep.intervals import row_losses
    from snakesweep.io import write_scores
    from snakesweep.metrics import roc_auc

    folder = tmp_path / point
    folder.mkdir()
    write_scores(folder / "val_scores.tsv", y, logits)
    rec = {**record(point, float(row_losses(y, logits).mean()), auc=roc_auc(y, logits)), **fields}
    rec.pop("val_roc_auc_ci95")
    (folder / "metrics.json").write_text(json.dumps(rec))
    return rec, str(folder / "metrics.json")


@pytest.fixture
def three_points(tmp_path):
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(45), np.zeros(70)].astype(bool)
    best = np.where(y, 3.0, -3.0) + rng.normal(size=len(y))
    close = best + rng.normal(scale=0.05, size=len(y))  # the same model, give or take
    worse = np.where(y, 0.6, -0.6) + rng.normal(size=len(y))  # clearly worse on every row
    made = [scored(tmp_path, p, s, y) for p, s in (("aaaa", best), ("bbbb", close), ("cccc", worse))]
    return [m[0] for m in made], [m[1] for m in made]


@pytest.mark.parametrize(("metric", "goal"), [("val_roc_auc", "maximize"), ("val_loss", "minimize")])
def test_ties_on_one_split_come_from_the_stored_scores(three_points, metric, goal):
    from snakesweep import intervals
    from snakesweep.summary import read_with_intervals

    records, files = three_points
    records, scores, method = read_with_intervals([r["point"] for r in records], files, {"interval": "newcombe"})
    table = results_table(records, ["learning_rate"], metric, goal, scores=scores, method=method).set_index("point")
    best = table.index[0]
    assert table.loc[best, "tied_with_best"] == True  # noqa: E712
    assert pd.isna(table.loc[best, "p_vs_best"])
    assert table.loc["cccc", "tied_with_best"] == False and table.loc["cccc", "p_vs_best"] < 0.05  # noqa: E712
    close = "bbbb" if best == "aaaa" else "aaaa"
    assert table.loc[close, "tied_with_best"] == True and table.loc[close, "p_vs_best"] >= 0.05  # noqa: E712
    # Holm: the smaller raw p of the two comparisons doubled.
    raw = intervals.single_split_p(metric, scores[best][0], scores[best][1], scores["cccc"][1])
    assert table.loc["cccc", "p_vs_best"] == pytest.approx(min(1.0, 2 * raw))
    # The interval of each point is the method's, from its scores, and the table says which.
    assert (table["interval"] == "newcombe").all()
    assert [table.loc["cccc", "val_roc_auc_lo"], table.loc["cccc", "val_roc_auc_hi"]] == method.auc(*scores["cccc"])


def test_ties_on_train_loss_are_not_tested_on_one_split(three_points):
    from snakesweep.summary import read_with_intervals

    records, scores, method = read_with_intervals([r["point"] for r in three_points[0]], three_points[1], None)
    table = results_table(records, ["learning_rate"], "train_loss", "minimize", scores=scores, method=method)
    assert table["p_vs_best"].isna().all() and table["tied_with_best"].iloc[1:].isna().all()


def test_another_interval_method_changes_the_intervals_not_the_records(three_points):
    from snakesweep.summary import read_with_intervals

    points = [r["point"] for r in three_points[0]]
    boot, _, _ = read_with_intervals(points, three_points[1], {"interval": "bootstrap", "bootstrap": 300, "seed": 1})
    newc, _, _ = read_with_intervals(points, three_points[1], {"interval": "newcombe"})
    assert boot[2]["interval"] == "bootstrap" and newc[2]["interval"] == "newcombe"
    assert boot[2]["val_roc_auc_ci95"] != newc[2]["val_roc_auc_ci95"]
    assert {k: v for k, v in boot[2].items() if k not in ("interval", "val_roc_auc_ci95")} == {
        k: v for k, v in newc[2].items() if k not in ("interval", "val_roc_auc_ci95")}


def test_a_point_without_stored_scores_is_named(three_points):
    from snakesweep.summary import read_with_intervals

    Path(three_points[1][1]).with_name("val_scores.tsv").unlink()
    with pytest.raises(SnakesweepError, match="bbbb.*no validation scores; delete its folder"):
        read_with_intervals([r["point"] for r in three_points[0]], three_points[1], None)
