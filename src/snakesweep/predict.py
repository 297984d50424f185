"""The `predict` target: the final model (results/best.json's `final_model`) applied to a new table.

Every cell is read as text and the feature columns are parsed here, strictly: pandas would otherwise
turn a column with one typo into text, or an 'NA' into NaN, without a word. The table is checked whole
before the model is loaded, and each refusal names the file, the column(s) and what was expected.

The features are scaled with the scaler the model was trained with and by the same arithmetic as the
split job's (float64, then float32), so the rows of the test split, given here as a table, get the
model's test scores bit for bit.
"""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

import numpy as np

from . import SnakesweepError
from .data import _separator
from .io import outside_members, read_json, write_tsv
from .split import Scaler

KEY = "predict.input"
OUTPUT_COLUMNS = ("score", "probability", "predicted")
# The cells pandas reads as missing by default (pandas.read_csv's na_values), compared after stripping.
MISSING = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
     "NULL", "NaN", "None", "n/a", "nan", "null"}
)  # fmt: skip
# A decimal number as pandas and Python both read it (Python's float() alone would also take '1_000').
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity)", re.IGNORECASE)
SHOWN = 10  # columns or rows listed in a message


def _listed(items, limit: int = SHOWN) -> str:
    items = list(items)
    shown = ", ".join(repr(i) if isinstance(i, str) else str(i) for i in items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _columns(parts: list[str]) -> str:
    more = f"; ... ({len(parts)} columns in all)" if len(parts) > SHOWN else ""
    return "; ".join(parts[:SHOWN]) + more


def _rows(positions: np.ndarray) -> str:
    """Data rows (1 = the first row after the header) of the cells at `positions`."""
    rows = [int(i) + 1 for i in positions]
    return ("row " if len(rows) == 1 else "rows ") + _listed(rows, 5)


def table_input(path: str | None) -> str:
    """predict.input as the rule's input, checked only when the predict target is asked for (it is null
    unless a table is given, and a run that does not predict must not mind)."""
    if path is None:
        raise SnakesweepError(
            f"{KEY} is not set: give the table to predict, e.g. "
            "snakemake --cores 1 predict --config predict='{input: new.csv, name: batch1}'"
        )
    from .plan import check_input_path

    check_input_path(KEY, path)
    return path


def read_new_table(path: str | Path, key: str = KEY, sep: str | None = None):
    """The table as text, every cell as written (empty cells as ''), refusing what cannot be a table.
    `sep`: the separator, when the file's name does not tell (a Galaxy dataset's does not)."""
    import pandas as pd

    path = Path(path)
    where = f"{key}: file '{path}'"
    if path.is_dir():
        raise SnakesweepError(f"{where} is a directory; expected a CSV or TSV file")
    if not path.is_file():
        raise SnakesweepError(f"{where} does not exist")
    sep = sep or _separator(path)
    try:
        with warnings.catch_warnings():
            # index_col=False: a row longer than the header would otherwise make its first column the index.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                path, sep=sep, dtype=str, keep_default_na=False, na_filter=False, index_col=False, encoding="utf-8-sig"
            )
    except pd.errors.ParserWarning:
        raise SnakesweepError(
            f"{where} has rows with more fields than its header has names; expected one value per column on every row"
        ) from None
    except pd.errors.EmptyDataError:
        raise SnakesweepError(f"{where} is empty (no header line); expected a header and one row per sample") from None
    except UnicodeDecodeError as err:
        raise SnakesweepError(
            f"{where} is not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8"
        ) from None
    except pd.errors.ParserError as err:
        raise SnakesweepError(f"{where} cannot be read as a table: {str(err).strip().splitlines()[-1]}") from None
    # pandas renames a repeated name ('a', 'a.1'): the header itself tells whether a name was repeated.
    with open(path, newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh, delimiter=sep), [])
    dups = sorted({c for c in header if c and header.count(c) > 1})
    if dups:
        raise SnakesweepError(f"{where} has duplicate column names: {_listed(dups)}; expected each name once")
    if df.empty:
        raise SnakesweepError(f"{where} has a header but no rows; expected at least one row to predict")
    return df


def _parse_features(df, features: list[str], where: str) -> np.ndarray:
    """The feature columns as float64, refusing text, missing and infinite cells with where they are."""
    text = {c: df[c].str.strip() for c in features}
    missing = {c: np.flatnonzero(text[c].isin(MISSING).to_numpy()) for c in features}
    bad = {}
    for c in features:
        ok = text[c].str.fullmatch(NUMBER).to_numpy() | text[c].isin(MISSING).to_numpy()
        if not ok.all():
            bad[c] = np.flatnonzero(~ok)
    if bad:
        parts = [
            f"'{c}' has {df[c].iloc[rows[0]]!r} in row {rows[0] + 1}"
            + (f" ({len(rows)} such cells)" if len(rows) > 1 else "")
            for c, rows in bad.items()
        ]
        raise SnakesweepError(
            f"{where} has non-numeric values in feature column(s): {_columns(parts)}. "
            "Expected a number in every cell of a feature column (rows are counted from 1 after the header)"
        )
    missing = {c: rows for c, rows in missing.items() if len(rows)}
    if missing:
        total = sum(len(rows) for rows in missing.values())
        parts = [f"'{c}' ({_rows(rows)})" for c, rows in missing.items()]
        raise SnakesweepError(
            f"{where} has {total} missing value(s) in feature column(s): {_columns(parts)}. "
            "Expected a number in every cell of a feature column; fill them or drop those rows"
        )
    # Python's float() is correctly rounded, as pandas' reading of the working table: the same text
    # gives the same float64 as in training.
    x = np.empty((len(df), len(features)), dtype=np.float64)
    for j, c in enumerate(features):
        x[:, j] = np.array(text[c].tolist(), dtype=object).astype(np.float64)
    infinite = {c: np.flatnonzero(~np.isfinite(x[:, j])) for j, c in enumerate(features)}
    infinite = {c: rows for c, rows in infinite.items() if len(rows)}
    if infinite:
        parts = [f"'{c}' ({_rows(rows)})" for c, rows in infinite.items()]
        raise SnakesweepError(
            f"{where} has infinite values in feature column(s): {_columns(parts)}. "
            "Expected finite numbers, as in training"
        )
    return x


def check_table(df, *, features: list[str], target: str, classes: list[str], where: str) -> np.ndarray:
    """Check the new table against what the model was trained on; return its features as float64."""
    cols = list(df.columns)
    missing = [c for c in features if c not in cols]
    if missing:
        raise SnakesweepError(
            f"{where} lacks {len(missing)} of the model's {len(features)} feature column(s): "
            f"{_listed(missing, len(missing))}. "
            f"Expected every feature column of the training data, named as there; its columns are {_listed(cols)}"
        )
    taken = [c for c in OUTPUT_COLUMNS if c in cols]
    if taken:
        raise SnakesweepError(
            f"{where} has column(s) {_listed(taken)}, which the predictions would overwrite; "
            f"rename them (the output adds the columns {list(OUTPUT_COLUMNS)})"
        )
    if target in cols:
        values = df[target].str.strip()
        unexpected = sorted(set(values[(values != "") & ~values.isin(classes)]))
        if unexpected:
            raise SnakesweepError(
                f"{where}: label column '{target}' has value(s) {_listed(unexpected)} that are not labels the "
                f"model was trained on; expected only {_listed(classes)} (or an empty cell). Rename the column "
                "if it holds something else"
            )
    return _parse_features(df, features, where)


def load_final_model(best: str, root: str | Path = "."):
    """The final model and its scaler, as results/best.json names them (relative to the run's folder,
    `root`)."""
    from .kernel import load_model

    root = Path(root)
    info = read_json(best)
    final = info.get("final_model")
    if not isinstance(final, dict) or "model" not in final or "scaler" not in final:
        raise SnakesweepError(
            f"'{best}' names no final model (expected a 'final_model' with 'model' and 'scaler'); "
            "delete it so the evaluation writes it again"
        )
    scaler_info = read_json(root / final["scaler"])
    scaler = Scaler(np.array(scaler_info["mean"]), np.array(scaler_info["scale"]))
    model, state = load_model(root / final["model"])
    return model, state, scaler, scaler_info["features"], final


def predict_table(*, best: str, labels: str, table: str, out: str, threshold: float, root: str | Path = ".",
                  key: str = KEY, sep: str | None = None):
    """Score every row of `table` with the final model; write and return the predictions: the table's
    columns other than the features (identifiers, a label column), then `score` (the logit), `probability`
    (of the positive class) and `predicted` (the positive class at or above `threshold`)."""
    if not 0 <= threshold <= 1:
        raise SnakesweepError(f"predict.threshold must be between 0 and 1, found {threshold}")
    info = read_json(labels)
    features, target = list(info["features"]), str(info["target"])
    positive, negative = str(info["positive_class"]), str(info["negative_class"])
    df = read_new_table(table, key, sep)
    x = check_table(df, features=features, target=target, classes=[negative, positive], where=f"{key}: file '{table}'")

    import torch

    from .kernel import predict

    model, state, scaler, scaler_features, final = load_final_model(best, root)
    for what, names in (("scaler", scaler_features), ("model", state.get("features", features))):
        if list(names) != features:
            raise SnakesweepError(
                f"the final {what} ('{final[what]}') was fitted on other features than '{labels}' "
                "lists; the results are out of date: delete results/best.json and run again"
            )
    # Exactly the split job's arithmetic (prepare.split_data), so the same rows give the same scores.
    x32 = scaler.transform(x).astype(np.float32)
    logits = predict(model, torch.from_numpy(x32))
    scores = logits.double().numpy()
    probability = torch.sigmoid(logits.double()).numpy()
    identifiers = [c for c in df.columns if c not in features]
    result = (
        df[identifiers]
        .reset_index(drop=True)
        .assign(score=scores, probability=probability, predicted=np.where(probability >= threshold, positive, negative))
    )
    write_tsv(out, result)
    n_pos = int((probability >= threshold).sum())
    print(
        f"predicted {len(result)} rows of '{table}': {n_pos} {positive!r} (probability >= {threshold}), "
        f"{len(result) - n_pos} {negative!r}; model '{final['model']}'"
    )
    return result


# --- the model as one file: what `snakesweep predict` (and Galaxy's predict tool) applies to a new table ---

BUNDLE_BEST = "results/best.json"
BUNDLE_LABELS = "results/data/labels.json"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same model gives the same zip, byte for byte


def bundle_model(out: str | Path, root: str | Path = ".") -> list[str]:
    """Write the run's final model, its scaler, best.json and the labels (the features, target and classes)
    into one zip, each under its path in the run's folder `root`; returns those paths."""
    import zipfile

    root = Path(root)
    best = root / BUNDLE_BEST
    if not best.is_file():
        raise SnakesweepError(f"'{best}' does not exist: the run has no chosen model yet")
    final = read_json(best).get("final_model")
    if not isinstance(final, dict) or "model" not in final or "scaler" not in final:
        raise SnakesweepError(f"'{best}' names no final model (expected a 'final_model' with 'model' and 'scaler'); "
                              "runs of an own program have none: their models are the program's")
    members = [BUNDLE_BEST, BUNDLE_LABELS, final["model"], final["scaler"]]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for rel in members:
            info = zipfile.ZipInfo(rel, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, (root / rel).read_bytes())
    return members


def predict_bundle(bundle: str | Path, table: str | Path, out: str | Path, *, threshold: float = 0.5,
                   sep: str | None = None, key: str = "table"):
    """predict_table with the model of a bundle (bundle_model) instead of a run's folder."""
    import tempfile
    import zipfile

    bundle = Path(bundle)
    try:
        z = zipfile.ZipFile(bundle)
    except (OSError, zipfile.BadZipFile) as err:
        raise SnakesweepError(f"model: '{bundle}' is not a zip file ({err}); expected the model output of a "
                              "snakesweep run (snakesweep run --model-zip)") from None
    with z, tempfile.TemporaryDirectory(prefix="snakesweep-model-") as scratch:
        names = set(z.namelist())
        missing = [m for m in (BUNDLE_BEST, BUNDLE_LABELS) if m not in names]
        if missing:
            raise SnakesweepError(f"model: '{bundle}' lacks {_listed(missing)}; expected the model output of a "
                                  "snakesweep run (snakesweep run --model-zip)")
        if outside := outside_members(z):  # only the run's own relative paths, inside the scratch folder
            raise SnakesweepError(f"model: '{bundle}' holds a path outside its folder: {outside[0]!r}")
        z.extractall(scratch)
        return predict_table(best=str(Path(scratch) / BUNDLE_BEST), labels=str(Path(scratch) / BUNDLE_LABELS),
                             table=str(table), out=str(out), threshold=threshold, root=scratch, key=key, sep=sep)
