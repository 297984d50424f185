"""Reliability, round 2, through real Snakemake: inputs that used to give a silently wrong result or a
traceback, and tables far wider and taller than the bundled one.

Each case runs the real workflow in a fresh copy, on a table written the way a user would write it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from e2e import edit_config, make_workdir, snakemake

from snakesweep.crate import sha256_file
from snakesweep.gpu import count_gpus


def table(n=200, d=6, seed=11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    df = pd.DataFrame(x, columns=[f"f{i}" for i in range(d)])
    df["y"] = (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return df


def with_table(tmp_path: Path, df: pd.DataFrame | None = None, text: str | None = None, name: str = "t.csv",
               **changes) -> Path:
    """A workflow copy whose data.source is a table written to data/<name> (by pandas, or as `text`)."""
    wd = make_workdir(tmp_path, **{"data.source": f"data/{name}", "data.target": "y", **changes})
    (wd / "data").mkdir(exist_ok=True)
    if text is not None:
        (wd / "data" / name).write_text(text)
    else:
        df.to_csv(wd / "data" / name, index=False)
    return wd


def said(p: subprocess.CompletedProcess) -> str:
    return p.stdout + p.stderr


def refused(p: subprocess.CompletedProcess, *words: str) -> str:
    out = said(p)
    assert p.returncode != 0, out[-2000:]
    for word in words:
        assert word in out, f"{word!r} not in:\n{out[-3000:]}"
    assert "Traceback" not in out, out[-3000:]
    return out


def labels(wd: Path) -> dict:
    return json.loads((wd / "results/data/labels.json").read_text())


# --- the six silent ones -------------------------------------------------------------------------------


def test_a_pandas_index_column_is_refused_then_excluded_when_asked(tmp_path):
    wd = with_table(tmp_path, text=table().sort_values("y").to_csv())  # to_csv()'s default keeps the index
    p = snakemake(wd, "--cores", "2", check=False)
    refused(p, "Unnamed: 0", "index=False", "data.exclude")
    assert not list((wd / "results").rglob("*.pt"))
    edit_config(wd, **{"data.exclude": ["Unnamed: 0"]})
    snakemake(wd, "--cores", "1", "results/data/labels.json")
    assert labels(wd)["features"] == [f"f{i}" for i in range(6)]


def test_identical_rows_never_cross_the_split_and_are_reported(tmp_path):
    base = table()
    df = pd.concat([base, base.sample(120, random_state=1)], ignore_index=True)
    wd = with_table(tmp_path, df)
    snakemake(wd, "--cores", "2")
    assignment = pd.read_csv(wd / "results/split/assignment.tsv", sep="\t").sort_values("row")
    rows = pd.read_csv(wd / "results/data/table.tsv", sep="\t").drop(columns="y")
    key = rows.round(12).astype(str).agg("|".join, axis=1).to_numpy()
    crossing = pd.DataFrame({"key": key, "subset": assignment["subset"].to_numpy()}).groupby("key")["subset"].nunique()
    assert (crossing == 1).all(), f"{int((crossing > 1).sum())} groups of identical rows cross the split"
    repeats = len(df) - len(df.drop(columns="y").drop_duplicates())
    split = json.loads((wd / "results/split/scaler.json").read_text())
    assert split["duplicates"]["rows_repeating_another"] == repeats > 0
    assert f"{repeats} row(s) repeat the features" in (wd / "results/logs/split.log").read_text()
    assert (pd.read_csv(wd / "results/summary.tsv", sep="\t")["status"] == "ok").all()


@pytest.mark.parametrize(("where", "edit", "key"), [
    ("config", lambda t: t + "\ntrain:\n  max_epochs: 5\n", "'train' twice"),
    ("config", lambda t: t.replace("  max_epochs: 2\n", "  max_epochs: 2\n  max_epochs: 9\n"), "'max_epochs' twice"),
    ("sweep", lambda t: t.replace("parameters:\n", "parameters:\n  hidden_layers:\n    values: [0]\n", 1),
     "'hidden_layers' twice"),
], ids=["config-section", "config-key", "sweep-parameter"])
def test_duplicate_yaml_keys_are_refused_naming_the_key_and_both_lines(tmp_path, where, edit, key):
    wd = make_workdir(tmp_path)
    path = wd / ("config/config.yaml" if where == "config" else "config/sweep.yaml")
    path.write_text(edit(path.read_text()))
    out = refused(snakemake(wd, "--cores", "1", "-n", check=False), key, str(path.relative_to(wd)))
    assert re.search(r"lines \d+ and \d+", out)


def test_a_duplicate_key_in_an_extra_configfile_is_refused(tmp_path):
    wd = make_workdir(tmp_path)
    (wd / "config/extra.yaml").write_text("sweep:\n  count: 2\nsweep:\n  seed: 3\n")
    refused(snakemake(wd, "--cores", "1", "-n", "--configfile", "config/extra.yaml", check=False),
            "'sweep' twice", "extra.yaml")


def test_a_hand_edited_summary_changes_neither_the_best_point_nor_the_test(tmp_path):
    wd = make_workdir(tmp_path, points=4)
    snakemake(wd, "--cores", "2")
    best = (wd / "results/best.json").read_bytes()
    roc = (wd / "results/plots/test_roc.svg").read_bytes()
    summary = pd.read_csv(wd / "results/summary.tsv", sep="\t")
    worst = summary.iloc[-1]["point"]
    edited = summary.iloc[::-1].copy()
    edited.loc[edited["point"] == worst, "val_loss"] = -1.0  # the worst point made to look best
    edited.to_csv(wd / "results/summary.tsv", sep="\t", index=False)
    p = snakemake(wd, "--cores", "2")
    # Only the run's crate is made again, to hold the summary as it now is, and to say it was edited.
    assert "rule crate" in said(p) and not re.search(r"rule (choose_best|evaluate_best|summarize|train_)", said(p))
    assert (wd / "results/best.json").read_bytes() == best
    entry = next(e for e in json.loads((wd / "results/crate/ro-crate-metadata.json").read_text())["@graph"]
                 if e["@id"] == "results/summary.tsv")
    assert entry["sha256"] == sha256_file(wd / "results/summary.tsv")
    assert "Changed after the job" in entry["description"]
    # Even when evaluation runs again, it chooses from the points' own results, never the summary.
    p = snakemake(wd, "--cores", "2", "--forcerun", "evaluate_best")
    assert json.loads((wd / "results/best.json").read_text())["point"] == json.loads(best)["point"] != worst
    assert (wd / "results/plots/test_roc.svg").read_bytes() == roc


def test_tiny_data_warns_in_the_log_best_json_the_summary_and_the_report(tmp_path):
    wd = with_table(tmp_path, table(16), **{"split.fractions": {"train": 0.5, "val": 0.25, "test": 0.25}})
    p = snakemake(wd, "--cores", "2")
    best = json.loads((wd / "results/best.json").read_text())
    assert any("test split has only" in w for w in best["warnings"]), best["warnings"]
    assert any("validation split has only" in w for w in best["warnings"])
    assert "snakesweep: warning: the test split has only" in said(p)  # at the end of the run itself
    assert "warning: the test split has only" in (wd / "results/logs/evaluate_best.log").read_text()
    assert pd.read_csv(wd / "results/summary.tsv", sep="\t")["warnings"].str.contains("validation split").all()
    assert "Warning" in (wd / "results/plots/test_roc.svg").read_text()
    assert "Warning" in (wd / "results/plots/val_auc_by_param.svg").read_text()


def test_the_bundled_data_carries_no_size_warning(tmp_path):
    wd = make_workdir(tmp_path, points=2)
    snakemake(wd, "--cores", "2")
    best = json.loads((wd / "results/best.json").read_text())
    assert not [w for w in best["warnings"] if "has only" in w]


def write_numeric_table(path: Path, rows: int, cols: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, cols)).astype(np.float32)
    df = pd.DataFrame(x, columns=[f"g{i}" for i in range(cols)])
    df["y"] = (x[:, :5].sum(axis=1) + rng.normal(size=rows) > 0).astype(int)
    df.to_csv(path, index=False, float_format="%.5g")


@pytest.mark.parametrize(("rows", "cols", "shown"), [
    (300, 20_000, "correlation: 50 of 20000 features"),
    (1_000_000, 30, "5000 of 1000000 rows"),
], ids=["20000-columns", "1000000-rows"])
def test_wide_and_tall_tables_run_end_to_end_with_every_job_under_2_gib(tmp_path, rows, cols, shown):
    wd = make_workdir(tmp_path, **{"data.source": "data/t.csv", "data.target": "y", "train.batch_size": 1024})
    (wd / "data").mkdir()
    write_numeric_table(wd / "data/t.csv", rows, cols)
    snakemake(wd, "--cores", "2")
    benchmarks = sorted((wd / "results/benchmarks").rglob("*.tsv"))
    jobs = {b.stem for b in benchmarks}
    assert {"prepare_data", "split", "explore", "baseline", "evaluate_best"} <= jobs and len(jobs) == 6  # + 1 pack
    for b in benchmarks:
        peak = pd.read_csv(b, sep="\t")["max_rss"].max()
        assert peak < 2048, f"{b.name}: {peak:.0f} MB"
    assert shown in (wd / "results/logs/explore.log").read_text()  # bounded plots, and they say so
    assert (pd.read_csv(wd / "results/summary.tsv", sep="\t")["status"] == "ok").all()


# --- weak messages and tracebacks, now one line naming what to change ------------------------------------


def test_drop_missing_that_would_drop_every_row_says_so(tmp_path):
    # Also the one check that the config's data.drop_missing reaches the data preparation job.
    df = table()
    df["notes"] = np.nan
    wd = with_table(tmp_path, df, **{"data.drop_missing": True})
    refused(snakemake(wd, "--cores", "1", "results/data/labels.json", check=False),
            "data.drop_missing: every one of the 200 rows", "'notes'")


def test_a_trailing_separator_on_every_line_is_dropped_with_a_notice(tmp_path):
    df = table()
    text = df.to_csv(index=False).replace("\n", ",\n")
    wd = with_table(tmp_path, text=text)
    snakemake(wd, "--cores", "1", "results/data/labels.json")
    info = labels(wd)
    assert info["features"] == [f"f{i}" for i in range(6)] and info["dropped_columns"] == ["Unnamed: 7"]
    assert "every line ends with a separator" in (wd / "results/logs/prepare_data.log").read_text()


def test_a_header_with_a_quoted_newline_is_read_whole(tmp_path):
    text = table().rename(columns={"f0": "worst\nradius"}).to_csv(index=False)
    wd = with_table(tmp_path, text=text, **{"explore.features": ["worst\nradius", "f1"]})
    snakemake(wd, "--cores", "1", "results/data/labels.json", "results/explore/pairplot.png")
    assert labels(wd)["features"][0] == "worst\nradius"


def test_a_directory_as_data_source_is_named_as_such(tmp_path):
    wd = make_workdir(tmp_path, **{"data.source": "data", "data.target": "y"})
    (wd / "data").mkdir()
    refused(snakemake(wd, "--cores", "1", "-n", check=False), "data.source", "is a directory")


def test_braces_in_column_names_and_config_strings_are_plain_text(tmp_path):
    df = table().rename(columns={"y": "y{1}", "f0": "f{0}"})
    wd = with_table(tmp_path, df, **{"data.target": "y{1}", "explore.features": ["f{0}", "f1"],
                                     "tracking.wandb.project": "p{x}"})
    snakemake(wd, "--cores", "2")
    assert labels(wd)["target"] == "y{1}" and "f{0}" in labels(wd)["features"]


def test_braces_in_a_file_name_are_refused_naming_the_key(tmp_path):
    wd = with_table(tmp_path, table(), name="t{1}.csv")
    refused(snakemake(wd, "--cores", "1", "-n", check=False), "data.source", "rename the file")


def test_yaml_booleans_as_labels_find_the_label_or_ask_to_quote_it(tmp_path):
    df = table()
    df["y"] = np.where(df["y"] == 1, "on", "off")
    wd = with_table(tmp_path, df)
    cfg = wd / "config/config.yaml"
    cfg.write_text(cfg.read_text().replace("positive_class: null", "positive_class: on"))  # YAML 1.1: True
    snakemake(wd, "--cores", "1", "results/data/labels.json")
    assert labels(wd)["positive_class"] == "on"
    df["y"] = np.where(df["y"] == "on", "sick", "well")
    df.to_csv(wd / "data/t.csv", index=False)
    refused(snakemake(wd, "--cores", "1", "results/data/labels.json", check=False),
            "data.positive_class", "boolean True", "quote the label")


@pytest.mark.parametrize("changes", [
    {"sweep.seed": 2**64}, {"split.seed": 2**40}, {"train.seed": 2**33}, {"evaluate.seed": -1},
], ids=["sweep", "split", "train", "evaluate"])
def test_a_seed_out_of_range_is_refused_when_the_dag_is_built(tmp_path, changes):
    wd = make_workdir(tmp_path, **changes)
    refused(snakemake(wd, "--cores", "1", "-n", check=False), "seed")


def test_a_seed_out_of_range_in_the_sweep_is_refused_naming_it(tmp_path):
    wd = make_workdir(tmp_path, sweep={"method": "grid", "parameters": {"seed": {"values": [1, 2**40]}}})
    refused(snakemake(wd, "--cores", "1", "-n", check=False), "parameters.seed", "4294967295")


@pytest.mark.skipif(count_gpus() > 0, reason="needs a machine without GPUs")
@pytest.mark.parametrize(("changes", "sweep", "key"), [
    ({"train.accelerator": "gpu"}, None, "train.accelerator"),
    ({}, {"method": "grid", "parameters": {"accelerator": {"values": ["cpu", "gpu"]}}},
     "sweep parameter 'accelerator'"),
], ids=["config", "sweep"])
def test_gpu_points_without_a_gpu_are_refused_before_any_job(tmp_path, changes, sweep, key):
    wd = make_workdir(tmp_path, sweep=sweep, **changes)
    refused(snakemake(wd, "--cores", "2", check=False), key, "sees no GPU", "'auto'", "--executor slurm")
    assert not (wd / "results/data").exists()  # not even the data was prepared


def in_private_mounts(wd: Path, setup: str, *args: str) -> subprocess.CompletedProcess:
    """snakemake in its own mount namespace (root inside it), after `setup` changes some mounts there.

    Real filesystem failures, without touching the machine's own mounts: a full disk is a tiny tmpfs,
    a read-only disk a read-only bind mount."""
    command = f"{setup} && exec {sys.executable} -m snakemake " + " ".join(args)
    return subprocess.run(["unshare", "--mount", "--map-root-user", "sh", "-c", command], cwd=wd,
                          capture_output=True, text=True, timeout=600)


def test_a_full_disk_is_one_line_naming_the_file(tmp_path):
    wd = make_workdir(tmp_path)
    (wd / "results/data").mkdir(parents=True)
    # A file in the mount point keeps Snakemake from removing it as an empty output folder (EBUSY).
    setup = "mount -t tmpfs -o size=8k tmpfs results/data && touch results/data/.keep"
    p = in_private_mounts(wd, setup, "--cores", "1", "results/data/labels.json")
    message = "No space left on device: 'results/data/table.tsv'"
    refused(p, f"snakesweep: error: {message}", "free some space")
    log = (wd / "results/logs/prepare_data.log").read_text().strip()
    assert log.count("\n") == 0 and message in log, log


@pytest.fixture
def served_table(tmp_path):
    """The table on a local HTTP server: (url, sha256)."""
    import functools
    import hashlib
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    table().to_csv(root / "t.csv", index=False)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/t.csv", hashlib.sha256((root / "t.csv").read_bytes()).hexdigest()
    server.shutdown()


def test_a_read_only_download_folder_is_one_line_naming_the_file(tmp_path, served_table):
    # Snakemake's own output folders fail inside Snakemake when read-only (it unlinks outputs before a
    # job); the download folder is the job's own.
    url, sha = served_table
    wd = make_workdir(tmp_path, **{"data.source": url, "data.sha256": sha, "data.target": "y"})
    (wd / "resources").mkdir()
    setup = "mount --bind resources resources && mount -o remount,bind,ro resources"
    p = in_private_mounts(wd, setup, "--cores", "1", "results/data/labels.json")
    refused(p, "snakesweep: error: Read-only file system: 'resources/t.csv'", "read-only")
    p = snakemake(wd, "--cores", "1", "results/data/labels.json")  # writable again: it runs
    assert labels(wd)["rows"] == 200
