"""Everything decided when the DAG is built: the validated sweep, its points and their ids.

Called by workflow/rules/common.smk on every Snakemake invocation, so it stays cheap: no torch import,
no full data read. Every check that can fail on bad input runs here, before any job starts.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import SnakesweepError, data, layout
from .folds import units_of
from .gpu import AUTO_ENV
from .hparams import defaults_from_config
from .identity import code_digest
from .io import load_yaml
from .points import Point
from .split import check_fractions
from .sweep import Spec, expand, load_spec, parse_spec, total_points


@dataclass(frozen=True)
class Pack:
    """Points trained one after another in one job: all of one accelerator kind, in sweep order."""

    id: str
    points: tuple[str, ...]
    accelerator: str


def make_packs(points: list[Point], size: int) -> list[Pack]:
    """Consecutive points of each accelerator kind, `size` at a time. Membership depends only on the
    points and their order, so every Snakemake invocation (and a cluster job rebuilding the DAG) forms
    the same packs, and raising sweep.count only fills the last pack and adds new ones. The id is
    derived from the members, like a point's."""
    packs, open_packs = [], {}
    for p in points:
        members = open_packs.setdefault(p.accelerator, [])
        members.append(p.id)
        kind = p.accelerator
        if len(members) == size:
            packs.append(_pack(members, kind))
            open_packs[kind] = []
    packs += [_pack(m, kind) for kind, m in open_packs.items() if m]
    return packs


def _pack(members: list[str], kind: str) -> Pack:
    return Pack(hashlib.sha256(" ".join(members).encode()).hexdigest()[:12], tuple(members), kind)


@dataclass
class Plan:
    spec: Spec
    points: list[Point]
    context: dict
    auto_accelerator: str | None = None  # what 'auto' resolved to, when any point asked for it
    gpu_asked: int = 0  # points whose accelerator is 'gpu' as written (not 'auto')
    gpu_asked_by: str = "train.accelerator"
    defaults: dict | None = None  # every hyperparameter's value where the sweep does not set it
    total: int = 0  # the most points the sweep trains (an adaptive sweep may stop before)

    pack_size: int = 1
    folds: int = 1  # split.folds
    repeats: int = 1  # split.repeats (of the folds)
    seeds: int = 1  # sweep.repeats

    @property
    def units(self) -> bool:
        """Whether points train as several units (folds, seeds), and a final model is trained after."""
        return self.folds > 1 or self.seeds > 1

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.points]

    def hparams(self, point: str) -> dict:
        return self.by_id[point].hparams

    @functools.cached_property
    def by_id(self) -> dict[str, Point]:
        return {p.id: p for p in self.points}

    @functools.cached_property
    def packs(self) -> list[Pack]:
        return make_packs(self.points, self.pack_size)

    def rows(self) -> list[dict]:
        """The points table: one row per point, a column per swept parameter."""
        return [{"point": p.id, **p.params, "draws": ",".join(map(str, p.draws))} for p in self.points]


def load_schema(path) -> dict:
    return load_yaml(path, "config schema")


def check_config(config: dict, schema: dict) -> None:
    """Refuse a config the schema rejects, in one line naming the key (Snakemake's own message prints
    the whole schema of the key instead)."""
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        key = ".".join(str(k) for k in error.absolute_path) or "(top level)"
        raise SnakesweepError(f"config {key}: {error.message}")


def check_config_files(paths) -> None:
    """Refuse duplicate keys in the config files Snakemake has already merged (it keeps the last one)."""
    for path in paths:
        load_yaml(path, "configfile")


def coerce_command_line(config: dict, schema: dict) -> dict:
    """Read numbers and booleans given as text where the schema wants them: Snakemake passes the values
    inside a mapping on the command line (`--config split='{folds: 5}'`) as strings."""
    import yaml

    for key, spec in schema.get("properties", {}).items():
        value = config.get(key) if isinstance(config, dict) else None
        if isinstance(value, dict):
            coerce_command_line(value, spec)
            continue
        types = spec.get("type")
        types = set(types if isinstance(types, list) else [types])
        if isinstance(value, str) and "string" not in types and types & {"integer", "number", "boolean"}:
            try:
                parsed = yaml.safe_load(value)
            except yaml.YAMLError:
                continue
            wanted = {"integer": int, "number": (int, float), "boolean": bool}
            if any(isinstance(parsed, wanted[t]) and (t == "boolean") == isinstance(parsed, bool)
                   for t in types if t in wanted):
                config[key] = parsed
    return config


def normalise_integers(config: dict, schema: dict) -> dict:
    """Turn whole-number floats into ints where the schema says integer.

    JSON schema accepts 1.0 as an integer, but `sweep.seed: 1.0` and `1` must not give different draws
    or ids, and `evaluate.bootstrap: 2000.0` must not fail after the sweep has trained.
    """
    for key, spec in schema.get("properties", {}).items():
        if key not in config:
            continue
        value = config[key]
        if spec.get("type") == "integer" and isinstance(value, float) and value.is_integer():
            config[key] = int(value)
        elif isinstance(value, dict):
            normalise_integers(value, spec)
    return config


def _version(pkg: str) -> str | None:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def auto_choice(gpus_visible: int | None = None, env=None) -> str:
    """What accelerator 'auto' means for this run: 'gpu' or 'cpu', decided once.

    The machine that builds the DAG decides: `SNAKESWEEP_AUTO_ACCELERATOR` (cpu|gpu) when set, else
    whether it sees an NVIDIA GPU. The workflow exports its choice in that variable, so cluster jobs
    that rebuild the DAG on a compute node resolve 'auto' the same way (and find the same point ids),
    and a login node without GPUs can be told `SNAKESWEEP_AUTO_ACCELERATOR=gpu`.
    """
    env = os.environ if env is None else env
    if gpus_visible is None:
        chosen = env.get(AUTO_ENV)
        if chosen:
            if chosen not in ("cpu", "gpu"):
                raise SnakesweepError(f"{AUTO_ENV} must be 'cpu' or 'gpu', found {chosen!r}")
            return chosen
        from .gpu import count_gpus

        gpus_visible = count_gpus()
    return "gpu" if gpus_visible > 0 else "cpu"


def resolve_accelerator(hparams: dict, auto: str | None) -> dict:
    """'auto' becomes 'gpu' or 'cpu' before the id is taken, so a job's resources and its id agree."""
    if hparams["accelerator"] == "auto":
        return {**hparams, "accelerator": auto}
    return hparams


def check_local_data(cfg: dict, base: Path) -> None:
    """Catch a missing file or label column now rather than in a job (the full check runs in a job)."""
    source = cfg["source"]
    if data.source_kind(source) != "file":
        return
    check_input_path("data.source", source)
    path = base / source
    header = data.read_header(path)
    if cfg["target"] not in header:
        raise SnakesweepError(f"data.target: column '{cfg['target']}' is not in '{source}'; its columns are "
                              f"{header[:12]}" + (" ..." if len(header) > 12 else ""))


def check_input_path(key: str, path: str) -> None:
    """Snakemake reads '{...}' in a file name as a wildcard, and has no escape for an input's path."""
    if "{" in path or "}" in path:
        raise SnakesweepError(f"{key}: the path {path!r} contains '{{' or '}}', which Snakemake reads as a "
                              "wildcard in file names; rename the file (or its folder) without braces")


def check_gpus_visible(plan: Plan, gpus_visible: int | None = None) -> None:
    """Points asked to train on a GPU, on a machine that runs its jobs itself and has none: refuse
    before any job starts, not in every training job. 'auto' is exempt: it follows what this machine
    sees. Called only where jobs run on this machine (not for cluster submissions)."""
    if not plan.gpu_asked:
        return
    if gpus_visible is None:
        from .gpu import count_gpus

        gpus_visible = count_gpus()
    if gpus_visible > 0:
        return
    mask = os.environ.get("CUDA_VISIBLE_DEVICES")
    seen = f"CUDA_VISIBLE_DEVICES={mask!r}" if mask is not None else "no NVIDIA driver or nvidia-smi"
    raise SnakesweepError(
        f"{plan.gpu_asked_by}: {plan.gpu_asked} point(s) ask for accelerator 'gpu', but this machine sees no "
        f"GPU ({seen}) and would run them itself. Use 'cpu', or 'auto' to train on a GPU only where there "
        "is one; to submit GPU jobs from a machine without GPUs, run with a cluster executor (e.g. "
        "--executor slurm), where the scheduler places them")


def check_units(config: dict) -> tuple[int, int, int]:
    """split.folds, split.repeats and sweep.repeats, checked against each other and the other keys."""
    folds = int(config["split"].get("folds", 1))
    repeats = int(config["split"].get("repeats", 1))
    seeds = int(config["sweep"].get("repeats", 1))
    if repeats > 1 and folds == 1:
        raise SnakesweepError(f"split.repeats: {repeats} repeats of the cross-validation need split.folds >= 2 "
                              "(found 1: the single validation split); for repeats with other seeds on one split "
                              "use sweep.repeats")
    if (folds > 1 or seeds > 1) and config.get("tracking", {}).get("wandb", {}).get("enabled"):
        raise SnakesweepError("tracking.wandb.enabled: W&B logging of points trained once per fold or seed "
                              "(split.folds or sweep.repeats above 1) is not supported yet; turn it off, or set "
                              "both to 1")
    return folds, repeats, seeds


def check_command(spec: Spec, params: dict) -> None:
    """Expand the command once now, so an unknown macro or an unset ${envvar:NAME} is refused before any
    job starts rather than in every one (the jobs expand it again, with their own point's values)."""
    from .agent import expand_command

    nested = {tuple(q.path): params.get(q.name) for q in spec.params}
    try:
        expand_command(list(spec.command) if spec.command else None, program=spec.program, params=nested,
                       run_dir=layout.point_dir("check"), sweep_id=spec.name, run_id="check000")
    except SnakesweepError as err:
        raise SnakesweepError(f"sweep.file: command: {err}") from None


def make_own_plan(config: dict, spec: Spec, base: Path) -> Plan:
    """A sweep that runs the user's own program (W&B's `program`/`command`): its points are parameter
    sets, their context the program file and command; the built-in model's data, split and training
    settings play no part (own.py)."""
    from .own import program_context

    pcfg = config.get("program") or {}
    folds, repeats, seeds = check_units(config)
    if folds > 1 or seeds > 1:
        raise SnakesweepError("split.folds / sweep.repeats: cross-validation and seed repeats are for the built-in "
                              "trainer; a sweep that runs its own program splits its data itself. Set both to 1")
    if config.get("tracking", {}).get("wandb", {}).get("enabled"):
        raise SnakesweepError("tracking.wandb.enabled: the own program logs to W&B itself (its wandb.init() gets "
                              "the point's run; program.mode says offline or online); turn tracking.wandb off")
    context = program_context(spec, workdir=pcfg.get("workdir", "."), base=base)
    kind = "gpu" if pcfg.get("gpu", 0) else "cpu"
    points = expand(spec, count=config["sweep"]["count"], seed=config["sweep"]["seed"], defaults={},
                    context=context, dedupe=config["sweep"].get("dedupe", True)) if spec.method != "bayes" else []
    points = [dataclasses.replace(p, accelerator=kind) for p in points]
    check_command(spec, points[0].params if points else {q.name: None for q in spec.params})
    total = total_points(spec, config["sweep"]["count"], len(points))
    return Plan(spec, [] if spec.adaptive else points, context, pack_size=int(pcfg.get("pack_size", 1)),
                defaults={}, total=total, gpu_asked=total if kind == "gpu" else 0, gpu_asked_by="program.gpu")


def make_plan(config: dict, base: str | Path = ".", gpus_visible: int | None = None) -> Plan:
    """The validated sweep and its points, with every check that needs no job."""
    base = Path(base)
    check_input_path("sweep.file", config["sweep"]["file"])
    spec = parse_spec(load_spec(base / config["sweep"]["file"]), source=f"sweep.file '{config['sweep']['file']}'")
    if spec.own:
        return make_own_plan(config, spec, base)
    dcfg, scfg = config["data"], config["split"]
    kind = data.source_kind(dcfg["source"])
    if kind == "url" and not dcfg.get("sha256"):
        raise SnakesweepError(f"data.sha256: required for the URL source {dcfg['source']!r}, so the download "
                              "can be checked; set it to the file's sha256")
    check_local_data(dcfg, base)
    fractions = check_fractions(scfg["fractions"])
    folds, repeats, seeds = check_units(config)
    defaults = defaults_from_config(config["train"])
    source = dcfg["source"] if kind != "file" else str(base / dcfg["source"])
    context = {
        "data": data.fingerprint(source, dcfg.get("sha256")),
        "target": dcfg["target"],
        "positive_class": None if dcfg.get("positive_class") is None else str(dcfg["positive_class"]),
        "exclude": sorted(dcfg.get("exclude", [])),
        "drop_missing": bool(dcfg.get("drop_missing")),
        "index_check": bool(dcfg.get("index_check", True)),
        "split": {"fractions": fractions, "seed": scfg["seed"], "standardize": scfg["standardize"],
                  # The folds decide every unit's rows. Not their repeats, nor the seeds: raising those
                  # adds units to the points already trained.
                  **({"folds": folds} if folds > 1 else {})},
        "code": code_digest(),
        # Thread count changes float reduction order, so it is part of what determines a result.
        "threads": int(config["train"].get("threads", 1)),
        "torch": _version("torch"),
        "lightning": _version("lightning"),
    }
    uses_auto = defaults["accelerator"] == "auto" or any(
        p.hparam == "accelerator" and "auto" in p.values for p in spec.params)
    auto = auto_choice(gpus_visible) if uses_auto else None
    if spec.hyperband is not None and config.get("tracking", {}).get("wandb", {}).get("enabled"):
        raise SnakesweepError("tracking.wandb.enabled: W&B logging of hyperband rungs (a point trained in stages "
                              "that resume from checkpoints) is not supported; turn it off, or remove "
                              "early_terminate from the sweep")
    points = expand(spec, count=config["sweep"]["count"], seed=config["sweep"]["seed"], defaults=defaults,
                    context=context, resolve=lambda hp: resolve_accelerator(hp, auto),
                    dedupe=config["sweep"].get("dedupe", True)) if spec.method != "bayes" else []
    if folds > 1 or seeds > 1:
        if spec.adaptive:
            raise SnakesweepError("split.folds / sweep.repeats: cross-validation and seed repeats are not supported "
                                  f"yet with an adaptive sweep (method bayes, early_terminate or metric.target in "
                                  f"sweep.file '{config['sweep']['file']}'); use method grid or random, or set "
                                  "split.folds and sweep.repeats to 1")
        # More repeats or seeds make another point, which keeps the units its base already trained.
        points = [p.with_units(units_of(p.hparams["seed"], folds=folds, repeats=repeats, seeds=seeds), folds=folds,
                               repeats=repeats, seeds=seeds) for p in points]
    accel = next((p.name for p in spec.params if p.hparam == "accelerator"), None)
    if spec.method == "bayes":
        gpu_values = [v for p in spec.params if p.hparam == "accelerator" for v in p.values if v == "gpu"]
        asked = [None] if gpu_values or defaults["accelerator"] == "gpu" else []
    else:
        asked = [p for p in points if (p.params[accel] if accel else defaults["accelerator"]) == "gpu"]
    asked_by = f"sweep parameter '{accel}'" if accel is not None and (
        spec.method == "bayes" or any(accel in p.params for p in asked)) else "train.accelerator"
    return Plan(spec, [] if spec.adaptive else points, context, auto, gpu_asked=len(asked), gpu_asked_by=asked_by,
                pack_size=int(config["train"].get("pack_size", 250)), defaults=defaults, folds=folds,
                repeats=repeats if folds > 1 else 1, seeds=seeds,
                total=total_points(spec, config["sweep"]["count"], len(points)))
