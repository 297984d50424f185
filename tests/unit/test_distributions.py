"""distributions.py: W&B's parameter laws sampled by inverse CDF, its inference and validation, its grid.

The expectations come from W&B's engine (github.com/wandb/sweeps: params.py, config/schema.json,
config/schema.py, grid_search.py); scipy.stats gives the reference laws.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from snakesweep.distributions import DISTRIBUTIONS, Dist, DistributionError, parse_distribution

W = "sweep.file 'config/sweep.yaml': parameters.x"
N = 4000
SEED = 20240607


def parse(body: dict) -> Dist:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the natural-log distributions' deprecation notice
        return parse_distribution(body, W)


def sample(dist: Dist, n: int = N, seed: int = SEED) -> np.ndarray:
    u = np.random.default_rng(seed).random(n)
    return np.array([dist.ppf(float(x)) for x in u], dtype=float)


# --- property-based: bounds, quantisation, positivity, monotonicity -----------------------------------------


def _floats(lo: float, hi: float):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


_Q = st.one_of(st.none(), st.integers(1, 20), _floats(1e-3, 50.0))


@st.composite
def bodies(draw, name: str) -> dict:
    """A valid body for distribution `name`, with parameters over wide but float-safe ranges."""
    body: dict = {"distribution": name}
    if name in ("int_uniform",):
        lo = draw(st.integers(-1000, 1000))
        body.update(min=lo, max=lo + draw(st.integers(1, 1000)))
    elif name in ("uniform", "q_uniform"):
        lo = draw(_floats(-1e4, 1e4))
        body.update(min=lo, max=lo + draw(_floats(1e-3, 1e4)))
    elif name in ("log_uniform", "q_log_uniform", "inv_log_uniform"):
        lo = draw(_floats(-30, 30))
        body.update(min=lo, max=lo + draw(_floats(1e-3, 30)))
    elif name.endswith("_values"):
        lo = draw(_floats(1e-8, 1e4))
        body.update(min=lo, max=lo * math.exp(draw(_floats(1e-3, 20))))
    elif name in ("normal", "q_normal"):
        body.update(mu=draw(_floats(-1e3, 1e3)), sigma=draw(_floats(1e-3, 1e3)))
    elif name in ("log_normal", "q_log_normal"):
        body.update(mu=draw(_floats(-5, 5)), sigma=draw(_floats(1e-2, 3)))
    elif name in ("beta", "q_beta"):
        body.update(a=draw(_floats(0.05, 20)), b=draw(_floats(0.05, 20)))
    if name.startswith("q_"):
        q = draw(_Q)
        if q is not None:
            body["q"] = q
    return body


NUMERIC = [d for d in DISTRIBUTIONS if d not in ("constant", "categorical", "categorical_w_probabilities")]
ORDERED = NUMERIC  # every numeric law here is sampled by a non-decreasing inverse CDF
POSITIVE = ("log_uniform", "log_uniform_values", "inv_log_uniform", "inv_log_uniform_values", "log_normal")
U = st.floats(0.0, 1.0, exclude_max=True)


@pytest.mark.parametrize("name", NUMERIC)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), u1=U, u2=U)
def test_ppf_properties(name, data, u1, u2):
    dist = parse(data.draw(bodies(name)))
    assert dist.distribution == name
    x1, x2 = dist.ppf(u1), dist.ppf(u2)
    lo, hi = dist.support()
    for x in (x1, x2):
        assert math.isfinite(x)
        assert lo <= x <= hi, (x, lo, hi)
        if name.startswith("q_"):
            k = x / dist.q
            assert abs(k - round(k)) <= 1e-9 * max(1.0, abs(k)), (x, dist.q)
            # params.py: `.astype(int)` when q is an int, floats otherwise
            assert isinstance(x, int) == isinstance(dist.q, int)
            assert x >= 0 or name in ("q_uniform", "q_normal")
        if name in POSITIVE:
            assert x > 0
        if name == "int_uniform":
            assert isinstance(x, int)
    if name in ORDERED and u1 <= u2:
        assert x1 <= x2


@pytest.mark.parametrize("name", NUMERIC)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_ppf_ends_are_the_support(name, data):
    """The support is reached: ppf at 0 gives its lower end (or -inf for normal)."""
    dist = parse(data.draw(bodies(name)))
    lo, hi = dist.support()
    low = dist.ppf(0.0)
    if math.isfinite(lo) and name != "q_uniform":  # q_uniform's support also covers its grid, which starts at min
        assert low == lo
    assert dist.ppf(1.0) <= hi


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.one_of(st.integers(), st.text(max_size=3)), min_size=1, max_size=6),
    weights=st.lists(st.integers(0, 5), min_size=6, max_size=6),
    u=U,
)
def test_categorical_ppf_gives_a_value_with_positive_probability(values, weights, u):
    assert parse({"values": values}).ppf(u) in values
    weights = weights[: len(values)]
    if sum(weights) == 0:
        weights[0] = 1
    probs = [w / sum(weights) for w in weights]
    dist = parse({"values": values, "probabilities": probs})
    index = [i for i, v in enumerate(values) if v == dist.ppf(u)]
    assert any(probs[i] > 0 for i in index)


# --- in distribution: 4000 draws against scipy.stats -----------------------------------------------------

CONTINUOUS = [
    ({"min": -2.0, "max": 3.0}, stats.uniform(-2, 5)),
    ({"distribution": "uniform", "min": -2, "max": 3}, stats.uniform(-2, 5)),
    # log_uniform's min/max are natural logs: values between e and e**3
    ({"distribution": "log_uniform", "min": 1, "max": 3}, stats.loguniform(math.e, math.e**3)),
    ({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}, stats.loguniform(1e-4, 1e-1)),
    # params.py: exp(-U), U uniform on [min, max]
    ({"distribution": "inv_log_uniform", "min": 0, "max": 2}, stats.loguniform(math.exp(-2), 1)),
    # log(1/X) uniform on [log(1/max), log(1/min)]: X log-uniform on [min, max], as log_uniform_values
    ({"distribution": "inv_log_uniform_values", "min": 0.01, "max": 1}, stats.loguniform(0.01, 1)),
    ({"distribution": "normal", "mu": 100, "sigma": 10}, stats.norm(100, 10)),
    ({"distribution": "normal"}, stats.norm(0, 1)),
    ({"distribution": "log_normal", "mu": -1, "sigma": 0.5}, stats.lognorm(s=0.5, scale=math.exp(-1))),
    ({"distribution": "log_normal"}, stats.lognorm(s=1)),
    ({"distribution": "beta", "a": 2, "b": 5}, stats.beta(2, 5)),
    ({"distribution": "beta", "a": 0.5, "b": 0.5}, stats.beta(0.5, 0.5)),
    ({"distribution": "beta"}, stats.uniform(0, 1)),
]


@pytest.mark.parametrize(("body", "law"), CONTINUOUS, ids=lambda x: str(x) if isinstance(x, dict) else "")
def test_continuous_laws_match_scipy(body, law):
    dist = parse(body)
    assert stats.kstest(sample(dist), law.cdf).pvalue > 1e-3
    u = (np.arange(200) + 0.5) / 200  # the inverse CDF itself, point by point
    assert np.allclose([dist.ppf(float(x)) for x in u], law.ppf(u), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("body", "wrong"),
    [
        # read as log_uniform_values, min 1 max 3 would give values in [1, 3]
        ({"distribution": "log_uniform", "min": 1, "max": 3}, stats.loguniform(1, 3)),
        # read as log_uniform (natural-log bounds), it would give values near 1
        ({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}, stats.loguniform(math.exp(1e-4),
                                                                                          math.exp(1e-1))),
        # inv_log_uniform is not log_uniform: exp(-U), not exp(U)
        ({"distribution": "inv_log_uniform", "min": 0, "max": 2}, stats.loguniform(1, math.exp(2))),
        # log_normal's sigma is the log's standard deviation, not the value's
        ({"distribution": "log_normal", "mu": 0, "sigma": 1}, stats.norm(0, 1)),
    ],
    ids=["log_uniform", "log_uniform_values", "inv_log_uniform", "log_normal"],
)
def test_the_ks_check_tells_the_laws_apart(body, wrong):
    assert stats.kstest(sample(parse(body)), wrong.cdf).pvalue < 1e-6


QUANTISED = [
    ({"distribution": "q_uniform", "min": 0, "max": 10, "q": 2.5}, stats.uniform(0, 10)),
    ({"distribution": "q_log_uniform", "min": 0, "max": 5, "q": 5}, stats.loguniform(1, math.exp(5))),
    ({"distribution": "q_log_uniform_values", "min": 1, "max": 1000, "q": 10}, stats.loguniform(1, 1000)),
    ({"distribution": "q_normal", "mu": 0, "sigma": 3, "q": 1}, stats.norm(0, 3)),
    ({"distribution": "q_normal"}, stats.norm(0, 1)),
    ({"distribution": "q_log_normal", "mu": 1, "sigma": 0.5, "q": 0.5}, stats.lognorm(s=0.5, scale=math.e)),
    ({"distribution": "q_beta", "a": 2, "b": 2, "q": 0.1}, stats.beta(2, 2)),
]


@pytest.mark.parametrize(("body", "law"), QUANTISED, ids=lambda x: str(x) if isinstance(x, dict) else "")
def test_quantised_laws_are_the_rounded_laws(body, law):
    """round(X / q) * q: P(value <= k q) = F((k + 1/2) q), checked with the KS bound at every k."""
    dist = parse(body)
    q = dist.q
    x = sample(dist)
    k = np.round(x / q)
    assert np.allclose(x, k * q)
    ks = np.arange(k.min(), k.max() + 1)
    empirical = np.array([(k <= j).mean() for j in ks])
    assert np.max(np.abs(empirical - law.cdf((ks + 0.5) * q))) < 1.95 / math.sqrt(N)  # KS at 0.1 %
    # point by point: the rounded scipy inverse CDF, away from exact halves
    u = (np.arange(500) + 0.5) / 500
    ref = law.ppf(u) / q
    clear = np.abs(ref - np.floor(ref) - 0.5) > 1e-6
    ours = np.array([dist.ppf(float(v)) for v in u]) / q
    assert np.array_equal(np.round(ours[clear]), np.round(ref[clear]))


def _chi2_pvalue(draws, values, probabilities) -> float:
    counts = [sum(1 for d in draws if d == v) for v in values]
    return stats.chisquare(counts, [p * len(draws) for p in probabilities]).pvalue


def test_int_uniform_and_categorical_take_equal_shares():
    u = np.random.default_rng(SEED).random(N)
    dist = parse({"min": 4, "max": 9})
    assert _chi2_pvalue([dist.ppf(float(x)) for x in u], range(4, 10), [1 / 6] * 6) > 1e-3
    dist = parse({"values": ["a", "b", "c"]})
    assert _chi2_pvalue([dist.ppf(float(x)) for x in u], "abc", [1 / 3] * 3) > 1e-3


def test_categorical_probabilities_are_followed():
    u = np.random.default_rng(SEED).random(N)
    dist = parse({"values": ["a", "b", "zero", "c"], "probabilities": [0.1, 0.6, 0.0, 0.3]})
    draws = [dist.ppf(float(x)) for x in u]
    assert "zero" not in draws
    assert _chi2_pvalue(draws, "abc", [0.1, 0.6, 0.3]) > 1e-3


def test_quantiles_at_share_boundaries_follow_scipy_randint():
    # params.py uses stats.randint.ppf: u in (k/n, (k+1)/n] gives k; u == 0 gives the first value (not -1)
    dist = parse({"values": ["a", "b"]})
    assert [dist.ppf(u) for u in (0.0, 0.25, 0.5, 0.5000001, 0.99, 1.0)] == ["a", "a", "a", "b", "b", "b"]
    dist = parse({"min": 1, "max": 100})
    assert [dist.ppf(u) for u in (0.0, 0.1, 0.10001, 0.999999)] == [1, 10, 11, 100]
    dist = parse({"values": ["a", "b", "c"], "probabilities": [0.2, 0.3, 0.5]})
    assert [dist.ppf(u) for u in (0.0, 0.2, 0.49, 0.5, 0.9999)] == ["a", "b", "b", "c", "c"]


def test_q_rounds_half_to_even_and_keeps_ints_for_an_integer_q():
    dist = parse({"distribution": "q_uniform", "min": 0, "max": 10, "q": 1})
    assert [dist.ppf(u) for u in (0.25, 0.35, 0.45)] == [2, 4, 4]  # 2.5 -> 2, 3.5 -> 4, 4.5 -> 4 (np.round)
    assert all(type(dist.ppf(u)) is int for u in (0.0, 0.5, 0.99))
    dist = parse({"distribution": "q_uniform", "min": 0, "max": 10, "q": 2})
    assert dist.ppf(0.5) == 4 and type(dist.ppf(0.5)) is int  # 5 / 2 = 2.5 -> 2
    for body in ({"distribution": "q_uniform", "min": 0, "max": 10},  # W&B's default q is 1.0, a float
                 {"distribution": "q_uniform", "min": 0, "max": 10, "q": 2.0}):
        assert type(parse(body).ppf(0.5)) is float
    assert type(parse({"distribution": "q_normal", "q": 1}).ppf(0.9)) is int
    assert parse({"distribution": "q_normal"}).q == 1.0


def test_unbounded_laws_stay_finite_at_the_ends():
    for body in ({"distribution": "normal"}, {"distribution": "log_normal"}, {"distribution": "q_normal"}):
        dist = parse(body)
        assert all(math.isfinite(dist.ppf(u)) for u in (0.0, 1e-300, 0.5, 1 - 2**-53, 1.0))
    assert parse({"distribution": "log_normal"}).ppf(0.0) > 0


@pytest.mark.parametrize("u", [-0.1, 1.5, float("nan")])
def test_ppf_refuses_u_outside_the_unit_interval(u):
    with pytest.raises(ValueError, match="u in"):
        parse({"min": 0.0, "max": 1.0}).ppf(u)


# --- inference and validation ----------------------------------------------------------------------------

INFERRED = [
    ({"values": [3, 1, 2]}, "categorical", {"values": (3, 1, 2)}),
    ({"values": [1, 2], "probabilities": [0.25, 0.75]}, "categorical_w_probabilities",
     {"probabilities": (0.25, 0.75)}),
    ({"distribution": "categorical_w_probabilities", "values": [1, 2], "probabilities": [1, 0]},
     "categorical_w_probabilities", {}),
    ({"value": "adam"}, "constant", {"values": ("adam",)}),
    ({"value": None}, "constant", {"values": (None,)}),
    ({"min": 1, "max": 5}, "int_uniform", {"min": 1, "max": 5}),
    ({"min": 1, "max": 5.0}, "uniform", {"min": 1, "max": 5.0}),
    ({"min": 1.5, "max": 5}, "uniform", {}),
    ({"min": "1e-5", "max": "1e-1"}, "uniform", {"min": 1e-5, "max": 0.1}),  # PyYAML reads 1e-5 as a string
    ({"min": "1", "max": 5}, "uniform", {"min": 1.0}),  # a string is read as a float, so not int_uniform
    ({"distribution": "uniform", "min": 0, "max": 1}, "uniform", {}),
    ({"distribution": "int_uniform", "min": -3, "max": 3}, "int_uniform", {}),
    ({"distribution": "q_uniform", "min": 0, "max": 1}, "q_uniform", {"q": 1.0}),
    ({"distribution": "normal"}, "normal", {"mu": 0.0, "sigma": 1.0}),
    ({"distribution": "q_log_normal", "mu": "-1", "sigma": "0.5", "q": "1e-2"}, "q_log_normal",
     {"mu": -1.0, "sigma": 0.5, "q": 0.01}),
    ({"distribution": "beta"}, "beta", {"a": 1, "b": 1}),
    ({"distribution": "q_beta", "a": 2}, "q_beta", {"a": 2, "b": 1, "q": 1.0}),
    ({"distribution": "log_uniform_values", "min": "1e-5", "max": 0.1}, "log_uniform_values", {"min": 1e-5}),
    ({"values": [1, 2], "probabilities": [0.5, 0.500009]}, "categorical_w_probabilities", {}),  # np.isclose
]


@pytest.mark.parametrize(("body", "name", "fields"), INFERRED, ids=lambda x: str(x) if isinstance(x, dict) else "")
def test_inference_and_defaults_follow_w_and_b(body, name, fields):
    dist = parse(body)
    assert dist.distribution == name
    for key, value in fields.items():
        assert getattr(dist, key) == value and type(getattr(dist, key)) is type(value), key


ERRORS = [
    ({"min": 2, "max": 2}, "min"),  # W&B: `min >= max` is an error
    ({"min": 3.0, "max": 1.0}, "min"),
    ({"distribution": "log_uniform_values", "min": 2, "max": 1}, "min"),
    ({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}, "q"),
    ({"distribution": "q_normal", "q": -1}, "q"),
    ({"distribution": "normal", "sigma": 0}, "sigma"),
    ({"distribution": "log_normal", "sigma": -1}, "sigma"),
    ({"distribution": "beta", "a": 0}, "a"),
    ({"distribution": "q_beta", "b": -1}, "b"),
    ({"values": [1, 2], "probabilities": [0.5, 0.4]}, "probabilities"),
    ({"values": [1, 2], "probabilities": [0.5, 0.50002]}, "probabilities"),
    ({"values": [1, 2, 3], "probabilities": [0.5, 0.5]}, "probabilities"),
    ({"values": [1, 2], "probabilities": [1.5, -0.5]}, "probabilities"),
    ({"values": [1, 2], "probabilities": ["0.5", "0.5"]}, "probabilities"),
    ({"values": [1, 2], "probabilities": [True, False]}, "probabilities"),
    ({"values": [1, 2], "probabilities": 1}, "probabilities"),
    ({"distribution": "categorical", "values": [1, 2], "probabilities": [0.5, 0.5]}, "probabilities"),
    ({"probabilities": [1.0]}, "values"),
    ({"distribution": "gaussian"}, "distribution"),
    ({"distribution": None}, "distribution"),
    ({"distribution": "q_uniform", "min": 0}, "max"),
    ({"distribution": "constant"}, "value"),
    ({"distribution": "categorical"}, "values"),
    ({"min": 0}, "max"),
    ({"max": 0.5}, "min"),
    ({"distribution": "uniform", "min": 0, "max": 1, "mu": 0}, "mu"),
    ({"distribution": "normal", "min": 0}, "min"),
    ({"min": 0, "max": 1, "q": 1}, "q"),  # a quantised law needs an explicit distribution, as in W&B
    ({"mu": 0, "sigma": 1}, "distribution"),  # W&B does not infer normal
    ({"value": 1, "values": [1]}, "value"),
    ({"min": True, "max": 5}, "min"),
    ({"distribution": "normal", "sigma": False}, "sigma"),
    ({"min": 0, "max": "abc"}, "max"),
    ({"min": float("nan"), "max": 1.0}, "min"),
    ({"min": 0.0, "max": float("inf")}, "max"),
    ({"min": "inf", "max": 1.0}, "min"),
    ({"distribution": "int_uniform", "min": 0.0, "max": 3}, "min"),
    ({"distribution": "int_uniform", "min": 0, "max": "3"}, "max"),
    ({"distribution": "log_uniform_values", "min": 0, "max": 1}, "min"),
    ({"distribution": "inv_log_uniform_values", "min": -1, "max": 1}, "min"),
    ({"distribution": "q_log_uniform_values", "min": 0.0, "max": 1}, "min"),
    ({"values": []}, "values"),
    ({"values": "abc"}, "values"),
    ({}, "values"),
    ({"vales": [1, 2]}, "vales"),
    ({"parameters": {"lr": {"value": 1}}}, "parameters"),  # nested parameters are the caller's
    ({"distribution": "log_uniform", "min": 0, "max": 800}, "max"),  # exp(800) overflows
    ({"distribution": "log_uniform", "min": -800, "max": 0}, "min"),  # exp(-800) underflows to 0
    ({"distribution": "log_normal", "mu": 0, "sigma": 200}, "sigma"),
    ({"distribution": "q_normal", "sigma": 1e300, "q": 1e-300}, "q"),
    ({"distribution": "normal", "mu": 1e308, "sigma": 1e308}, "mu"),
]


@pytest.mark.parametrize(("body", "key"), ERRORS, ids=lambda x: str(x) if isinstance(x, dict) else x)
def test_errors_start_with_where_and_name_the_key(body, key):
    with pytest.raises(DistributionError) as err:
        parse(body)
    message = str(err.value)
    assert message.startswith(W + ": ")
    assert f"'{key}'" in message
    assert "\n" not in message


def test_error_messages_say_what_was_found_and_expected():
    def message(body):
        with pytest.raises(DistributionError) as err:
            parse(body)
        return str(err.value)

    assert message({"distribution": "q_uniform", "min": 0, "max": 1, "q": -1}) == f"{W}: 'q' must be > 0, found -1"
    assert "found min 2 >= max 2" in message({"min": 2, "max": 2})
    unknown = message({"distribution": "gaussian"})
    assert "'gaussian'" in unknown and all(name in unknown for name in DISTRIBUTIONS)
    assert "'mu'" in message({"distribution": "uniform", "min": 0, "max": 1, "mu": 0, "sigma": 1})
    assert "boolean" in message({"min": True, "max": 5})
    assert "categorical_w_probabilities" in message({"distribution": "categorical", "values": [1],
                                                     "probabilities": [1]})
    assert "log_uniform_values" in message({"distribution": "log_uniform", "min": 0, "max": 800})
    assert "sum 0.9" in message({"values": [1, 2], "probabilities": [0.5, 0.4]})
    with pytest.raises(DistributionError, match=r"^where: expected a mapping"):
        parse_distribution([1, 2], "where")


def test_natural_log_distributions_warn_as_w_and_b_does():
    for name in ("log_uniform", "q_log_uniform", "inv_log_uniform"):
        with pytest.warns(UserWarning, match="deprecated.*_values"):
            parse_distribution({"distribution": name, "min": -3, "max": 0}, W)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_distribution({"distribution": "log_uniform_values", "min": 1e-3, "max": 1}, W)


# --- grid, finiteness, integers, support ---------------------------------------------------------------


def test_grid_values_as_w_and_b_expands_them():
    assert parse({"min": 4, "max": 6}).grid_values() == (4, 5, 6)
    # grid_search.py: np.arange(min, max, q): from min, without max
    assert parse({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25}).grid_values() == (0.0, 0.25, 0.5, 0.75)
    ints = parse({"distribution": "q_uniform", "min": 0, "max": 10, "q": 2}).grid_values()
    assert ints == (0, 2, 4, 6, 8) and all(type(v) is int for v in ints)
    floats = parse({"distribution": "q_uniform", "min": 0, "max": 3}).grid_values()  # default q 1.0
    assert floats == (0.0, 1.0, 2.0) and all(type(v) is float for v in floats)
    assert parse({"distribution": "q_uniform", "min": 0.05, "max": 0.3, "q": 0.1}).grid_values() == (
        0.05, 0.15000000000000002, 0.25000000000000006)
    assert parse({"values": ["c", "a", "b"]}).grid_values() == ("c", "a", "b")
    assert parse({"value": [1, 2]}).grid_values() == ([1, 2],)


@pytest.mark.parametrize("body", [
    {"min": 0.0, "max": 1.0},
    {"distribution": "normal"},
    {"distribution": "q_normal"},
    {"distribution": "log_uniform_values", "min": 1e-3, "max": 1},
    {"distribution": "q_log_uniform_values", "min": 1, "max": 100},
    {"distribution": "q_beta"},
], ids=str)
def test_grid_refuses_continuous_distributions(body):
    dist = parse(body)
    assert not dist.finite
    with pytest.raises(DistributionError, match=r"^sweep\.file .*grid search needs 'values'"):
        dist.grid_values()


def test_grid_refuses_probabilities():
    dist = parse({"values": [1, 2], "probabilities": [0.5, 0.5]})
    assert not dist.finite  # finite means: W&B's grid takes it
    with pytest.raises(DistributionError, match="'probabilities'"):
        dist.grid_values()


@settings(max_examples=150, deadline=None)
@given(
    lo=st.one_of(st.integers(-50, 50), _floats(-50, 50)),
    width=st.one_of(st.integers(1, 50), _floats(1e-2, 50)),
    q=st.one_of(st.integers(1, 10), _floats(0.05, 10)),
)
def test_q_uniform_grid_is_numpy_arange(lo, width, q):
    dist = parse({"distribution": "q_uniform", "min": lo, "max": lo + width, "q": q})
    grid = dist.grid_values()
    expected = tuple(np.arange(lo, lo + width, q).tolist())
    assert grid == expected and [type(v) for v in grid] == [type(v) for v in expected]
    low, high = dist.support()
    assert low <= min(grid) and max(grid) <= high
    assert dist.finite


def test_finite_integer_valued_and_support():
    cases = [
        ({"value": 3}, True, True, None),
        ({"value": "adam"}, True, False, None),
        ({"values": [1, 2.0, 4]}, True, True, None),
        ({"values": [1, 2.5]}, True, False, None),
        ({"values": [True, 1]}, True, False, None),
        ({"values": [1, 2], "probabilities": [0.5, 0.5]}, False, True, None),
        ({"min": 4, "max": 6}, True, True, (4, 6)),
        ({"min": 4, "max": 6.0}, False, False, (4.0, 6.0)),
        ({"distribution": "q_uniform", "min": 0, "max": 10, "q": 2}, True, True, (0, 10)),
        ({"distribution": "q_uniform", "min": 0, "max": 10, "q": 2.0}, True, True, (0.0, 10.0)),
        ({"distribution": "q_uniform", "min": 0.5, "max": 10, "q": 2}, True, False, (0, 10)),  # grid from 0.5
        ({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25}, True, False, (0.0, 1.0)),
        ({"distribution": "q_uniform", "min": 0.09, "max": 1, "q": 0.1}, True, False, (0.09, 1.0)),
        ({"distribution": "q_log_uniform_values", "min": 1, "max": 100, "q": 3}, False, True, (0, 99)),
        ({"distribution": "q_normal", "q": 5}, False, True, (-math.inf, math.inf)),
        ({"distribution": "normal", "mu": 1}, False, False, (-math.inf, math.inf)),
        ({"distribution": "log_uniform_values", "min": 1e-4, "max": 0.1}, False, False, (1e-4, 0.1)),
        ({"distribution": "log_uniform", "min": 0, "max": 1}, False, False, (1.0, math.e)),
        ({"distribution": "inv_log_uniform", "min": 0, "max": 1}, False, False, (math.exp(-1), 1.0)),
        ({"distribution": "inv_log_uniform_values", "min": 2, "max": 8}, False, False, (2.0, 8.0)),
        ({"distribution": "beta"}, False, False, (0.0, 1.0)),
        ({"distribution": "q_beta", "q": 0.5}, False, False, (0.0, 1.0)),
        ({"distribution": "q_beta", "q": 1}, False, True, (0, 1)),
    ]
    for body, finite, integer_valued, support in cases:
        dist = parse(body)
        assert dist.finite is finite, body
        assert dist.integer_valued is integer_valued, body
        if support is None or math.isinf(support[0]):
            assert dist.support() == support, body
        else:
            assert dist.support() == pytest.approx(support), body
    lo, hi = parse({"distribution": "log_normal", "mu": 0, "sigma": 1}).support()
    assert 0 < lo < 1e-3 and hi == math.inf  # the smallest value the clamped quantile gives, > 0


def test_dist_survives_a_rebuild_from_its_fields():
    # sweep.py rebuilds a Dist from its __dict__ with coerced values
    for body in ({"values": [1, 2], "probabilities": [0.25, 0.75]}, {"distribution": "q_normal", "q": 2}):
        dist = parse(body)
        again = Dist(**{**dist.__dict__})
        assert again == dist and again.ppf(0.3) == dist.ppf(0.3)
    weighted = Dist(distribution="categorical_w_probabilities", values=(1.0, 2.0), probabilities=(0.25, 0.75))
    assert weighted.ppf(0.2) == 1.0 and weighted.ppf(0.3) == 2.0


def test_importing_the_module_loads_neither_numpy_nor_scipy():
    code = ("import sys, snakesweep.distributions as d; "
            "d.parse_distribution({'distribution': 'normal'}, 'w').ppf(0.3); "
            "print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
