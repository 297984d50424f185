"""The summary table: one row per point from the points' own records, ranked by the sweep's metric.

Nothing reads it back: the choice of the best point (choose.py) and the test evaluation read each
point's metrics.json, so a summary edited by hand changes nothing. The built-in model's table has its
validation figures, intervals, ties and caveats; an own program's has the metric it logs. Intervals
and ties are computed here, from the scores each point stored (intervals.py), so choosing another
interval method never retrains a point.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import SnakesweepError, intervals, layout
from .choose import read_records
from .hparams import INT_HPARAMS
from .io import cast_ints, read_scores, read_tsv, write_tsv
from .ranking import ranked_frame, usable

# Reading and ranking results, not computing them: not part of a point's id (identity.py).
RESULT_CODE = False

SUMMARY_METRICS = ["status", "reason", "val_loss", "val_roc_auc", "val_roc_auc_lo", "val_roc_auc_hi", "interval",
                   "tied_with_best", "p_vs_best", "train_loss", "epochs", "seed", "engine", "device", "train_seconds",
                   "startup_seconds", "warnings"]
WARNING_SEP = " | "  # between the warnings of one point in the summary (they contain semicolons)


def val_caveats(rec: dict, min_class_rows: int, method: str = intervals.DEFAULT) -> list[str]:
    """Warnings about a point's validation interval (with_intervals), from the class counts its job
    recorded. A point trained as units (folds, seeds) has its interval over its units instead."""
    if rec.get("units"):
        return []
    rows = rec.get("val_rows") or {}
    y = np.r_[np.ones(rows.get("positive", 0), bool), np.zeros(rows.get("negative", 0), bool)]
    found = (intervals.few_rows_caveat(y, subset="validation split", method=method, min_class_rows=min_class_rows),
             intervals.zero_width_caveat(rec.get("val_roc_auc_ci95"), what="the validation ROC-AUC"))
    return [w for w in found if w]


def stored_scores(records: list[dict], metric_files: list[str]) -> dict[str, tuple]:
    """(labels, scores) of the validation rows of every usable point trained on the single split, from
    the file beside its metrics.json."""
    out = {}
    for rec, path in zip(records, metric_files, strict=True):
        if rec.get("status") != "ok" or rec.get("units"):
            continue
        scores = layout.files(Path(path).parent)["scores"]
        if not scores.is_file():
            raise SnakesweepError(f"{scores} is missing: point {rec['point']} was trained by an older snakesweep "
                                  "that kept no validation scores; delete its folder so it is trained again")
        out[rec["point"]] = read_scores(scores)
    return out


def with_intervals(records: list[dict], scores: dict[str, tuple], method: intervals.Method) -> list[dict]:
    """The records (copies) with each single-split point's validation ROC-AUC interval by `method`,
    computed from its stored `scores` (stored_scores), and the name of the interval each point's bounds are."""
    out = []
    for rec in records:
        rec = dict(rec)
        if rec.get("units"):
            rec["interval"] = "nadeau_bengio_t" if (rec.get("cv") or {}).get("folds", 1) > 1 else "t_over_seeds"
        elif rec["point"] in scores:
            rec["val_roc_auc_ci95"] = method.auc(*scores[rec["point"]])
            rec["interval"] = method.name
        out.append(rec)
    return out


def results_table(records: list[dict], names: list[str], metric: str, goal: str,
                  min_class_rows: int = intervals.MIN_CLASS_ROWS, scores: dict[str, tuple] | None = None,
                  method: intervals.Method | None = None):
    """One row per point: its swept parameters and results, best first by the sweep's metric and goal.

    Built from the per-point results alone (`records` from with_intervals, `scores` from stored_scores),
    so the summary file is a report that nothing reads back. Failed points and points without a finite
    metric come last; ties are broken by point id, so the order never depends on the order jobs
    finished in. `tied_with_best` and `p_vs_best`: see ties_of.
    """
    method = method or intervals.Method()
    rows = []
    # A swept engine or seed is a parameter column already: one column per name. Adaptive sweeps record
    # the round and rung each point reached.
    recorded = [k for k in SUMMARY_METRICS if k not in names]
    recorded += [k for k in ("round", "rung") if any(k in r for r in records)]
    if any(r.get("units") for r in records):
        # Each metric is the mean over the point's units (folds x seeds); its SD and interval beside it.
        at = recorded.index("val_loss")
        recorded[at:at] = [*UNIT_COLUMNS, "n_units"]
    tied = ties_of(records, metric, goal, scores or {})
    for rec in records:
        ci = rec.get("val_roc_auc_ci95") or [None, None]
        row = {"point": rec["point"], **{n: rec["params"].get(n) for n in names},
               **{k: rec.get(k) for k in recorded},
               "val_roc_auc_lo": ci[0], "val_roc_auc_hi": ci[1],
               "warnings": WARNING_SEP.join(val_caveats(rec, min_class_rows, method.name)) if rec["status"] == "ok"
               else "",
               "tied_with_best": tied.get(rec["point"], {}).get("tied"),
               "p_vs_best": tied.get(rec["point"], {}).get("p")}
        rows.append(row)
    df = pd.DataFrame(rows, columns=["point", *names, *recorded])
    df = ranked_frame(df, metric, goal)
    df["reason"] = df["reason"].fillna("")
    return cast_ints(df, INT_HPARAMS)


UNIT_COLUMNS = ["val_roc_auc_mean", "val_roc_auc_sd", "val_loss_mean", "val_loss_sd"]


def ties_of(records: list[dict], metric: str, goal: str, scores: dict[str, tuple]) -> dict[str, dict]:
    """Which usable points cannot be told apart from the best by `metric`: per point `p` (its paired
    test against the best, Holm-adjusted over all such comparisons; None for the best itself) and
    `tied` (p >= 0.05; the best is tied with itself). With units the test is over units
    (selection.unit_p_values); on one split it is over the validation rows, from the stored `scores`
    (intervals.single_split_p). None where the metric has no paired test (train_loss on one split)."""
    from .choose import choose_best
    from .selection import LEVEL, unit_p_values

    try:
        best = choose_best(records, metric, goal)
    except SnakesweepError:  # no usable point: nothing to be tied with
        return {}
    others = [r for r in records if usable(r, metric) and r["point"] != best["point"]]
    if best.get("units"):
        raw = unit_p_values(others, best, metric)
    else:
        y, best_scores = scores.get(best["point"], (None, None))
        raw = {r["point"]: None if best_scores is None or r["point"] not in scores
               else intervals.single_split_p(metric, y, best_scores, scores[r["point"]][1]) for r in others}
    adjusted = intervals.holm(raw)
    out = {best["point"]: {"tied": True, "p": None}}
    out.update({pid: {"tied": None if p is None else bool(p >= 1 - LEVEL), "p": p} for pid, p in adjusted.items()})
    return out


def read_with_intervals(points: list[str], metric_files: list[str], interval):
    """The points' records with their validation intervals, their stored scores and the interval method
    (`interval`: the config's evaluate.interval, bootstrap and seed, or the file of them; None: the default)."""
    method = intervals.Method.of(interval)
    records = read_records(points, metric_files)
    scores = stored_scores(records, metric_files)
    return with_intervals(records, scores, method), scores, method


def summarize(*, points: list[str], metric_files: list[str], names: list[str], metric: str, goal: str,
              min_class_rows: int, out: str, points_table: str | None = None, interval=None):
    """summary.tsv; `interval` as in read_with_intervals."""
    records, scores, method = read_with_intervals(points, metric_files, interval)
    df = results_table(records, names, metric, goal, min_class_rows, scores, method)
    if points_table is not None:
        # Which draws of the sweep each point stands for (several when they trained the same model).
        draws = read_tsv(points_table).set_index("point")["draws"].astype(str)
        df["draws"] = df["point"].map(draws)
    write_tsv(out, df)
    return df


def program_table(records: list[dict], names: list[str], metric: str, goal: str):
    """One row per point, best first by the program's own metric (a column named as the metric), with a
    column per parameter; failed points last, ties by id so no finishing order changes it."""
    extra = ["round"] if any("round" in r for r in records) else []  # an adaptive sweep's round
    rows = [{"point": r["point"], **{n: r["params"].get(n) for n in names}, metric: r.get(metric),
             "status": r["status"], "reason": r.get("reason") or "", "exit_code": r.get("exit_code"),
             "seconds": r.get("seconds"), **{k: r.get(k) for k in extra}} for r in records]
    df = pd.DataFrame(rows, columns=["point", *names, metric, "status", "reason", "exit_code", "seconds", *extra])
    return ranked_frame(df, metric, goal)


def summarize_program(*, points: list[str], metric_files: list[str], names: list[str], metric: str, goal: str,
              out: str) -> None:
    """The summary, ranked by the program's metric (the `summarize` rule for an own program)."""
    df = program_table(read_records(points, metric_files), names, metric, goal)
    write_tsv(out, df)
    print(f"{int((df['status'] == 'ok').sum())} of {len(df)} points ok")
