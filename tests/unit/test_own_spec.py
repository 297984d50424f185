"""A W&B sweep with `program`/`command`: parsed for the user's own program (any parameter and metric
names, values passed on as drawn) and expanded into points, with the built-in sweeps unchanged."""

from __future__ import annotations

import pytest

from snakesweep import SnakesweepError
from snakesweep.sweep import expand, parse_spec

OWN = {"program": "train.py", "method": "random", "metric": {"name": "score", "goal": "maximize"},
       "command": ["${env}", "${interpreter}", "${program}", "${args_json_file}"],
       "parameters": {"lr": {"distribution": "log_uniform_values", "min": 0.001, "max": 0.1},
                      "model": {"parameters": {"depth": {"values": [1, 2, 3]}}},
                      "batch-size": {"values": [16, 32]},
                      "flag": {"values": [True, False]},
                      "note": {"value": "a;b $(touch pwned)"}}}


def test_an_own_program_sweep_takes_any_names_and_metric():
    spec = parse_spec(OWN, "own.yaml")
    assert spec.own and spec.program == "train.py" and spec.command == tuple(OWN["command"])
    assert spec.names == ["lr", "model.depth", "batch-size", "flag", "note"]
    assert all(p.hparam is None for p in spec.params)
    assert (spec.metric, spec.goal) == ("score", "maximize")
    # W&B's default goal, as its agent would run the sweep.
    assert parse_spec({**OWN, "metric": {"name": "loss"}}, "own.yaml").goal == "minimize"
    assert parse_spec({k: v for k, v in OWN.items() if k != "command"}, "own.yaml").command is None
    assert parse_spec({k: v for k, v in OWN.items() if k != "program"}, "own.yaml").program is None


def test_a_built_in_sweep_is_unchanged():
    spec = parse_spec({"method": "grid", "parameters": {"learning_rate": {"values": [0.01]}}}, "s.yaml")
    assert not spec.own and spec.params[0].hparam == "learning_rate"
    with pytest.raises(SnakesweepError, match="unknown hyperparameter 'lr'"):
        parse_spec({"method": "grid", "parameters": {"lr": {"values": [0.01]}}}, "s.yaml")


@pytest.mark.parametrize(("change", "match"), [
    ({"command": "python train.py"}, r"'command' must be a non-empty list of strings"),
    ({"command": ["${program}", 3]}, r"'command' must be a non-empty list of strings"),
    ({"command": []}, r"'command' must be a non-empty list of strings"),
    ({"program": ""}, r"'program' must be the path"),
    ({"metric": None}, r"'metric' is missing: a sweep that runs its own program needs metric\.name"),
    ({"metric": {"name": ""}}, r"metric\.name must be the name of a key the program logs"),
    ({"early_terminate": {"type": "hyperband", "min_iter": 1}}, r"early_terminate with an own program"),
])
def test_bad_own_program_specs_are_refused_naming_the_key(change, match):
    with pytest.raises(SnakesweepError, match=match):
        parse_spec({**OWN, **change}, "own.yaml")


def test_own_points_carry_the_drawn_values_and_ids_follow_the_context():
    spec = parse_spec(OWN, "own.yaml")
    points = expand(spec, count=6, seed=1, defaults={}, context={"program": "abc"})
    assert len(points) == 6 and len({p.id for p in points}) == 6
    for p in points:
        assert p.params == p.hparams and set(p.params) == set(spec.names)
        assert 0.001 <= p.params["lr"] <= 0.1 and p.params["model.depth"] in (1, 2, 3)
        assert p.params["flag"] in (True, False) and p.params["note"] == "a;b $(touch pwned)"
    again = expand(spec, count=6, seed=1, defaults={}, context={"program": "abc"})
    assert again == points
    other = expand(spec, count=6, seed=1, defaults={}, context={"program": "abd"})
    assert [p.params for p in other] == [p.params for p in points]
    assert not {p.id for p in other} & {p.id for p in points}  # another program file: new points
    # Names the built-in trainer knows mean nothing special here: no parameter is dropped.
    spec = parse_spec({**OWN, "method": "grid", "parameters": {"hidden_layers": {"values": [0]},
                                                                "hidden_neurons": {"values": [2, 4]}}}, "own.yaml")
    assert len(expand(spec, count=1, seed=1, defaults={}, context={})) == 2
