"""The Galaxy tools' side (galaxy/): the sweep tool's form, as Galaxy writes it (the tool's `<inputs>`
config file, JSON), turned into the workflow's config.

Galaxy gives every value as JSON, never through a shell line: a column name or a class label with quotes,
spaces or `$` reaches the config as it is. Columns come as 1-based numbers of the chosen dataset's
columns; they are named here from the table's own header, which the workflow then checks as it checks
any table. The sections `train` and `evaluate` of the form are the config's own keys, so their names,
defaults and limits have one source: the config schema (a unit test holds the tool to it).
"""

from __future__ import annotations

import json
from pathlib import Path

from . import SnakesweepError
from .data import _separator, read_header
from .io import load_yaml

# How the form becomes a config, not what a run computes: not part of a point's id (identity.py).
RESULT_CODE = False

# Galaxy's datatypes of a table, and the suffix that tells the workflow its separator (data._separator).
SUFFIXES = {"tabular": ".tsv", "tsv": ".tsv", "csv": ".csv"}
TABLE = "table"  # the name the dataset gets in the job's folder: Galaxy's own name is dataset_N.dat
SECTIONS = ("train", "evaluate")  # form sections whose parameters are the config's keys of that name


def separator(ext: str) -> str:
    """The separator of a table of Galaxy datatype `ext`, as the workflow reads a file so named."""
    return _separator(Path(TABLE + suffix(ext)))


def suffix(ext: str) -> str:
    try:
        return SUFFIXES[ext]
    except KeyError:
        raise SnakesweepError(f"the table's Galaxy datatype is '{ext}'; expected one of {', '.join(SUFFIXES)}") \
            from None


def link_table(dataset: str | Path, ext: str, folder: str | Path) -> Path:
    """The dataset under a name whose suffix says how it is separated (a link: nothing is copied). An earlier
    link is replaced; a file of that name is someone's own, and stays."""
    link = Path(folder) / f"{TABLE}{suffix(ext)}"
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        raise SnakesweepError(f"'{link}' exists and is not a link this command made; run it in another folder "
                              "(nothing there is overwritten)")
    link.symlink_to(Path(dataset).resolve())
    return link


def _column_names(value, header: list[str], what: str) -> list[str]:
    """Galaxy's data_column value (one number, a list, or 'a,b' for several; 1-based) as column names."""
    if value in (None, "", "None"):
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    names = []
    for item in items:
        try:
            index = int(str(item).strip())
        except ValueError:
            raise SnakesweepError(f"{what}: {item!r} is not a column number") from None
        if not 1 <= index <= len(header):
            raise SnakesweepError(f"{what}: column {index} does not exist; the table has {len(header)} columns")
        names.append(header[index - 1])
    return names


def _sweep(sweep: dict, default_sweep: Path, folder: Path) -> dict:
    """The sweep part of the config: the user's W&B sweep file as it is, or the tutorial's search space
    with the method, count and seed of the form."""
    cfg = {"count": int(sweep["count"]), "seed": int(sweep["seed"])}
    if sweep["source"] == "file":
        cfg["file"] = str(Path(sweep["file"]).resolve())
        return cfg
    spec = load_yaml(default_sweep, "sweep.file")
    if spec.get("method") == sweep["method"]:
        cfg["file"] = str(default_sweep)  # unchanged: the command line's default run, point for point
    else:
        written = folder / "sweep.yaml"
        written.write_text(json.dumps({**spec, "method": sweep["method"]}, indent=1) + "\n")
        cfg["file"] = str(written)
    return cfg


def _split(validation: dict) -> dict:
    if validation["mode"] == "cv":
        test = float(validation["test"])
        # The folds divide what the test split leaves; train and val only name that rest's shares.
        rest = round(1 - test, 10)
        train = round(rest * 0.75, 10)
        return {"folds": int(validation["folds"]), "repeats": int(validation["repeats"]),
                "seed": int(validation["seed"]),
                "fractions": {"train": train, "val": round(rest - train, 10), "test": test}}
    return {"folds": 1, "seed": int(validation["seed"]),
            "fractions": {k: float(validation[k]) for k in ("train", "val", "test")}}


def _data(data: dict, table_ext: str | None, folder: Path) -> dict:
    """The data part of the config: the built-in data, or the history's table with its columns named."""
    if data["source"] == "builtin":
        return {"source": "builtin:breast_cancer"}
    if not table_ext:
        raise SnakesweepError("the table's Galaxy datatype is not given (--table-format)")
    table = link_table(data["table"], table_ext, folder)
    header = read_header(table)
    target = _column_names(data["target"], header, "label column")
    if len(target) != 1:
        raise SnakesweepError(f"label column: choose one column, found {len(target)}")
    exclude = _column_names(data.get("exclude"), header, "columns to leave out")
    if target[0] in exclude:
        raise SnakesweepError(f"columns to leave out: '{target[0]}' is the label column; it cannot be left out")
    positive = data.get("positive_class")
    return {"source": str(table), "target": target[0], "exclude": exclude,
            "positive_class": positive if positive not in (None, "") else None}


def config_from_inputs(inputs: dict, *, table_ext: str | None, folder: str | Path, default_sweep: str | Path) -> dict:
    """The workflow's config for the sweep tool's form (`inputs`, Galaxy's JSON of it), run in `folder`."""
    folder = Path(folder).absolute()  # the workflow runs in a folder of its own: no relative paths
    config = {
        "data": _data(inputs["data"], table_ext, folder),
        "sweep": _sweep(inputs["sweep"], Path(default_sweep), folder),
        "split": _split(inputs["validation"]),
        "train": {"engine": inputs["engine"], "accelerator": "auto"},
        "evaluate": {},
    }
    for section in SECTIONS:
        for key, value in (inputs.get(section) or {}).items():
            config[section][key] = value
    return config


def write_config(inputs_path: str | Path, *, table_ext: str | None, out: str | Path, default_sweep: str | Path) -> dict:
    """Read Galaxy's JSON of the form, write the config (JSON is YAML) beside `out`'s folder; returns it."""
    inputs = json.loads(Path(inputs_path).read_text())
    out = Path(out)
    config = config_from_inputs(inputs, table_ext=table_ext, folder=out.parent, default_sweep=default_sweep)
    out.write_text(json.dumps(config, indent=1) + "\n")
    return config
