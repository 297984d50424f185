"""The Galaxy side: the sweep tool's form (as Galaxy writes it) turned into a config, and the tools' XML
held to the config schema and the package's version. The tools' own tests run in a real Galaxy in the
galaxy tier (tests/galaxy)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import snakesweep
from snakesweep import SnakesweepError
from snakesweep.galaxy import config_from_inputs, write_config
from snakesweep.io import load_yaml
from snakesweep.plan import check_config, load_schema
from snakesweep.run import DEFAULT_SWEEP, galaxy_gpus

REPO = Path(__file__).resolve().parents[2]
GALAXY = REPO / "galaxy"
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")
SWEEP = REPO / DEFAULT_SWEEP


def form(**changes) -> dict:
    """The JSON Galaxy writes for the sweep tool's form at its defaults, with a history table."""
    inputs = {
        "data": {"source": "history", "table": str(GALAXY / "test-data/diagnosis.csv"), "target": "2",
                 "positive_class": "M", "exclude": ["1"]},
        "sweep": {"source": "settings", "method": "random", "count": 20, "seed": 1},
        "validation": {"mode": "split", "train": 0.6, "val": 0.2, "test": 0.2, "seed": 42},
        "engine": "torch",
        "train": {"hidden_layers": 1, "max_epochs": 10},
        "evaluate": {"bootstrap": 2000},
    }
    for key, value in changes.items():
        inputs[key] = {**inputs[key], **value} if isinstance(value, dict) else value
    return inputs


def make(tmp_path, ext="csv", **changes) -> dict:
    return config_from_inputs(form(**changes), table_ext=ext, folder=tmp_path, default_sweep=SWEEP)


def test_columns_are_named_from_the_tables_header_and_values_pass_verbatim(tmp_path):
    cfg = make(tmp_path, data={"positive_class": "M 'quoted' $HOME; rm -rf /"})
    assert cfg["data"]["target"] == "diagnosis"
    assert cfg["data"]["exclude"] == ["id"]
    assert cfg["data"]["positive_class"] == "M 'quoted' $HOME; rm -rf /"  # never through a shell
    source = Path(cfg["data"]["source"])
    assert source.is_absolute() and source.suffix == ".csv" and source.parent == tmp_path
    assert source.resolve() == (GALAXY / "test-data/diagnosis.csv").resolve()
    check_config(cfg, SCHEMA)


def test_a_tabular_dataset_is_named_tsv_and_a_strange_datatype_refused(tmp_path):
    cfg = make(tmp_path, ext="tabular", data={"table": str(GALAXY / "test-data/breast_cancer.tsv"), "target": "31",
                                               "positive_class": "malignant", "exclude": None})
    assert Path(cfg["data"]["source"]).name == "table.tsv"
    assert cfg["data"]["target"] == "target" and cfg["data"]["exclude"] == []
    with pytest.raises(SnakesweepError, match="datatype is 'fasta'; expected one of tabular, tsv, csv"):
        make(tmp_path, ext="fasta")


def test_a_users_own_file_of_the_tables_name_is_never_replaced(tmp_path):
    make(tmp_path)
    make(tmp_path)  # its own link from before is replaced
    (tmp_path / "table.csv").unlink()
    (tmp_path / "table.csv").write_text("mine")
    with pytest.raises(SnakesweepError, match="exists and is not a link this command made"):
        make(tmp_path)
    assert (tmp_path / "table.csv").read_text() == "mine"


def test_an_empty_positive_class_is_left_to_the_workflow(tmp_path):
    assert make(tmp_path, data={"positive_class": ""})["data"]["positive_class"] is None
    assert make(tmp_path, data={"positive_class": None})["data"]["positive_class"] is None


@pytest.mark.parametrize(("data", "message"), [
    ({"target": "99"}, "label column: column 99 does not exist; the table has 32 columns"),
    ({"exclude": ["2"]}, "columns to leave out: 'diagnosis' is the label column"),
    ({"target": "x"}, "label column: 'x' is not a column number"),
])
def test_columns_that_cannot_be_are_refused_by_name(tmp_path, data, message):
    with pytest.raises(SnakesweepError, match=message):
        make(tmp_path, data=data)


def test_the_builtin_data_needs_no_table(tmp_path):
    cfg = config_from_inputs(form(data={"source": "builtin"}), table_ext=None, folder=tmp_path, default_sweep=SWEEP)
    assert cfg["data"] == {"source": "builtin:breast_cancer"}
    assert not list(tmp_path.iterdir())


def test_the_tutorials_sweep_is_used_unchanged_for_its_own_method(tmp_path):
    cfg = make(tmp_path)
    assert cfg["sweep"] == {"file": str(SWEEP), "count": 20, "seed": 1}


def test_another_method_writes_the_tutorials_space_with_it(tmp_path):
    cfg = make(tmp_path, sweep={"method": "bayes", "count": 4, "seed": 7})
    written = Path(cfg["sweep"]["file"])
    assert written.parent == tmp_path
    spec, tutorial = load_yaml(written, "sweep.file"), load_yaml(SWEEP, "sweep.file")
    assert spec == {**tutorial, "method": "bayes"}
    assert (cfg["sweep"]["count"], cfg["sweep"]["seed"]) == (4, 7)


def test_the_users_sweep_file_is_used_as_it_is(tmp_path):
    own = GALAXY / "test-data/grid.yaml"
    cfg = make(tmp_path, sweep={"source": "file", "file": str(own)})
    assert cfg["sweep"]["file"] == str(own.resolve())


def test_cross_validation_keeps_the_test_share_and_the_rest_adds_up(tmp_path):
    cfg = make(tmp_path, validation={"mode": "cv", "folds": 3, "repeats": 2, "test": 0.25, "seed": 5})
    split = cfg["split"]
    assert (split["folds"], split["repeats"], split["seed"], split["fractions"]["test"]) == (3, 2, 5, 0.25)
    assert sum(split["fractions"].values()) == pytest.approx(1, abs=1e-9)
    check_config(cfg, SCHEMA)


def test_the_forms_sections_are_config_keys(tmp_path):
    cfg = make(tmp_path, train={"dropout": 0.1, "optimizer": "sgd"}, evaluate={"top": 3})
    assert cfg["train"]["dropout"] == 0.1 and cfg["train"]["optimizer"] == "sgd" and cfg["evaluate"]["top"] == 3
    assert cfg["train"]["accelerator"] == "auto"  # decided by `snakesweep run` from what the job was given
    check_config(cfg, SCHEMA)


def test_write_config_reads_galaxys_json_and_writes_beside_it(tmp_path):
    (tmp_path / "inputs.json").write_text(json.dumps(form()))
    cfg = write_config(tmp_path / "inputs.json", table_ext="csv", out=tmp_path / "config.json", default_sweep=SWEEP)
    assert json.loads((tmp_path / "config.json").read_text()) == cfg
    assert (tmp_path / "table.csv").is_symlink()


# --- the tools' XML, held to the schema and the package ---


def tool(name: str) -> ET.Element:
    return ET.parse(GALAXY / f"{name}.xml").getroot()


def macros() -> ET.Element:
    return ET.parse(GALAXY / "macros.xml").getroot()


def token(name: str) -> str:
    return next(t.text for t in macros().iter("token") if t.get("name") == f"@{name}@")


def test_the_tools_version_is_the_packages():
    assert token("TOOL_VERSION") == snakesweep.__version__
    for name in ("snakesweep_sweep", "snakesweep_predict"):
        assert tool(name).get("version") == "@TOOL_VERSION@+galaxy@VERSION_SUFFIX@"


def schema_default(section: str, key: str):
    return SCHEMA["properties"][section]["properties"][key]["default"]


@pytest.mark.parametrize("section", ["train", "evaluate"])
def test_the_forms_settings_have_the_schemas_names_defaults_and_limits(section):
    params = tool("snakesweep_sweep").findall(f"./inputs/section[@name='{section}']/param")
    assert params
    for p in params:
        key = p.get("name")
        spec = SCHEMA["properties"][section]["properties"].get(key)
        assert spec is not None, f"{section}.{key} is not a config key"
        assert p.get("label") and p.get("help", p.get("label")), key
        if p.get("type") == "select":
            options = [o.get("value") for o in p.findall("option")]
            selected = [o.get("value") for o in p.findall("option") if o.get("selected") == "true"]
            assert set(options) <= {str(v) for v in spec["enum"]} and selected == [str(spec["default"])], key
            continue
        cast = int if p.get("type") == "integer" else float
        assert cast(p.get("value")) == spec["default"], key
        for bound, limit in (("min", "minimum"), ("max", "maximum")):
            if limit in spec:
                assert cast(p.get(bound)) == spec[limit], (key, bound)


def test_the_forms_sweep_and_split_defaults_are_the_schemas():
    count_seed = {p.get("name"): int(p.get("value")) for p in macros().find("./xml[@name='sweep_count_seed']")}
    assert count_seed == {"count": schema_default("sweep", "count"), "seed": schema_default("sweep", "seed")}
    assert int(macros().find("./xml[@name='split_seed']/param").get("value")) == schema_default("split", "seed")
    split = tool("snakesweep_sweep").find("./inputs/conditional[@name='validation']/when[@value='split']")
    shares = {p.get("name"): float(p.get("value")) for p in split.findall("param")}
    assert shares == schema_default("split", "fractions")


def test_every_command_takes_user_values_from_files_not_the_shell_line():
    for name in ("snakesweep_sweep", "snakesweep_predict"):
        command = tool(name).find("command").text
        names = {p.get("name") for p in tool(name).iter("param") if p.get("type") in ("text", "data_column")}
        for n in names:
            assert f"${n}" not in command and f"$data.{n}" not in command, (name, n)


@pytest.mark.parametrize(("env", "expected"), [
    ({"GALAXY_GPU_ENABLED": "false", "CUDA_VISIBLE_DEVICES": "0,1"}, 0),
    ({"GALAXY_GPU_ENABLED": "true", "CUDA_VISIBLE_DEVICES": "0,1"}, 2),
    ({"CUDA_VISIBLE_DEVICES": "3"}, 1),
    ({"CUDA_VISIBLE_DEVICES": ""}, 0),
    ({"CUDA_VISIBLE_DEVICES": "-1"}, 0),
])
def test_the_gpus_a_job_may_use_follow_galaxy_and_cuda(env, expected):
    assert galaxy_gpus(env) == expected
