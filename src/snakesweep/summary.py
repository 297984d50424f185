"""The summary table: one row per point from the points' own records, ranked by the sweep's metric.

Nothing reads it back: the choice of the best point (choose.py) and the test evaluation read each
point's metrics.json, so a summary edited by hand changes nothing. The built-in model's table has its
validation figures, intervals and caveats; an own program's has the metric it logs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import SnakesweepError, metrics
from .choose import read_records
from .hparams import INT_HPARAMS
from .io import cast_ints, read_tsv, write_tsv
from .ranking import ranked_frame

# Reading and ranking results, not computing them: not part of a point's id (identity.py).
RESULT_CODE = False

SUMMARY_METRICS = ["status", "reason", "val_loss", "val_roc_auc", "val_roc_auc_lo", "val_roc_auc_hi",
                   "train_loss", "epochs", "seed", "engine", "device", "train_seconds", "startup_seconds",
                   "warnings"]
WARNING_SEP = " | "  # between the warnings of one point in the summary (they contain semicolons)


def val_caveats(rec: dict, min_class_rows: int) -> list[str]:
    """Warnings about a point's validation interval, from the class counts its job recorded. A point
    trained as units (folds, seeds) has no bootstrap interval: its interval is over its units."""
    if rec.get("units"):
        return []
    rows = rec.get("val_rows") or {}
    y = np.r_[np.ones(rows.get("positive", 0), bool), np.zeros(rows.get("negative", 0), bool)]
    found = (metrics.few_rows_caveat(y, subset="validation split", min_class_rows=min_class_rows),
             metrics.zero_width_caveat(rec.get("val_roc_auc_ci95"), what="the validation ROC-AUC"))
    return [w for w in found if w]


def results_table(records: list[dict], names: list[str], metric: str, goal: str,
                  min_class_rows: int = metrics.MIN_CLASS_ROWS):
    """One row per point: its swept parameters and results, best first by the sweep's metric and goal.

    Built from the per-point results alone, so the summary file is a report that nothing reads back.
    Failed points and points without a finite metric come last; ties are broken by point id, so the
    order never depends on the order jobs finished in.
    """
    rows = []
    # A swept engine or seed is a parameter column already: one column per name. Adaptive sweeps record
    # the round and rung each point reached.
    recorded = [k for k in SUMMARY_METRICS if k not in names]
    recorded += [k for k in ("round", "rung") if any(k in r for r in records)]
    units = any(r.get("units") for r in records)
    if units:
        # Each metric is the mean over the point's units (folds x seeds); its SD and interval beside it.
        at = recorded.index("val_loss")
        recorded[at:at] = [*UNIT_COLUMNS, "n_units", "tied_with_best", "p_vs_best"]
        tied = ties_of(records, metric, goal)
    for rec in records:
        ci = rec.get("val_roc_auc_ci95") or [None, None]
        row = {"point": rec["point"], **{n: rec["params"].get(n) for n in names},
               **{k: rec.get(k) for k in recorded},
               "val_roc_auc_lo": ci[0], "val_roc_auc_hi": ci[1],
               "warnings": WARNING_SEP.join(val_caveats(rec, min_class_rows)) if rec["status"] == "ok" else ""}
        if units:
            row.update({"tied_with_best": tied.get(rec["point"], {}).get("tied"),
                        "p_vs_best": tied.get(rec["point"], {}).get("p")})
        rows.append(row)
    df = pd.DataFrame(rows, columns=["point", *names, *recorded])
    df = ranked_frame(df, metric, goal)
    df["reason"] = df["reason"].fillna("")
    return cast_ints(df, INT_HPARAMS)


UNIT_COLUMNS = ["val_roc_auc_mean", "val_roc_auc_sd", "val_loss_mean", "val_loss_sd"]


def ties_of(records: list[dict], metric: str, goal: str) -> dict[str, dict]:
    """Which usable points cannot be told apart from the best by `metric` (selection.ties)."""
    from .choose import choose_best
    from .selection import ties

    try:
        best = choose_best(records, metric, goal)
    except SnakesweepError:  # no usable point: nothing to be tied with
        return {}
    return ties(records, best, metric)


def summarize(*, points: list[str], metric_files: list[str], names: list[str], metric: str, goal: str,
              min_class_rows: int, out: str, points_table: str | None = None):
    df = results_table(read_records(points, metric_files), names, metric, goal, min_class_rows)
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
