"""Aggregation: the summary table, the best point (chosen on validation), its one test evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import SnakesweepError, metrics
from .hparams import INT_HPARAMS
from .io import cast_ints, read_json, read_tsv, savefig, write_json, write_tsv

SUMMARY_METRICS = ["status", "reason", "val_loss", "val_roc_auc", "val_roc_auc_lo", "val_roc_auc_hi",
                   "train_loss", "epochs", "seed", "engine", "device", "train_seconds", "startup_seconds"]


def summarize(*, points: str, metric_files: list[str], metric: str, goal: str, out: str):
    """One row per point of the current points table, best first by the sweep's metric and goal."""
    table = read_tsv(points, INT_HPARAMS)
    records = {r["point"]: r for r in (read_json(f) for f in metric_files)}
    rows = []
    for row in table.to_dict("records"):
        rec = records[row["point"]]
        ci = rec.get("val_roc_auc_ci95") or [None, None]
        rows.append({**row, **{k: rec.get(k) for k in SUMMARY_METRICS if k in rec},
                     "val_roc_auc_lo": ci[0], "val_roc_auc_hi": ci[1]})
    df = pd.DataFrame(rows)
    cols = list(table.columns) + [c for c in SUMMARY_METRICS if c in df.columns]
    df = df[cols]
    df["_failed"] = df["status"] != "ok"
    # Ties are broken by point id so the order never depends on the order jobs finished in.
    df = df.sort_values(["_failed", metric, "point"], ascending=[True, goal == "minimize", True],
                        na_position="last", kind="mergesort").drop(columns="_failed")
    df["reason"] = df["reason"].fillna("")
    write_tsv(out, cast_ints(df, INT_HPARAMS))
    return df


def choose_best(summary, metric: str, goal: str) -> dict:
    ok = summary[summary["status"] == "ok"]
    ok = ok[np.isfinite(ok[metric].astype(float))]
    if ok.empty:
        raise SnakesweepError("no point finished with status ok, so there is no best point; see the reasons "
                              "in results/summary.tsv")
    return ok.iloc[0].to_dict()  # summarize() already sorted by metric, goal and id



def evaluate_best(*, summary: str, models: dict, metric_files: dict, train: str, val: str, test: str,
                  metric: str, goal: str, n_boot: int, seed: int, out_json: str, out_roc: str,
                  out_predictions: str) -> dict:
    """Evaluate the point chosen on validation on the test split, once, next to a logistic regression."""
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_curve

    from .train import load_model

    df = read_tsv(summary, INT_HPARAMS)
    best = choose_best(df, metric, goal)
    point = best["point"]
    record = read_json(metric_files[point])
    model, _ = load_model(models[point])
    with np.load(test) as z:
        x_test, y_test = z["x"], z["y"]
    with np.load(train) as z:
        x_train, y_train = z["x"], z["y"]
    with torch.no_grad():
        scores = model(torch.from_numpy(x_test)).double().numpy()
    auc = metrics.roc_auc(y_test, scores)
    ci = metrics.bootstrap_auc(y_test, scores, n_boot=n_boot, seed=seed)

    # The baseline sees the same rows and the same scaling; lbfgs is deterministic.
    baseline = LogisticRegression(max_iter=5000).fit(x_train, y_train)
    base_scores = baseline.decision_function(x_test)
    base_auc = metrics.roc_auc(y_test, base_scores)
    base_ci = metrics.bootstrap_auc(y_test, base_scores, n_boot=n_boot, seed=seed)
    diff_ci = metrics.paired_bootstrap_diff(y_test, scores, base_scores, n_boot=n_boot, seed=seed)

    swept = [c for c in df.columns if c not in ("point", *SUMMARY_METRICS)]
    result = {
        "point": point,
        "chosen_by": {"metric": metric, "goal": goal, "split": metric.split("_")[0]},
        "params": {k: best[k] for k in swept},  # as in the points table: empty where it has no effect
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
        "points_ok": int((df["status"] == "ok").sum()),
        "points_failed": int((df["status"] != "ok").sum()),
    }
    write_json(out_json, result)
    write_tsv(out_predictions, pd.DataFrame({"label": y_test.astype(int), "best": scores,
                                             "baseline": base_scores}))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, s, a, c in (("best point " + point, scores, auc, ci),
                          ("logistic regression", base_scores, base_auc, base_ci)):
        fpr, tpr, _ = roc_curve(y_test, s)
        ax.plot(fpr, tpr, label=f"{name}: AUC {a:.3f} [{c[0]:.3f}, {c[1]:.3f}]")
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate",
           title=f"Test ROC ({len(y_test)} rows, touched once)")
    ax.legend(loc="lower right", fontsize=8)
    savefig(fig, out_roc)
    plt.close(fig)
    return result


def plot_learning_curve(*, history: str, out: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    h = pd.read_csv(history)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.2))
    a1.plot(h["epoch"], h["train_loss"], marker="o", label="train")
    a1.plot(h["epoch"], h["val_loss"], marker="o", label="validation")
    a1.set(xlabel="epoch", ylabel="BCE loss", title="Loss")
    a1.legend()
    a2.plot(h["epoch"], h["val_roc_auc"], marker="o", c="C2")
    a2.set(xlabel="epoch", ylabel="ROC-AUC", title="Validation ROC-AUC")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    savefig(fig, out)
    plt.close(fig)


def plot_sweep(*, summary: str, histories: dict, metric: str, top: int, out_curves: str,
               out_params: str) -> None:
    """Learning curves of the best points together, and validation ROC-AUC against each parameter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator, NullFormatter

    df = read_tsv(summary, INT_HPARAMS)
    ok = df[df["status"] == "ok"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.6))
    for _, row in ok.head(top).iterrows():
        h = pd.read_csv(histories[row["point"]])
        a1.plot(h["epoch"], h["val_loss"], marker=".", label=row["point"])
        a2.plot(h["epoch"], h["val_roc_auc"], marker=".", label=row["point"])
    a1.set(xlabel="epoch", ylabel="validation loss", title=f"Top {min(top, len(ok))} points by {metric}")
    a2.set(xlabel="epoch", ylabel="validation ROC-AUC")
    a2.legend(fontsize=7)
    fig.tight_layout()
    savefig(fig, out_curves)
    plt.close(fig)

    params = [c for c in df.columns if c not in ("point", *SUMMARY_METRICS)]
    fig, axes = plt.subplots(1, max(1, len(params)), figsize=(3.4 * max(1, len(params)), 3.2), squeeze=False)
    for ax, p in zip(axes[0], params, strict=False):
        col = ok[p]
        numeric = pd.api.types.is_numeric_dtype(col)
        lo, hi = ok["val_roc_auc_lo"], ok["val_roc_auc_hi"]
        # Empty cells (a width without hidden layers) become NaN and are left out of the plot.
        x = col.astype("float64") if numeric else col.astype(str)
        ax.errorbar(x, ok["val_roc_auc"], yerr=[ok["val_roc_auc"] - lo, hi - ok["val_roc_auc"]],
                    fmt="o", alpha=0.7, ms=4, elinewidth=0.8)
        if p == "learning_rate" and numeric and (col > 0).all():
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        elif pd.api.types.is_integer_dtype(col):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel=p, ylabel="validation ROC-AUC (95% CI)")
    fig.suptitle("Validation ROC-AUC by parameter (bootstrap 95% CI)", fontsize=9)
    fig.tight_layout()
    savefig(fig, out_params)
    plt.close(fig)
