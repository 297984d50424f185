"""`snakesweep run`'s own parts (which workflow, which config files, the Snakemake command), the model
bundle that `snakesweep predict` applies, and what a wheel ships. The runs themselves: tests/workflow
(test_installed.py) and the Galaxy tier."""

from __future__ import annotations

import ast
import fnmatch
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from snakesweep import SnakesweepError, cli
from snakesweep.crate import WORKFLOW_GLOBS
from snakesweep.predict import bundle_model, predict_bundle
from snakesweep.run import config_files, run, snakemake_command, workflow_dir

REPO = Path(__file__).resolve().parents[2]
TEST_DATA = REPO / "galaxy/test-data"


def test_the_workflow_of_a_checkout_is_the_checkouts():
    import snakesweep.run

    # The package is installed from a checkout here (pip install -e .): its workflow is that checkout's.
    checkout = Path(snakesweep.run.__file__).resolve().parents[2]
    assert workflow_dir() == checkout and (checkout / "Snakefile").is_file()


def files_for(tmp_path, text: str | None, folder_sweep: bool = False) -> list[str]:
    d = tmp_path / "run"
    d.mkdir(exist_ok=True)
    if folder_sweep:
        (d / "config").mkdir(exist_ok=True)
        (d / "config/sweep.yaml").write_text("method: random\n")
    cfg = None
    if text is not None:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(text)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    return config_files(d, cfg, REPO, scratch)


def extra_sweep(files: list[str]) -> str | None:
    return json.loads(Path(files[1]).read_text())["sweep"]["file"] if len(files) > 1 else None


def test_without_a_config_the_installed_default_runs_with_the_installed_sweep(tmp_path):
    files = files_for(tmp_path, None)
    assert files[0] == str(REPO / "config/config.yaml")
    assert extra_sweep(files) == str(REPO / "config/sweep.yaml")


def test_a_sweep_file_in_the_folder_wins_over_the_installed_one(tmp_path):
    assert extra_sweep(files_for(tmp_path, "train: {max_epochs: 2}\n", folder_sweep=True)) is None


def test_an_installed_example_is_found_by_its_relative_path(tmp_path):
    files = files_for(tmp_path, "sweep: {file: config/examples/bayes.yaml}\n")
    assert extra_sweep(files) == str(REPO / "config/examples/bayes.yaml")


def test_a_sweep_file_found_nowhere_is_left_to_the_workflows_own_check(tmp_path):
    assert extra_sweep(files_for(tmp_path, "sweep: {file: mine.yaml}\n")) is None


@pytest.mark.parametrize(("text", "message"), [
    (None, "--configfile: file '.*' does not exist"),
    ("- a\n- b\n", "holds list, expected a mapping of keys"),
])
def test_a_config_that_cannot_be_read_is_refused(tmp_path, text, message):
    cfg = tmp_path / "c.yaml"
    if text is not None:
        cfg.write_text(text)
    with pytest.raises(SnakesweepError, match=message):
        config_files(tmp_path, cfg, REPO, tmp_path)


def test_the_snakemake_command_names_the_installed_snakefile_and_the_resources(tmp_path):
    cmd = snakemake_command(REPO, tmp_path, ["a.yaml"], cores=3, gpus=2, mem_mb=4000, extra=["-n"])
    assert cmd[cmd.index("--snakefile") + 1] == str(REPO / "Snakefile")
    assert cmd[cmd.index("--directory") + 1] == str(tmp_path)
    assert cmd[cmd.index("--resources") + 1:cmd.index("--resources") + 3] == ["gpu=2", "mem_mb=4000"]
    assert cmd[-1] == "-n"
    assert "--resources" not in snakemake_command(REPO, tmp_path, ["a.yaml"], cores=1, gpus=0, mem_mb=0, extra=[])


@pytest.mark.parametrize(("kwargs", "message"), [({"cores": 0}, "--cores"), ({"mem_mb": -1}, "--mem-mb")])
def test_run_refuses_bad_numbers_before_anything_runs(tmp_path, kwargs, message):
    with pytest.raises(SnakesweepError, match=message):
        run(directory=tmp_path / "d", **kwargs)
    assert not (tmp_path / "d").exists()


# --- what a wheel ships (setup.py) ---


def shipped() -> tuple[str, ...]:
    tree = ast.parse((REPO / "setup.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "SHIPPED")
    return ast.literal_eval(node.value)


def test_a_wheel_ships_every_file_a_crate_records():
    for pattern in WORKFLOW_GLOBS:
        assert any(pattern == s or fnmatch.fnmatch(pattern, f"{s}/*") or pattern.startswith(f"{s}/")
                   for s in shipped()), pattern
    for name in shipped():
        assert (REPO / name).exists(), name


def test_the_sdist_carries_what_the_wheel_ships():
    manifest = (REPO / "MANIFEST.in").read_text().split()
    for name in shipped():
        assert name.startswith("src/") or name in manifest or name == "pyproject.toml", name


# --- the model bundle and `snakesweep predict` ---


def test_the_bundled_model_predicts_new_rows_as_the_galaxy_test_expects(tmp_path):
    out = tmp_path / "p.tsv"
    predict_bundle(TEST_DATA / "model.zip", TEST_DATA / "new_rows.tsv", out)
    assert out.read_bytes() == (TEST_DATA / "new_rows_predictions.tsv").read_bytes()


def test_a_bundle_made_again_from_its_files_is_the_same_zip_byte_for_byte(tmp_path):
    with zipfile.ZipFile(TEST_DATA / "model.zip") as z:
        z.extractall(tmp_path / "run")
    members = bundle_model(tmp_path / "again.zip", root=tmp_path / "run")
    assert members[:2] == ["results/best.json", "results/data/labels.json"]
    assert (tmp_path / "again.zip").read_bytes() == (TEST_DATA / "model.zip").read_bytes()


def test_a_run_without_a_final_model_has_no_bundle(tmp_path):
    (tmp_path / "results").mkdir()
    with pytest.raises(SnakesweepError, match="does not exist: the run has no chosen model yet"):
        bundle_model(tmp_path / "m.zip", root=tmp_path)
    (tmp_path / "results/best.json").write_text("{}")
    with pytest.raises(SnakesweepError, match="names no final model"):
        bundle_model(tmp_path / "m.zip", root=tmp_path)


def test_a_separator_given_reads_a_table_whose_name_does_not_tell(tmp_path):
    dat = tmp_path / "dataset_7.dat"
    shutil.copy(TEST_DATA / "new_rows.tsv", dat)
    out = tmp_path / "p.tsv"
    assert cli.main(["predict", str(TEST_DATA / "model.zip"), str(dat), "--table-format", "tabular",
                     "--out", str(out)]) == 0
    assert out.read_bytes() == (TEST_DATA / "new_rows_predictions.tsv").read_bytes()


def bad_zip(tmp_path, name: str, members: dict) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_what_is_not_a_model_bundle_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "text.zip").write_text("not a zip")
    cases = [
        (tmp_path / "text.zip", "is not a zip file"),
        (bad_zip(tmp_path, "empty.zip", {"x.txt": "x"}), "lacks 'results/best.json', 'results/data/labels.json'"),
        (bad_zip(tmp_path, "evil.zip", {"results/best.json": "{}", "results/data/labels.json": "{}", "../evil": "x"}),
         "holds a path outside its folder: '../evil'"),
    ]
    for path, message in cases:
        assert cli.main(["predict", str(path), str(TEST_DATA / "new_rows.tsv"), "--out", str(tmp_path / "p")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("snakesweep: error: model: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "p").exists()


def test_a_table_without_a_feature_is_refused_naming_it(tmp_path, capsys):
    assert cli.main(["predict", str(TEST_DATA / "model.zip"), str(TEST_DATA / "missing_feature.tsv"),
                     "--out", str(tmp_path / "p.tsv")]) == 2
    assert "lacks 1 of the model's 30 feature column(s): 'mean radius'" in capsys.readouterr().err
    assert not (tmp_path / "p.tsv").exists()


@pytest.mark.parametrize(("line", "message"), [
    ("snakesweep: error: data.target: 'x' is not a column", "data.target: 'x' is not a column"),
    ("WorkflowError:\nsnakesweep: sweep.file: missing", "sweep.file: missing"),
    ("[Fri] snakesweep: warning: too few rows", None),
    ("Error in rule train_1:", None),
])
def test_the_workflows_own_message_is_found_in_snakemakes_output(line, message):
    from snakesweep.run import MESSAGE

    found = [m.group(1) for part in line.splitlines() if (m := MESSAGE.search(part))]
    assert found == ([message] if message else [])
