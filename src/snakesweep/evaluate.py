"""Aggregation: the summary table, the best point (chosen on validation), its one test evaluation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from . import SnakesweepError, metrics
from .choose import read_records
from .hparams import INT_HPARAMS
from .io import cast_ints, read_json, read_tsv, savefig, svg_figure, write_json, write_tsv
from .pack import output_paths

SUMMARY_METRICS = ["status", "reason", "val_loss", "val_roc_auc", "val_roc_auc_lo", "val_roc_auc_hi",
                   "train_loss", "epochs", "seed", "engine", "device", "train_seconds", "startup_seconds",
                   "warnings"]
WARNING_SEP = " | "  # between the warnings of one point in the summary (they contain semicolons)


def val_caveats(rec: dict, min_class_rows: int) -> list[str]:
    """Warnings about a point's validation interval, from the class counts its job recorded."""
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
    for rec in records:
        ci = rec.get("val_roc_auc_ci95") or [None, None]
        rows.append({"point": rec["point"], **{n: rec["params"].get(n) for n in names},
                     **{k: rec.get(k) for k in recorded},
                     "val_roc_auc_lo": ci[0], "val_roc_auc_hi": ci[1],
                     "warnings": WARNING_SEP.join(val_caveats(rec, min_class_rows)) if rec["status"] == "ok" else ""})
    df = pd.DataFrame(rows, columns=["point", *names, *recorded])
    value = pd.to_numeric(df[metric], errors="coerce")
    usable = (df["status"] == "ok") & np.isfinite(value)
    key = value if goal == "minimize" else -value
    df = df.assign(_unusable=~usable, _key=key.where(usable)).sort_values(
        ["_unusable", "_key", "point"], na_position="last", kind="mergesort")
    df = df.drop(columns=["_unusable", "_key"]).reset_index(drop=True)
    df["reason"] = df["reason"].fillna("")
    return cast_ints(df, INT_HPARAMS)


def summarize(*, points: list[str], metric_files: list[str], names: list[str], metric: str, goal: str,
              min_class_rows: int, out: str, points_table: str | None = None):
    df = results_table(read_records(points, metric_files), names, metric, goal, min_class_rows)
    if points_table is not None:
        # Which draws of the sweep each point stands for (several when they trained the same model).
        draws = read_tsv(points_table).set_index("point")["draws"].astype(str)
        df["draws"] = df["point"].map(draws)
    write_tsv(out, df)
    return df


def fit_baseline(*, train: str, test: str, out: str) -> None:
    """The reference every point is compared with: a logistic regression on the same training rows and
    scaling, scored once on the test split. A job of its own, so it runs while the packs train."""
    from sklearn.linear_model import LogisticRegression

    with np.load(train) as z:
        baseline = LogisticRegression(max_iter=5000).fit(z["x"], z["y"])  # lbfgs: deterministic
    with np.load(test) as z:
        scores = baseline.decision_function(z["x"])
    write_tsv(out, pd.DataFrame({"score": scores}))
    print(f"logistic regression: {baseline.n_iter_[0]} iterations; scored {len(scores)} test rows")


def evaluate_best(*, chosen: str, metrics_file: str, names: list[str], baseline: str, test: str, n_boot: int,
                  seed: int, min_class_rows: int, out_json: str, out_roc: str, out_predictions: str) -> dict:
    """Evaluate the point chosen on validation (choose.choose_job) on the test split, once, next to a
    logistic regression."""
    import torch

    from .kernel import load_model, predict

    choice = read_json(chosen)
    point = choice["point"]
    (record,) = read_records([point], [metrics_file])
    model, _ = load_model(output_paths(Path(metrics_file).parent)["model"])
    with np.load(test) as z:
        x_test, y_test = z["x"], z["y"]
    scores = predict(model, torch.from_numpy(x_test)).double().numpy()
    auc = metrics.roc_auc(y_test, scores)
    ci = metrics.bootstrap_auc(y_test, scores, n_boot=n_boot, seed=seed)
    base_scores = read_tsv(baseline)["score"].to_numpy(dtype=np.float64)
    if len(base_scores) != len(y_test):
        raise SnakesweepError(f"{baseline} has {len(base_scores)} scores for {len(y_test)} test rows; delete it so "
                              "it is made again from the current split")
    base_auc = metrics.roc_auc(y_test, base_scores)
    base_ci = metrics.bootstrap_auc(y_test, base_scores, n_boot=n_boot, seed=seed)
    diff_ci = metrics.paired_bootstrap_diff(y_test, scores, base_scores, n_boot=n_boot, seed=seed)

    found = (metrics.few_rows_caveat(y_test, subset="test split", min_class_rows=min_class_rows),
             metrics.zero_width_caveat(ci, what="the best point's test ROC-AUC"),
             metrics.zero_width_caveat(base_ci, what="the baseline's test ROC-AUC"),
             *val_caveats(record, min_class_rows))
    warnings = [w for w in found if w]
    result = {
        "point": point,
        "chosen_by": choice["chosen_by"],
        "params": {n: record["params"].get(n) for n in names},  # as in the points table: empty if no effect
        "hparams": record["hparams"],
        "val_loss": record["val_loss"],
        "val_roc_auc": record["val_roc_auc"],
        "val_roc_auc_ci95": record["val_roc_auc_ci95"],
        "test_roc_auc": auc,
        "test_roc_auc_ci95": ci,
        "test_rows": int(len(y_test)),
        "test_positives": int(y_test.sum()),
        "bootstrap": {"replicates": n_boot, "seed": seed, "method": "percentile, stratified by class"},
        "baseline": {"model": "scikit-learn LogisticRegression (L2, C=1), same split and scaling",
                     "test_roc_auc": base_auc, "test_roc_auc_ci95": base_ci},
        "test_roc_auc_minus_baseline": auc - base_auc,
        "test_roc_auc_minus_baseline_ci95": diff_ci,
        "warnings": warnings,
    }
    write_json(out_json, result)
    for w in warnings:
        print(f"warning: {w}")
    write_tsv(out_predictions, pd.DataFrame({"label": y_test.astype(int), "best": scores,
                                             "baseline": base_scores}))

    fig = svg_figure(figsize=(5, 5))
    ax = fig.subplots()
    for name, s, a, c in (("best point " + point, scores, auc, ci),
                          ("logistic regression", base_scores, base_auc, base_ci)):
        fpr, tpr = metrics.roc_points(y_test, s)
        ax.plot(fpr, tpr, label=f"{name}: AUC {a:.3f} [{c[0]:.3f}, {c[1]:.3f}]")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate",
           title=f"Test ROC ({len(y_test)} rows, touched once)")
    ax.legend(loc="lower right", fontsize=8)
    if warnings:
        fig.text(0.01, -0.02, "\n".join(textwrap.fill("Warning: " + w, 90) for w in warnings), fontsize=7,
                 color="firebrick", va="top")
    savefig(fig, out_roc)
    return result


def plot_sweep(*, points: list[str], names: list[str], metric_files: list[str], histories: dict, metric: str,
               goal: str, top: int, min_class_rows: int, out_curves: str, out_params: str) -> None:
    """Learning curves of the best points together, and validation ROC-AUC against each parameter."""
    from matplotlib.ticker import MaxNLocator, NullFormatter

    df = results_table(read_records(points, metric_files), names, metric, goal, min_class_rows)
    ok = df[df["status"] == "ok"]
    fig = svg_figure(figsize=(9, 3.6))
    a1, a2 = fig.subplots(1, 2)
    for _, row in ok.head(top).iterrows():
        h = pd.read_csv(histories[row["point"]])
        a1.plot(h["epoch"], h["val_loss"], marker=".", label=row["point"])
        a2.plot(h["epoch"], h["val_roc_auc"], marker=".", label=row["point"])
    a1.set(xlabel="epoch", ylabel="validation loss", title=f"Top {min(top, len(ok))} points by {metric}")
    a2.set(xlabel="epoch", ylabel="validation ROC-AUC")
    a2.legend(fontsize=7)
    fig.tight_layout()
    savefig(fig, out_curves, tight=False)  # laid out above; a tight box would draw it twice

    fig = svg_figure(figsize=(3.4 * max(1, len(names)), 3.2))
    axes = fig.subplots(1, max(1, len(names)), squeeze=False)
    for ax, p in zip(axes[0], names, strict=False):
        col = ok[p]
        numeric = pd.api.types.is_numeric_dtype(col)
        lo, hi = ok["val_roc_auc_lo"], ok["val_roc_auc_hi"]
        # Empty cells (a width without hidden layers) become NaN and are left out of the plot.
        if numeric:
            x = col.astype("float64").to_numpy()
        else:
            # Categories (an engine, an optimizer) at positions of their own: matplotlib's errorbar cannot
            # take strings with error bars.
            categories = sorted(col.astype(str).unique())
            x = col.astype(str).map({c: i for i, c in enumerate(categories)}).to_numpy(dtype=float)
            ax.set_xticks(range(len(categories)), categories)
        ax.errorbar(x, ok["val_roc_auc"].to_numpy(), yerr=[(ok["val_roc_auc"] - lo).to_numpy(),
                                                           (hi - ok["val_roc_auc"]).to_numpy()],
                    fmt="o", alpha=0.7, ms=4, elinewidth=0.8)
        if p == "learning_rate" and numeric and (col > 0).all():
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        elif pd.api.types.is_integer_dtype(col):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel=p, ylabel="validation ROC-AUC (95% CI)")
    fig.suptitle("Validation ROC-AUC by parameter (bootstrap 95% CI)", fontsize=9)
    fig.tight_layout()
    few = sorted({w for ws in ok["warnings"] for w in ws.split(WARNING_SEP) if "validation split has only" in w})
    if few:
        fig.text(0.01, -0.02, textwrap.fill("Warning: " + few[0], 120), fontsize=7, color="firebrick", va="top")
    savefig(fig, out_params, tight=bool(few))  # the warning sits below the axes
