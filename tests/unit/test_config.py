"""The config schema documents and validates every key; config/README.md keeps up with it."""

from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

REPO = Path(__file__).resolve().parents[2]
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
    assert empty["sweep"] == {"file": "config/sweep.yaml", "count": 20, "seed": 1, "round_size": 10, "sampler": "tpe",
                              "dedupe": True, "repeats": 1}
    assert empty["split"]["folds"] == shipped["split"]["folds"] == 1  # the tutorial's single split by default


# train keys that set the job, not the model: not hyperparameters a sweep can vary.
JOB_KEYS = {"threads", "pack_size", "batched"}


def test_schema_train_block_and_the_hyperparameter_table_are_one_source():
    """The schema (and config/README.md, generated from it) agree with hparams.HPARAMS, the table the
    sweep validation and the trainer use: same names, types, defaults, bounds and choices."""
    from snakesweep.hparams import HPARAMS

    train = yaml.safe_load(SCHEMA.read_text())["properties"]["train"]["properties"]
    assert set(train) - JOB_KEYS == set(HPARAMS)
    for name, hp in HPARAMS.items():
        prop = train[name]
        assert prop["default"] == hp.default or str(prop["default"]) == str(hp.default), name
        if hp.kind == "choice":
            # precision also accepts the number 32 as YAML reads `precision: 32`.
            assert list(dict.fromkeys(str(c) for c in prop["enum"])) == list(hp.choices), name
            continue
        assert prop["type"] == {"int": "integer", "float": "number"}[hp.kind], name
        low = "exclusiveMinimum" if hp.exclusive_minimum else "minimum"
        high = "exclusiveMaximum" if hp.exclusive_maximum else "maximum"
        assert prop.get(low) == hp.minimum and prop.get(high) == hp.maximum, name
        assert set(prop) <= {"type", "default", "description", low, high}, name


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
