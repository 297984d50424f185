"""W&B sweep configurations, read as W&B's engine reads them and expanded into a fixed, seeded table of points.

A W&B sweep needs the W&B server even offline; here the same file is expanded locally and
deterministically, so a sweep can be rerun, resumed and extended without a server. Parameters follow
W&B's own inference and validation (distributions.py); `bayes` and `early_terminate: hyperband`
become rounds and rungs of the workflow (rounds.py, proposers.py, hyperband.py).

Random draws are not taken from a shared random stream: each value is the inverse CDF of a hash of
(seed, draw index, parameter name). Raising `count` therefore keeps every earlier point, and adding a
parameter to the spec leaves the draws of the others unchanged.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import SnakesweepError
from .distributions import Dist, DistributionError, parse_distribution
from .hparams import HPARAMS, check_point, coerce, effective
from .io import load_yaml
from .points import Point, point_id
from .ranking import is_number

METHODS = ("grid", "random", "bayes")
METRICS = {"val_loss": "minimize", "val_roc_auc": "maximize", "train_loss": "minimize"}
# W&B keys that describe the sweep for its server or its agent; read, and shown where useful, but they
# change nothing here.
INFORMATIVE_KEYS = {"name", "description", "project", "entity", "controller"}
# A sweep with either runs the user's own program per point, as W&B's agent would (agent.py); without
# them the built-in trainer runs every point.
PROGRAM_KEYS = {"program", "command"}
SPEC_KEYS = {"method", "metric", "parameters", "run_cap", "early_terminate"} | INFORMATIVE_KEYS | PROGRAM_KEYS
METRIC_KEYS = {"name", "goal", "target", "impute", "impute_while_running"}
IMPUTE = ("worst", "best", "latest")
HYPERBAND_KEYS = {"type", "min_iter", "max_iter", "s", "eta", "strict"}
SIGNIFICANT_DIGITS = 6
MAX_DRAWS_PER_POINT = 200


@dataclass(frozen=True)
class Param:
    name: str  # as written in the sweep file; nested parameters joined with dots ("optim.learning_rate")
    hparam: str | None  # the built-in trainer's hyperparameter it sets; None for an own program's
    dist: Dist
    # Where it sits in the sweep file's nesting: ("optim", "learning_rate") for a nested parameter,
    # ("model.depth",) for a name written with a dot; an own program gets it back in that shape.
    path: tuple[str, ...] = ()

    @property
    def distribution(self) -> str:
        return self.dist.distribution

    @property
    def values(self) -> tuple:
        return self.dist.values


@dataclass(frozen=True)
class Hyperband:
    """W&B's hyperband settings and the epochs ("bands") at which points are compared, as its engine
    computes them (sweeps/hyperband_stopping.py)."""

    bands: tuple[int, ...]
    eta: float
    strict: bool
    written: dict

    def rungs(self, max_epochs: int) -> list[int]:
        """The epochs a point of `max_epochs` stops at to be compared: the bands below its length."""
        return [b for b in self.bands if b < max_epochs]


@dataclass(frozen=True)
class Spec:
    method: str
    metric: str
    goal: str
    params: tuple[Param, ...]
    name: str
    run_cap: int | None
    target: float | None = None
    impute: str = "worst"
    hyperband: Hyperband | None = None
    program: str | None = None  # the user's program and command (W&B's), when the sweep has them
    command: tuple[str, ...] | None = None

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def own(self) -> bool:
        """Whether each point runs the user's own program (W&B's `program`/`command`), not the built-in trainer."""
        return self.program is not None or self.command is not None

    @property
    def adaptive(self) -> bool:
        """Trained in rounds and rungs decided from results (bayes, hyperband, a target), not planned upfront."""
        return self.method == "bayes" or self.hyperband is not None or self.target is not None

    def reached(self, value) -> bool:
        """Whether a metric value reaches `metric.target` (W&B: 'the goal for this value')."""
        if self.target is None or not is_number(value):
            return False
        return value <= self.target if self.goal == "minimize" else value >= self.target


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
    """A number, also when YAML 1.1 read it as a string ('1e-5')."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SnakesweepError(f"{where}: '{key}' must be a number, found {value!r}")
    try:
        out = float(value)
    except ValueError:
        raise SnakesweepError(f"{where}: '{key}' must be a number, found {value!r}") from None
    if not math.isfinite(out):
        raise SnakesweepError(f"{where}: '{key}' must be finite, found {value!r}")
    return out


def _whole(where: str, key: str, value: Any, minimum: int) -> int:
    out = _number(where, key, value)
    if out != int(out) or out < minimum:
        raise SnakesweepError(f"{where}: '{key}' must be a whole number >= {minimum}, found {value!r}")
    return int(out)


def hparam_for(name: str, where: str) -> str:
    """The built-in hyperparameter a sweep parameter sets: its name, or the last part of a dotted name
    (`model.learning_rate`), with hyphens read as underscores (`batch-size`)."""
    leaf = name.rsplit(".", 1)[-1].replace("-", "_")
    if leaf not in HPARAMS:
        raise SnakesweepError(f"{where}: unknown hyperparameter '{name}'; the built-in trainer's are: "
                              f"{', '.join(HPARAMS)} (a dotted name like model.learning_rate sets its last part)")
    return leaf


def flatten(params: Any, source: str, prefix: str = "", path: tuple[str, ...] = ()) -> list[tuple[str, dict, tuple]]:
    """W&B's nested `parameters` as (dotted name, body, path) triples, in the order written."""
    where = f"{source}: parameters" + (f".{prefix[:-1]}" if prefix else "")
    if not isinstance(params, dict) or not params:
        raise SnakesweepError(f"{where}: expected a non-empty mapping of parameter names to their values or "
                              f"distributions, found {params!r}")
    out = []
    for name, body in params.items():
        dotted = f"{prefix}{name}"
        if isinstance(body, dict) and "parameters" in body:
            extra = set(body) - {"parameters"}
            if extra:
                raise SnakesweepError(f"{source}: parameters.{dotted}: a nested 'parameters' block takes no other "
                                      f"keys, found {sorted(extra)}")
            out += flatten(body["parameters"], source, dotted + ".", (*path, name))
        else:
            out.append((dotted, body, (*path, name)))
    return out


def _coerced(dist: Dist, hparam: str, where: str) -> Dist:
    """The distribution with its values checked against the hyperparameter it sets."""
    spec = HPARAMS[hparam]
    if dist.values:
        coerced, probs = [], []
        for i, v in enumerate(dist.values):
            c = coerce(hparam, v, where)
            p = dist.probabilities[i] if dist.probabilities is not None else None
            if c in coerced:  # `values: [1, 1.0]` is one value (its probabilities add up)
                if p is not None:
                    probs[coerced.index(c)] += p
                continue
            coerced.append(c)
            probs.append(p)
        return Dist(**{**dist.__dict__, "values": tuple(coerced),
                       "probabilities": tuple(probs) if dist.probabilities is not None else None})
    if not spec.continuous:
        raise SnakesweepError(f"{where}: '{hparam}' takes one of {list(spec.choices or ())}: use 'values', not a "
                              f"'{dist.distribution}' distribution")
    if spec.kind == "int" and not dist.integer_valued:
        raise SnakesweepError(f"{where}: '{hparam}' is an integer, and distribution '{dist.distribution}' gives "
                              "fractions; use int_uniform, or a q_ distribution with a whole-number q")
    lo, hi = dist.support()
    for end, value in (("smallest", lo), ("largest", hi)):
        if not math.isfinite(value):
            bound = "below" if end == "smallest" else "above"
            limit = spec.minimum if end == "smallest" else spec.maximum
            if limit is not None:
                raise SnakesweepError(f"{where}: distribution '{dist.distribution}' is unbounded {bound}, but "
                                      f"'{hparam}' must stay {'>' if end == 'smallest' else '<'}= {limit}; use a "
                                      "bounded or log-scaled distribution")
            continue
        coerce(hparam, int(value) if spec.kind == "int" else value,
               f"{where}: the {end} value distribution '{dist.distribution}' can give")
    return dist


def _parse_param(name: str, body: Any, source: str, own: bool = False, path: tuple[str, ...] = ()) -> Param:
    """A parameter of the built-in trainer (its values checked against the hyperparameter it sets), or,
    with `own`, of the user's own program: any name, its values passed on as W&B's agent would."""
    where = f"{source}: parameters.{name}"
    hparam = None if own else hparam_for(name, where)
    if not isinstance(body, dict):
        raise SnakesweepError(f"{where}: expected a mapping with 'values', 'value', 'min'/'max' or a "
                              f"'distribution', found {body!r}")
    try:
        dist = parse_distribution(body, where)
    except DistributionError as err:
        raise SnakesweepError(str(err)) from None
    return Param(name, hparam, dist if own else _coerced(dist, hparam, where), path or (name,))


def _metric(raw: Any, source: str, own: bool = False) -> tuple[str, str, float | None, str]:
    if raw is None:
        if own:
            raise SnakesweepError(f"{source}: 'metric' is missing: a sweep that runs its own program needs "
                                  "metric.name (a key the program logs with wandb.log) and metric.goal")
        return "val_loss", "minimize", None, "worst"
    if not isinstance(raw, dict) or "name" not in raw:
        raise SnakesweepError(f"{source}: 'metric' must be a mapping with 'name' and 'goal', found {raw!r}")
    unknown = set(raw) - METRIC_KEYS
    if unknown:
        raise SnakesweepError(f"{source}: metric: unknown key(s) {sorted(unknown)}; expected some of "
                              f"{sorted(METRIC_KEYS)}")
    name = raw["name"]
    if own:
        if not isinstance(name, str) or not name.strip():
            raise SnakesweepError(f"{source}: metric.name must be the name of a key the program logs, found {name!r}")
    elif name not in METRICS:
        raise SnakesweepError(f"{source}: metric.name {name!r} is not a metric the built-in trainer records; "
                              f"expected one of {list(METRICS)}")
    goal = raw.get("goal")
    if goal is None and own:
        goal = "minimize"  # W&B's default; an own program's metric has no known direction
    elif goal is None:
        if METRICS[name] != "minimize":
            # W&B's default goal is minimize: taken silently, it would choose the worst model.
            raise SnakesweepError(f"{source}: metric.goal is missing: W&B would minimize {name}; write "
                                  f"'goal: {METRICS[name]}' (or 'goal: minimize' if that is what you mean)")
        goal = "minimize"
    if goal not in ("minimize", "maximize"):
        raise SnakesweepError(f"{source}: metric.goal must be 'minimize' or 'maximize', found {goal!r}")
    target = raw.get("target")
    if target is not None:
        target = _number(f"{source}: metric", "target", target)
    impute = raw.get("impute", "worst")
    if impute not in IMPUTE:
        raise SnakesweepError(f"{source}: metric.impute must be one of {list(IMPUTE)}, found {impute!r}")
    running = raw.get("impute_while_running", "false")
    if str(running).lower() not in ("false", *IMPUTE):
        raise SnakesweepError(f"{source}: metric.impute_while_running must be one of "
                              f"{['false', *IMPUTE]}, found {running!r}")
    return name, goal, target, impute


def hyperband_bands(cfg: dict) -> list[int]:
    """The epochs at which W&B's engine compares runs (sweeps/hyperband_stopping.py): from `max_iter`
    downwards, dividing by eta `s` times while the band stays >= 1; or from `min_iter` upwards."""
    eta = cfg["eta"]
    if "max_iter" in cfg:
        band, bands = cfg["max_iter"], []
        for _ in range(int(cfg["s"])):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
    else:
        bands = [int(cfg["min_iter"] * eta**k) for k in range(100) if cfg["min_iter"] * eta**k < 2**31]
    return sorted(set(bands))


def _hyperband(raw: Any, source: str) -> Hyperband | None:
    if raw is None:
        return None
    where = f"{source}: early_terminate"
    if not isinstance(raw, dict) or raw.get("type") != "hyperband":
        found = raw.get("type") if isinstance(raw, dict) else raw
        raise SnakesweepError(f"{where}: 'type' must be 'hyperband' (W&B's only early-termination method), "
                              f"found {found!r}")
    unknown = set(raw) - HYPERBAND_KEYS
    if unknown:
        raise SnakesweepError(f"{where}: unknown key(s) {sorted(unknown)}; expected some of {sorted(HYPERBAND_KEYS)}")
    cfg: dict[str, Any] = {"eta": _number(where, "eta", raw.get("eta", 3))}
    if cfg["eta"] <= 1:
        raise SnakesweepError(f"{where}: 'eta' must be > 1, found {raw.get('eta')!r}")
    strict = raw.get("strict", True)  # the engine's default (its schema fills true), whatever the docs say
    if not isinstance(strict, bool):
        raise SnakesweepError(f"{where}: 'strict' must be true or false, found {strict!r}")
    if "max_iter" in raw:
        if "s" not in raw:
            # The docs suggest `s` is optional; W&B's engine refuses max_iter without it (schema anyOf).
            raise SnakesweepError(f"{where}: 'max_iter' needs 's' (how many bands below max_iter), as W&B's "
                                  "engine requires; or give 'min_iter' instead")
        cfg["max_iter"] = _whole(where, "max_iter", raw["max_iter"], 1)
        cfg["s"] = _number(where, "s", raw["s"])
    elif "min_iter" in raw:
        cfg["min_iter"] = _whole(where, "min_iter", raw["min_iter"], 1)
    else:
        raise SnakesweepError(f"{where}: needs 'min_iter', or 'max_iter' with 's'")
    bands = hyperband_bands(cfg)
    if not bands:
        raise SnakesweepError(f"{where}: max_iter {cfg['max_iter']} / eta {cfg['eta']} leaves no band >= 1; "
                              "raise max_iter or s, or lower eta")
    return Hyperband(tuple(bands), cfg["eta"], strict, {k: v for k, v in raw.items() if k != "type"})


def parse_spec(raw: dict, source: str = "sweep spec") -> Spec:
    """Validate a W&B sweep configuration and return it in normalised form."""
    unknown = set(raw) - SPEC_KEYS
    if unknown:
        raise SnakesweepError(f"{source}: unknown or unsupported key(s) {sorted(unknown)}; a W&B sweep "
                              f"configuration run here has {sorted(SPEC_KEYS)}")
    method = raw.get("method")
    if method is None:
        raise SnakesweepError(f"{source}: 'method' is missing; expected one of {list(METHODS)}")
    if method not in METHODS:
        raise SnakesweepError(f"{source}: unknown method {method!r}; expected one of {list(METHODS)}")
    program, command = _program(raw, source)
    own = program is not None or command is not None
    metric, goal, target, impute = _metric(raw.get("metric"), source, own)
    if "parameters" not in raw:
        raise SnakesweepError(f"{source}: 'parameters' is missing; expected a mapping of hyperparameter names "
                              "to their values or distributions")
    parsed = tuple(_parse_param(name, body, source, own, path)
                   for name, body, path in flatten(raw["parameters"], source))
    if own and len({p.name for p in parsed}) < len(parsed):
        twice = sorted({p.name for p in parsed if sum(q.name == p.name for q in parsed) > 1})
        raise SnakesweepError(f"{source}: parameters {twice} are each given twice (once nested, once with a dotted "
                              "name); rename one")
    by_hparam: dict[str, str] = {}
    for p in parsed if not own else ():
        if p.hparam in by_hparam:
            raise SnakesweepError(f"{source}: parameters.{p.name} and parameters.{by_hparam[p.hparam]} both set "
                                  f"'{p.hparam}'; keep one")
        by_hparam[p.hparam] = p.name
    if method == "grid":
        for p in parsed:
            try:
                p.dist.grid_values()
            except DistributionError:
                raise SnakesweepError(f"{source}: parameters.{p.name}: grid search needs finitely many values "
                                      f"('values', 'value', int_uniform or q_uniform); found a continuous "
                                      f"'{p.distribution}' distribution") from None
    if method == "bayes" and all(p.distribution == "constant" for p in parsed):
        raise SnakesweepError(f"{source}: method bayes needs at least one parameter that varies")
    run_cap = raw.get("run_cap")
    if run_cap is not None and (not isinstance(run_cap, int) or isinstance(run_cap, bool) or run_cap < 1):
        raise SnakesweepError(f"{source}: 'run_cap' must be a positive integer, found {run_cap!r}")
    name = str(raw.get("name") or "sweep")
    hyperband = _hyperband(raw.get("early_terminate"), source)
    if own and hyperband is not None:
        raise SnakesweepError(f"{source}: early_terminate with an own program is not supported: its rungs resume "
                              "each point from a checkpoint, which only the built-in trainer writes; remove "
                              "early_terminate (or drop program/command to sweep the built-in trainer)")
    return Spec(method, metric, goal, parsed, name, run_cap, target, impute, hyperband, program, command)


def _program(raw: dict, source: str) -> tuple[str | None, tuple[str, ...] | None]:
    """W&B's `program` (a path) and `command` (a list of strings with macros, see agent.py)."""
    program, command = raw.get("program"), raw.get("command")
    if program is not None and (not isinstance(program, str) or not program.strip()):
        raise SnakesweepError(f"{source}: 'program' must be the path of the training script, found {program!r}")
    if command is not None:
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise SnakesweepError(f"{source}: 'command' must be a non-empty list of strings (W&B's macros such as "
                                  f"${{program}} and ${{args}} among them; quote numbers), found {command!r}")
        command = tuple(command)
    return program, command


def total_points(spec: Spec, count: int, planned: int | None = None) -> int:
    """How many points the sweep trains at most: sweep.count (random, bayes), capped by run_cap; for a
    grid, its `planned` combinations (already capped)."""
    if spec.method == "grid":
        return int(planned or 0)
    return min(count, spec.run_cap or count)


def uniform01(seed: int, draw: int, name: str) -> float:
    digest = hashlib.sha256(f"{seed}/{draw}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _round(x: float) -> float:
    # Six significant digits keep tables readable and make a value survive TSV and YAML round trips.
    return float(f"{x:.{SIGNIFICANT_DIGITS}g}")


def value_at(p: Param, u: float) -> Any:
    """The parameter's value at `u` in [0, 1): the inverse CDF of its distribution, as its hyperparameter."""
    value = p.dist.ppf(u)
    if isinstance(value, float):
        value = _round(value)
    if p.hparam is None:  # an own program's: passed on as drawn
        return value
    # coerce: an int_uniform draw for a float parameter must be 1.0, as `values: [1]` gives.
    return coerce(p.hparam, value, f"sweep parameter {p.name}")


def candidates(spec: Spec, seed: int):
    """Yield the sweep's parameter sets in a fixed order: grid order, or the seeded random draws."""
    if spec.method == "grid":
        grids = [tuple(v if p.hparam is None else coerce(p.hparam, v, f"sweep parameter {p.name}")
                       for v in p.dist.grid_values())
                 for p in spec.params]
        for combo in itertools.product(*grids):
            yield dict(zip(spec.names, combo, strict=True))
        return
    for draw in itertools.count():
        yield {p.name: value_at(p, uniform01(seed, draw, p.name)) for p in spec.params}


def shown(spec: Spec, params: dict, hparams: dict) -> dict:
    """The swept values as the points table shows them: a setting without effect is left empty."""
    kept = effective(hparams)
    return {name: (value if spec_param.hparam in kept else None)
            for (name, value), spec_param in zip(params.items(), spec.params, strict=True)}


class PointMaker:
    """Turns parameter sets into points (points.Point), collapsing those that train the same model
    (`dedupe`); remembers them in the order they were first made."""

    def __init__(self, spec: Spec, *, defaults: dict, context: dict, resolve=None, dedupe: bool = True):
        self.spec, self.defaults, self.context, self.resolve, self.dedupe = spec, defaults, context, resolve, dedupe
        self.by_id: dict[str, Point] = {}
        self.taken: set[str] = set()  # ids made earlier (an earlier round's points): never made again

    @property
    def points(self) -> list[Point]:
        return list(self.by_id.values())

    def make(self, params: dict, draw: int, **fields) -> tuple[Point, bool]:
        """The point for `params` and whether it is new; a repeat only records its draw. An own program's
        point is its parameters alone (the program, its command and its file are in the context)."""
        own = self.spec.own
        if own:
            hparams = dict(params)
        else:
            hparams = {**self.defaults, **{p.hparam: params[p.name] for p in self.spec.params}}
            if self.resolve is not None:
                hparams = self.resolve(hparams)
            check_point(hparams, f"sweep point {params}")
        pid = point_id(hparams, self.context, own)
        taken = self.by_id.keys() | self.taken
        if pid in taken and not self.dedupe:
            # Kept apart on request: the next copy of the same model not made yet (also by an earlier
            # round), with an id of its own.
            copy = 1
            while point_id(hparams, {**self.context, "copy": copy}, own) in taken:
                copy += 1
            pid = point_id(hparams, {**self.context, "copy": copy}, own)
        if pid in self.by_id:
            self.by_id[pid] = self.by_id[pid].with_draw(draw)
            return self.by_id[pid], False
        if pid in self.taken:
            return self.by_id.get(pid), False
        shown_params = dict(params) if own else shown(self.spec, params, hparams)
        accelerator = fields.pop("accelerator", None) or hparams.get("accelerator") or "cpu"
        point = Point(id=pid, params=shown_params, hparams=hparams, draws=(draw,), accelerator=accelerator,
                      **fields)
        self.by_id[pid] = point
        return point, True


def expand(spec: Spec, *, count: int, seed: int, defaults: dict, context: dict, resolve=None,
           dedupe: bool = True) -> list[Point]:
    """The sweep's points (points.Point: id, swept values, all values, the draws they stand for).

    Grid sweeps give every combination, random sweeps `count` distinct points; `run_cap` caps both.
    Parameter sets that train the same model (see hparams.effective) are one point, which lists the
    draws it stands for, unless `dedupe` is off. `resolve` turns a point's hyperparameters into what
    the job will really use (e.g. accelerator 'auto' into 'cpu' or 'gpu') before the id is taken.
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise SnakesweepError(f"sweep.count must be a positive integer, found {count!r}")
    if spec.method == "bayes":
        raise ValueError("bayes points are proposed round by round (proposers.py), not expanded")
    wanted = spec.run_cap if spec.method == "grid" else min(count, spec.run_cap or count)
    maker = PointMaker(spec, defaults=defaults, context=context, resolve=resolve, dedupe=dedupe)
    for draw, params in enumerate(candidates(spec, seed)):
        if wanted is not None and len(maker.by_id) >= wanted:
            break
        if spec.method != "grid" and draw >= MAX_DRAWS_PER_POINT * wanted:
            raise SnakesweepError(f"sweep: only {len(maker.by_id)} distinct points could be drawn, sweep.count "
                                  f"asks for {wanted}; lower sweep.count or widen the parameters")
        maker.make(params, draw)
    return maker.points
