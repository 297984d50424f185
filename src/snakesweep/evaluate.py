"""Aggregation: the summary table, the best point (chosen on validation), its one test evaluation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from . import SnakesweepError, __version__, layout, metrics
from .choose import read_records
from .hparams import INT_HPARAMS
from .io import cast_ints, read_json, read_tsv, savefig, svg_figure, write_json, write_tsv
from .ranking import ranked_frame

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


BASELINE = "scikit-learn LogisticRegression (L2, C=1)"


def fit_baseline(*, train: str | None, test: str | None, out: str, cv: str | None = None,
                 cv_out: str | None = None, seeds: int = 1) -> None:
    """The reference every point is compared with: a logistic regression on the same training rows and
    scaling, scored once on the test split. A job of its own, so it runs while the packs train.

    With units (`cv`: folds or seed repeats, see folds.py) it is validated as the points are, on every
    fold with the fold's own scaler (`cv_out`: its mean, SD and interval, and its value per unit for
    the paired comparison), and, like the final model, fitted on all rows outside the test split
    before its test scores are taken. The fit is deterministic, so every seed of a fold shares its value.
    """
    from sklearn.linear_model import LogisticRegression

    from .split import Scaler

    def fit(x, y):
        return LogisticRegression(max_iter=5000).fit(x, y)  # lbfgs: deterministic

    if cv is None:
        with np.load(train) as z:
            baseline = fit(z["x"], z["y"])
        with np.load(test) as z:
            scores = baseline.decision_function(z["x"])
    else:
        from .folds import fold_sizes, unit_name, unit_rows
        from .selection import summary

        with np.load(cv) as z:
            x, y, fold_of, standardize = z["x"], z["y"], z["fold"], bool(z["standardize"])
            x_test = z["x_test"]

        def scaled(rows_fit):
            scaler = Scaler.fit(x[rows_fit]) if standardize else Scaler.identity(x.shape[1])
            return lambda rows: scaler.transform(x[rows]).astype(np.float32)

        folds = int(fold_of.max()) + 1
        units = []
        for r in range(fold_of.shape[0]):
            for f in range(folds):
                unit = {"repeat": r, "fold": f}
                tr, va = unit_rows(fold_of, unit)
                transform = scaled(tr)
                auc = metrics.roc_auc(y[va], fit(transform(tr), y[tr]).decision_function(transform(va)))
                units += [{"unit": unit_name(r, f, j, folds), "repeat": r, "fold": f, "val_roc_auc": auc}
                          for j in range(seeds)]
        n_train, n_val = fold_sizes(fold_of)
        ratio = n_val / n_train if folds > 1 else 0.0
        stats = summary([u["val_roc_auc"] for u in units], ratio, bounds=(0.0, 1.0))
        scaler = Scaler.fit(x) if standardize else Scaler.identity(x.shape[1])
        baseline = fit(scaler.transform(x).astype(np.float32), y)
        scores = baseline.decision_function(scaler.transform(x_test).astype(np.float32))
        write_json(cv_out, {"model": BASELINE, "val_roc_auc": stats["mean"], "val_roc_auc_mean": stats["mean"],
                            "val_roc_auc_sd": stats["sd"], "val_roc_auc_ci95": stats["ci95"], "n_units": stats["n"],
                            "cv": {"folds": folds, "repeats": int(fold_of.shape[0]), "seeds": seeds,
                                   "train_rows": n_train, "val_rows": n_val},
                            "units": units, "final_fit_rows": int(len(y))})
        print(f"logistic regression, cross-validated: val ROC-AUC {stats['mean']:.4f} (SD {stats['sd']}) over "
              f"{stats['n']} units")
    write_tsv(out, pd.DataFrame({"score": scores}))
    print(f"logistic regression: {baseline.n_iter_[0]} iterations; scored {len(scores)} test rows")


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


def evaluate_best(*, chosen: str, metrics_file: str, names: list[str], baseline: str, test: str | None, n_boot: int,
                  seed: int, min_class_rows: int, out_json: str, out_roc: str, out_predictions: str,
                  scaler: str = "results/split/scaler.json", final: str | None = None, cv: str | None = None,
                  baseline_cv: str | None = None) -> dict:
    """Evaluate the point chosen on validation (choose.choose_job) on the test split, once, next to a
    logistic regression. With units (folds, seeds), the model tested is the final one (see final_model),
    and best.json also gives the cross-validated figures of the chosen point and of the baseline."""
    import torch

    from .kernel import load_model, predict

    choice = read_json(chosen)
    point = choice["point"]
    (record,) = read_records([point], [metrics_file])
    tested, x_test, y_test = final_model(metrics_file, test=test, scaler=scaler, final=final, cv=cv)
    model, _ = load_model(tested["model"])
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
    cross = cross_validated(record, read_json(baseline_cv)) if baseline_cv else {}
    result = {
        "point": point,
        "chosen_by": {**choice["chosen_by"], **cross.pop("chosen_by", {})},
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


RANKED = 40  # points shown in the ranking plot, best first


def point_label(row, names: list[str]) -> str:
    """A point as its swept parameters read (empty ones, without effect, left out), then its id."""
    parts = []
    for n in names:
        v = row[n]
        if v is None or pd.isna(v) or (isinstance(v, float) and not np.isfinite(v)) or (isinstance(v, str) and not v):
            continue
        parts.append(f"{n}={v:.3g}" if isinstance(v, float) else f"{n}={v}")
    return ", ".join(parts + [str(row["point"])])


def plot_ranking(records: list[dict], df: pd.DataFrame, names: list[str], metric: str, goal: str, out: str,
                 baseline: dict | None = None) -> None:
    """Every usable point's `metric` with its 95% interval, best first, the points tied with the best
    marked, labelled by their parameters."""
    from .selection import ratio_of

    ok = df[df["status"] == "ok"].head(RANKED)
    by_id = {r["point"]: r for r in records}
    units = "tied_with_best" in df.columns
    fig = svg_figure(figsize=(9, 1.2 + 0.28 * max(1, len(ok))))
    ax = fig.subplots()
    y = np.arange(len(ok))[::-1]
    for yi, (_, row) in zip(y, ok.iterrows(), strict=True):
        rec = by_id[row["point"]]
        ci = rec.get(f"{metric}_ci95")
        value = rec.get(metric)
        tied = units and row["tied_with_best"] in (True,)
        color = "tab:blue" if yi == y[0] else "tab:orange" if tied else "grey"
        if ci is not None and all(c is not None for c in ci):
            ax.errorbar([value], [yi], xerr=[[value - ci[0]], [ci[1] - value]], fmt="o", color=color, ms=4,
                        elinewidth=1.2, capsize=2)
        else:
            ax.plot([value], [yi], "o", color=color, ms=4)
    ax.set_yticks(y, [point_label(row, names) for _, row in ok.iterrows()], fontsize=7)
    if baseline is not None and baseline.get(metric) is not None:
        ax.axvline(baseline[metric], ls="--", c="tab:green", lw=1, label=f"logistic regression: {baseline[metric]:.4f}")
        if baseline.get(f"{metric}_ci95"):
            ax.axvspan(*baseline[f"{metric}_ci95"], color="tab:green", alpha=0.1)
    first = by_id[ok.iloc[0]["point"]] if len(ok) else {}
    if units:
        how = "Nadeau-Bengio corrected t interval" if ratio_of(first) else "t interval over seeds"
        n_tied = sum(v in (True,) for v in df["tied_with_best"]) - 1
        title = (f"{metric}: mean over {first.get('n_units')} units, 95% {how}. Best in blue, {n_tied} "
                 "point(s) tied with it (corrected paired t-test, p >= 0.05) in orange")
    else:
        title = (f"{metric} on the validation split (95% bootstrap CI where there is one); best in blue. "
                 "One split: no test of ties (see split.folds)")
    # Centred over the axes, which the long labels push to the right: wrapped to their width.
    ax.set_title(textwrap.fill(title, 75), fontsize=8)
    ax.set_xlabel(f"{metric} ({'higher' if goal == 'maximize' else 'lower'} is better)")
    shown = f"best {len(ok)} of {int((df['status'] == 'ok').sum())} usable points" if len(ok) < (
        df["status"] == "ok").sum() else f"all {len(ok)} usable points"
    ax.set_ylabel(shown, fontsize=8)
    if baseline is not None and baseline.get(metric) is not None:
        ax.legend(fontsize=7, loc="best")
    # Margins from the longest label, not tight_layout: it would lay the figure out twice (this plot is
    # redrawn whenever a point is added, on the way to the choice).
    longest = max((len(t.get_text()) for t in ax.get_yticklabels()), default=10)
    height = fig.get_figheight()
    fig.subplots_adjust(left=min(0.7, 0.09 + longest * 0.0062), right=0.98, top=1 - 0.75 / height,
                        bottom=0.55 / height)
    savefig(fig, out, tight=False)


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


def plot_sweep(*, points: list[str], names: list[str], metric_files: list[str], metric: str, goal: str, top: int,
               min_class_rows: int, out_curves: str, out_params: str, out_ranking: str | None = None,
               baseline: str | None = None, histories: dict | None = None) -> None:
    """Learning curves of the best points together, validation ROC-AUC against each parameter, and
    the ranking of the points with their intervals and ties."""
    # A point's other files sit beside its metrics.json, which its pack writes last.
    histories = histories or {p: layout.files(Path(m).parent)["history"] for p, m in zip(points, metric_files,
                                                                                          strict=True)}
    from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter

    records = read_records(points, metric_files)
    df = results_table(records, names, metric, goal, min_class_rows)
    if out_ranking is not None:
        plot_ranking(records, df, names, metric, goal, out_ranking, read_json(baseline) if baseline else None)
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
            # Ticks at 1, 2 and 5 of each decade: a sweep within one decade would otherwise get none.
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        elif pd.api.types.is_integer_dtype(col):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel=p, ylabel="validation ROC-AUC (95% CI)")
    how = ("mean over units, corrected t 95% interval" if "tied_with_best" in df.columns else "bootstrap 95% CI")
    fig.suptitle(f"Validation ROC-AUC by parameter ({how})", fontsize=9)
    fig.tight_layout()
    few = sorted({w for ws in ok["warnings"] for w in ws.split(WARNING_SEP) if "validation split has only" in w})
    if few:
        fig.text(0.01, -0.02, textwrap.fill("Warning: " + few[0], 120), fontsize=7, color="firebrick", va="top")
    savefig(fig, out_params, tight=bool(few))  # the warning sits below the axes
