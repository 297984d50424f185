"""The sweep's plots, for either runner: the best points' curves, the metric against each parameter,
the ranking with intervals and ties (built-in model), and hyperband's rungs.

Uses matplotlib's object API with the SVG backend only (io.svg_figure): no pyplot, no GUI backend.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from . import layout
from .choose import read_records
from .intervals import PAIRED
from .io import read_json, read_tsv, savefig, svg_figure
from .summary import WARNING_SEP, program_table, read_with_intervals, results_table

# Drawing, not computing: not part of a point's id (identity.py).
RESULT_CODE = False


def histories_of(points: list[str], metric_files: list[str]) -> dict[str, Path]:
    """Each point's history.csv: beside its metrics.json, which its pack writes last."""
    return {p: layout.files(Path(m).parent)["history"] for p, m in zip(points, metric_files, strict=True)}


def plot_top_curves(top: pd.DataFrame, histories: dict, *, x: str, panels: list[tuple[str, str]], title: str,
                    out: str) -> None:
    """The best points' histories side by side: one panel per (column, label), one line per point."""
    fig = svg_figure(figsize=(4.5 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for _, row in top.iterrows():
        h = pd.read_csv(histories[row["point"]])
        for ax, (column, _) in zip(axes, panels, strict=True):
            ax.plot(h[x], h[column], marker=".", label=row["point"])
    for ax, (_, label) in zip(axes, panels, strict=True):
        ax.set(xlabel=x.replace("_", " "), ylabel=label)
    axes[0].set_title(title, fontsize=9)
    if len(top):
        axes[-1].legend(fontsize=7)
    fig.tight_layout()
    savefig(fig, out, tight=False)  # laid out above; a tight box would draw it twice


def plot_by_param(ok: pd.DataFrame, names: list[str], y: str, *, ylabel: str, title: str, out: str,
                  interval: tuple[str, str] | None = None, warning: str | None = None) -> None:
    """`y` against each swept parameter, with its interval where given: numbers on their own axis (the
    learning rate on a log axis), categories at positions of their own."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, MaxNLocator, NullFormatter

    fig = svg_figure(figsize=(3.4 * max(1, len(names)), 3.2))
    axes = fig.subplots(1, max(1, len(names)), squeeze=False)[0]
    values = ok[y].astype("float64")
    for ax, name in zip(axes, names, strict=False):
        col = ok[name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        # Empty cells (a width without hidden layers) become NaN and are left out of the plot.
        if numeric:
            x = col.astype("float64").to_numpy()
        else:
            # matplotlib's errorbar cannot take strings with error bars.
            categories = sorted(col.astype(str).unique())
            x = col.astype(str).map({c: i for i, c in enumerate(categories)}).to_numpy(dtype=float)
            ax.set_xticks(range(len(categories)), categories, rotation=30 if len(categories) > 3 else 0)
        if interval is not None:
            lo, hi = (ok[c].astype("float64") for c in interval)
            ax.errorbar(x, values.to_numpy(), yerr=[(values - lo).to_numpy(), (hi - values).to_numpy()],
                        fmt="o", alpha=0.7, ms=4, elinewidth=0.8)
        else:
            ax.plot(x, values.to_numpy(), "o", alpha=0.7, ms=4)
        if name == "learning_rate" and numeric and (col > 0).all():
            ax.set_xscale("log")
            # Ticks at 1, 2 and 5 of each decade: a sweep within one decade would otherwise get none.
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        elif pd.api.types.is_integer_dtype(col):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel=name, ylabel=ylabel)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    if warning:
        fig.text(0.01, -0.02, textwrap.fill("Warning: " + warning, 120), fontsize=7, color="firebrick", va="top")
    savefig(fig, out, tight=bool(warning))  # the warning sits below the axes


def plot_sweep(*, points: list[str], names: list[str], metric_files: list[str], metric: str, goal: str, top: int,
               min_class_rows: int, out_curves: str, out_params: str, out_ranking: str | None = None,
               baseline: str | None = None, interval=None) -> None:
    """The built-in model's plots: the best points' validation curves, validation ROC-AUC against each
    parameter, and the ranking of the points with their intervals and ties (`interval`: as in
    summary.read_with_intervals)."""
    records, scores, method = read_with_intervals(points, metric_files, interval)
    df = results_table(records, names, metric, goal, min_class_rows, scores, method)
    if out_ranking is not None:
        plot_ranking(records, df, names, metric, goal, out_ranking, read_json(baseline) if baseline else None)
    ok = df[df["status"] == "ok"]
    plot_top_curves(ok.head(top), histories_of(points, metric_files), x="epoch",
                    panels=[("val_loss", "validation loss"), ("val_roc_auc", "validation ROC-AUC")],
                    title=f"Top {min(top, len(ok))} points by {metric}", out=out_curves)
    units = any(r.get("units") for r in records)
    how = "mean over units, corrected t 95% interval" if units else f"95% interval: {method.name}"
    few = sorted({w for ws in ok["warnings"] for w in ws.split(WARNING_SEP) if "validation split has only" in w})
    plot_by_param(ok, names, "val_roc_auc", ylabel="validation ROC-AUC (95% CI)", interval=("val_roc_auc_lo",
                  "val_roc_auc_hi"), title=f"Validation ROC-AUC by parameter ({how})",
                  warning=few[0] if few else None, out=out_params)


def plot_program_sweep(*, points: list[str], metric_files: list[str], names: list[str], metric: str, goal: str,
                       top: int, out_params: str, out_curves: str) -> None:
    """An own program's plots: its metric against each parameter, and the best points' metric per step."""
    df = program_table(read_records(points, metric_files), names, metric, goal)
    ok = df[df["status"] == "ok"]
    plot_by_param(ok, names, metric, ylabel=metric, title=f"{metric} by parameter ({len(ok)} points that finished)",
                  out=out_params)
    plot_top_curves(ok.head(top), histories_of(points, metric_files), x="step", panels=[(metric, metric)],
                    title=f"Top {len(ok.head(top))} points: {metric} as the program logged it", out=out_curves)


def plot_rungs(*, points_table: str, metric: str, bands: list[int], out: str) -> None:
    """Every point's metric per epoch: stopped points grey, the others coloured, bands dashed."""
    from .records import history_values

    fig = svg_figure(figsize=(8, 4.5))
    ax = fig.subplots()
    counts = {"stopped": 0, "other": 0}
    for pid in read_tsv(points_table)["point"]:
        folder = layout.point_dir(pid)
        values = history_values(folder, metric)
        stopped = read_json(layout.files(folder)["metrics"])["status"] == "stopped"
        counts["stopped" if stopped else "other"] += 1
        ax.plot(range(1, len(values) + 1), values, color="0.7" if stopped else None, lw=1 if stopped else 1.5,
                zorder=1 if stopped else 2)
    for band in bands:
        ax.axvline(band, ls="--", color="0.4", lw=0.8)
    ax.set(xlabel="epoch", ylabel=metric, title=f"{metric} per epoch: {counts['other']} point(s) trained to their end, "
           f"{counts['stopped']} stopped at a band")
    savefig(fig, out)


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
    """Every usable point's `metric` with its 95% interval (records from summary.with_intervals), best
    first, the points tied with the best (df's tied_with_best) marked, labelled by their parameters."""
    from .selection import ratio_of

    ok = df[df["status"] == "ok"].head(RANKED)
    by_id = {r["point"]: r for r in records}
    units = any(r.get("units") for r in records)
    tested = df["tied_with_best"].notna().any()
    fig = svg_figure(figsize=(9, 1.2 + 0.28 * max(1, len(ok))))
    ax = fig.subplots()
    y = np.arange(len(ok))[::-1]
    for yi, (_, row) in zip(y, ok.iterrows(), strict=True):
        rec = by_id[row["point"]]
        ci = rec.get(f"{metric}_ci95")
        value = rec.get(metric)
        tied = row["tied_with_best"] in (True,)
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
    n_tied = sum(v in (True,) for v in df["tied_with_best"]) - 1
    if units:
        how = "Nadeau-Bengio corrected t interval" if ratio_of(first) else "t interval over seeds"
        title = (f"{metric}: mean over {first.get('n_units')} units, 95% {how}. Best in blue, {n_tied} "
                 "point(s) tied with it (corrected paired t-test, Holm-adjusted p >= 0.05) in orange")
    else:
        shown = f" (95% interval: {first['interval']})" if first.get(f"{metric}_ci95") and first.get("interval") else ""
        ties = (f"{n_tied} point(s) tied with it ({PAIRED[metric][1]} on the same rows, Holm-adjusted p >= 0.05) "
                "in orange" if tested else f"no paired test of ties for {metric} on one split")
        title = f"{metric} on the validation split{shown}. Best in blue, {ties}"
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
