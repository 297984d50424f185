"""The test evaluation: the point chosen on validation data (choose.py), evaluated once on the test split
next to the baseline; with units, the final model is the one tested, and best.json gives the
cross-validated figures of the chosen point and of the baseline too."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from . import SnakesweepError, __version__, intervals, layout, metrics
from .baseline import BASELINE
from .choose import read_records
from .io import read_json, read_tsv, savefig, svg_figure, write_json, write_tsv
from .summary import stored_scores, val_caveats, with_intervals


def final_model(metrics_file: str, *, test: str, scaler: str, final: str | None, cv: str | None):
    """The model that is tested, what it is, and the test rows as it sees them: the chosen point's own
    model on the scaled test split, or (with units) the final model, retrained on every row outside the
    test split, on the test rows scaled by its own scaler."""
    from .split import Scaler

    if final is None:
        record = read_json(metrics_file)
        with np.load(test) as z:
            x_test, y_test = z["x"], z["y"]
        return {"model": str(layout.files(Path(metrics_file).parent)["model"]), "scaler": scaler,
                "trained_on": "the train split (the chosen point's own model)", "epochs": record["epochs"],
                "seed": record["seed"]}, x_test, y_test
    record = read_json(final)
    folder = Path(final).parent
    fitted = read_json(folder / "scaler.json")
    scaler_of_final = Scaler(np.asarray(fitted["mean"]), np.asarray(fitted["scale"]))
    with np.load(cv) as z:
        x_test, y_test = scaler_of_final.transform(z["x_test"]).astype(np.float32), z["y_test"]
    return {"model": str(layout.files(folder)["model"]), "scaler": str(folder / "scaler.json"),
            "trained_on": record["trained_on"], "epochs": record["epochs"], "seed": record["seed"]}, x_test, y_test


def evaluate_best(*, chosen: str, metrics_file: str, names: list[str], baseline: str, test: str | None,
                  min_class_rows: int, out_json: str, out_roc: str, out_predictions: str,
                  scaler: str = "results/split/scaler.json", final: str | None = None, cv: str | None = None,
                  baseline_cv: str | None = None, interval=None) -> dict:
    """Evaluate the point chosen on validation (choose.choose_job) on the test split, once, next to a
    logistic regression. With units (folds, seeds), the model tested is the final one (see final_model),
    and best.json also gives the cross-validated figures of the chosen point and of the baseline.
    Every interval is by the config's method (`interval`: as in summary.read_with_intervals)."""
    import torch

    from .kernel import load_model, predict

    method = intervals.Method.of(interval)
    choice = read_json(chosen)
    point = choice["point"]
    (record,) = read_records([point], [metrics_file])
    (record,) = with_intervals([record], stored_scores([record], [metrics_file]), method)
    tested, x_test, y_test = final_model(metrics_file, test=test, scaler=scaler, final=final, cv=cv)
    model, _ = load_model(tested["model"])
    scores = predict(model, torch.from_numpy(x_test)).double().numpy()
    auc = metrics.roc_auc(y_test, scores)
    ci = method.auc(y_test, scores)
    base_scores = read_tsv(baseline)["score"].to_numpy(dtype=np.float64)
    if len(base_scores) != len(y_test):
        raise SnakesweepError(f"{baseline} has {len(base_scores)} scores for {len(y_test)} test rows; delete it so "
                              "it is made again from the current split")
    base_auc = metrics.roc_auc(y_test, base_scores)
    base_ci = method.auc(y_test, base_scores)
    diff_ci = method.difference(y_test, scores, base_scores)

    found = (intervals.few_rows_caveat(y_test, subset="test split", method=method.name, min_class_rows=min_class_rows),
             intervals.zero_width_caveat(ci, what="the best point's test ROC-AUC"),
             intervals.zero_width_caveat(base_ci, what="the baseline's test ROC-AUC"),
             *val_caveats(record, min_class_rows, method.name))
    warnings = [w for w in found if w]
    cross = cross_validated(record, read_json(baseline_cv)) if baseline_cv else {}
    result = {
        "point": point,
        "chosen_by": {**choice["chosen_by"], **cross.pop("chosen_by", {})},
        "params": {n: record["params"].get(n) for n in names},  # as in the points table: empty if no effect
        "hparams": record["hparams"],
        "val_loss": record["val_loss"],
        "val_roc_auc": record["val_roc_auc"],
        "val_roc_auc_ci95": record.get("val_roc_auc_ci95"),
        "test_roc_auc": auc,
        "test_roc_auc_ci95": ci,
        "test_rows": int(len(y_test)),
        "test_positives": int(y_test.sum()),
        # The method of the validation and test intervals and of the difference to the baseline (with
        # units, the cross-validated figures are t intervals over the units: `interval` below).
        "intervals": method.describe(),
        "baseline": {"model": f"{BASELINE}, same split and scaling", "test_roc_auc": base_auc,
                     "test_roc_auc_ci95": base_ci, **cross.pop("baseline", {})},
        "test_roc_auc_minus_baseline": auc - base_auc,
        "test_roc_auc_minus_baseline_ci95": diff_ci,
        **cross,
        "final_model": tested,
        "warnings": warnings,
        # The version that evaluated; each point's metrics.json records the version that trained it.
        "snakesweep_version": __version__,
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


def cross_validated(record: dict, baseline: dict) -> dict:
    """best.json's cross-validated figures: the chosen point's mean, SD and interval over its units, how
    it was chosen, and the baseline validated on the same units, with the paired comparison."""
    from .selection import compare

    cv = record["cv"]
    how = (f"{cv['folds']}-fold cross-validation, {cv['repeats']} repeat(s)" if cv["folds"] > 1
           else "the validation split") + f", {cv['seeds']} seed(s) per fold"
    figures = {k: record.get(k) for k in ("val_roc_auc_mean", "val_roc_auc_sd", "val_roc_auc_ci95", "val_loss_mean",
                                          "val_loss_sd", "val_loss_ci95", "n_units", "interval")}
    diff = compare(record, baseline, "val_roc_auc")
    return {
        "chosen_by": {"split": "cross-validation" if cv["folds"] > 1 else "val", "validation": how,
                      "statistic": f"mean over {record['n_units']} units ({how})",
                      "units_rows": {"train": cv["train_rows"], "val": cv["val_rows"]}},
        **figures,
        "baseline": {"model": f"{BASELINE}: validated on the same folds with each fold's own scaler; tested after "
                              "fitting on all rows outside the test split, as the final model",
                     **{k: baseline.get(k) for k in ("val_roc_auc_mean", "val_roc_auc_sd", "val_roc_auc_ci95",
                                                     "n_units")}},
        "val_roc_auc_minus_baseline": diff["diff"],
        "val_roc_auc_minus_baseline_ci95": diff["diff_ci95"],
        "val_roc_auc_minus_baseline_p": diff["p"],
        "tested": "the final model: the chosen configuration retrained on all rows outside the test split "
                  "(its epochs and seed as chosen), touched once on the test split",
        "units": record["units"],
    }
