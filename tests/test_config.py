"""The config schema documents and validates every key; config/README.md keeps up with it."""

from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def leaves(props, prefix=""):
    for key, spec in props.items():
        name = prefix + key
        if spec.get("type") == "object" and "properties" in spec and name != "split.fractions":
            yield from leaves(spec["properties"], name + ".")
        else:
            yield name, spec


def test_every_key_has_a_description_and_a_default():
    schema = yaml.safe_load(SCHEMA.read_text())
    keys = dict(leaves(schema["properties"]))
    assert len(keys) > 30
    for name, spec in keys.items():
        assert spec.get("description"), name
        assert "default" in spec, name


def test_config_readme_lists_every_key():
    text = (REPO / "config/README.md").read_text()
    for name, _ in leaves(yaml.safe_load(SCHEMA.read_text())["properties"]):
        assert f"`{name}`" in text, name


def test_config_readme_is_generated_from_the_current_schema():
    from snakesweep.configdoc import main

    assert main(["--check"]) == 0, "run: python -m snakesweep.configdoc"


def test_shipped_config_is_valid_and_an_empty_config_gets_the_same_defaults():
    shipped = yaml.safe_load((REPO / "config/config.yaml").read_text())
    validate(shipped, str(SCHEMA))
    empty = {}
    validate(empty, str(SCHEMA))
    assert empty["train"]["max_epochs"] == shipped["train"]["max_epochs"] == 10
    assert empty["sweep"] == {"file": "config/sweep.yaml", "count": 20, "seed": 1}


@pytest.mark.parametrize(
    ("config", "word"),
    [
        ({"train": {"optimizr": "adam"}}, "optimizr"),
        ({"train": {"max_epochs": -1}}, "max_epochs"),
        ({"train": {"engine": "keras"}}, "keras"),
        ({"train": {"optimizer": "lbfgs"}}, "lbfgs"),
        ({"sweep": {"count": 0}}, "count"),
        ({"split": {"fractions": {"train": 0.6, "val": "a lot", "test": 0.2}}}, "a lot"),
        ({"data": {"sha256": "abc"}}, "abc"),
    ],
)
def test_schema_refuses_bad_values_naming_them(config, word):
    with pytest.raises(WorkflowError) as err:
        validate(config, str(SCHEMA))
    assert word in str(err.value) + str(getattr(err.value, "args", ""))
