"""Exploration of the input table (the tutorial's section 1.2.1): class balance, pairplot, correlations."""

from __future__ import annotations

from . import SnakesweepError
from .io import read_json, read_tsv, savefig, write_tsv

TUTORIAL_FEATURES = ["worst radius", "worst texture", "worst symmetry", "worst fractal dimension"]


def pick_features(requested, available: list[str]) -> list[str]:
    if requested is None:
        chosen = [f for f in TUTORIAL_FEATURES if f in available]
        return chosen if len(chosen) == len(TUTORIAL_FEATURES) else available[:4]
    missing = [f for f in requested if f not in available]
    if missing:
        raise SnakesweepError(f"explore.features: {missing} are not feature columns of the data; "
                              f"available: {available[:12]}" + (" ..." if len(available) > 12 else ""))
    return list(requested)


def explore(*, table: str, labels: str, features, outputs: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    info = read_json(labels)
    df = read_tsv(table)
    target = info["target"]
    df[target] = df[target].astype(str)
    order = [str(info["negative_class"]), str(info["positive_class"])]
    counts = df[target].value_counts().reindex(order)
    write_tsv(outputs["counts"], pd.DataFrame({"class": counts.index, "rows": counts.to_numpy(),
                                               "share": (counts / counts.sum()).round(4).to_numpy(),
                                               "positive": [False, True]}))

    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    sns.barplot(x=counts.index, y=counts.to_numpy(), hue=counts.index, ax=ax, legend=False)
    for i, v in enumerate(counts.to_numpy()):
        ax.text(i, v, f"{v} ({v / counts.sum():.0%})", ha="center", va="bottom")
    ax.set(xlabel=target, ylabel="rows", title="Class balance")
    savefig(fig, outputs["balance"])
    plt.close(fig)

    cols = pick_features(features, info["features"])
    grid = sns.pairplot(df[cols + [target]], hue=target, hue_order=order, diag_kind="kde",
                        plot_kws={"alpha": 0.3, "s": 10})
    savefig(grid.figure, outputs["pairplot"])
    plt.close(grid.figure)

    corr = df[info["features"]].corr()
    n = len(corr)
    fig, ax = plt.subplots(figsize=(max(6, 0.32 * n), max(5, 0.28 * n)))
    sns.heatmap(corr, cmap="vlag", vmin=-1, vmax=1, square=True, ax=ax, xticklabels=True, yticklabels=True)
    ax.set_title("Feature correlation (Pearson)")
    savefig(fig, outputs["correlation"])
    plt.close(fig)
