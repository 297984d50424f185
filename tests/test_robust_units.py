"""Unit tests for the reliability round 2 checks: index columns, identical rows, strict YAML, a selection
that reads only per-point results, honest intervals on small splits, bounded exploration, file errors.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snakesweep import SnakesweepError, data, jobs, metrics
from snakesweep.choose import choose_best
from snakesweep.evaluate import results_table
from snakesweep.explore import sample_rows, top_variance
from snakesweep.io import atomic_path, load_yaml
from snakesweep.plan import RESULT_MODULES, code_digest
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
    root = Path(__file__).resolve().parents[1]
    files = [p for p in root.rglob("*.y*ml") if ".venv" not in p.parts and "node_modules" not in p.parts]
    assert len(files) >= 4
    for path in files:
        load_yaml(path, "shipped file")


# --- selection from per-point results ----------------------------------------------------------------


def record(point, val_loss, status="ok", auc=0.9, lr=0.01):
    return {"point": point, "params": {"learning_rate": lr}, "status": status, "reason": "",
            "val_loss": val_loss, "val_roc_auc": auc, "val_roc_auc_ci95": [auc - 0.05, min(1.0, auc + 0.05)],
            "val_rows": {"positive": 40, "negative": 70}, "train_loss": 0.1, "epochs": 2, "seed": 1}


RECORDS = [record("cccc", 0.30), record("aaaa", 0.20, auc=0.95), record("bbbb", 0.20, auc=0.80),
           record("dddd", None, status="failed"), record("eeee", 0.10, status="failed")]


@pytest.mark.parametrize(("metric", "goal", "best"), [
    ("val_loss", "minimize", "aaaa"),  # tied with bbbb: the smaller id wins
    ("val_loss", "maximize", "cccc"),
    ("val_roc_auc", "maximize", "aaaa"),
    ("val_roc_auc", "minimize", "bbbb"),
])
def test_choose_best_follows_metric_and_goal_and_ignores_failed_points(metric, goal, best):
    table = results_table(RECORDS, ["learning_rate"], metric, goal)
    assert choose_best(RECORDS, metric, goal)["point"] == best
    assert table.iloc[0]["point"] == best  # the summary's order agrees with the choice
    assert list(table["status"].iloc[-2:]) == ["failed", "failed"]
    # Any order of the points gives the same choice.
    rng = np.random.default_rng(0)
    for _ in range(5):
        assert choose_best([RECORDS[i] for i in rng.permutation(len(RECORDS))], metric, goal)["point"] == best


def test_choose_best_without_any_usable_point_is_refused():
    with pytest.raises(SnakesweepError, match="no point finished"):
        choose_best(RECORDS[3:], "val_loss", "minimize")


def test_summary_rows_carry_validation_warnings():
    small = dict(record("ffff", 0.1), val_rows={"positive": 3, "negative": 4}, val_roc_auc_ci95=[1.0, 1.0])
    table = results_table([small, RECORDS[0]], ["learning_rate"], "val_loss", "minimize")
    warn = table.set_index("point")["warnings"]
    assert "only 3 positive and 4 negative" in warn["ffff"] and "zero width" in warn["ffff"]
    assert warn["cccc"] == ""


def test_summarize_refuses_a_metrics_file_of_another_point(tmp_path):
    from snakesweep.evaluate import read_records

    path = tmp_path / "m.json"
    path.write_text(json.dumps(record("aaaa", 0.2)))
    with pytest.raises(SnakesweepError, match="not 'bbbb'"):
        read_records(["bbbb"], [str(path)])


# --- intervals on small splits ------------------------------------------------------------------------


def test_few_rows_and_zero_width_intervals_are_flagged():
    y = np.r_[np.ones(5), np.zeros(5)]
    s = np.r_[np.full(5, 2.0), np.zeros(5)] + np.arange(10) * 1e-3  # perfectly separated
    ci = metrics.bootstrap_auc(y, s, n_boot=500)
    assert ci == [1.0, 1.0]
    assert "only 5 positive and 5 negative" in metrics.few_rows_caveat(y, subset="test split")
    assert "zero width" in metrics.zero_width_caveat(ci, what="x")
    big = np.r_[np.ones(40), np.zeros(40)]
    assert metrics.few_rows_caveat(big, subset="test split") is None
    assert metrics.zero_width_caveat([0.9, 0.95], what="x") is None


def test_bootstrap_memory_stays_bounded_as_rows_grow():
    import tracemalloc

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 100_000)
    s = y + rng.normal(size=len(y))
    tracemalloc.start()
    try:
        lo, hi = metrics.paired_bootstrap_diff(y, s, s + rng.normal(size=len(y)), n_boot=400, seed=3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # All replicates at once would take 400 x 100,000 x 8 bytes = 320 MB per array, of which the
    # computation needs several; chunked, it stays near ten arrays of CHUNK_CELLS.
    assert peak < 100e6, f"{peak / 1e6:.0f} MB"
    assert lo < hi


# --- bounded exploration ------------------------------------------------------------------------------


def test_top_variance_keeps_table_order():
    df = pd.DataFrame({"a": [0, 0, 1.0], "b": [0, 10, 20.0], "c": [0, 5, 1.0], "d": [1, 1, 1.0]})
    assert top_variance(df, list(df.columns), 2) == ["b", "c"]
    assert top_variance(df, list(df.columns), 10) == ["a", "b", "c", "d"]


def test_sample_rows_is_seeded_stratified_and_bounded():
    labels = np.r_[np.zeros(9000), np.ones(1000)]
    rows = sample_rows(labels, 1000)
    assert len(rows) == 1000 and (np.diff(rows) > 0).all()
    assert labels[rows].sum() == 100
    assert (rows == sample_rows(labels, 1000)).all()
    assert len(sample_rows(labels[:50], 1000)) == 50


# --- the scientific contract: code and determinism -----------------------------------------------------


@pytest.mark.parametrize("module", RESULT_MODULES)
def test_editing_any_result_module_changes_the_code_digest(tmp_path, module):
    here = Path(data.__file__).parent
    for name in RESULT_MODULES:
        shutil.copy(here / name, tmp_path / name)
    assert code_digest(tmp_path) == code_digest()
    with open(tmp_path / module, "a") as fh:
        fh.write("\n# an edit\n")
    assert code_digest(tmp_path) != code_digest()


def test_the_training_modules_are_all_in_the_digest():
    # A module that training imports but the digest leaves out would let new code reuse old results.
    src = Path(data.__file__).parent
    for name in ("kernel.py", "engine_torch.py", "engine_lightning.py", "train.py", "pack.py", "curves.py",
                 "model.py", "metrics.py", "split.py", "data.py"):
        assert name in RESULT_MODULES and (src / name).is_file()


PROBE = """
import json, os, sys
import torch
from snakesweep import engine_torch, train
seen = {}
real = engine_torch.fit_torch
def spy(*args, **kwargs):
    seen["deterministic"] = torch.are_deterministic_algorithms_enabled()
    seen["cublas"] = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    seen["threads"] = torch.get_num_threads()
    return real(*args, **kwargs)
engine_torch.fit_torch = spy
out = sys.argv[1]
record = train.run_point(point="p", hp=json.loads(sys.argv[2]), train_path=out + "/train.npz",
                         val_path=out + "/val.npz", features=["a", "b", "c"], threads=1,
                         model_out=out + "/m.pt", history_out=out + "/h.csv", metrics_out=out + "/m.json")
print(json.dumps({**seen, "recorded": record["deterministic"]}))
"""


def test_training_runs_with_deterministic_algorithms_and_cublas_workspace(tmp_path):
    from snakesweep.hparams import HPARAMS

    rng = np.random.default_rng(0)
    for name, n in (("train", 60), ("val", 20)):
        y = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(np.float32)
        np.savez(tmp_path / f"{name}.npz", x=rng.normal(size=(n, 3)).astype(np.float32), y=y)
    hp = {k: v.default for k, v in HPARAMS.items()} | {"engine": "torch", "max_epochs": 1}
    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    p = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), json.dumps(hp)], capture_output=True,
                       text=True, env=env, check=True)
    seen = json.loads(p.stdout.strip().splitlines()[-1])
    assert seen == {"deterministic": True, "cublas": ":4096:8", "threads": 1, "recorded": True}


# --- file errors in jobs ------------------------------------------------------------------------------


def test_a_failed_write_names_the_final_path_not_the_temporary_one(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    with pytest.raises(OSError) as err, atomic_path(target):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(target)
    assert not list(target.parent.iterdir())  # no temporary file left behind


@pytest.mark.parametrize(("code", "hint"), [(errno.ENOSPC, "free some space"), (errno.EACCES, "permissions"),
                                            (errno.EROFS, "read-only")])
def test_run_logged_reports_file_errors_in_one_line(capsys, code, hint):
    def job():
        raise OSError(code, os.strerror(code), "results/points/abc/model.pt")

    with pytest.raises(SystemExit):
        jobs.run_logged(job)
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "results/points/abc/model.pt" in err and hint in err


def test_run_logged_lets_real_bugs_raise():
    def job():
        raise OSError(errno.EINVAL, "Invalid argument")  # no file involved: a bug, not the disk

    with pytest.raises(OSError):
        jobs.run_logged(job)


def test_no_test_skips_for_a_missing_dependency():
    # Every dependency is installed by `pip install -e .[dev]`: a missing one must fail the suite.
    tests = Path(__file__).parent
    offenders = [p.name for p in tests.glob("*.py") if "importorskip" + "(" in p.read_text()]
    assert offenders == []
