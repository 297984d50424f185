"""W&B sweep configurations, expanded into a fixed, seeded table of points.

A W&B sweep needs the W&B server even offline; here the same file is expanded locally and
deterministically, so a sweep can be rerun, resumed and extended without a server.

Random draws are not taken from a shared random stream: each value is a hash of (seed, draw index,
parameter name). Raising `count` therefore keeps every earlier point, and adding a parameter to the
spec leaves the draws of the others unchanged.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import SnakesweepError
from .hparams import HPARAMS, check_point, coerce, effective
from .io import load_yaml

METHODS = ("grid", "random")
LATER_METHODS = ("bayes",)
METRICS = {"val_loss": "minimize", "val_roc_auc": "maximize", "train_loss": "minimize"}
SPEC_KEYS = {"method", "metric", "parameters", "name", "description", "program", "command", "project",
             "entity", "run_cap", "early_terminate"}
PARAM_KEYS = {"values", "value", "distribution", "min", "max", "mu", "sigma", "q", "probabilities",
              "parameters"}
DISTRIBUTIONS = ("constant", "categorical", "int_uniform", "uniform", "log_uniform_values")
LATER_DISTRIBUTIONS = ("q_uniform", "log_uniform", "q_log_uniform", "q_log_uniform_values",
                       "inv_log_uniform", "inv_log_uniform_values", "normal", "q_normal", "log_normal",
                       "q_log_normal", "beta", "q_beta")
SIGNIFICANT_DIGITS = 6
MAX_DRAWS_PER_POINT = 200


@dataclass(frozen=True)
class Param:
    name: str
    distribution: str
    values: tuple = ()
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Spec:
    method: str
    metric: str
    goal: str
    params: tuple[Param, ...]
    name: str
    run_cap: int | None

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]


def load_spec(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise SnakesweepError(f"sweep.file: sweep configuration '{path}' {what}; expected a YAML file")
    spec = load_yaml(path, "sweep.file")
    if not isinstance(spec, dict):
        raise SnakesweepError(f"sweep.file: '{path}' must hold a mapping (a W&B sweep configuration), "
                              f"found {type(spec).__name__}")
    return spec


def _number(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SnakesweepError(f"{where}: '{key}' must be a number, found {value!r}")
    try:
        out = float(value)
    except ValueError:
        raise SnakesweepError(f"{where}: '{key}' must be a number, found {value!r}") from None
    if not math.isfinite(out):
        raise SnakesweepError(f"{where}: '{key}' must be finite, found {value!r}")
    return out


def _parse_param(name: str, body: Any, source: str) -> Param:
    where = f"{source}: parameters.{name}"
    if name not in HPARAMS:
        raise SnakesweepError(f"{where}: unknown hyperparameter '{name}'; expected one of: {', '.join(HPARAMS)}")
    if not isinstance(body, dict):
        raise SnakesweepError(f"{where}: expected a mapping with 'values', 'value' or 'min'/'max', found {body!r}")
    unknown = set(body) - PARAM_KEYS
    if unknown:
        raise SnakesweepError(f"{where}: unknown key(s) {sorted(unknown)}; expected some of {sorted(PARAM_KEYS)}")
    if "parameters" in body:
        raise SnakesweepError(f"{where}: nested 'parameters' are not supported yet")
    dist = body.get("distribution")
    if dist is not None and dist not in DISTRIBUTIONS:
        if dist in LATER_DISTRIBUTIONS:
            raise SnakesweepError(f"{where}: distribution '{dist}' is not supported yet; supported: "
                                  f"{', '.join(DISTRIBUTIONS)}")
        raise SnakesweepError(f"{where}: unknown distribution '{dist}'; expected one of: "
                              f"{', '.join(DISTRIBUTIONS + LATER_DISTRIBUTIONS)}")
    if "probabilities" in body:
        raise SnakesweepError(f"{where}: 'probabilities' are not supported yet")
    if "value" in body:
        if dist not in (None, "constant"):
            raise SnakesweepError(f"{where}: 'value' goes with distribution 'constant', found '{dist}'")
        return Param(name, "constant", values=(coerce(name, body["value"], where),))
    if "values" in body:
        values = body["values"]
        if dist not in (None, "categorical"):
            raise SnakesweepError(f"{where}: 'values' goes with distribution 'categorical', found '{dist}'")
        if not isinstance(values, list) or not values:
            raise SnakesweepError(f"{where}: 'values' must be a non-empty list, found {values!r}")
        coerced = []
        for v in values:
            c = coerce(name, v, where)
            if c not in coerced:
                coerced.append(c)
        return Param(name, "categorical", values=tuple(coerced))
    if dist in ("constant", "categorical"):
        key = "value" if dist == "constant" else "values"
        raise SnakesweepError(f"{where}: distribution '{dist}' needs '{key}', found keys {sorted(body)}")
    if "min" not in body or "max" not in body:
        raise SnakesweepError(f"{where}: expected 'values', 'value', or both 'min' and 'max'; found keys "
                              f"{sorted(body)}")
    raw_lo, raw_hi = body["min"], body["max"]
    lo, hi = _number(where, "min", raw_lo), _number(where, "max", raw_hi)
    if dist is None:
        both_int = all(isinstance(v, int) and not isinstance(v, bool) for v in (raw_lo, raw_hi))
        dist = "int_uniform" if both_int else "uniform"
    if lo > hi:
        raise SnakesweepError(f"{where}: 'min' ({raw_lo}) is greater than 'max' ({raw_hi})")
    if not HPARAMS[name].continuous:
        raise SnakesweepError(f"{where}: '{name}' takes one of {list(HPARAMS[name].choices or ())}: "
                              f"use 'values', not a '{dist}' distribution")
    if dist == "log_uniform_values" and lo <= 0:
        raise SnakesweepError(f"{where}: log_uniform_values needs 'min' > 0, found {raw_lo}")
    if dist == "int_uniform" and (lo != int(lo) or hi != int(hi)):
        raise SnakesweepError(f"{where}: int_uniform needs integer 'min' and 'max', found {raw_lo}, {raw_hi}")
    if HPARAMS[name].kind == "int" and dist != "int_uniform":
        raise SnakesweepError(f"{where}: '{name}' is an integer: give integer 'min' and 'max' "
                              f"(int_uniform), found {raw_lo}, {raw_hi} ({dist})")
    # Both ends must be valid values of the parameter (e.g. learning_rate > 0).
    coerce(name, int(lo) if dist == "int_uniform" else lo, where + ".min")
    coerce(name, int(hi) if dist == "int_uniform" else hi, where + ".max")
    return Param(name, dist, low=lo, high=hi)


def parse_spec(raw: dict, source: str = "sweep spec") -> Spec:
    """Validate a W&B sweep configuration and return it in normalised form."""
    unknown = set(raw) - SPEC_KEYS
    if unknown:
        raise SnakesweepError(f"{source}: unknown key(s) {sorted(unknown)}; a W&B sweep configuration has "
                              f"{sorted(SPEC_KEYS)}")
    method = raw.get("method")
    if method is None:
        raise SnakesweepError(f"{source}: 'method' is missing; expected one of {list(METHODS)}")
    if method in LATER_METHODS:
        raise SnakesweepError(f"{source}: method '{method}' is not supported yet; use one of {list(METHODS)}")
    if method not in METHODS:
        raise SnakesweepError(f"{source}: unknown method {method!r}; expected one of {list(METHODS)}")
    if raw.get("early_terminate") is not None:
        raise SnakesweepError(f"{source}: 'early_terminate' is not supported yet; remove it")
    metric = raw.get("metric") or {"name": "val_loss", "goal": "minimize"}
    if not isinstance(metric, dict) or "name" not in metric:
        raise SnakesweepError(f"{source}: 'metric' must be a mapping with 'name' and 'goal', found {metric!r}")
    if metric["name"] not in METRICS:
        raise SnakesweepError(f"{source}: metric.name {metric['name']!r} is not a metric this workflow "
                              f"records; expected one of {list(METRICS)}")
    goal = metric.get("goal", METRICS[metric["name"]])
    if goal not in ("minimize", "maximize"):
        raise SnakesweepError(f"{source}: metric.goal must be 'minimize' or 'maximize', found {goal!r}")
    params = raw.get("parameters")
    if not isinstance(params, dict) or not params:
        raise SnakesweepError(f"{source}: 'parameters' is missing or empty; expected a mapping of "
                              "hyperparameter names to their values or distributions")
    parsed = tuple(_parse_param(str(name), body, source) for name, body in params.items())
    if method == "grid":
        for p in parsed:
            if p.distribution not in ("constant", "categorical"):
                raise SnakesweepError(f"{source}: parameters.{p.name}: grid search needs 'values' or 'value'; "
                                      f"found a continuous '{p.distribution}' distribution")
    run_cap = raw.get("run_cap")
    if run_cap is not None and (not isinstance(run_cap, int) or isinstance(run_cap, bool) or run_cap < 1):
        raise SnakesweepError(f"{source}: 'run_cap' must be a positive integer, found {run_cap!r}")
    name = str(raw.get("name") or "sweep")
    return Spec(method, metric["name"], goal, parsed, name, run_cap)


def _uniform01(seed: int, draw: int, name: str) -> float:
    digest = hashlib.sha256(f"{seed}/{draw}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _round(x: float) -> float:
    # Six significant digits keep tables readable and make a value survive TSV and YAML round trips.
    return float(f"{x:.{SIGNIFICANT_DIGITS}g}")


def _draw(p: Param, u: float) -> Any:
    if p.distribution in ("constant", "categorical"):
        return p.values[min(int(u * len(p.values)), len(p.values) - 1)]
    if p.distribution == "int_uniform":
        lo, hi = int(p.low), int(p.high)
        return lo + min(int(u * (hi - lo + 1)), hi - lo)
    if p.distribution == "uniform":
        return _round(p.low + u * (p.high - p.low))
    if p.distribution == "log_uniform_values":
        return _round(math.exp(math.log(p.low) + u * (math.log(p.high) - math.log(p.low))))
    raise AssertionError(p.distribution)


def candidates(spec: Spec, seed: int):
    """Yield the sweep's parameter sets in a fixed order: grid order, or the seeded random draws."""
    if spec.method == "grid":
        for combo in itertools.product(*(p.values for p in spec.params)):
            yield dict(zip(spec.names, combo, strict=True))
        return
    draw = 0
    while True:
        # coerce: an int_uniform draw for a float parameter must be 1.0, as `values: [1]` gives.
        yield {p.name: coerce(p.name, _draw(p, _uniform01(seed, draw, p.name)), "sweep") for p in spec.params}
        draw += 1


def point_id(params: dict, context: dict) -> str:
    """A content-derived id: the same effective parameters and context always give the same id."""
    blob = json.dumps({"params": effective(params), "context": context}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def expand(spec: Spec, *, count: int, seed: int, defaults: dict, context: dict, resolve=None) -> list[dict]:
    """The sweep's points: a list of {"point": id, "params": swept values, "hparams": all values}.

    Grid sweeps give every combination (capped by `run_cap`); random sweeps give `count` distinct
    points. Parameter sets that train the same model (see hparams.effective) are one point.
    `resolve` turns a point's hyperparameters into what the job will really use (e.g. accelerator
    'auto' into 'cpu' or 'gpu') before the id is taken, so the id names what is trained.
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise SnakesweepError(f"sweep.count must be a positive integer, found {count!r}")
    wanted = spec.run_cap if spec.method == "grid" else count
    points, seen = [], set()
    for draw, params in enumerate(candidates(spec, seed)):
        if wanted is not None and len(points) >= wanted:
            break
        if spec.method != "grid" and draw >= MAX_DRAWS_PER_POINT * count:
            raise SnakesweepError(f"sweep: only {len(points)} distinct points could be drawn, sweep.count "
                                  f"asks for {count}; lower sweep.count or widen the parameters")
        hparams = {**defaults, **params}
        if resolve is not None:
            hparams = resolve(hparams)
        check_point(hparams, f"sweep point {params}")
        if hparams.get("hidden_layers") == 0 and "hidden_neurons" in params:
            # The width of a missing layer is meaningless: show it as empty rather than a value.
            params = {**params, "hidden_neurons": None}
        pid = point_id(hparams, context)
        if pid in seen:
            continue
        seen.add(pid)
        points.append({"point": pid, "params": params, "hparams": hparams})
    return points
