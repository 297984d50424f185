"""Tests for snakesweep.sweep (W&B spec parsing and seeded expansion), snakesweep.hparams and plan.make_plan."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pytest
import yaml

from snakesweep import SnakesweepError
from snakesweep.hparams import HPARAMS, coerce, defaults_from_config, effective
from snakesweep.points import point_id
from snakesweep.sweep import expand, load_spec, parse_spec

REPO = Path(__file__).resolve().parents[2]
DEFAULTS = {k: v.default for k, v in HPARAMS.items()}
CONTEXT = {"data": "builtin:breast_cancer@test", "code": "0" * 16}


def points(raw: dict, *, count: int = 20, seed: int = 1, defaults=None, context=None) -> list[dict]:
    return expand(parse_spec(raw), count=count, seed=seed, defaults=DEFAULTS if defaults is None else defaults,
                  context=CONTEXT if context is None else context)


def random_spec(**params) -> dict:
    return {"method": "random", "parameters": params}


TUTORIAL = {
    "method": "random",
    "metric": {"goal": "minimize", "name": "val_loss"},
    "parameters": {
        "hidden_layers": {"values": [0, 1, 2]},
        "hidden_neurons": {"values": [2, 4, 8, 16, 32]},
        "learning_rate": {"min": 0.0001, "max": 0.01},
    },
}


# --- expansion: determinism and stability ------------------------------------------------------------


def test_same_spec_and_seed_give_identical_points():
    a = points(TUTORIAL, seed=7)
    b = points(copy.deepcopy(TUTORIAL), seed=7)
    assert len(a) == 20
    assert a == b


def test_different_seed_gives_different_points():
    a = points(TUTORIAL, seed=1)
    b = points(TUTORIAL, seed=2)
    assert [p.params for p in a] != [p.params for p in b]
    # Not merely reordered: the continuous draws differ.
    assert {p.params["learning_rate"] for p in a}.isdisjoint({p.params["learning_rate"] for p in b})


def test_raising_count_keeps_earlier_points_and_ids_in_order():
    p20 = points(TUTORIAL, count=20)
    p25 = points(TUTORIAL, count=25)
    assert len(p25) == 25
    assert p25[:20] == p20
    assert [p.id for p in p25[:20]] == [p.id for p in p20]
    assert len({p.id for p in p25}) == 25


def test_adding_a_parameter_leaves_other_draws_unchanged():
    base = random_spec(learning_rate={"min": 1e-4, "max": 1e-1, "distribution": "log_uniform_values"},
                       weight_decay={"min": 0.0, "max": 0.01})
    extended = copy.deepcopy(base)
    extended["parameters"]["batch_size"] = {"min": 8, "max": 128}
    a, b = points(base, count=30), points(extended, count=30)
    for pa, pb in zip(a, b, strict=True):
        assert pb.params["learning_rate"] == pa.params["learning_rate"]
        assert pb.params["weight_decay"] == pa.params["weight_decay"]
        assert "batch_size" in pb.params
    # ... and the ids do change, since the points now differ in batch_size.
    assert {p.id for p in a}.isdisjoint({p.id for p in b})


def test_parameters_are_drawn_independently():
    raw = random_spec(learning_rate={"min": 0.01, "max": 1.0}, weight_decay={"min": 0.01, "max": 1.0})
    pts = points(raw, count=200)
    lr = [p.params["learning_rate"] for p in pts]
    wd = [p.params["weight_decay"] for p in pts]
    assert sum(a == b for a, b in zip(lr, wd, strict=True)) < 5
    mean_lr, mean_wd = sum(lr) / len(lr), sum(wd) / len(wd)
    cov = sum((a - mean_lr) * (b - mean_wd) for a, b in zip(lr, wd, strict=True))
    var = math.sqrt(sum((a - mean_lr) ** 2 for a in lr) * sum((b - mean_wd) ** 2 for b in wd))
    assert abs(cov / var) < 0.25


def test_parameter_order_in_spec_does_not_change_draws():
    a = random_spec(learning_rate={"min": 1e-4, "max": 1e-1}, batch_size={"min": 8, "max": 64})
    b = random_spec(batch_size={"min": 8, "max": 64}, learning_rate={"min": 1e-4, "max": 1e-1})
    assert [p.id for p in points(a)] == [p.id for p in points(b)]


def test_random_points_are_distinct_and_hparams_merge_defaults():
    pts = points(TUTORIAL, count=20)
    ids = [p.id for p in pts]
    assert len(set(ids)) == 20
    for p in pts:
        assert set(p.params) == {"hidden_layers", "hidden_neurons", "learning_rate"}
        assert set(p.hparams) == set(HPARAMS)
        assert p.hparams["optimizer"] == DEFAULTS["optimizer"]
        assert p.hparams["learning_rate"] == p.params["learning_rate"]


# --- grid ----------------------------------------------------------------------------------------


def test_grid_gives_full_product_and_ignores_count():
    raw = {"method": "grid", "parameters": {"activation": {"values": ["relu", "tanh"]},
                                            "batch_size": {"values": [8, 16, 32]}}}
    for count in (1, 3, 100):
        pts = points(raw, count=count)
        assert len(pts) == 6
        combos = {(p.params["activation"], p.params["batch_size"]) for p in pts}
        assert combos == {(a, b) for a in ("relu", "tanh") for b in (8, 16, 32)}
        assert len({p.id for p in pts}) == 6


def test_grid_order_is_the_product_order():
    raw = {"method": "grid", "parameters": {"activation": {"values": ["relu", "tanh"]},
                                            "batch_size": {"values": [8, 16, 32]}}}
    assert [(p.params["activation"], p.params["batch_size"]) for p in points(raw)] == [
        ("relu", 8), ("relu", 16), ("relu", 32), ("tanh", 8), ("tanh", 16), ("tanh", 32)]


def test_run_cap_caps_grid():
    raw = {"method": "grid", "run_cap": 4,
           "parameters": {"activation": {"values": ["relu", "tanh"]}, "batch_size": {"values": [8, 16, 32]}}}
    pts = points(raw, count=100)
    full = points({**raw, "run_cap": None}, count=100)
    assert len(pts) == 4
    assert pts == full[:4]


def test_hidden_layers_zero_collapses_widths_into_one_point():
    raw = {"method": "grid", "parameters": {"hidden_layers": {"values": [0]},
                                            "hidden_neurons": {"values": [8, 16, 32]}}}
    pts = points(raw)
    assert len(pts) == 1
    assert pts[0].params == {"hidden_layers": 0, "hidden_neurons": None}


def test_hidden_layers_zero_collapse_in_a_mixed_grid():
    raw = {"method": "grid", "parameters": {"hidden_layers": {"values": [0, 1]},
                                            "hidden_neurons": {"values": [8, 16, 32]}}}
    pts = points(raw)
    assert len(pts) == 4  # one linear model + three widths of one hidden layer
    assert [p.params["hidden_neurons"] for p in pts] == [None, 8, 16, 32]


def test_constant_value_and_duplicate_values():
    raw = {"method": "grid", "parameters": {"optimizer": {"value": "sgd"},
                                            "batch_size": {"values": [8, 8.0, "8", 16]}}}
    pts = points(raw)
    assert [p.params for p in pts] == [{"optimizer": "sgd", "batch_size": 8},
                                           {"optimizer": "sgd", "batch_size": 16}]
    assert all(isinstance(p.params["batch_size"], int) for p in pts)


# --- distributions --------------------------------------------------------------------------------


def test_int_min_max_is_int_uniform_inclusive():
    spec = parse_spec(random_spec(hidden_neurons={"min": 2, "max": 5}))
    assert spec.params[0].distribution == "int_uniform"
    pts = points(random_spec(hidden_neurons={"min": 2, "max": 5}, learning_rate={"min": 1e-4, "max": 1e-1}),
                 count=60)
    drawn = [p.params["hidden_neurons"] for p in pts]
    assert all(type(v) is int for v in drawn)
    assert set(drawn) == {2, 3, 4, 5}  # both ends reachable


def test_float_min_max_is_uniform_within_bounds():
    spec = parse_spec(random_spec(weight_decay={"min": 0.0, "max": 0.5}))
    assert spec.params[0].distribution == "uniform"
    drawn = [p.params["weight_decay"] for p in points(random_spec(weight_decay={"min": 0.0, "max": 0.5}),
                                                          count=400)]
    assert all(isinstance(v, float) and 0.0 <= v <= 0.5 for v in drawn)
    # Roughly uniform: each half of the range gets a fair share.
    below = sum(v < 0.25 for v in drawn)
    assert 160 <= below <= 240


def test_mixed_int_float_bounds_are_uniform():
    assert parse_spec(random_spec(learning_rate={"min": 1, "max": 2.5})).params[0].distribution == "uniform"


def test_log_uniform_values_is_log_scaled_and_within_bounds():
    raw = random_spec(learning_rate={"min": 1e-4, "max": 1e-1, "distribution": "log_uniform_values"})
    drawn = [p.params["learning_rate"] for p in points(raw, count=400)]
    assert len(drawn) == 400
    assert all(1e-4 <= v <= 1e-1 for v in drawn)
    below = sum(v < 10 ** -2.5 for v in drawn)
    # Log-uniform: half the mass lies below the geometric mean; uniform would put ~3% there.
    assert 160 <= below <= 240
    # Each decade gets about a third.
    for lo in (1e-4, 1e-3, 1e-2):
        n = sum(lo <= v < lo * 10 for v in drawn)
        assert 100 <= n <= 170, (lo, n)


def test_yaml_string_exponent_coerces_to_float():
    text = """
method: random
parameters:
  learning_rate:
    min: 1e-4
    max: 1e-1
    distribution: log_uniform_values
  weight_decay:
    values: [0, 1e-3]
"""
    raw = yaml.safe_load(text)
    assert raw["parameters"]["learning_rate"]["min"] == "1e-4"  # what YAML 1.1 does
    spec = parse_spec(raw)
    lr, wd = spec.params
    assert (lr.dist.min, lr.dist.max) == (1e-4, 1e-1)
    assert wd.values == (0.0, 0.001)
    assert all(type(v) is float for v in wd.values)
    assert coerce("learning_rate", "1e-3", "here") == 0.001


def test_string_and_float_forms_of_a_value_give_the_same_id():
    a = points({"method": "grid", "parameters": {"learning_rate": {"values": ["1e-3"]}}})
    b = points({"method": "grid", "parameters": {"learning_rate": {"values": [0.001]}}})
    assert a[0].id == b[0].id


# --- ids -----------------------------------------------------------------------------------------


def test_point_ids_are_12_hex_chars():
    for p in points(TUTORIAL):
        assert re.fullmatch(r"[0-9a-f]{12}", p.id)


def test_point_ids_change_with_context():
    a = points(TUTORIAL, context={**CONTEXT, "data": "sha256:" + "a" * 64})
    b = points(TUTORIAL, context={**CONTEXT, "data": "sha256:" + "b" * 64})
    assert [p.params for p in a] == [p.params for p in b]
    assert {p.id for p in a}.isdisjoint({p.id for p in b})


def test_point_id_is_content_derived():
    hp = dict(DEFAULTS)
    assert point_id(hp, CONTEXT) == point_id(dict(reversed(list(hp.items()))), dict(CONTEXT))
    assert point_id(hp, CONTEXT) != point_id({**hp, "learning_rate": 0.002}, CONTEXT)
    # Settings without effect do not change the id.
    assert point_id({**hp, "hidden_layers": 0, "hidden_neurons": 4}, CONTEXT) == point_id(
        {**hp, "hidden_layers": 0, "hidden_neurons": 64}, CONTEXT)
    assert point_id({**hp, "accelerator": "cpu", "devices": 1}, CONTEXT) == point_id(
        {**hp, "accelerator": "cpu", "devices": 4}, CONTEXT)
    assert point_id({**hp, "accelerator": "gpu", "devices": 1}, CONTEXT) != point_id(
        {**hp, "accelerator": "gpu", "devices": 4}, CONTEXT)


def test_default_values_change_point_ids():
    a = points(TUTORIAL)
    b = points(TUTORIAL, defaults={**DEFAULTS, "max_epochs": 20})
    assert {p.id for p in a}.isdisjoint({p.id for p in b})
    assert all(p.hparams["max_epochs"] == 20 for p in b)


# --- errors ----------------------------------------------------------------------------------------


def error_of(raw: dict) -> str:
    with pytest.raises(SnakesweepError) as info:
        parse_spec(raw)
    return str(info.value)


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ({"parameters": {"batch_size": {"values": [8]}}}, "method"),
        ({"method": "hyperband", "parameters": {"batch_size": {"values": [8]}}}, "hyperband"),
        ({"method": "bayes", "parameters": {"batch_size": {"value": 8}}}, "bayes"),
        ({"method": "random"}, "parameters"),
        ({"method": "random", "parameters": {}}, "parameters"),
        ({"method": "random", "parameters": {"learning_rate": {"min": 1e-4, "max": 1e-1,
                                                               "distribution": "zipf"}}}, "zipf"),
        ({"method": "random", "parameters": {"learning_rate": {"min": 0.1, "max": 0.01}}}, "min"),
        ({"method": "random", "parameters": {"batch_size": {"min": 64, "max": 8}}}, "min"),
        ({"method": "random", "parameters": {"weight_decay": {"min": 0, "max": 0.1,
                                                              "distribution": "log_uniform_values"}}},
         "log_uniform_values"),
        ({"method": "random", "parameters": {"learning_rate": {"min": -1e-3, "max": 0.1,
                                                               "distribution": "log_uniform_values"}}},
         "log_uniform_values"),
        ({"method": "grid", "parameters": {"learning_rate": {"min": 1e-4, "max": 1e-1}}}, "learning_rate"),
        ({"method": "random", "parameters": {"momentum": {"values": [0.1]}}}, "momentum"),
        ({"method": "random", "parameters": {"batch_size": {"values": [8], "step": 2}}}, "step"),
        ({"method": "random", "metric": {"name": "accuracy", "goal": "maximize"},
          "parameters": {"batch_size": {"values": [8]}}}, "accuracy"),
        ({"method": "random", "metrics": {}, "parameters": {"batch_size": {"values": [8]}}}, "metrics"),
        ({"method": "random", "parameters": {"activation": {"values": ["gelu"]}}}, "gelu"),
        ({"method": "random", "parameters": {"activation": {"min": 0, "max": 1}}}, "activation"),
        ({"method": "random", "parameters": {"batch_size": {"min": 8.5, "max": 64}}}, "batch_size"),
        ({"method": "random", "parameters": {"batch_size": {"values": []}}}, "values"),
        ({"method": "random", "parameters": {"learning_rate": {"min": 0, "max": 0.1}}}, "learning_rate"),
        ({"method": "random", "parameters": {"learning_rate": {"min": "abc", "max": 0.1}}}, "min"),
        ({"method": "random", "parameters": {"learning_rate": {"max": 0.1}}}, "min"),
        ({"method": "grid", "run_cap": 0, "parameters": {"batch_size": {"values": [8]}}}, "run_cap"),
        ({"method": "random", "early_terminate": {"type": "hyperband"},
          "parameters": {"batch_size": {"values": [8]}}}, "early_terminate"),
        ({"method": "random", "parameters": {"learning_rate": {"min": 1e-4, "max": 1e-1,
                                                               "distribution": "normal"}}}, "normal"),
    ],
    ids=["missing-method", "unknown-method", "bayes", "missing-parameters", "empty-parameters",
         "unknown-distribution", "min-gt-max-float", "min-gt-max-int", "log-min-zero", "log-min-negative",
         "grid-continuous", "unknown-hparam", "unknown-param-key", "unknown-metric", "unknown-spec-key",
         "bad-choice", "choice-with-range", "int-with-float-bound", "empty-values", "lr-at-zero",
         "non-numeric-min", "missing-min", "run-cap-zero", "early-terminate", "later-distribution"],
)
def test_bad_specs_raise_naming_the_key(raw, needle):
    assert needle in error_of(raw)


@pytest.mark.parametrize("method", ["random", "grid"])
@pytest.mark.parametrize("dist", ["categorical", "constant"])
def test_categorical_without_values_is_refused(method, dist):
    raw = {"method": method, "parameters": {"learning_rate": {"distribution": dist, "min": 0.1, "max": 1.0}}}
    with pytest.raises(SnakesweepError, match="learning_rate"):
        points(raw, count=2)


def test_int_uniform_on_a_float_parameter_gives_floats():
    drawn = points(random_spec(learning_rate={"distribution": "int_uniform", "min": 1, "max": 2}), count=2)
    listed = points({"method": "grid", "parameters": {"learning_rate": {"values": [1, 2]}}})
    assert {type(p.params["learning_rate"]) for p in drawn} == {float}
    assert {p.id for p in drawn} == {p.id for p in listed}


def test_unknown_distribution_is_not_reported_as_later():
    msg = error_of({"method": "random", "parameters": {"learning_rate": {"min": 1e-4, "max": 1e-1,
                                                                         "distribution": "zipf"}}})
    assert "unknown 'distribution' 'zipf'" in msg


@pytest.mark.parametrize("count", [0, -3, 2.5, True, None])
def test_count_must_be_a_positive_integer(count):
    spec = parse_spec(TUTORIAL)
    with pytest.raises(SnakesweepError, match="sweep.count"):
        expand(spec, count=count, seed=1, defaults=DEFAULTS, context=CONTEXT)


def test_too_few_distinct_points_raises():
    raw = random_spec(activation={"values": ["relu", "tanh"]})
    with pytest.raises(SnakesweepError, match="sweep.count"):
        points(raw, count=3)
    assert len(points(raw, count=2)) == 2


def test_metric_defaults_to_val_loss_minimize():
    spec = parse_spec({"method": "random", "parameters": {"batch_size": {"values": [8]}}})
    assert (spec.metric, spec.goal) == ("val_loss", "minimize")
    spec = parse_spec({**TUTORIAL, "metric": {"name": "val_roc_auc", "goal": "maximize"}})
    assert (spec.metric, spec.goal) == ("val_roc_auc", "maximize")


def test_load_spec_errors(tmp_path):
    with pytest.raises(SnakesweepError, match="does not exist"):
        load_spec(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: [random\n")
    with pytest.raises(SnakesweepError, match="not valid YAML"):
        load_spec(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- a\n- b\n")
    with pytest.raises(SnakesweepError, match="mapping"):
        load_spec(lst)


def test_repo_sweep_file_parses_as_the_tutorial_sweep():
    raw = load_spec(REPO / "config" / "sweep.yaml")
    spec = parse_spec(raw)
    assert spec.method == "random"
    assert {p.name: p.distribution for p in spec.params} == {
        "hidden_layers": "categorical", "hidden_neurons": "categorical", "learning_rate": "uniform"}


# --- hparams ---------------------------------------------------------------------------------------


def test_coerce_normalises_types():
    assert coerce("batch_size", 8.0, "w") == 8 and type(coerce("batch_size", 8.0, "w")) is int
    assert coerce("batch_size", "16", "w") == 16
    assert type(coerce("learning_rate", 1, "w")) is float
    assert coerce("precision", 32, "w") == "32"
    assert coerce("activation", "tanh", "w") == "tanh"


@pytest.mark.parametrize(
    ("name", "value"),
    [("batch_size", 8.5), ("batch_size", 0), ("batch_size", True), ("learning_rate", 0.0),
     ("learning_rate", "fast"), ("learning_rate", math.inf), ("learning_rate", math.nan),
     ("weight_decay", -0.1), ("activation", "gelu"), ("optimizer", True), ("dropout", 1.0)],
)
def test_coerce_refuses_bad_values_naming_where(name, value):
    with pytest.raises(SnakesweepError, match=r"^somewhere: ") as info:
        coerce(name, value, "somewhere")
    assert name in str(info.value)


def test_defaults_from_config():
    assert defaults_from_config({}) == DEFAULTS
    got = defaults_from_config({"learning_rate": "1e-2", "hidden_layers": 2.0, "precision": 32})
    assert got["learning_rate"] == 0.01 and got["hidden_layers"] == 2 and got["precision"] == "32"
    with pytest.raises(SnakesweepError, match="train.batch_size"):
        defaults_from_config({"batch_size": 0})


def test_effective_drops_settings_without_effect():
    hp = {**DEFAULTS, "hidden_layers": 0, "accelerator": "cpu"}
    eff = effective(hp)
    assert "hidden_neurons" not in eff and "devices" not in eff
    assert hp["hidden_neurons"] == DEFAULTS["hidden_neurons"]  # input untouched
    eff = effective({**DEFAULTS, "hidden_layers": 2, "accelerator": "gpu"})
    assert "hidden_neurons" in eff and "devices" in eff


# --- plan --------------------------------------------------------------------------------------------


@pytest.fixture
def repo_config() -> dict:
    from snakemake.utils import validate

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate(cfg, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    return cfg


def test_make_plan_on_default_config(repo_config):
    from snakesweep.plan import make_plan

    plan = make_plan(repo_config, base=REPO, gpus_visible=0)
    assert len(plan.points) == 20
    assert len(set(plan.ids)) == 20
    assert all(re.fullmatch(r"[0-9a-f]{12}", i) for i in plan.ids)
    assert plan.spec.names == ["hidden_layers", "hidden_neurons", "learning_rate"]
    rows = plan.rows()
    assert [r["point"] for r in rows] == plan.ids
    assert set(rows[0]) == {"point", "hidden_layers", "hidden_neurons", "learning_rate", "draws"}
    assert plan.hparams(plan.ids[0])["engine"] == "torch"
    # Same config, same plan.
    assert make_plan(copy.deepcopy(repo_config), base=REPO, gpus_visible=0).ids == plan.ids


def test_make_plan_count_25_keeps_first_20(repo_config):
    from snakesweep.plan import make_plan

    ids20 = make_plan(repo_config, base=REPO, gpus_visible=0).ids
    cfg = copy.deepcopy(repo_config)
    cfg["sweep"]["count"] = 25
    ids25 = make_plan(cfg, base=REPO, gpus_visible=0).ids
    assert len(ids25) == 25 and len(set(ids25)) == 25
    assert ids25[:20] == ids20


def test_make_plan_ids_depend_on_split_seed(repo_config):
    from snakesweep.plan import make_plan

    cfg = copy.deepcopy(repo_config)
    cfg["split"]["seed"] = 43
    assert set(make_plan(cfg, base=REPO, gpus_visible=0).ids).isdisjoint(
        make_plan(repo_config, base=REPO, gpus_visible=0).ids)


def test_make_plan_resolves_auto_accelerator(repo_config):
    from snakesweep.plan import make_plan

    cfg = copy.deepcopy(repo_config)
    cfg["train"]["accelerator"] = "auto"
    cpu = make_plan(cfg, base=REPO, gpus_visible=0)
    gpu = make_plan(cfg, base=REPO, gpus_visible=2)
    assert {p.hparams["accelerator"] for p in cpu.points} == {"cpu"}
    assert {p.hparams["accelerator"] for p in gpu.points} == {"gpu"}


def test_make_plan_refuses_url_without_sha256(repo_config):
    from snakesweep.plan import make_plan

    cfg = copy.deepcopy(repo_config)
    cfg["data"]["source"] = "https://example.org/data.csv"
    with pytest.raises(SnakesweepError, match="data.sha256"):
        make_plan(cfg, base=REPO, gpus_visible=0)


def test_make_plan_ids_follow_the_resolved_accelerator(repo_config):
    from snakesweep.plan import make_plan

    cfg = copy.deepcopy(repo_config)
    cfg["train"]["accelerator"] = "auto"
    explicit_cpu = make_plan(repo_config, base=REPO, gpus_visible=0).ids
    auto_cpu = make_plan(cfg, base=REPO, gpus_visible=0).ids
    auto_gpu = make_plan(cfg, base=REPO, gpus_visible=1).ids
    assert set(auto_gpu).isdisjoint(auto_cpu)
    assert auto_cpu == explicit_cpu


def test_make_plan_ids_depend_on_the_torch_version(repo_config, monkeypatch):
    from snakesweep import plan as plan_mod

    before = plan_mod.make_plan(repo_config, base=REPO, gpus_visible=0).ids
    real = plan_mod._version
    monkeypatch.setattr(plan_mod, "_version", lambda pkg: "0.0.1-test" if pkg == "torch" else real(pkg))
    assert set(plan_mod.make_plan(repo_config, base=REPO, gpus_visible=0).ids).isdisjoint(before)


def test_make_plan_ids_depend_on_the_lightning_version(repo_config, monkeypatch):
    from snakesweep import plan as plan_mod

    before = plan_mod.make_plan(repo_config, base=REPO, gpus_visible=0)
    assert before.context["lightning"] is not None
    real = plan_mod._version
    monkeypatch.setattr(plan_mod, "_version", lambda pkg: "0.0.1-test" if pkg == "lightning" else real(pkg))
    after = plan_mod.make_plan(repo_config, base=REPO, gpus_visible=0)
    assert after.context["lightning"] == "0.0.1-test"
    assert set(after.ids).isdisjoint(before.ids)


def test_auto_accelerator_is_decided_once_and_can_be_set_for_a_login_node():
    from snakesweep import SnakesweepError
    from snakesweep.plan import AUTO_ENV, auto_choice

    assert auto_choice(0) == "cpu" and auto_choice(2) == "gpu"
    assert auto_choice(env={AUTO_ENV: "gpu"}) == "gpu"  # a login node without GPUs, told so
    with pytest.raises(SnakesweepError, match=AUTO_ENV):
        auto_choice(env={AUTO_ENV: "tpu"})


def test_make_plan_of_adaptive_sweeps(repo_config, tmp_path):
    """Adaptive sweeps plan no points upfront, only their extent; W&B logging of hyperband rungs is
    refused before anything trains."""
    from snakesweep.plan import make_plan

    def plan(spec: dict, **sweep):
        path = tmp_path / "sweep.yaml"
        path.write_text(yaml.safe_dump(spec))
        cfg = copy.deepcopy(repo_config)
        cfg["sweep"].update(file=str(path), **sweep)
        return cfg, make_plan(cfg, base=REPO, gpus_visible=0)

    bayes = {"method": "bayes", "parameters": {"learning_rate": {"min": 1e-4, "max": 1e-1}}}
    _, p = plan(bayes, count=30)
    assert p.spec.adaptive and p.points == [] and p.total == 30
    _, p = plan({**bayes, "run_cap": 7}, count=30)
    assert p.total == 7
    grid = {"method": "grid", "early_terminate": {"type": "hyperband", "min_iter": 1},
            "parameters": {"hidden_neurons": {"values": [4, 8, 16]}}}
    cfg, p = plan(grid)
    assert p.spec.adaptive and p.total == 3
    cfg["tracking"]["wandb"]["enabled"] = True
    with pytest.raises(SnakesweepError, match="tracking.wandb.enabled.*hyperband"):
        make_plan(cfg, base=REPO, gpus_visible=0)
