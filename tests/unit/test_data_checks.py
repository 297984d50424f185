"""Checks of the input data before anything trains: index columns and row counters, trailing separators,
label spellings, identical rows kept on one side of the split, strict YAML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snakesweep import SnakesweepError, data
from snakesweep.io import load_yaml
from snakesweep.split import duplicate_report, identical_rows, stratified_split

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}


def table(n=60, seed=0, d=3):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(rng.normal(size=(n, d)), columns=[f"f{i}" for i in range(d)])
    df["y"] = rng.integers(0, 2, n)
    df.loc[:1, "y"] = [0, 1]
    return df


# --- index columns ------------------------------------------------------------------------------------


def test_pandas_index_column_is_refused_with_the_way_out(tmp_path):
    path = tmp_path / "t.csv"
    table().sort_values("y").to_csv(path)  # pandas' default: an unnamed row-number column first
    raw = data.read_table(path)
    with pytest.raises(SnakesweepError) as err:
        data.prepare(raw, target="y")
    text = str(err.value)
    assert "Unnamed: 0" in text and "index=False" in text and "data.exclude" in text
    kept = data.prepare(raw, target="y", exclude=["Unnamed: 0"])
    assert kept.features == ["f0", "f1", "f2"]


@pytest.mark.parametrize("start", [0, 1, 1001])
@pytest.mark.parametrize("shuffled", [False, True])
def test_a_named_row_counter_is_refused(start, shuffled):
    df = table()
    ids = np.arange(start, start + len(df))
    df.insert(0, "patient_id", np.random.default_rng(1).permutation(ids) if shuffled else ids)
    with pytest.raises(SnakesweepError, match="patient_id"):
        data.prepare(df, target="y")
    assert data.prepare(df, target="y", exclude=["patient_id"]).features == ["f0", "f1", "f2"]
    # The escape hatch, for a table where such a column really is a feature:
    assert "patient_id" in data.prepare(df, target="y", index_check=False).features


def test_ordinary_integer_features_are_not_mistaken_for_counters():
    df = table(200)
    rng = np.random.default_rng(2)
    df["age"] = rng.integers(20, 90, len(df))  # repeats values
    df["count"] = np.arange(len(df)) * 2  # distinct, but not consecutive
    df["score"] = np.arange(len(df)) + 0.5  # consecutive, but not whole numbers
    assert data.prepare(df, target="y").features == ["f0", "f1", "f2", "age", "count", "score"]


def test_a_trailing_separator_column_is_dropped_with_a_notice(tmp_path):
    path = tmp_path / "t.csv"
    df = table()
    path.write_text(",".join(df.columns) + ",\n" + "".join(",".join(map(str, r)) + ",\n" for r in df.to_numpy()))
    prepared = data.prepare(data.read_table(path), target="y", positive_class=1)
    assert prepared.features == ["f0", "f1", "f2"]
    assert prepared.dropped_columns == ["Unnamed: 4"]
    assert "every line ends with a separator" in prepared.notices[0]


def test_the_header_is_read_with_the_csv_parser(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('"worst\nradius",b,y\n1,2,0\n3,4,1\n')
    assert data.read_header(path) == ["worst\nradius", "b", "y"]


def test_a_directory_as_source_is_named_as_such(tmp_path):
    with pytest.raises(SnakesweepError, match="is a directory"):
        data.read_header(tmp_path)
    with pytest.raises(SnakesweepError, match="is a directory"):
        data.fingerprint(str(tmp_path))


def test_drop_missing_that_would_drop_every_row_says_so():
    df = table()
    df["empty"] = np.nan
    with pytest.raises(SnakesweepError, match=r"data.drop_missing: every one of the 60 rows.*'empty'"):
        data.prepare(df, target="y", drop_missing=True)


@pytest.mark.parametrize(("labels", "value", "chosen"), [
    (["on", "off"], True, "on"), (["yes", "no"], False, "no"), (["Y", "N"], True, "Y")])
def test_yaml_booleans_find_the_label_that_was_written(labels, value, chosen):
    df = table()
    df["y"] = np.where(df["y"] == 1, labels[0], labels[1])
    assert data.prepare(df, target="y", positive_class=value).positive_class == chosen


def test_a_yaml_boolean_that_matches_no_label_asks_to_quote_it():
    df = table()
    df["y"] = np.where(df["y"] == 1, "sick", "well")
    with pytest.raises(SnakesweepError, match="quote the label"):
        data.prepare(df, target="y", positive_class=True)


# --- identical rows and the split ---------------------------------------------------------------------


def test_identical_rows_share_a_group_even_as_minus_zero():
    x = np.array([[1.0, 0.0], [2.0, 3.0], [1.0, -0.0], [2.0, 3.0], [5.0, 5.0]])
    assert identical_rows(x).tolist() == [0, 1, 0, 1, 4]


def test_no_copy_of_a_row_crosses_the_split_and_the_fractions_hold():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(300, 4))
    x = np.concatenate([base, base[rng.integers(0, 300, 200)]])
    y = (x[:, 0] > 0).astype(float)
    groups = identical_rows(x)
    assign = stratified_split(y, FRACTIONS, seed=5, groups=groups)
    per_group = pd.DataFrame({"g": groups, "s": assign}).groupby("g")["s"].nunique()
    assert (per_group == 1).all()
    share = pd.Series(assign).value_counts(normalize=True)
    assert abs(share["train"] - 0.6) < 0.05 and abs(share["test"] - 0.2) < 0.05
    report = duplicate_report(groups, y)
    assert report["rows_repeating_another"] == 500 - len(np.unique(groups))
    assert report["groups_with_both_labels"] == 0


def test_without_repeated_rows_the_grouped_split_is_the_plain_one():
    y = np.random.default_rng(4).integers(0, 2, 500)
    assert (stratified_split(y, FRACTIONS, 7) == stratified_split(y, FRACTIONS, 7, groups=np.arange(500))).all()


def test_groups_labelled_both_ways_are_counted():
    x = np.array([[0.0], [0.0], [1.0], [1.0], [2.0]])
    assert duplicate_report(identical_rows(x), np.array([0, 1, 1, 1, 0]))["groups_with_both_labels"] == 1


def test_too_few_distinct_rows_are_refused_naming_the_class():
    x = np.repeat(np.array([[0.0], [1.0]]), 50, axis=0)  # two distinct rows, one per class
    y = np.repeat([0.0, 1.0], 50)
    with pytest.raises(SnakesweepError, match=r"class .*1 distinct"):
        stratified_split(y, FRACTIONS, 0, groups=identical_rows(x))


# --- strict YAML -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "train:\n  max_epochs: 3\ndata:\n  target: y\ntrain:\n  seed: 1\n",
    "train:\n  max_epochs: 3\n  seed: 1\n  max_epochs: 2\n",
    '{"a": 1, "a": 2}\n',
])
def test_duplicate_yaml_keys_are_refused_naming_the_key_and_both_lines(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(SnakesweepError) as err:
        load_yaml(path, "configfile")
    key = "a" if text.startswith("{") else "train" if text.startswith("train:\n  max_epochs: 3\ndata") else "max_epochs"
    assert f"'{key}' twice" in str(err.value) and "lines" in str(err.value) and str(path) in str(err.value)


def test_every_yaml_file_the_project_ships_has_unique_keys():
    root = Path(__file__).resolve().parents[2]
    files = [p for p in root.rglob("*.y*ml") if ".venv" not in p.parts and "node_modules" not in p.parts]
    assert len(files) >= 4
    for path in files:
        load_yaml(path, "shipped file")
