"""The catalogue of bad input: each case is refused before training, with a message naming the culprit.

Config and sweep cases go through what every Snakemake invocation runs first (schema validation and
the sweep plan); data cases go through the data-preparation job, which every training job depends on.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from snakesweep import SnakesweepError
from snakesweep.plan import make_plan
from snakesweep.prepare import prepare_data

REPO = Path(__file__).resolve().parents[2]
SCHEMA = str(REPO / "workflow/schemas/config.schema.yaml")
BASE = yaml.safe_load((REPO / "config/config.yaml").read_text())
SWEEP = yaml.safe_load((REPO / "config/sweep.yaml").read_text())


def plan(tmp_path: Path, changes: dict | None = None, sweep: dict | None = None):
    cfg = copy.deepcopy(BASE)
    for dotted, value in (changes or {}).items():
        node = cfg
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    (tmp_path / "config").mkdir(exist_ok=True)
    (tmp_path / "config/sweep.yaml").write_text(yaml.safe_dump(sweep if sweep is not None else SWEEP))
    validate(cfg, SCHEMA)
    return make_plan(cfg, base=tmp_path)


def refused(fn, *words):
    with pytest.raises((SnakesweepError, WorkflowError)) as err:
        fn()
    text = str(err.value)
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"
    return text


# ---------------------------------------------------------------------------------------------- config
CONFIG_CASES = {
    "unknown key": ({"train.optimizr": "adam"}, ["optimizr"]),
    "unknown top-level group": ({"trainer.max_epochs": 3}, ["trainer"]),
    "wrong type": ({"train.max_epochs": "ten"}, ["ten"]),
    "negative epochs": ({"train.max_epochs": -1}, ["-1"]),
    "unknown engine": ({"train.engine": "keras"}, ["keras"]),
    "unknown optimizer": ({"train.optimizer": "lbfgs"}, ["lbfgs"]),
    "unknown activation": ({"train.activation": "gelu"}, ["gelu"]),
    "fractions that do not add up": ({"split.fractions": {"train": 0.5, "val": 0.2, "test": 0.2}},
                                     ["split.fractions", "add up"]),
    "fraction out of range": ({"split.fractions": {"train": 1.2, "val": 0.2, "test": 0.2}}, ["1.2"]),
    "zero learning rate": ({"train.learning_rate": 0}, ["learning_rate"]),
    "count below one": ({"sweep.count": 0}, ["count"]),
    "bad sha256": ({"data.sha256": "abc"}, ["abc"]),
}


@pytest.mark.parametrize("case", CONFIG_CASES, ids=list(CONFIG_CASES))
def test_config(tmp_path, case):
    changes, words = CONFIG_CASES[case]
    refused(lambda: plan(tmp_path, changes), *words)


# ----------------------------------------------------------------------------------------- sweep spec
def spec(**parts):
    base = {"method": "random", "metric": {"name": "val_loss", "goal": "minimize"},
            "parameters": {"learning_rate": {"min": 0.0001, "max": 0.01}}}
    base.update(parts)
    return {k: v for k, v in base.items() if v is not None}


SWEEP_CASES = {
    "missing method": (spec(method=None), ["method"]),
    "unknown method": (spec(method="evolutionary"), ["evolutionary"]),
    "missing parameters": (spec(parameters=None), ["parameters"]),
    "empty parameters": (spec(parameters={}), ["parameters"]),
    "unknown distribution": (spec(parameters={"learning_rate": {"distribution": "loguniformish", "min": 0.1,
                                                                "max": 1.0}}), ["loguniformish"]),
    "min greater than max": (spec(parameters={"learning_rate": {"min": 0.1, "max": 0.01}}),
                             ["learning_rate", "min"]),
    "log_uniform_values with min 0": (spec(parameters={"learning_rate": {
        "distribution": "log_uniform_values", "min": 0, "max": 0.1}}), ["learning_rate", "min"]),
    "grid over a continuous parameter": (spec(method="grid"), ["grid", "learning_rate"]),
    "unknown hyperparameter": (spec(parameters={"momentum": {"values": [0.1, 0.2]}}), ["momentum"]),
    "unknown parameter key": (spec(parameters={"learning_rate": {"vals": [0.1]}}), ["vals"]),
    "empty values": (spec(parameters={"hidden_layers": {"values": []}}), ["hidden_layers", "values"]),
    "value of the wrong type": (spec(parameters={"hidden_layers": {"values": [1, "two"]}}), ["two"]),
    "unknown metric": (spec(metric={"name": "accuracy", "goal": "maximize"}), ["accuracy"]),
    "unknown goal": (spec(metric={"name": "val_loss", "goal": "lowest"}), ["lowest"]),
    "unknown top-level key": (spec(paramters={"x": 1}), ["paramters"]),
    "float range for an integer": (spec(parameters={"hidden_neurons": {"min": 2.5, "max": 8}}), ["hidden_neurons"]),
}


@pytest.mark.parametrize("case", SWEEP_CASES, ids=list(SWEEP_CASES))
def test_sweep_spec(tmp_path, case):
    sweep, words = SWEEP_CASES[case]
    refused(lambda: plan(tmp_path, sweep=sweep), *words)


def test_sweep_file_missing(tmp_path):
    refused(lambda: plan(tmp_path, {"sweep.file": "config/nope.yaml"}), "sweep.file", "nope.yaml")


def test_sweep_file_not_a_mapping(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config/list.yaml").write_text("- a\n- b\n")
    refused(lambda: plan(tmp_path, {"sweep.file": "config/list.yaml"}), "list.yaml", "mapping")


# ----------------------------------------------------------------------------------------------- data
def prepare(tmp_path: Path, text: str | bytes, name="table.csv", **kw):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    args = {"source": str(path), "target": "label", "positive_class": None, "exclude": [],
            "drop_missing": False, "sha256": None, "max_download_mb": 1, "resources": str(tmp_path / "res"),
            "table_out": str(tmp_path / "out.tsv"), "labels_out": str(tmp_path / "labels.json")}
    args.update(kw)
    return lambda: prepare_data(**args)


def rows(n_per_class=6, label=("0", "1")):
    out = ["a,b,label"]
    for i in range(n_per_class):
        out += [f"{i},{i * 2},{label[0]}", f"{i + 10},{i * 3},{label[1]}"]
    return "\n".join(out) + "\n"


DATA_CASES = {
    "empty file": ("", {}, ["empty"]),
    "header only": ("a,b,label\n", {}, ["no rows"]),
    "missing target column": (rows(), {"target": "diagnosis"}, ["diagnosis"]),
    "one class": ("a,label\n1,x\n2,x\n", {}, ["label", "2 classes", "found 1"]),
    "three classes": ("a,label\n1,x\n2,y\n3,z\n", {}, ["label", "found 3"]),
    "non-numeric feature": ("a,b,label\n1,high,0\n2,low,1\n", {}, ["'b'", "numeric"]),
    "NaN value": ("a,b,label\n1,,0\n2,3,1\n", {}, ["'b'", "drop_missing"]),
    "inf value": ("a,b,label\n1,inf,0\n2,3,1\n", {}, ["'b'", "NaN/inf"]),
    "duplicate column names": ("a,a,label\n1,2,0\n3,4,1\n", {}, ["duplicate", "'a'"]),
    "string labels without positive_class": (rows(label=("B", "M")), {}, ["positive_class", "'B'"]),
    "positive_class not a label": (rows(), {"positive_class": "yes"}, ["positive_class", "yes"]),
    "excluded column missing": (rows(), {"exclude": ["id"]}, ["data.exclude", "id"]),
    "non-http URL": ("", {"source": "ftp://example.org/x.csv"}, ["ftp", "http"]),
    "file URL": ("", {"source": "file:///etc/passwd"}, ["file", "http"]),
    "URL without sha256": ("", {"source": "https://example.org/x.csv"}, ["data.sha256"]),
}


@pytest.mark.parametrize("case", DATA_CASES, ids=list(DATA_CASES))
def test_data(tmp_path, case):
    text, kw, words = DATA_CASES[case]
    refused(prepare(tmp_path, text, **kw), *words)
    assert not (tmp_path / "out.tsv").exists()


def test_missing_file_is_named(tmp_path):
    refused(lambda: plan(tmp_path, {"data.source": "data/missing.csv"}), "missing.csv", "does not exist")


def test_missing_target_is_caught_when_the_dag_is_built(tmp_path):
    (tmp_path / "t.csv").write_text(rows())
    refused(lambda: plan(tmp_path, {"data.source": "t.csv", "data.target": "no_such_column"}), "no_such_column")


def test_too_few_rows_of_a_class_for_the_split(tmp_path):
    from snakesweep.prepare import split_data

    prepare(tmp_path, "a,label\n" + "".join(f"{i},0\n" for i in range(20)) + "1,1\n2,1\n")()
    refused(lambda: split_data(table=str(tmp_path / "out.tsv"), labels=str(tmp_path / "labels.json"),
                               fractions={"train": 0.6, "val": 0.2, "test": 0.2}, seed=1, standardize=True,
                               outputs={}), "class", "'1'", "too few")


def test_download_with_the_wrong_sha256_is_refused_and_leaves_nothing(tmp_path):
    import http.server
    import threading

    (tmp_path / "srv").mkdir()
    (tmp_path / "srv/t.csv").write_text(rows())
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path / "srv"))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/t.csv"
        refused(prepare(tmp_path, "", source=url, sha256="0" * 64), "data.sha256", "0" * 64)
        assert not list((tmp_path / "res").glob("*"))
        good = hashlib.sha256(rows().encode()).hexdigest()
        prepare(tmp_path, "", source=url, sha256=good)()
        assert (tmp_path / "out.tsv").exists()
    finally:
        server.shutdown()


def test_drop_missing_is_explicit_and_counted(tmp_path):
    import json

    prepare(tmp_path, rows() + "5,,1\n", drop_missing=True)()
    info = json.loads((tmp_path / "labels.json").read_text())
    assert info["dropped_rows"] == 1 and info["rows"] == 12


REVIEW_CASES = {
    "latin-1 file": ("a,b,label\n1,2,\xe9t\xe9\n".encode("latin-1"), {}, ["UTF-8"]),
    "ragged rows": ("a,b,label\n1,2,0\n3,4,1,9,9\n", {}, ["cannot be read as a table"]),
}


@pytest.mark.parametrize("case", REVIEW_CASES, ids=list(REVIEW_CASES))
def test_unreadable_files_get_one_message(tmp_path, case):
    text, kw, words = REVIEW_CASES[case]
    refused(prepare(tmp_path, text, **kw), *words)


def test_unreachable_url_gets_one_message(tmp_path):
    refused(prepare(tmp_path, "", source="http://127.0.0.1:9/x.csv", sha256="0" * 64), "downloading", "failed")


def test_fp16_on_a_cpu_is_refused_before_training(tmp_path):
    refused(lambda: plan(tmp_path, {"train.precision": "16-mixed"}), "16-mixed", "GPU")


def test_yaml_yes_as_positive_class_matches_a_yes_label(tmp_path):
    import json

    prepare(tmp_path, rows(label=("no", "yes")), positive_class=True)()
    assert json.loads((tmp_path / "labels.json").read_text())["positive_class"] == "yes"


def test_whole_number_floats_for_integer_keys_mean_the_same_points(tmp_path):
    from snakesweep.plan import load_schema, normalise_integers

    a = plan(tmp_path)
    cfg = copy.deepcopy(BASE)
    cfg["sweep"]["seed"] = float(cfg["sweep"]["seed"])
    cfg["split"]["seed"] = float(cfg["split"]["seed"])
    validate(cfg, SCHEMA)
    normalise_integers(cfg, load_schema(SCHEMA))
    assert make_plan(cfg, base=tmp_path).ids == a.ids
