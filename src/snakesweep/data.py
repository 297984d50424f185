"""Reading the input table from its source and checking it before anything is trained on it."""

from __future__ import annotations

import csv
import hashlib
import re
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import SnakesweepError
from .io import atomic_path

BUILTIN = "builtin:breast_cancer"
BUILTIN_TARGET = "target"
BUILTIN_POSITIVE = "malignant"


def source_kind(source: str) -> str:
    """'builtin', 'url' or 'file'; other URL schemes are refused (no file://, ftp:// or s3:// surprises)."""
    if source == BUILTIN:
        return "builtin"
    if source.startswith("builtin:"):
        raise SnakesweepError(f"data.source: unknown built-in data set {source!r}; the only one is {BUILTIN!r}")
    scheme = urllib.parse.urlparse(source).scheme.lower()
    if scheme in ("http", "https"):
        return "url"
    if len(scheme) > 1:  # one letter is a Windows drive, not a scheme
        raise SnakesweepError(f"data.source: URL scheme '{scheme}:' is not allowed in {source!r}; "
                              "use an http(s) URL or a local file path")
    return "file"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: Path, *, sha256: str | None, max_bytes: int, timeout: float = 60) -> Path:
    """Fetch `url` once into `dest`, refusing anything larger than `max_bytes` or with the wrong hash."""
    if not sha256:
        raise SnakesweepError(f"data.sha256: required for the URL source {url!r} so the download can be "
                              "checked; set it to the file's sha256 (run `sha256sum` on a copy)")
    if dest.exists() and sha256_file(dest) == sha256.lower():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _fetch(url, dest, sha256=sha256, max_bytes=max_bytes, timeout=timeout)
    except SnakesweepError:
        raise
    except OSError as err:
        if err.filename:  # writing the local copy failed (disk full, read-only): not the download's fault
            raise
        raise SnakesweepError(f"data.source: downloading {url} failed: {err}") from None
    except ValueError as err:  # URLError, HTTPError and timeouts are OSErrors; malformed URLs are these
        raise SnakesweepError(f"data.source: downloading {url} failed: {err}") from None


def _fetch(url: str, dest: Path, *, sha256: str, max_bytes: int, timeout: float) -> Path:
    h, size = hashlib.sha256(), 0
    with atomic_path(dest) as tmp, urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
        declared = resp.headers.get("Content-Length")
        if declared and int(declared) > max_bytes:
            raise SnakesweepError(f"data.source: {url} is {int(declared)} bytes, over data.max_download_mb")
        for chunk in iter(lambda: resp.read(1 << 20), b""):
            size += len(chunk)
            if size > max_bytes:
                raise SnakesweepError(f"data.source: {url} is larger than data.max_download_mb "
                                      f"({max_bytes} bytes); stopped the download")
            h.update(chunk)
            out.write(chunk)
        if h.hexdigest() != sha256.lower():
            raise SnakesweepError(f"data.sha256: the download of {url} has sha256 {h.hexdigest()}, "
                                  f"but data.sha256 is {sha256}")
    return dest


def builtin_table():
    """The tutorial's breast-cancer data, shipped inside scikit-learn (no network)."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    labels = pd.Series(np.asarray(bunch.target_names)[bunch.target.to_numpy()], name=BUILTIN_TARGET)
    return pd.concat([bunch.data, labels], axis=1)


def _separator(path: Path) -> str:
    return "\t" if path.suffix.lower() in (".tsv", ".tab", ".txt") else ","


def check_file(path: Path) -> None:
    if path.is_dir():
        raise SnakesweepError(f"data.source: '{path}' is a directory; expected a CSV or TSV file")
    if not path.is_file():
        raise SnakesweepError(f"data.source: file '{path}' does not exist")


def read_header(path: str | Path) -> list[str]:
    """The column names of a CSV/TSV file, refusing a missing or empty file and duplicate names.

    The header is read with the CSV parser, not as a line: a quoted name may span lines.
    """
    path = Path(path)
    check_file(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh, delimiter=_separator(path)), None)
    except UnicodeDecodeError as err:
        raise SnakesweepError(f"data.source: file '{path}' is not UTF-8 text ({err.reason} at byte "
                              f"{err.start}); save it as UTF-8") from None
    except csv.Error as err:
        raise SnakesweepError(f"data.source: the header of '{path}' cannot be read: {err}") from None
    if not header or all(not c.strip() for c in header):
        raise SnakesweepError(f"data.source: file '{path}' is empty (no header line)")
    # Empty names are not duplicates of each other: pandas numbers them ('Unnamed: 3').
    dups = sorted({c for c in header if c and header.count(c) > 1})
    if dups:
        raise SnakesweepError(f"data.source: file '{path}' has duplicate column names: {dups}")
    return header


def read_table(path: str | Path):
    """Read a CSV/TSV file, refusing empty files and duplicate column names (pandas would rename them)."""
    import pandas as pd

    read_header(path)
    path = Path(path)
    try:
        df = pd.read_csv(path, sep=_separator(path), encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise SnakesweepError(f"data.source: file '{path}' cannot be read as a table: "
                              f"{str(err).strip().splitlines()[-1]}") from None
    if df.empty:
        raise SnakesweepError(f"data.source: file '{path}' has a header but no rows")
    return df


@dataclass
class Prepared:
    table: object  # pandas.DataFrame: the features plus the label column, in input order
    features: list[str]
    target: str
    classes: list[str]  # [negative, positive], as written in the input
    positive_class: str
    dropped_rows: int
    dropped_columns: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


# pandas' name for a column with an empty header cell, such as the index that to_csv() writes.
UNNAMED = re.compile(r"^Unnamed: \d+(_level_\d+)?$")
INDEX_HINT = "(set data.index_check: false only if it really is a feature)"
YAML_BOOLEANS = {True: ("true", "yes", "y", "on", "1"), False: ("false", "no", "n", "off", "0")}


def row_counters(x: np.ndarray, names: list[str]) -> list[str]:
    """Columns holding n distinct consecutive whole numbers for n rows: a row index or an identifier.

    On a table sorted by class such a column predicts the label perfectly, so it must never be trained
    on by accident. Checked column by column, so a tall table needs no copy of itself.
    """
    n = len(x)
    if n < 3:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column has no span
        span = np.nanmax(x, axis=0) - np.nanmin(x, axis=0)
    found = []
    for j in np.flatnonzero(span == n - 1):
        col = x[:, j]
        if np.isfinite(col).all() and (col == np.round(col)).all() and len(np.unique(col)) == n:
            found.append(names[j])
    return found


def _label_for_boolean(value: bool, names: list[str], target: str) -> str:
    """YAML 1.1 reads an unquoted yes/no/on/off/y/n as a boolean: find the label the user wrote."""
    spelled = [n for n in names if n.lower() in YAML_BOOLEANS[value]]
    if len(spelled) == 1:
        return spelled[0]
    raise SnakesweepError(f"data.positive_class: YAML read the unquoted value as the boolean {value} (YAML "
                          f"1.1 reads yes/no/on/off/y/n/true/false so), which matches none of the labels of "
                          f"column '{target}': {names}; quote the label, e.g. positive_class: '{names[-1]}'")


def prepare(df, *, target: str, positive_class=None, exclude=(), drop_missing=False, index_check=True,
            source="data"):
    """Check a table and return its numeric features and binary label, or raise naming what is wrong."""
    import pandas as pd

    cols = [str(c) for c in df.columns]
    df = df.set_axis(cols, axis=1)
    if target not in cols:
        raise SnakesweepError(f"data.target: column '{target}' is not in {source}; its columns are {cols[:12]}"
                              + (" ..." if len(cols) > 12 else ""))
    missing_excl = [c for c in exclude if c not in cols]
    if missing_excl:
        raise SnakesweepError(f"data.exclude: column(s) {missing_excl} are not in {source}")
    notices, dropped_columns = [], []
    unnamed = [c for c in cols if UNNAMED.match(c) and c != target and c not in exclude]
    empty = [c for c in unnamed if df[c].isna().all()]
    if empty:
        # A separator at the end of every line makes a nameless column with no values: nothing to lose.
        positions = [cols.index(c) + 1 for c in empty]
        notices.append(f"dropped {len(empty)} column(s) with no name and no values (column(s) {positions}): "
                       "every line ends with a separator")
        dropped_columns += empty
    features = [c for c in cols if c != target and c not in exclude and c not in empty]
    if index_check:
        for c in (c for c in features if UNNAMED.match(c)):
            raise SnakesweepError(
                f"data: column {cols.index(c) + 1} of {source} has no name in the header (pandas calls it "
                f"'{c}'); that is how pandas' to_csv() writes the row index, which is not a feature and can "
                f"leak the label. Write the file with to_csv(index=False), or add '{c}' to data.exclude "
                + INDEX_HINT)
    if not features:
        raise SnakesweepError(f"data: {source} has no feature columns besides the target '{target}'")
    nonnum = [c for c in features if not pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])]
    if nonnum:
        raise SnakesweepError(f"data: feature column(s) {nonnum[:10]} are not numeric; expected numbers only "
                              "(list identifier or text columns in data.exclude)")
    x = df[features].to_numpy(dtype=np.float64)
    # Counted on every row (dropping rows would leave gaps), refused once the labels are known good.
    counters = row_counters(x, features) if index_check else []
    bad_rows = ~np.isfinite(x).all(axis=1) | df[target].isna().to_numpy()
    dropped = 0
    if bad_rows.any():
        bad_cols = [c for c, bad in zip(features, (~np.isfinite(x)).any(axis=0), strict=True) if bad]
        if df[target].isna().any():
            bad_cols.append(target)
        if not drop_missing:
            kinds = "NaN/inf or missing"
            raise SnakesweepError(f"data: {int(bad_rows.sum())} row(s) of {source} have {kinds} values in "
                                  f"column(s) {bad_cols[:10]}; clean the file or set data.drop_missing: true "
                                  "to drop those rows")
        if bad_rows.all():
            raise SnakesweepError(f"data.drop_missing: every one of the {len(bad_rows)} rows of {source} has a "
                                  f"missing, NaN or infinite value (in column(s) {bad_cols[:10]}), so none would "
                                  "be left; fill those columns or list them in data.exclude")
        dropped = int(bad_rows.sum())
        df = df.loc[~bad_rows].reset_index(drop=True)
        x = x[~bad_rows]
    labels = df[target]
    if pd.api.types.is_float_dtype(labels) and (labels == labels.round()).all():
        # 0/1 labels read as floats (pandas does so when a cell was empty) are still 0/1.
        labels = labels.astype("int64")
    classes = sorted(pd.unique(labels).tolist(), key=str)
    if len(classes) != 2:
        shown = [str(c) for c in classes[:10]]
        raise SnakesweepError(f"data.target: column '{target}' must have exactly 2 classes for binary "
                              f"classification, found {len(classes)}: {shown}")
    names = [str(c) for c in classes]
    if positive_class is None:
        if set(names) in ({"0", "1"}, {"False", "True"}, {"0.0", "1.0"}):
            positive_class = names[1]
        else:
            raise SnakesweepError(f"data.positive_class: column '{target}' has labels {names}; set "
                                  "data.positive_class to the one that counts as positive")
    if isinstance(positive_class, bool):
        positive_class = _label_for_boolean(positive_class, names, target)
    if isinstance(positive_class, float) and positive_class.is_integer():
        positive_class = int(positive_class)
    positive_class = str(positive_class)
    if positive_class not in names:
        raise SnakesweepError(f"data.positive_class: {positive_class!r} is not a label of column '{target}'; "
                              f"expected one of {names}")
    if counters:
        raise SnakesweepError(
            f"data: column(s) {counters[:10]} of {source} count the rows (each a different whole number, "
            "consecutive): a row index or identifier is not a feature, and on sorted data it leaks the label. "
            f"Add them to data.exclude {INDEX_HINT}")
    negative = next(n for n in names if n != positive_class)
    out = pd.DataFrame(x, columns=features)
    out[target] = labels.astype(str).to_numpy()
    return Prepared(out, features, target, [negative, positive_class], positive_class, dropped,
                    dropped_columns, notices)


def load(source: str, *, target: str, resources: Path, sha256=None, max_bytes=100 << 20):
    """The raw table behind `data.source`, downloading a URL once into `resources`."""
    kind = source_kind(source)
    if kind == "builtin":
        return builtin_table()
    if kind == "url":
        name = Path(urllib.parse.urlparse(source).path).name or "download.csv"
        path = download(source, Path(resources) / name, sha256=sha256, max_bytes=max_bytes)
        return read_table(path)
    return read_table(source)


def fingerprint(source: str, sha256=None) -> str:
    """What identifies the input data for point ids, cheap enough to compute whenever the DAG is built."""
    kind = source_kind(source)
    if kind == "builtin":
        from importlib.metadata import version

        return f"{BUILTIN}@scikit-learn-{version('scikit-learn')}"
    if kind == "url":
        return f"sha256:{(sha256 or '').lower()}"
    path = Path(source)
    check_file(path)
    return f"sha256:{sha256_file(path)}"
