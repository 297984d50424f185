"""One W&B sweep parameter: its distribution, read and validated as W&B's sweep engine does, and sampled by
inverse CDF from one uniform number.

This follows W&B's engine, github.com/wandb/sweeps (src/sweeps/params.py for the laws,
src/sweeps/config/schema.json and config/schema.py for inference, defaults and validation,
grid_search.py for grid expansion), not only its documentation:

- Inference without `distribution` is the first schema in schema.json's `parameter.anyOf` that matches:
  `values` + `probabilities` -> categorical_w_probabilities, `values` -> categorical, `min`/`max` both
  integers -> int_uniform, otherwise (a float among them) -> uniform, `value` -> constant. Nothing else is
  inferred: `mu`/`sigma` without `distribution: normal` is an invalid parameter in W&B too.
- Defaults (schema.json): q 1.0; mu 0 and sigma 1 (normal, log_normal, q_normal, q_log_normal); a 1 and
  b 1 (beta, q_beta).
- `min >= max` is an error (config/schema.py validate_min_max), so min == max is refused.
- Probabilities must have the length of `values`, be >= 0 and sum to 1 as `np.isclose(sum, 1.0)` sees it:
  within 1e-8 + 1e-5 (config/schema.py validate_categorical_prob).
- q_ distributions return `np.round(x / q) * q` (round half to even), as ints when q is a Python int
  (params.py: `if isinstance(q, int): ret_val.astype(int)`); q's default 1.0 is a float, so values stay
  floats unless q is written as an integer.
- Grid (grid_search.py) accepts only constant, categorical without probabilities, int_uniform (expanded as
  `range(min, max + 1)`) and q_uniform (expanded as `np.arange(min, max, q)`: from min, not from a multiple
  of q, and without max).

Where W&B's documentation and its engine disagree, this module follows the engine:

- The docs list neither beta nor q_beta; the engine has both (`a`, `b`, default 1).
- The docs say `uniform` "must specify max and min as floats"; with an explicit `distribution: uniform` the
  engine takes integer bounds too (only inference needs a float).
- The docs show `probabilities` without a `distribution`; `distribution: categorical` next to
  `probabilities` matches no schema in the engine (its name for that is categorical_w_probabilities).
- The docs present log_uniform, q_log_uniform and inv_log_uniform (natural-log bounds) as current; the
  engine's validator reports them as deprecated in favour of the *_values forms (a warning here too).
- The docs give q's default as 1; the engine fills 1.0, so q_ values are floats unless q is an integer.
- The docs say grid takes `values`/`value`; the engine also expands int_uniform and q_uniform, and q_uniform's
  grid (np.arange) differs from its random draws (multiples of q, max included).
- inv_log_uniform_values is documented as "log(1/X) uniform between log(1/max) and log(1/min)", i.e. X is
  log-uniform on [min, max]: the same law as log_uniform_values (the engine agrees).

We are stricter than the engine where it would return NaN, inf or out-of-range values: sigma, a and b must be
> 0 (the schema allows 0), sampled values must be finite, and u == 0 maps to the first category / min (the
engine's scipy randint.ppf(0) gives index -1 and min - 1). Numbers written as strings ("1e-5": PyYAML reads
it as a string) are accepted for min/max/mu/sigma/q/a/b, where W&B fails on them.

The module imports only the standard library; scipy is imported on first use of a beta distribution.
"""

from __future__ import annotations

import bisect
import functools
import math
import statistics
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any


class DistributionError(ValueError):
    """A sweep parameter that W&B's engine would refuse (or that could not give finite values)."""


# W&B's distribution names, each with its required keys and the defaults schema.json fills in.
_SPEC: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "constant": (("value",), {}),
    "categorical": (("values",), {}),
    "categorical_w_probabilities": (("values", "probabilities"), {}),
    "int_uniform": (("min", "max"), {}),
    "uniform": (("min", "max"), {}),
    "q_uniform": (("min", "max"), {"q": 1.0}),
    "log_uniform": (("min", "max"), {}),
    "log_uniform_values": (("min", "max"), {}),
    "q_log_uniform": (("min", "max"), {"q": 1.0}),
    "q_log_uniform_values": (("min", "max"), {"q": 1.0}),
    "inv_log_uniform": (("min", "max"), {}),
    "inv_log_uniform_values": (("min", "max"), {}),
    "normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_normal": ((), {"mu": 0, "sigma": 1, "q": 1.0}),
    "log_normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_log_normal": ((), {"mu": 0, "sigma": 1, "q": 1.0}),
    "beta": ((), {"a": 1, "b": 1}),
    "q_beta": ((), {"a": 1, "b": 1, "q": 1.0}),
}
DISTRIBUTIONS = tuple(_SPEC)
KEYS = ("distribution", "values", "value", "probabilities", "min", "max", "mu", "sigma", "q", "a", "b")
_NUMERIC_KEYS = ("min", "max", "mu", "sigma", "q", "a", "b")
_CATEGORICAL = ("constant", "categorical", "categorical_w_probabilities")
_GRID = ("constant", "categorical", "int_uniform", "q_uniform")  # grid_search.py's allowed types
_UNBOUNDED = ("normal", "q_normal", "log_normal", "q_log_normal")
_POSITIVE = ("log_uniform", "log_uniform_values", "inv_log_uniform", "inv_log_uniform_values", "log_normal")
_VALUE_BOUNDS = ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values")
_DEPRECATED = {"log_uniform": "log_uniform_values", "q_log_uniform": "q_log_uniform_values",
               "inv_log_uniform": "inv_log_uniform_values"}

# The unbounded laws (and beta) are evaluated at u clamped into [2**-53, 1 - 2**-53], so a value is always
# finite (about +-8.2 sigma); 2**-53 is also the smallest non-zero number random.random() returns.
_TINY = 2.0**-53
# np.isclose(sum, 1.0) with its default tolerances, as validate_categorical_prob uses it.
_PROB_ATOL, _PROB_RTOL = 1e-8, 1e-5
_NORMAL = statistics.NormalDist()


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _quantize(x: float, q: float) -> float | int:
    # params.py: `np.round(r / q) * q`, then `.astype(int)` if q is an int. Python's round() also rounds
    # half to even, and int * int stays an int, so an integer q gives ints as in W&B.
    k = x / q
    if not math.isfinite(k):
        return k
    return round(k) * q


def _arange_item(start, step, i: int):
    # np.arange writes start, then start + step, then fills start + i * delta with
    # delta = (start + step) - start (numpy's fill); tests compare this with np.arange itself.
    if i == 0:
        return start
    if i == 1:
        return start + step
    return start + i * ((start + step) - start)


def _arange_steps(start, stop, step) -> tuple[Any, Any, int]:
    """np.arange's arguments and length: ints if all three are ints, else floats; ceil((stop - start) / step)."""
    if not all(isinstance(v, int) for v in (start, stop, step)):
        start, stop, step = float(start), float(stop), float(step)
    return start, step, max(0, math.ceil((stop - start) / step))


def _arange(start, stop, step) -> tuple:
    """np.arange(start, stop, step).tolist() without numpy."""
    start, step, n = _arange_steps(start, stop, step)
    return tuple(_arange_item(start, step, i) for i in range(n))


def _arange_last(start, stop, step):
    start, step, n = _arange_steps(start, stop, step)
    return _arange_item(start, step, n - 1)


def _share(u: float, n: int) -> int:
    """Which of n equal shares of [0, 1] holds u: k for u in (k/n, (k+1)/n] as scipy's randint.ppf, 0 for u == 0."""
    k = min(max(math.ceil(u * n) - 1, 0), n - 1)
    if k > 0 and k / n >= u:  # u * n rounded up past an integer
        k -= 1
    return k


def _whole(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, Integral):
        return True
    return isinstance(v, Real) and math.isfinite(v) and float(v).is_integer()


@functools.lru_cache(maxsize=256)
def _cumulative(probabilities: tuple) -> tuple[tuple[float, ...], int]:
    """Cumulative probabilities scaled to end at exactly 1.0, and the index of the last positive one."""
    total, running, cum = sum(probabilities), 0.0, []
    for p in probabilities:
        running += p
        cum.append(running / total)
    cum[-1] = 1.0
    last = max(i for i, p in enumerate(probabilities) if p > 0)
    return tuple(cum), last


@dataclass(frozen=True)
class Dist:
    """One parameter's distribution, with W&B's name (after inference) and its keys (defaults filled in)."""

    distribution: str
    values: tuple = ()  # constant: its one value; categorical: the values as written
    probabilities: tuple | None = None  # categorical_w_probabilities only
    min: float | None = None
    max: float | None = None
    mu: float | None = None
    sigma: float | None = None
    q: float | None = None  # an int stays an int: q_ distributions then give ints, as in W&B
    a: float | None = None
    b: float | None = None
    where: str = ""  # names the parameter in error messages

    # --- sampling ---------------------------------------------------------------------------------

    def ppf(self, u: float):
        """The value at quantile `u` in [0, 1) (1 is accepted): the inverse CDF of W&B's law, so a uniform `u`
        gives a value with the parameter's distribution. int_uniform and q_ with an integer q give ints."""
        if not 0.0 <= u <= 1.0:
            raise ValueError(f"{self._where}: ppf needs u in [0, 1], found {u!r}")
        d = self.distribution
        if d == "constant":
            return self.values[0]
        if d == "categorical":
            # Equal shares: params.py's stats.randint.ppf gives k for u in (k/n, (k+1)/n], and -1 (the last
            # value) for u == 0, which here gives the first value instead.
            return self.values[_share(u, len(self.values))]
        if d == "categorical_w_probabilities":
            # params.py: the first value whose cumulative probability exceeds u; zero-probability values
            # are never chosen.
            cum, last = _cumulative(tuple(self.probabilities))
            return self.values[min(bisect.bisect_right(cum, u), last)]
        if d == "int_uniform":
            # params.py: stats.randint.ppf(u, min, max + 1), whose u == 0 gives min - 1; here min.
            return self.min + _share(u, self.max - self.min + 1)
        if d in _UNBOUNDED:
            z = _NORMAL.inv_cdf(min(max(u, _TINY), 1.0 - _TINY))
            x = self.mu + self.sigma * z
            if d in ("log_normal", "q_log_normal"):
                x = _exp(x)  # scipy's lognorm(s=sigma, scale=exp(mu)), as params.py uses it
            return _quantize(x, self.q) if d.startswith("q_") else x
        if d in ("beta", "q_beta"):
            from scipy.special import betaincinv  # imported here so that importing this module stays fast

            # betaincinv gives NaN for u far below 2**-53 (its root finding gives up), so u is clamped as for
            # the unbounded laws; the ends 0 and 1 stay exact.
            x = float(u) if u in (0.0, 1.0) else float(betaincinv(self.a, self.b, min(max(u, _TINY), 1.0 - _TINY)))
            return _quantize(x, self.q) if d == "q_beta" else x
        lo, hi = self._continuous_bounds()
        if d in ("uniform", "q_uniform"):
            x = self._between(float(self.min), float(self.max), u)
        elif d in ("log_uniform", "q_log_uniform"):
            x = _exp(self._between(float(self.min), float(self.max), u))
        elif d == "inv_log_uniform":
            # params.py: exp(-U) with U uniform on [min, max], evaluated at 1 - u so it increases with u.
            x = _exp(-self._between(float(self.min), float(self.max), 1.0 - u))
        else:
            # log_uniform_values, q_log_uniform_values and inv_log_uniform_values: params.py computes the
            # last as exp(-U), U uniform on [-log(max), -log(min)] at 1 - u, which is the same expression.
            x = _exp(self._between(math.log(self.min), math.log(self.max), u))
        # The bounds are the law's own; clamping only removes last-bit rounding outside them, and the ends are
        # exact (exp(log(min)) can miss min by one bit).
        x = lo if u == 0.0 else hi if u == 1.0 else min(max(x, lo), hi)
        return _quantize(x, self.q) if d.startswith("q_") else x

    @staticmethod
    def _between(lo: float, hi: float, u: float) -> float:
        span = hi - lo
        if math.isfinite(span):
            return lo + u * span  # scipy's uniform.ppf(u, lo, span), as params.py uses it
        return lo * (1.0 - u) + hi * u  # bounds near the float limits: the span itself overflows

    def _continuous_bounds(self) -> tuple[float, float]:
        """The smallest and largest value of a bounded law before quantisation."""
        d = self.distribution
        if d in ("uniform", "q_uniform"):
            return float(self.min), float(self.max)
        if d in ("log_uniform", "q_log_uniform"):
            return _exp(self.min), _exp(self.max)
        if d == "inv_log_uniform":
            return _exp(-self.max), _exp(-self.min)
        if d in _VALUE_BOUNDS:
            return float(self.min), float(self.max)
        raise AssertionError(d)

    # --- what it can give -------------------------------------------------------------------------

    def grid_values(self) -> tuple:
        """The values W&B's grid search takes, in its order; DistributionError where grid refuses the
        distribution."""
        d = self.distribution
        if d == "constant":
            return (self.values[0],)
        if d == "categorical":
            return tuple(self.values)
        if d == "int_uniform":
            return tuple(range(self.min, self.max + 1))
        if d == "q_uniform":
            # grid_search.py: np.arange(min, max, q).tolist(): from min, max excluded, floats unless all ints.
            return _arange(self.min, self.max, self.q)
        if d == "categorical_w_probabilities":
            raise DistributionError(f"{self._where}: grid search takes no 'probabilities' (W&B's grid refuses "
                                    "weighted values); drop 'probabilities', or use method random or bayes")
        raise DistributionError(f"{self._where}: grid search needs 'values' (or 'value', int_uniform or "
                                f"q_uniform); distribution '{d}' has no finite list of values")

    @property
    def finite(self) -> bool:
        """Whether W&B's grid search takes it: constant, categorical without probabilities, int_uniform,
        q_uniform. (Weighted categorical values are finite too, but grid refuses them.)"""
        return self.distribution in _GRID

    @property
    def integer_valued(self) -> bool:
        """Whether every value it gives, drawn or from the grid, is a whole number (possibly a float such as
        4.0, where W&B returns floats because q is a float)."""
        d = self.distribution
        if d in _CATEGORICAL:
            return all(_whole(v) for v in self.values)
        if d == "int_uniform":
            return True
        if d == "q_uniform":
            return _whole(self.q) and _whole(self.min)  # the grid starts at min, not at a multiple of q
        if d.startswith("q_"):
            return _whole(self.q)
        return False

    def support(self) -> tuple[float, float] | None:
        """The smallest and largest value it can give (from ppf, or from the grid for q_uniform), to check
        against a hyperparameter's range; -inf/inf where the law is unbounded on that side (normal, and the
        upper end of log_normal). None for constant and categorical values, which are checked one by one."""
        d = self.distribution
        if d in _CATEGORICAL:
            return None
        if d == "int_uniform":
            return self.min, self.max
        if d in ("normal", "q_normal"):
            return -math.inf, math.inf
        if d in ("log_normal", "q_log_normal"):
            return self.ppf(0.0), math.inf  # exp at the clamped lower end: > 0 (or 0 once rounded to q)
        if d in ("beta", "q_beta"):
            return (_quantize(0.0, self.q), _quantize(1.0, self.q)) if d == "q_beta" else (0.0, 1.0)
        lo, hi = self._continuous_bounds()
        if d.startswith("q_"):
            lo, hi = _quantize(lo, self.q), _quantize(hi, self.q)
            if d == "q_uniform":
                lo, hi = min(lo, self.min), max(hi, _arange_last(self.min, self.max, self.q))
        return lo, hi

    @property
    def _where(self) -> str:
        return self.where or "sweep parameter"


# --- parsing ------------------------------------------------------------------------------------------


def _number(body: dict, key: str, where: str) -> int | float:
    raw = body[key]
    if isinstance(raw, bool):
        raise DistributionError(f"{where}: '{key}' must be a number, found {raw!r} (a boolean)")
    if isinstance(raw, Integral):
        return int(raw)
    if isinstance(raw, Real | str):
        try:
            value = float(raw)  # a string: PyYAML reads 1e-5 (no dot) as one
        except ValueError:
            value = None
        if value is not None and math.isfinite(value):
            return value
    raise DistributionError(f"{where}: '{key}' must be a finite number, found {raw!r}")


def _infer(body: dict, where: str) -> str:
    """W&B's choice when `distribution` is absent: the first schema of schema.json's anyOf that matches."""
    if "values" in body:
        return "categorical_w_probabilities" if "probabilities" in body else "categorical"
    if "value" in body:
        return "constant"
    if "probabilities" in body:
        raise DistributionError(f"{where}: 'probabilities' needs 'values' (one probability per value)")
    if "min" in body or "max" in body:
        for key in ("min", "max"):
            if key not in body:
                raise DistributionError(f"{where}: '{key}' is missing (a range needs both 'min' and 'max')")
        # Both Python ints (not bools, not strings) -> int_uniform; a float (or a string such as "1e-5") -> uniform.
        ints = all(isinstance(body[k], Integral) and not isinstance(body[k], bool) for k in ("min", "max"))
        return "int_uniform" if ints else "uniform"
    if not body:
        raise DistributionError(f"{where}: empty parameter; give 'values', 'value', 'min' and 'max', or a "
                                "'distribution'")
    found = ", ".join(f"'{k}'" for k in body)
    raise DistributionError(f"{where}: 'distribution' is missing, and W&B infers one only from 'values', 'value' "
                            f"or 'min'/'max'; found {found} (add e.g. 'distribution: normal')")


def parse_distribution(body: dict, where: str) -> Dist:
    """One parameter's body (`parameters.<name>` of a W&B sweep configuration, without nested `parameters`),
    inferred, defaulted and validated as W&B's engine does; `where` starts every error message."""
    if not isinstance(body, dict):
        raise DistributionError(f"{where}: expected a mapping with 'values', 'value', 'min'/'max' or a "
                                f"'distribution', found {body!r}")
    unknown = [k for k in body if k not in KEYS]
    if unknown:
        raise DistributionError(f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)}; a parameter takes "
                                f"{', '.join(KEYS)}")
    if "distribution" in body:
        name = body["distribution"]
        if not isinstance(name, str) or name not in _SPEC:
            raise DistributionError(f"{where}: unknown 'distribution' {name!r}; W&B's are: {', '.join(DISTRIBUTIONS)}")
        how = f"distribution '{name}'"
    else:
        name = _infer(body, where)
        how = f"distribution '{name}' (inferred from the keys given)"
    required, defaults = _SPEC[name]
    for key in required:
        if key not in body:
            raise DistributionError(f"{where}: {how} needs '{key}'")
    allowed = {"distribution", *required, *defaults}
    stray = [k for k in body if k not in allowed]
    if stray:
        takes = ", ".join(f"'{k}'" for k in (*required, *defaults)) or "nothing else"
        hint = ""
        if name == "categorical" and "probabilities" in stray:
            hint = " (W&B calls weighted values 'categorical_w_probabilities'; or leave 'distribution' out)"
        elif "distribution" not in body:
            hint = " (give 'distribution' for another law, e.g. q_uniform or normal)"
        raise DistributionError(f"{where}: {', '.join(repr(k) for k in stray)} does not belong to {how}, which "
                                f"takes {takes}{hint}")

    fields: dict[str, Any] = {"distribution": name, "where": where}
    if name == "constant":
        fields["values"] = (body["value"],)
    elif name in _CATEGORICAL:
        fields.update(_categorical(body, where))
    else:
        nums = {**defaults, **{k: _number(body, k, where) for k in _NUMERIC_KEYS if k in body}}
        _check_numbers(name, nums, where)
        fields.update(nums)
    dist = Dist(**fields)
    if name not in _CATEGORICAL:
        _check_finite(dist, where)
    if name in _DEPRECATED:
        span = "exp(-max) and exp(-min)" if name.startswith("inv_") else "exp(min) and exp(max)"
        warnings.warn(f"{where}: distribution '{name}' takes natural-log bounds (its values lie between "
                      f"{span}); W&B reports it as deprecated: use '{_DEPRECATED[name]}' to give "
                      "the values' own bounds", UserWarning, stacklevel=2)
    return dist


def _categorical(body: dict, where: str) -> dict:
    values = body["values"]
    if not isinstance(values, list | tuple) or not values:
        raise DistributionError(f"{where}: 'values' must be a non-empty list, found {values!r}")
    if "probabilities" not in body:
        return {"values": tuple(values)}
    probs = body["probabilities"]
    if not isinstance(probs, list | tuple):
        raise DistributionError(f"{where}: 'probabilities' must be a list of numbers, found {probs!r}")
    if len(probs) != len(values):
        raise DistributionError(f"{where}: 'probabilities' has {len(probs)} entries and 'values' {len(values)}; "
                                "they must be the same length")
    for p in probs:
        if isinstance(p, bool) or not isinstance(p, Real) or not math.isfinite(p) or p < 0:
            kind = " (a string)" if isinstance(p, str) else " (a boolean)" if isinstance(p, bool) else ""
            raise DistributionError(f"{where}: 'probabilities' must be numbers >= 0, found {p!r}{kind}")
    total = sum(probs)
    if not abs(total - 1.0) <= _PROB_ATOL + _PROB_RTOL:
        raise DistributionError(f"{where}: 'probabilities' must sum to 1, found sum {total!r}")
    return {"values": tuple(values), "probabilities": tuple(float(p) for p in probs)}


def _check_numbers(name: str, nums: dict, where: str) -> None:
    if name == "int_uniform":
        for key in ("min", "max"):
            if not isinstance(nums[key], int):
                raise DistributionError(f"{where}: '{key}' must be an integer for int_uniform, found {nums[key]!r} "
                                        "(use distribution uniform for a real range)")
    if "min" in nums and nums["min"] >= nums["max"]:  # W&B's validate_min_max: `min >= max` is an error
        raise DistributionError(f"{where}: 'min' must be less than 'max', found min {nums['min']!r} >= "
                                f"max {nums['max']!r}")
    if name in _VALUE_BOUNDS and not nums["min"] > 0:
        raise DistributionError(f"{where}: 'min' must be > 0 for {name} (its values are log-scaled), found "
                                f"{nums['min']!r}")
    for key in ("sigma", "q", "a", "b"):
        if key in nums and not nums[key] > 0:
            raise DistributionError(f"{where}: '{key}' must be > 0, found {nums[key]!r}")


def _check_finite(dist: Dist, where: str) -> None:
    """Refuse parameters whose values leave floating point: exp overflowing to inf or underflowing to 0,
    or x / q overflowing. Every numeric law here is monotone, so its two ends tell."""
    ends = (dist.ppf(0.0), dist.ppf(1.0))
    positive = dist.distribution in _POSITIVE
    # q_uniform's grid counts (max - min) / q steps, which must be a finite number too.
    steps = (dist.max - dist.min) / dist.q if dist.distribution == "q_uniform" else 0.0
    if math.isfinite(steps) and all(math.isfinite(v) and (v > 0 or not positive) for v in ends):
        return
    keys = [k for k in _NUMERIC_KEYS if getattr(dist, k) is not None]
    given = ", ".join(f"{k} {getattr(dist, k)!r}" for k in keys)
    hint = ""
    if dist.distribution in _DEPRECATED:
        hint = f" ('{dist.distribution}' takes natural-log bounds; did you mean '{_DEPRECATED[dist.distribution]}'?)"
    raise DistributionError(f"{where}: {', '.join(repr(k) for k in keys)} give values beyond floating point for "
                            f"distribution '{dist.distribution}' ({given}: values from {ends[0]!r} to "
                            f"{ends[1]!r}){hint}")
