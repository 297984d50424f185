"""`snakesweep reproduce`'s checks and verdicts on their own: a changed crate is refused naming the file,
each result gets its verdict (volatile fields aside), the environment's differences are named, and the
command line answers bad input in one line. The whole command runs in tests/workflow/test_crate.py."""

import json
import zipfile
from importlib.metadata import version

import pytest

from snakesweep import SnakesweepError
from snakesweep import reproduce as R
from snakesweep.cli import main
from snakesweep.crate import sha256_file


def crate_dir(tmp_path, files):
    d = tmp_path / "crate"
    graph = [{"@id": "./", "@type": "Dataset"}]
    for rel, text in files.items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(text)
        graph.append({"@id": rel, "@type": "File", "sha256": sha256_file(d / rel)})
    (d / R.METADATA).write_text(json.dumps({"@graph": graph}))
    return d


def test_a_changed_or_missing_file_is_refused_naming_it(tmp_path):
    d = crate_dir(tmp_path, {"results/data/table.tsv": "a\n1\n", "results/best.json": "{}"})
    files = R.recorded_files(d)
    R.check_files(d, files)
    (d / "results/data/table.tsv").write_text("a\n2\n")
    (d / "results/best.json").unlink()
    with pytest.raises(SnakesweepError, match=r"results/best.json is missing; results/data/table.tsv does not match"):
        R.check_files(d, files)


def test_a_zip_entry_outside_the_crate_is_refused(tmp_path):
    z = tmp_path / "x.crate.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../evil", "x")
    with pytest.raises(SnakesweepError, match="outside the crate"):
        R.open_crate(z, tmp_path / "scratch")
    (tmp_path / "x.txt").write_text("no zip")
    with pytest.raises(SnakesweepError, match="not a crate"):
        R.open_crate(tmp_path / "x.txt", tmp_path / "s")


def compare(tmp_path, suffix, recorded, new):
    a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    a.write_text(recorded)
    b.write_text(new)
    return R.compare_file(f"results/x{suffix}", sha256_file(a), a, b)


def test_verdicts(tmp_path):
    m = {"val_loss": 0.123456789, "train_seconds": 1.0, "pack": {"id": "a"}, "status": "ok"}
    assert compare(tmp_path, ".json", json.dumps(m), json.dumps(m)).verdict == R.IDENTICAL
    v = compare(tmp_path, ".json", json.dumps(m), json.dumps({**m, "train_seconds": 2.0, "pack": {"id": "b"}}))
    assert v.verdict == R.IDENTICAL and v.note == "volatile, not compared: pack, train_seconds"
    v = compare(tmp_path, ".json", json.dumps(m), json.dumps({**m, "val_loss": 0.1234567891}))
    assert v.verdict == R.TOLERANCE and "val_loss" in v.note
    v = compare(tmp_path, ".json", json.dumps(m), json.dumps({**m, "val_loss": 0.124}))
    assert v.verdict == R.DIFFERENT and "val_loss" in v.note
    assert compare(tmp_path, ".json", json.dumps(m), json.dumps({**m, "status": "failed"})).verdict == R.DIFFERENT
    t = "point\tval_roc_auc\ttrain_seconds\np1\t0.98765432\t0.5\n"
    assert compare(tmp_path, ".tsv", t, t.replace("0.5", "0.7")).verdict == R.IDENTICAL
    assert compare(tmp_path, ".tsv", t, t.replace("0.98765432", "0.98765433")).verdict == R.TOLERANCE
    assert compare(tmp_path, ".tsv", t, t.replace("p1", "p2")).verdict == R.DIFFERENT
    assert compare(tmp_path, ".svg", "<svg/>", "<svg />").verdict == R.DIFFERENT


def test_the_tables_place_is_not_a_result_but_its_labels_are(tmp_path):
    labels = {"source": "/galaxy/jobs/7/working/table.tsv", "target": "target", "positive_class": "malignant"}
    v = compare(tmp_path, ".json", json.dumps(labels), json.dumps({**labels, "source": "inputs/table.tsv"}))
    assert v.verdict == R.IDENTICAL and v.note == "volatile, not compared: source"
    v = compare(tmp_path, ".json", json.dumps(labels), json.dumps({**labels, "positive_class": "benign"}))
    assert v.verdict == R.DIFFERENT
    missing = R.compare_file("results/y.json", "0" * 64, tmp_path / "a.json", tmp_path / "nope.json")
    assert missing.verdict == R.MISSING


def test_summary_line_names_what_differs_and_why():
    ok = [R.Verdict("a", "1", "1", R.IDENTICAL), R.Verdict("b", "1", "2", R.TOLERANCE)]
    assert R.summary_line(ok, []) == (True, "reproduced: 1 of 2 files identical, 1 equal within tolerance")
    bad = [*ok, R.Verdict("results/best.json", "1", "3", R.DIFFERENT)]
    passed, line = R.summary_line(bad, ["torch 2.12.1 recorded, 2.13.0 here"])
    assert not passed and "results/best.json (different)" in line and "torch 2.12.1 recorded, 2.13.0 here" in line


def test_environment_differences_name_the_package_and_both_versions():
    import platform

    here = version("torch")
    recorded = {"python": platform.python_version(), "packages": {"torch": "2.12.1", "numpy": version("numpy")}}
    diffs = R.environment_differences(recorded)
    assert f"torch 2.12.1 recorded, {here} here" in diffs
    assert not [d for d in diffs if d.startswith(("numpy", "Python"))]


def test_the_command_refuses_in_one_line(tmp_path, capsys):
    assert main(["reproduce", str(tmp_path / "nothing.zip"), "--into", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("snakesweep: error:") and "nothing.zip" in err and len(err.splitlines()) == 1
    used = tmp_path / "used"
    used.mkdir()
    (used / "mine.txt").write_text("keep")
    d = crate_dir(tmp_path, {"config/config.yaml": "{}"})
    assert main(["reproduce", str(d), "--into", str(used)]) == 2
    assert "not empty" in capsys.readouterr().err and (used / "mine.txt").read_text() == "keep"


def test_lay_out_copies_the_workflow_not_the_results(tmp_path):
    d = crate_dir(tmp_path, {"Snakefile": "x", "config/config.yaml": "{}", "results/best.json": "{}",
                             "environment.json": "{}", "inputs/t.csv": "a\n"})
    R.lay_out(d, tmp_path / "into", R.recorded_files(d))
    made = sorted(p.relative_to(tmp_path / "into").as_posix() for p in (tmp_path / "into").rglob("*") if p.is_file())
    assert made == ["Snakefile", "config/config.yaml", "inputs/t.csv"]
