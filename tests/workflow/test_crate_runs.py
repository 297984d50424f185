"""End to end: a tiny run leaves a Provenance Run Crate that validates offline and holds nothing private,
and `snakesweep reproduce` re-runs it in another folder, every file identical; a crate with a changed
table or a changed recorded hash is refused naming the file, and a different recorded torch is shown."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from e2e import crate_validates, make_workdir, snakemake

from snakesweep.crate import sha256_file

SECRET = "sk-test-0123456789abcdef0123"


def reproduce(crate, into, *args):
    return subprocess.run([sys.executable, "-m", "snakesweep.cli", "reproduce", str(crate), "--into", str(into),
                           "--cores", "2", *args], capture_output=True, text=True, timeout=900)


def graph(crate_dir):
    return json.loads((crate_dir / "ro-crate-metadata.json").read_text())["@graph"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    wd = make_workdir(tmp_path_factory.mktemp("crate"), points=3, epochs=2)
    snakemake(wd, "--cores", "2", env={"WANDB_API_KEY": SECRET})
    return wd


def test_the_crate_validates_offline_and_holds_nothing_private(run, tmp_path):
    crate = run / "results/crate"
    crate_validates(run, tmp_path)
    (zipped,) = (run / "results").glob("*.crate.zip")
    assert zipped.name == "snakesweep.crate.zip"
    with zipfile.ZipFile(zipped) as zf:
        names = set(zf.namelist())
        contents = b"".join(zf.read(n) for n in names)
    on_disk = {p.relative_to(crate).as_posix() for p in crate.rglob("*") if p.is_file()}
    assert names == on_disk
    private = [SECRET, str(run), str(tmp_path.parent), str(Path.home()) + "/"]
    for f in crate.rglob("*"):
        if f.is_file():
            assert not [w for w in private if w.encode() in f.read_bytes()], f
    assert not [w for w in private if w.encode() in contents]
    files = {e["@id"]: e for e in graph(crate) if e.get("sha256")}
    assert files["results/best.json"]["sha256"] == sha256_file(run / "results/best.json")
    env = json.loads((crate / "environment.json").read_text())
    assert env["packages"]["torch"] and env["python"] and env["cores"] and env["accelerator"] == "cpu"
    assert env["lock"]["file"].startswith("requirements/py3.")
    # A second run has nothing to do: the crate is up to date with every result.
    assert "Nothing to be done" in (lambda p: p.stdout + p.stderr)(snakemake(run, "--cores", "2", "-n"))


def test_reproduced_in_another_folder_every_file_identical(run, tmp_path):
    (zipped,) = (run / "results").glob("*.crate.zip")
    r = reproduce(zipped, tmp_path / "again")
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    rows = (tmp_path / "again/reproduction.tsv").read_text().splitlines()
    assert rows[0].split("\t") == ["file", "recorded_sha256", "new_sha256", "verdict", "note"]
    verdicts = [row.split("\t")[3] for row in rows[1:]]
    assert len(verdicts) >= 20 and set(verdicts) == {"identical"}
    assert out.strip().splitlines()[-1] == f"reproduced: {len(verdicts)} of {len(verdicts)} files identical"
    assert "results/data/table.tsv: made again, identical to the crate's copy" in out


def changed_copy(run, tmp_path, name):
    copy = tmp_path / name
    shutil.copytree(run / "results/crate", copy)
    return copy


def test_a_table_changed_by_one_byte_is_refused_before_training(run, tmp_path):
    bad = changed_copy(run, tmp_path, "bad")
    table = bad / "results/data/table.tsv"
    text = table.read_text()
    i = text.index("\n") + 1
    table.write_text(text[:i] + ("1" if text[i] != "1" else "2") + text[i + 1:])
    r = reproduce(bad, tmp_path / "b")
    said = r.stdout + r.stderr
    assert r.returncode == 2 and "results/data/table.tsv does not match its recorded sha256" in said
    assert "Traceback" not in said and not (tmp_path / "b/results").exists()


def test_an_altered_recorded_hash_is_named(run, tmp_path):
    lied = changed_copy(run, tmp_path, "lied")
    meta = json.loads((lied / "ro-crate-metadata.json").read_text())
    for e in meta["@graph"]:
        if e["@id"] == "results/best.json":
            e["sha256"] = "0" * 64
    (lied / "ro-crate-metadata.json").write_text(json.dumps(meta))
    r = reproduce(lied, tmp_path / "c")
    assert r.returncode == 2 and "results/best.json does not match its recorded sha256" in r.stderr


def test_a_different_recorded_torch_is_shown(run, tmp_path):
    other = changed_copy(run, tmp_path, "other")
    env_file = other / "environment.json"
    env = json.loads(env_file.read_text())
    here = env["packages"]["torch"]
    env["packages"]["torch"] = "2.12.1"
    env_file.unlink()  # a link to the run's own file: replaced, not written through
    env_file.write_text(json.dumps(env))
    meta = json.loads((other / "ro-crate-metadata.json").read_text())
    for e in meta["@graph"]:
        if e["@id"] == "environment.json":
            e["sha256"] = sha256_file(env_file)
    (other / "ro-crate-metadata.json").write_text(json.dumps(meta))
    r = reproduce(other, tmp_path / "d")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"environment: torch 2.12.1 recorded, {here} here" in r.stdout


def test_the_crate_is_kept_in_step_with_new_results(run, tmp_path):
    wd = tmp_path / "wd"
    shutil.copytree(run, wd, ignore=shutil.ignore_patterns(".snakemake"))
    before = {e["@id"] for e in graph(wd / "results/crate")}
    snakemake(wd, "--cores", "2", "--config", "sweep={count: 4}")
    after = graph(wd / "results/crate")
    new_points = {e["@id"] for e in after} - before
    assert [p for p in new_points if p.endswith("metrics.json")]
    jobs = [e for e in after if e.get("@type") == "CreateAction" and e["@id"].startswith("#job-")]
    assert any("up to date" in e["description"] for e in jobs) and any("up to date" not in e["description"]
                                                                       for e in jobs)
    assert os.path.samefile(wd / "results/best.json", wd / "results/crate/results/best.json")
