"""Atomic file output: a reader never sees a half-written file, even after `kill -9`."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

from . import SnakesweepError

# Reading and writing files, not what they hold: not part of a point's id (identity.py).
RESULT_CODE = False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    A failed write (disk full, no permission, a read-only filesystem) is reported as an OSError naming
    `path` itself, not the temporary file.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        yield Path(tmp)
        # mkstemp makes the file private (0600); results must get the usual permissions of new files.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as err:
        if err.errno is None:
            raise
        raise OSError(err.errno, os.strerror(err.errno), str(path)) from err
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def json_safe(obj):
    """Plain JSON values: numpy scalars as Python numbers, and NaN, infinities or missing values as null
    (a non-finite metric is explained by the record's status and reason, never written as NaN)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if type(obj).__name__ == "NAType":  # pandas.NA, without importing pandas here
        return None
    return obj


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(json_safe(obj), indent=2, sort_keys=True, allow_nan=False) + "\n")


def read_json(path: str | Path):
    return json.loads(Path(path).read_text())


def write_tsv(path: str | Path, df) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False, na_rep="")


SCORES_HEADER = ("label", "score")


def write_scores(path: str | Path, labels, scores) -> None:
    """A point's validation scores: per row its label (0/1) and score (the model's logit), each float
    written so it reads back exactly; plain text, no pandas (a training job does not import it)."""
    lines = ["\t".join(SCORES_HEADER)] + [f"{int(y)}\t{float(s)!r}" for y, s in zip(labels, scores, strict=True)]
    write_text(path, "\n".join(lines) + "\n")


def read_scores(path: str | Path):
    """(labels as bools, scores as float64) from write_scores' file."""
    import numpy as np

    with open(path) as fh:
        header = tuple(fh.readline().rstrip("\n").split("\t"))
        if header != SCORES_HEADER:
            raise SnakesweepError(f"{path}: expected the columns {'/'.join(SCORES_HEADER)}, found {header}")
        rows = [line.split("\t") for line in fh if line.strip()]
    return (np.array([int(r[0]) for r in rows], dtype=bool), np.array([float(r[1]) for r in rows], dtype=np.float64))


def cast_ints(df, columns):
    """Integer columns with empty cells (a width without hidden layers) as nullable integers, not floats."""
    for col in columns:
        if col in df.columns:
            df[col] = df[col].astype("Int64")
    return df


def load_yaml(path: str | Path, key: str):
    """Read a YAML (or JSON) file, refusing duplicate keys, which PyYAML would let the last one win.

    `key` names the setting that points at the file, for the error message. Errors are
    SnakesweepErrors naming the file, the key and both lines.
    """
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                name = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(name)
                    seen[name] = line
                except TypeError:  # an unhashable key: PyYAML's own check reports it
                    continue
                if first is not None:
                    raise SnakesweepError(
                        f"{key}: '{path}' gives the key '{name}' twice, on lines {first} and {line}; "
                        "YAML would silently keep only the last one. Remove or merge one of them")
            return super().construct_mapping(node, deep=deep)

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise SnakesweepError(f"{key}: '{path}' is not UTF-8 text ({err.reason} at byte {err.start})") from None
    try:
        return yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as err:
        raise SnakesweepError(f"{key}: '{path}' is not valid YAML: {err}") from None


def read_tsv(path: str | Path, int_columns=()):
    """Read a TSV written by write_tsv; `int_columns` stay integers even with empty cells."""
    import pandas as pd

    # Floats must read back exactly as written, so values match the DAG's own; pandas 3 does so by
    # default and deprecates the option that pandas 2 needs for it.
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    # Point ids are hex strings, even the rare one made of digits only.
    df = pd.read_csv(path, sep="\t", dtype={"point": str}, **exact)
    return cast_ints(df, int_columns)


def link_or_copy(src: str | Path, dst: str | Path) -> None:
    """`dst` becomes a hard link of `src` (no copy of the bytes), or an atomic copy where the filesystem
    has no hard links; an existing `dst` is replaced."""
    src, dst = Path(src), Path(dst)
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        with atomic_path(dst) as tmp:
            shutil.copy2(src, tmp)


def svg_figure(**kwargs):
    """A figure drawn straight to SVG with matplotlib's object API: no pyplot import or global state."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(**kwargs)
    FigureCanvasSVG(fig)
    return fig


def savefig(fig, path: str | Path, tight: bool = True) -> None:
    """Save a figure atomically, with no date and fixed element ids, so reruns give identical bytes.
    `tight=False` keeps the figure's own layout, which saves measuring every label (a tenth of a second)."""
    import matplotlib

    path = Path(path)
    fmt = path.suffix.lstrip(".") or "svg"
    matplotlib.rcParams["svg.hashsalt"] = "snakesweep"
    metadata = {"Date": None} if fmt == "svg" else {}
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, bbox_inches="tight" if tight else None, metadata=metadata)


def outside_members(zf) -> list[str]:
    """The entries of an open zip file that would land outside the folder it is extracted into."""
    return [name for name in zf.namelist() if name.startswith("/") or ".." in Path(name).parts]
