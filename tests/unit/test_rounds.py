"""Unit tests of the adaptive sweeps' decisions (rounds.py, proposers.py, hyperband.py) and of the W&B
format's expansion:
hyperband bands and thresholds as W&B's engine computes them, bayes proposals, imputation, golden files
for grid and random expansion, nested and dotted names, conditional duplicates."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from snakesweep import SnakesweepError
from snakesweep.hparams import HPARAMS
from snakesweep.hyperband import hyperband_threshold, stages_of
from snakesweep.proposers import observed_value, propose_bayes
from snakesweep.rounds import is_last, per_round, round_size_of, target_reached
from snakesweep.sweep import expand, hyperband_bands, parse_spec

GOLDEN = Path(__file__).parents[1] / "golden"
DEFAULTS = {k: v.default for k, v in HPARAMS.items()}
CONTEXT = {"data": "golden", "code": "0" * 16}
METRIC = {"name": "val_loss", "goal": "minimize"}


# --- hyperband, as sweeps/hyperband_stopping.py ------------------------------------------------------


@pytest.mark.parametrize(("cfg", "bands"), [
    ({"max_iter": 5, "s": 2, "eta": 2}, [1, 2]),  # W&B's own doctest example
    ({"max_iter": 27, "s": 2, "eta": 3}, [3, 9]),
    ({"max_iter": 27, "s": 5, "eta": 3}, [1, 3, 9]),  # stops dividing once a band would be < 1
    ({"max_iter": 10, "s": 3, "eta": 2.5}, [1, 4]),  # int() of 4.0 and 1.6, as the engine does
])
def test_max_iter_bands_follow_wandbs_engine(cfg, bands):
    assert hyperband_bands(cfg) == bands


def test_min_iter_bands_grow_by_eta():
    assert hyperband_bands({"min_iter": 3, "eta": 3})[:4] == [3, 9, 27, 81]
    assert hyperband_bands({"min_iter": 1, "eta": 1.5})[:4] == [1, 2, 3, 5]  # int() merges 1 and 1.5


def test_threshold_is_the_value_ranked_n_over_eta():
    assert hyperband_threshold([5, 1, 4, 2, 3, 8, 7, 6], 2) == 5  # sorted()[4]
    assert hyperband_threshold([0.3], 3) == 0.3


def spec(**raw):
    return parse_spec({"method": "random", "metric": METRIC, "parameters": {"learning_rate": {"value": 0.01}},
                       **raw})


def test_stages_are_the_bands_below_a_points_length_then_its_length():
    s = spec(early_terminate={"type": "hyperband", "min_iter": 2, "eta": 2})
    assert stages_of(s, 10) == [2, 4, 8, 10]
    assert stages_of(s, 8) == [2, 4, 8]
    assert stages_of(s, 1) == [1]
    assert stages_of(spec(), 10) == [10]


@pytest.mark.parametrize(("et", "needle"), [
    ({"type": "hyperband", "max_iter": 27}, "'s'"),
    ({"type": "hyperband"}, "min_iter"),
    ({"type": "hyperband", "min_iter": 1, "eta": 1}, "eta"),
    ({"type": "hyperband", "min_iter": 0}, "min_iter"),
    ({"type": "median", "min_iter": 1}, "type"),
    ({"type": "hyperband", "min_iter": 1, "strict": "yes"}, "strict"),
    ({"type": "hyperband", "min_iter": 1, "brackets": 3}, "brackets"),
])
def test_bad_early_terminate_is_refused_naming_the_key(et, needle):
    with pytest.raises(SnakesweepError, match="early_terminate") as info:
        spec(early_terminate=et)
    assert needle in str(info.value)


def test_strict_defaults_to_true_as_the_engine_fills_it():
    assert spec(early_terminate={"type": "hyperband", "min_iter": 1}).hyperband.strict is True


def test_round_sizes_depend_on_the_count_only_where_it_is_reached():
    assert [round_size_of(r, 7, 3) for r in range(4)] == [3, 3, 1, 0]
    assert [round_size_of(r, 9, 3) for r in range(4)] == [3, 3, 3, 0]  # rounds 0 and 1 as with 7
    assert [is_last(r, 3, 7, 3) for r in range(2)] == [False, False] and is_last(2, 1, 7, 3)
    assert is_last(0, 2, 7, 3)  # a short round (search space exhausted, target reached) ends the sweep
    assert per_round(spec(), 10, 40) == 40  # no target, no bayes: one round
    assert per_round(spec(metric={**METRIC, "target": 0.1}), 10, 40) == 10


# --- metric: target, impute, goal ---------------------------------------------------------------------


def test_target_is_reached_in_the_goals_direction():
    low = spec(metric={"name": "val_loss", "goal": "minimize", "target": 0.1})
    assert target_reached(low, [{"status": "ok", "value": 0.2}]) is None
    assert target_reached(low, [{"status": "failed", "value": 0.05}]) is None
    assert target_reached(low, [{"status": "ok", "value": 0.1, "point": "a"}])["point"] == "a"
    high = spec(metric={"name": "val_roc_auc", "goal": "maximize", "target": "0.9"})
    assert target_reached(high, [{"status": "stopped", "value": 0.95, "point": "b"}])["point"] == "b"


def test_a_maximised_metric_without_goal_is_refused_not_minimised():
    with pytest.raises(SnakesweepError, match="goal"):
        spec(metric={"name": "val_roc_auc"})


@pytest.mark.parametrize(("impute", "expected"), [("worst", 0.9), ("best", 0.4), ("latest", 0.6)])
def test_failed_points_are_imputed_as_wandbs_engine_does(impute, expected):
    s = spec(metric={**METRIC, "impute": impute})
    failed = {"status": "failed", "history": [0.5, 0.4, 0.6]}
    assert observed_value(s, failed, worst=0.9) == expected
    # A finished point teaches its best value (W&B's metric_extremum), not its last.
    assert observed_value(s, {"status": "ok", "history": [0.5, 0.3, 0.35]}, worst=0.9) == 0.3
    assert observed_value(s, {"status": "failed", "history": []}, worst=None) == 0.0


# --- bayes proposals -------------------------------------------------------------------------------------


def bayes_settings(**extra):
    return {"count": 6, "seed": 3, "round_size": 3, "dedupe": True, "defaults": DEFAULTS, "context": CONTEXT,
            "auto": None, **extra}


BAYES = {"method": "bayes", "metric": METRIC, "parameters": {
    "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
    "hidden_neurons": {"values": [4, 8, 16]}}}


def test_bayes_proposals_are_deterministic_and_depend_on_the_results():
    s = parse_spec(BAYES)
    first = propose_bayes(s, bayes_settings(), 0, [], 3)
    assert first == propose_bayes(s, bayes_settings(), 0, [], 3)
    assert len({p.id for p in first}) == 3
    lr = [p.params["learning_rate"] for p in first]
    assert all(1e-4 <= v <= 1e-1 for v in lr)
    # Told that the largest learning rate was by far the best, the next round moves towards it.
    done = [{"point": p.id, "status": "ok", "u": p.u,
             "history": [0.01 if v == max(lr) else 0.7]} for p, v in zip(first, lr, strict=True)]
    again = propose_bayes(s, bayes_settings(), 1, done, 3)
    assert again == propose_bayes(s, bayes_settings(), 1, done, 3)
    assert {p.id for p in again}.isdisjoint({p.id for p in first})
    worse = [{**d, "history": [0.7 if d["history"][0] == 0.01 else 0.01]} for d in done]
    assert [p.id for p in propose_bayes(s, bayes_settings(), 1, worse, 3)] != [p.id for p in again]


def test_the_gaussian_process_sampler_is_deterministic_too():
    s = parse_spec(BAYES)
    settings = bayes_settings(sampler="gp", round_size=2)
    first = propose_bayes(s, settings, 0, [], 2)
    done = [{"point": p.id, "status": "ok", "u": p.u, "history": [0.1 * (i + 1)]}
            for i, p in enumerate(first)]
    again = propose_bayes(s, settings, 1, done, 2)
    assert again == propose_bayes(s, settings, 1, done, 2)
    assert len(again) == 2 and {p.id for p in again}.isdisjoint({p.id for p in first})
    assert again != propose_bayes(s, bayes_settings(round_size=2), 1, done, 2)  # not TPE's proposals


def test_bayes_stops_proposing_when_the_space_is_exhausted():
    s = parse_spec({"method": "bayes", "metric": METRIC, "parameters": {"hidden_neurons": {"values": [4, 8]}}})
    first = propose_bayes(s, bayes_settings(), 0, [], 5)
    assert sorted(p.params["hidden_neurons"] for p in first) == [4, 8]


# --- expansion: golden files, names, duplicates -----------------------------------------------------------


GOLDEN_SPECS = {
    "grid": {"method": "grid", "metric": METRIC, "parameters": {
        "hidden_layers": {"values": [0, 1]}, "hidden_neurons": {"min": 4, "max": 6},
        "batch_size": {"distribution": "q_uniform", "min": 16, "max": 64, "q": 16},
        "learning_rate": {"value": "1e-2"}}},
    "random": {"method": "random", "metric": METRIC, "parameters": {
        "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "weight_decay": {"distribution": "inv_log_uniform_values", "min": 1e-6, "max": 1e-3},
        "hidden_neurons": {"distribution": "q_log_uniform_values", "min": 4, "max": 64, "q": 4},
        "dropout": {"distribution": "q_uniform", "min": 0, "max": 0.5, "q": 0.1},
        "activation": {"values": ["relu", "tanh"], "probabilities": [0.8, 0.2]},
        "optim": {"parameters": {"batch-size": {"min": 8, "max": 64}}}}},
}


def expansion_rows(name: str) -> list[list[str]]:
    points = expand(parse_spec(GOLDEN_SPECS[name]), count=12, seed=7, defaults=DEFAULTS, context=CONTEXT)
    names = list(points[0].params)
    return [["point", *names, "draws"]] + [
        [p.id, *("" if p.params[n] is None else repr(p.params[n]) for n in names),
         ",".join(map(str, p.draws))] for p in points]


@pytest.mark.parametrize("name", sorted(GOLDEN_SPECS))
def test_expansion_matches_its_golden_file(name):
    """The exact points of a grid and a random sweep: any change to the draws, the ids or the order is a
    change to every user's sweep, and must be deliberate (regenerate with SNAKESWEEP_GOLDEN=1)."""
    import os

    path = GOLDEN / f"{name}.tsv"
    rows = expansion_rows(name)
    if os.environ.get("SNAKESWEEP_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        with open(path, "w", newline="") as fh:
            csv.writer(fh, delimiter="\t", lineterminator="\n").writerows(rows)
    with open(path, newline="") as fh:
        assert list(csv.reader(fh, delimiter="\t")) == rows


def test_grid_expands_int_uniform_and_q_uniform_as_wandb_does():
    rows = expansion_rows("grid")
    # 2 layer counts x 3 widths x 3 batch sizes, less the widths of the linear model (one point per
    # batch size for hidden_layers 0).
    assert len(rows) - 1 == 3 + 9
    linear = [r for r in rows[1:] if r[1] == "0"]
    assert all(r[2] == "" for r in linear) and all(len(r[-1].split(",")) == 3 for r in linear)


def test_nested_and_hyphenated_names_set_the_trainers_parameters():
    points = expand(parse_spec(GOLDEN_SPECS["random"]), count=5, seed=7, defaults=DEFAULTS, context=CONTEXT)
    assert "optim.batch-size" in points[0].params
    for p in points:
        assert p.hparams["batch_size"] == p.params["optim.batch-size"]
        assert p.hparams["dropout"] == p.params["dropout"] or p.params["dropout"] is None


def test_an_unknown_leaf_is_refused_with_the_known_names():
    with pytest.raises(SnakesweepError, match="model.lr.*learning_rate"):
        parse_spec({"method": "random", "parameters": {"model": {"parameters": {"lr": {"value": 0.1}}}}})


def test_two_names_for_one_parameter_are_refused():
    with pytest.raises(SnakesweepError, match="both set 'learning_rate'"):
        parse_spec({"method": "random", "parameters": {"learning_rate": {"value": 0.1},
                                                       "optim": {"parameters": {"learning_rate": {"value": 0.2}}}}})


def test_dedupe_off_keeps_every_draw_as_its_own_point():
    raw = {"method": "grid", "metric": METRIC, "parameters": {
        "hidden_layers": {"values": [0]}, "hidden_neurons": {"values": [2, 4, 8]}}}
    on = expand(parse_spec(raw), count=1, seed=1, defaults=DEFAULTS, context=CONTEXT)
    off = expand(parse_spec(raw), count=1, seed=1, defaults=DEFAULTS, context=CONTEXT, dedupe=False)
    assert len(on) == 1 and on[0].draws == (0, 1, 2)
    assert len(off) == 3 and len({p.id for p in off}) == 3 and off[0].id == on[0].id


def test_run_cap_caps_random_and_grid():
    capped = dict(GOLDEN_SPECS["random"], run_cap=3)
    assert len(expand(parse_spec(capped), count=10, seed=1, defaults=DEFAULTS, context=CONTEXT)) == 3
    grid = dict(GOLDEN_SPECS["grid"], run_cap=4)
    assert len(expand(parse_spec(grid), count=1, seed=1, defaults=DEFAULTS, context=CONTEXT)) == 4


def test_unbounded_distribution_on_a_bounded_parameter_is_refused():
    with pytest.raises(SnakesweepError, match="weight_decay.*unbounded"):
        parse_spec({"method": "random", "parameters": {"weight_decay": {"distribution": "normal", "mu": 0,
                                                                        "sigma": 1e-3}}})
