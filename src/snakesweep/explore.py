"""Exploration of the input table (the tutorial's section 1.2.1): class balance, pairplot, correlations.

Every plot stays bounded whatever the table's shape: the pairplot draws a stratified sample of at most
`max_rows` rows, and the correlation heatmap shows at most `max_features` features (those with the
largest variance), each saying so in its title.
"""

from __future__ import annotations

import numpy as np

from . import SnakesweepError
from .io import read_json, read_tsv, savefig, write_tsv

TUTORIAL_FEATURES = ["worst radius", "worst texture", "worst symmetry", "worst fractal dimension"]
PAIRPLOT_DEFAULT = 4


def top_variance(df, features: list[str], k: int) -> list[str]:
    """The k features with the largest variance, in table order (ties keep table order)."""
    if len(features) <= k:
        return list(features)
    var = df[features].var(axis=0).to_numpy()
    keep = np.sort(np.argsort(-var, kind="stable")[:k])
    return [features[i] for i in keep]


def pick_features(requested, available: list[str], df=None) -> list[str]:
    if requested is None:
        chosen = [f for f in TUTORIAL_FEATURES if f in available]
        if len(chosen) == len(TUTORIAL_FEATURES):
            return chosen
        return top_variance(df, available, PAIRPLOT_DEFAULT) if df is not None else available[:PAIRPLOT_DEFAULT]
    missing = [f for f in requested if f not in available]
    if missing:
        raise SnakesweepError(f"explore.features: {missing} are not feature columns of the data; "
                              f"available: {available[:12]}" + (" ..." if len(available) > 12 else ""))
    return list(requested)


def sample_rows(labels, max_rows: int, seed: int = 0) -> np.ndarray:
    """Row numbers of a seeded sample of at most max_rows rows, each class in its share (all rows when
    there are few enough), in table order."""
    labels = np.asarray(labels)
    if len(labels) <= max_rows:
        return np.arange(len(labels))
    rng = np.random.Generator(np.random.PCG64(seed))
    keep = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        k = max(1, round(max_rows * len(idx) / len(labels)))
        keep.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(keep))


def explore(*, table: str, labels: str, features, outputs: dict, max_features: int = 50,
            max_rows: int = 5000) -> None:
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

    cols = pick_features(features, info["features"], df)
    rows = sample_rows(df[target].to_numpy(), max_rows)
    grid = sns.pairplot(df.iloc[rows][cols + [target]], hue=target, hue_order=order, diag_kind="kde",
                        plot_kws={"alpha": 0.3, "s": 10})
    if len(rows) < len(df):
        grid.figure.suptitle(f"A random sample of {len(rows):,} of {len(df):,} rows, stratified by class",
                             y=1.01)
    savefig(grid.figure, outputs["pairplot"])
    plt.close(grid.figure)

    shown = top_variance(df, info["features"], max_features)
    corr = df[shown].corr()
    n = len(corr)
    fig, ax = plt.subplots(figsize=(max(6, 0.32 * n), max(5, 0.28 * n)))
    sns.heatmap(corr, cmap="vlag", vmin=-1, vmax=1, square=True, ax=ax, xticklabels=True, yticklabels=True)
    title = "Feature correlation (Pearson)"
    if n < len(info["features"]):
        title += f"\nthe {n} features of {len(info['features']):,} with the largest variance"
    ax.set_title(title)
    savefig(fig, outputs["correlation"])
    plt.close(fig)
    print(f"pairplot: {cols}, {len(rows)} of {len(df)} rows; correlation: {n} of {len(info['features'])} features")
