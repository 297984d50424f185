"""The data jobs: the working table from the source, and its split into training, validation and test
rows (with the folds of cross-validation). Their code decides every point's rows, so it is on the
training path of identity.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import data
from .io import atomic_path, read_json, read_tsv, write_json, write_tsv
from .split import Scaler, duplicate_report, identical_rows, stratified_split


def prepare_data(*, source: str, target: str, positive_class, exclude, drop_missing: bool, sha256,
                 max_download_mb: float, resources: str, table_out: str, labels_out: str,
                 index_check: bool = True) -> None:
    """Write the working table (features + label) and what the labels mean."""
    raw = data.load(source, target=target, resources=Path(resources), sha256=sha256,
                    max_bytes=int(max_download_mb * (1 << 20)))
    if positive_class is None and data.source_kind(source) == "builtin":
        positive_class = data.BUILTIN_POSITIVE
    prepared = data.prepare(raw, target=target, positive_class=positive_class, exclude=exclude,
                            drop_missing=drop_missing, index_check=index_check, source=f"data.source '{source}'")
    del raw
    counts = prepared.table[target].value_counts()
    write_tsv(table_out, prepared.table)
    write_json(labels_out, {
        "target": target,
        "positive_class": prepared.positive_class,
        "negative_class": prepared.classes[0],
        "features": prepared.features,
        "rows": len(prepared.table),
        "dropped_rows": prepared.dropped_rows,
        "dropped_columns": prepared.dropped_columns,
        "excluded_columns": list(exclude),
        "notices": prepared.notices,
        "class_counts": {str(k): int(v) for k, v in counts.items()},
        "source": source,
    })
    for notice in prepared.notices:
        print(f"notice: {notice}")
    print(f"{len(prepared.table)} rows, {len(prepared.features)} features, positive class "
          f"{prepared.positive_class!r}, dropped {prepared.dropped_rows} rows")


def read_prepared(table: str, labels: str):
    info = read_json(labels)
    df = read_tsv(table)
    x = df[info["features"]].to_numpy(dtype=np.float64)
    y = (df[info["target"]].astype(str) == str(info["positive_class"])).to_numpy()
    return x, y.astype(np.float32), info


def split_data(*, table: str, labels: str, fractions: dict, seed: int, standardize: bool,
               outputs: dict, folds: int = 1, repeats: int = 1) -> None:
    """Stratified split that keeps identical rows together; the scaler is fitted on the training rows
    only and applied to all three. With an output `cv` (cross-validation or seed repeats, see
    folds.py), also the rows outside the test split unscaled, with their folds, and the test rows
    unscaled (the final model scales them with its own scaler)."""
    x, y, info = read_prepared(table, labels)
    groups = identical_rows(x)
    duplicates = duplicate_report(groups, y)
    assign = stratified_split(y, fractions, seed, labels=[info["negative_class"], info["positive_class"]],
                              groups=groups)
    train = assign == "train"
    scaler = Scaler.fitted(x[train], standardize)
    for name in ("train", "val", "test"):
        rows = assign == name
        with atomic_path(outputs[name]) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, x=scaler.transform(x[rows]).astype(np.float32), y=y[rows], row=np.flatnonzero(rows))
    import pandas as pd

    table_out = pd.DataFrame({"row": np.arange(len(y)), "subset": assign, "label": y.astype(int), "group": groups})
    if outputs.get("cv"):
        from .folds import fold_table

        fold_of = fold_table(y, assign, folds=folds, repeats=repeats, seed=seed, groups=groups,
                             labels=[info["negative_class"], info["positive_class"]])
        dev, test = assign != "test", assign == "test"
        if folds > 1:
            for r, row_fold in enumerate(fold_of):
                column = np.full(len(y), -1)
                column[dev] = row_fold
                table_out[f"fold_r{r}"] = column
        with atomic_path(outputs["cv"]) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, x=x[dev], y=y[dev], row=np.flatnonzero(dev), fold=fold_of, x_test=x[test], y_test=y[test],
                     row_test=np.flatnonzero(test), standardize=np.bool_(standardize))
        print(f"cross-validation: {folds} fold(s) x {repeats if folds > 1 else 1} repeat(s) over "
              f"{int(dev.sum())} rows outside the test split")
    write_tsv(outputs["assignment"], table_out)
    per_class = {n: {"positive": int(y[assign == n].sum()), "negative": int((y[assign == n] == 0).sum())}
                 for n in ("train", "val", "test")}
    counts = {n: c["positive"] + c["negative"] for n, c in per_class.items()}
    write_json(outputs["scaler"], {**scaler.to_dict(info["features"]), "standardize": bool(standardize),
                                   "fitted_on": "train", "seed": seed, "fractions": fractions,
                                   "counts": counts, "class_counts": per_class, "duplicates": duplicates})
    if duplicates["rows_repeating_another"]:
        print(f"notice: {duplicates['rows_repeating_another']} row(s) repeat the features of another row "
              f"({duplicates['groups_of_identical_rows']} groups, {duplicates['groups_with_both_labels']} of them "
              "labelled both ways); each group was kept within one subset, so no copy crosses the split")
    print(f"split: {counts}; rows per class {per_class}")
