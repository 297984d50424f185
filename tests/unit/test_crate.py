"""The run's crate (crate.py) from jobs' records in a results folder made here: what it holds, what it
leaves out, that it validates offline as a Provenance Run Crate, and that an unchanged file is not read
again."""

import json
import os
import zipfile
from pathlib import Path

import pytest
import yaml

from snakesweep import crate as C
from snakesweep import layout
from snakesweep.provenance import write_record

REPO = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((REPO / "config/config.yaml").read_text())


def record(rule, inputs, outputs, started, ended="2026-12-01T10:00:09.000+00:00", **wildcards):
    return {"rule": rule, "wildcards": wildcards, "inputs": inputs, "outputs": outputs, "log": [], "threads": 1,
            "started": started, "ended": ended}


def write(path, text):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """A results folder as a tiny run leaves it: data, one point, the summary and best.json, with the jobs'
    records, and an earlier sweep's point that no longer belongs to the run."""
    monkeypatch.chdir(tmp_path)
    write("config/sweep.yaml", "name: my sweep/1\nmethod: grid\nparameters:\n  lr: {values: [0.1]}\n"
                               "  optim:\n    parameters:\n      momentum: {value: 0.9}\n")
    write(layout.DATA["table"], "a\tb\ttarget\n1\t2\t0\n")
    write(layout.DATA["labels"], "{}")
    metrics = layout.point("abc123abc123", "metrics")
    write(metrics, json.dumps({"val_loss": 0.1, "device": "cpu"}))
    write(layout.point("abc123abc123", "history"), "epoch,loss\n1,0.5\n")
    write(layout.point("abc123abc123", "model"), "weights")
    write(layout.SUMMARY, "point\tval_loss\nabc123abc123\t0.1\n")
    write(layout.BEST, json.dumps({"point": "abc123abc123",
                                   "final_model": {"model": layout.point("abc123abc123", "model")}}))
    write("results/points/old000old000/metrics.json", "{}")
    write("results/logs/summarize.log", f"ran in {tmp_path}")
    write("results/benchmarks/prepare_data.tsv", "s\th:m:s\tmax_rss\tcpu_time\n1.5\t0:00:01\t120.5\t1.2\n")
    write_record(record("prepare_data", [], list(layout.DATA.values()), "2026-12-01T10:00:00.000+00:00"))
    write_record(record("train_0123456789ab", [layout.DATA["table"]], [metrics], "2026-12-01T10:00:02.000+00:00"))
    write_record(record("train_ffffffffffff", [layout.DATA["table"]], ["results/points/old000old000/metrics.json"],
                        "2026-11-01T10:00:02.000+00:00"))
    write_record(record("summarize", [metrics], [layout.SUMMARY], "2026-12-01T10:00:04.000+00:00"))
    write_record(record("choose_best", [metrics], [layout.BEST], "2026-12-01T10:00:05.000+00:00"))
    return tmp_path


def make_run(config=None, **changes):
    cfg = json.loads(json.dumps(config or CONFIG))
    cfg["sweep"]["file"] = "config/sweep.yaml"
    sweep = C.read_sweep("config/sweep.yaml")
    return C.Run(name=C.crate_name(sweep), config=cfg, targets=[layout.SUMMARY, layout.BEST],
                 sweep_parameters=C.sweep_parameters(sweep),
                 benchmarks={"prepare_data": "results/benchmarks/prepare_data.tsv"}, workflow_dir=REPO,
                 snakemake_version="9.27.1", accelerator="cpu", **changes)


def graph(crate_dir="results/crate"):
    return {e["@id"]: e for e in json.loads((Path(crate_dir) / "ro-crate-metadata.json").read_text())["@graph"]}


def types(e):
    t = e.get("@type", [])
    return {t} if isinstance(t, str) else set(t)


def ids(value):
    return {v["@id"] for v in (value if isinstance(value, list) else [value])}


def test_crate_holds_the_run_and_validates_offline(run_dir, tmp_path_factory):
    from rocrate_offline import seed_cache, validate

    run = make_run()
    counts = C.build(run, zip_path=layout.crate_zip(run.name))
    assert run.name == "my-sweep-1" and counts["jobs"] == 4
    g = graph()
    root = g["./"]
    assert root["license"]["@id"] == "https://spdx.org/licenses/CC-BY-4.0" and "creator" not in root
    assert g[root["mainEntity"]["@id"]]["programmingLanguage"]
    # Every file with the sha256 of its bytes, in the folder and in the zip.
    files = {i: e for i, e in g.items() if "File" in types(e)}
    for i, e in files.items():
        assert C.sha256_file(Path("results/crate") / i) == e["sha256"], i
    with zipfile.ZipFile(layout.crate_zip(run.name)) as zf:
        assert set(files) | {"ro-crate-metadata.json"} == set(zf.namelist())
    # The chosen model, the history, the table, best.json; not the earlier sweep's point, logs or benchmarks.
    assert {layout.point("abc123abc123", "model"), layout.point("abc123abc123", "history"), layout.BEST,
            layout.DATA["table"], "Snakefile", "src/snakesweep/crate.py", C.CONFIG, C.ENVIRONMENT} <= set(files)
    assert not [i for i in files if "old000" in i or "/logs/" in i or "/benchmarks/" in i or "results/provenance" in i]
    # The run: its inputs (the table and the config as used) and a value per config key and sweep parameter.
    run_action = g["#run"]
    assert {layout.DATA["table"], C.CONFIG} <= ids(run_action["object"])
    values = {g[i]["name"]: g[i]["value"] for i in ids(run_action["object"]) if "PropertyValue" in types(g[i])}
    assert values["train.max_epochs"] == CONFIG["train"]["max_epochs"]
    assert values["parameters.optim.momentum"] == '{"value": 0.9}' and values["method"] == "grid"
    # Jobs: a pack's rule is the one tool `train`; the benchmark's figures are the job's resource use.
    jobs = [e for e in g.values() if "CreateAction" in types(e) and e["@id"] != "#run"]
    assert len(jobs) == 4 and {g[j["instrument"]["@id"]]["name"] for j in jobs} >= {"rule train"}
    prep = next(j for j in jobs if j["name"] == "prepare_data")
    usage = {g[u]["name"]: g[u]["value"] for u in ids(prep["resourceUsage"])}
    assert usage["wall-clock time"] == 1.5 and usage["peak resident memory"] == 120.5
    assert g["#organize"]["result"]["@id"] == "#run"
    valid, issues = validate(Path("results/crate"), seed_cache(tmp_path_factory.mktemp("cache") / "http_cache"))
    assert valid, issues


def test_nothing_private_in_the_crate(run_dir, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "sk-secret-0123456789")
    cfg = json.loads(json.dumps(CONFIG))
    outside = run_dir.parent / "elsewhere" / "mydata.csv"
    write(outside, "a,target\n1,0\n")
    cfg["data"]["source"] = str(outside)
    run = make_run(cfg)
    C.build(run, zip_path=layout.crate_zip(run.name))
    used = yaml.safe_load(Path("results/crate", C.CONFIG).read_text())
    assert used["data"]["source"] == "inputs/mydata.csv" and Path("results/crate/inputs/mydata.csv").is_file()
    for f in Path("results/crate").rglob("*"):
        if f.is_file():
            text = f.read_bytes()
            for secret in (b"sk-secret", str(run_dir).encode(), str(Path.home()).encode() + b"/"):
                assert secret not in text, (f, secret)


def test_authors_and_license_from_the_config(run_dir):
    cfg = json.loads(json.dumps(CONFIG))
    cfg["crate"] = {"license": "MIT", "models": True,
                    "authors": [{"name": "Ada Lovelace", "orcid": "https://orcid.org/0000-0002-1825-0097"}]}
    run = make_run(cfg)
    C.build(run, zip_path=layout.crate_zip(run.name))
    g = graph()
    assert g["./"]["license"]["@id"] == "https://spdx.org/licenses/MIT"
    assert g["./"]["creator"]["@id"] == "https://orcid.org/0000-0002-1825-0097"
    assert g["#run"]["agent"]["@id"] == "https://orcid.org/0000-0002-1825-0097"


def test_an_unchanged_file_is_neither_read_nor_copied_again(run_dir, monkeypatch):
    run = make_run()
    C.build(run, zip_path=layout.crate_zip(run.name))
    inode = os.stat("results/crate/" + layout.SUMMARY).st_ino
    assert inode == os.stat(layout.SUMMARY).st_ino  # a link, not a copy
    read = []
    real = C.sha256_file
    monkeypatch.setattr(C, "sha256_file", lambda p: read.append(str(p)) or real(p))
    counts = C.build(run, zip_path=layout.crate_zip(run.name))
    assert counts["new_jobs"] == 0
    # Only the files written fresh for each crate are read: the environment (its lock check) may change.
    assert all(Path(p).name in ("environment.json",) for p in read), read
    jobs = [e for i, e in graph().items() if "CreateAction" in types(e) and i != "#run"]
    up_to_date = [e for e in jobs if "up to date" in e["description"]]
    assert len(up_to_date) == 4  # the four jobs; not the run itself, which says "0 of 4 jobs"


def test_a_job_run_again_is_new_and_its_file_hashed_again(run_dir):
    run = make_run()
    C.build(run, zip_path=layout.crate_zip(run.name))
    Path(layout.SUMMARY).unlink()
    write(layout.SUMMARY, "point\tval_loss\nabc123abc123\t0.2\n")
    write_record(record("summarize", [layout.point("abc123abc123", "metrics")], [layout.SUMMARY],
                        "2026-12-02T10:00:00.000+00:00"))
    counts = C.build(run, zip_path=layout.crate_zip(run.name))
    assert counts["new_jobs"] == 1
    assert graph()[layout.SUMMARY]["sha256"] == C.sha256_file(layout.SUMMARY)
    assert Path("results/crate", layout.SUMMARY).read_text().endswith("0.2\n")


def test_jobs_behind_takes_the_latest_maker_and_drops_stale_records():
    old = C.Job("a", "train_aaaaaaaaaaaa", record("train_aaaaaaaaaaaa", ["t"], ["m"], "1", ended="1"))
    new = C.Job("b", "train_bbbbbbbbbbbb", record("train_bbbbbbbbbbbb", ["t"], ["m"], "2", ended="2"))
    data = C.Job("c", "prepare_data", record("prepare_data", [], ["t"], "0", ended="0"))
    stale = C.Job("d", "explore", record("explore", ["t"], ["plot"], "0", ended="0"))
    chosen = C.jobs_behind(["m"], [old, new, data, stale])
    assert [j.key for j in chosen] == ["c", "b"] and new.tool == "train" and data.tool == "prepare_data"


@pytest.mark.parametrize("path, expected", [
    ("config/sweep.yaml", "config/sweep.yaml"),
    ("/somewhere/else/data.csv", "inputs/data.csv"),
    ("results/data/table.tsv", "inputs/table.tsv"),
])
def test_user_files_are_placed_without_their_machine_path(tmp_path, path, expected):
    assert C.relocate(path, tmp_path) == expected


def test_crate_name_and_sweep_parameters(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("method: random\nparameters:\n  a: {min: 0, max: 1}\n")
    assert C.crate_name(C.read_sweep(str(f))) == "snakesweep" and C.crate_name(C.read_sweep(None)) == "snakesweep"
    assert C.sweep_parameters(C.read_sweep(str(f))) == {"parameters.a": {"min": 0, "max": 1}, "method": "random"}


def test_points_of_the_points_table_are_in_even_when_no_job_names_them(run_dir):
    # An adaptive sweep's rounds write their points' files without naming them as outputs.
    write(layout.point("rnd111rnd111", "metrics"), "{}")
    write(layout.point("rnd111rnd111", "history"), "epoch\n1\n")
    write(layout.POINTS_TABLE, "point\tlr\nabc123abc123\t0.1\nrnd111rnd111\t0.2\n")
    run = make_run()
    C.build(run, zip_path=layout.crate_zip(run.name))
    g = graph()
    assert {layout.point("rnd111rnd111", "metrics"), layout.point("rnd111rnd111", "history")} <= set(g)
    assert layout.point("rnd111rnd111", "model") not in g and "results/points/old000old000/metrics.json" not in g


def test_the_zip_made_again_reuses_unchanged_entries_and_equals_a_fresh_one(run_dir, monkeypatch):
    run = make_run()
    C.build(run, zip_path=layout.crate_zip(run.name))
    Path(layout.SUMMARY).unlink()
    write(layout.SUMMARY, "point\tval_loss\nabc123abc123\t0.3\n")
    compressed = []
    real = C.zipfile.ZipFile.open

    def opened(self, name, mode="r", **kw):
        if mode == "w":
            compressed.append(getattr(name, "filename", name))
        return real(self, name, mode, **kw)

    monkeypatch.setattr(C.zipfile.ZipFile, "open", opened)
    C.build(run, zip_path=layout.crate_zip(run.name))
    monkeypatch.setattr(C.zipfile.ZipFile, "open", real)
    # Compressed again: the changed summary and the metadata; the rest copied from the previous zip.
    assert sorted(compressed) == ["results/summary.tsv", "ro-crate-metadata.json"]
    again = Path(layout.crate_zip(run.name)).read_bytes()
    C._zip(Path("results/crate"), Path("fresh.zip"))
    assert Path("fresh.zip").read_bytes() == again
    with zipfile.ZipFile(layout.crate_zip(run.name)) as zf:
        assert zf.testzip() is None and zf.read("results/summary.tsv").endswith(b"0.3\n")


def test_a_users_file_in_the_crate_folder_is_kept_and_a_stale_one_removed(run_dir):
    run = make_run()
    C.build(run, zip_path=layout.crate_zip(run.name))
    write("results/crate/my notes.txt", "mine")
    # The summary no longer belongs to the run: its file leaves the crate's folder.
    run.targets = [layout.BEST]
    Path(layout.SUMMARY).unlink()
    counts = C.build(run, zip_path=layout.crate_zip(run.name))
    assert Path("results/crate/my notes.txt").read_text() == "mine"
    assert counts["left as they are, not in the crate"] == ["my notes.txt"]
    assert not Path("results/crate", layout.SUMMARY).exists()
    with zipfile.ZipFile(layout.crate_zip(run.name)) as zf:
        assert "my notes.txt" not in zf.namelist() and layout.SUMMARY not in zf.namelist()
