# Helpers shared by the rules: config validation, the sweep plan, the runner it needs, the targets by
# mode, and the input, param and resource functions of the packs. Round functions: rules/rounds.smk.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

# The checkout's own library always wins over any installed copy, at DAG-build time and in jobs.
SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        [SRC] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
)

from snakesweep import SnakesweepError
from snakesweep import layout as L
from snakesweep import resources as R
from snakesweep.crate import crate_name, read_sweep, sweep_parameters
from snakesweep.io import read_json
from snakesweep.records import error_count
from snakesweep.rounds import is_last, per_round, round_settings, round_size_of
from snakesweep.runners import BUILTIN, PROGRAM, runner_of
from snakesweep.plan import (
    AUTO_ENV,
    check_config,
    check_config_files,
    check_gpus_visible,
    coerce_command_line,
    load_schema,
    make_plan,
    normalise_integers,
)

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")

try:
    # Snakemake has merged the config files already, keeping the last of any duplicate key.
    check_config_files(workflow.configfiles)
    schema = load_schema(SCHEMA)
    coerce_command_line(config, schema)
    check_config(config, schema)
    validate(config, SCHEMA)
    normalise_integers(config, schema)
    PLAN = make_plan(config, base=".")
except SnakesweepError as err:
    raise WorkflowError(f"snakesweep: {err}") from None

if PLAN.auto_accelerator:
    # Cluster jobs rebuild the DAG on their node: they must resolve 'auto' as this process did.
    os.environ.update({AUTO_ENV: PLAN.auto_accelerator})

POINTS = PLAN.ids
SPEC = PLAN.spec
PACKS = PLAN.packs
# bayes, hyperband and metric.target: points decided round by round (rules/rounds.smk), not upfront.
ADAPTIVE = SPEC.adaptive
# What trains the points: the built-in model, or the user's own program (W&B's program/command).
RUNNER = runner_of(SPEC)
OWN = RUNNER == PROGRAM
PROGRAM_CFG = config["program"]
ROUNDS = round_settings(PLAN, config)
PER_ROUND = per_round(SPEC, config["sweep"]["round_size"], PLAN.total)
THREADS = PROGRAM_CFG["threads"] if OWN else config["train"]["threads"]


# What a pack reads. Points trained once per fold and seed (split.folds, sweep.repeats) read the rows
# outside the test split, unscaled, with their folds; the others the single split; an own program its
# own data. The split is ancient(): a point's id already names its data, split and code, so a split
# rewritten with the same content (data.source switched away and back) retrains nothing.
if OWN:
    TRAIN_DATA = {}
elif PLAN.units:
    TRAIN_DATA = {"cv": ancient(L.SPLIT["cv"]), "labels": ancient(L.DATA["labels"])}
else:
    TRAIN_DATA = {
        "train": ancient(L.SPLIT["train"]),
        "val": ancient(L.SPLIT["val"]),
        "labels": ancient(L.DATA["labels"]),
    }

# The baseline is validated as the points are, and tested as the model that is tested.
BASELINE_DATA = (
    {"cv": L.SPLIT["cv"]}
    if PLAN.units
    else {"train": L.SPLIT["train"], "test": L.SPLIT["test"]}
)
BASELINE_CV = {"baseline_cv": L.BASELINE_CV} if PLAN.units else {}
TEST_DATA = (
    {"cv": L.SPLIT["cv"], **BASELINE_CV}
    if PLAN.units
    else {"test": L.SPLIT["test"], "scaler": L.SPLIT["scaler"]}
)


def pack_members(pack):
    """The pack's points, as plain values: Snakemake compares params to decide on reruns, and it
    compares builtin types only."""
    return [PLAN.by_id[p].plain() for p in pack.points]


def final_member(wildcards):
    """The final model's training, as a pack of one: the chosen point, on every row outside the test
    split."""
    return [PLAN.by_id[wildcards.point].as_final().plain()]


def pack_errors(pack):
    """Real errors recorded for the pack's points: a new one changes this parameter, so Snakemake runs
    the pack again (the points that are complete stay untouched), without a spurious rerun later.
    """
    counts = {p: error_count(L.point_dir(p)) for p in pack.points}
    return {p: n for p, n in counts.items() if n}


def tracking_params():
    """W&B settings for training jobs; only when enabled, so other tracking edits retrain nothing."""
    cfg = dict(config["tracking"]["wandb"])
    if not cfg["enabled"] or cfg["mode"] == "disabled":
        return {"enabled": False}
    cfg["group"] = cfg.get("group") or SPEC.name
    return cfg


def runner_settings():
    """The runner's own settings for its packs (runners.py): how the built-in model trains and what
    shapes its files, or how each run of the user's program is started (agent.py) and read back.
    """
    if OWN:
        return {
            "spec_program": SPEC.program,
            "spec_command": list(SPEC.command) if SPEC.command else None,
            "metric": SPEC.metric,
            "workdir": PROGRAM_CFG["workdir"],
            "sweep_id": SPEC.name,
            "timeout_s": PROGRAM_CFG["timeout"] or PROGRAM_CFG["runtime"] * 60,
            "mode": PROGRAM_CFG["mode"],
            "paths": {p.name: list(p.path) for p in SPEC.params},
        }
    return {
        # torch uses exactly this many threads even if --cores is lower: thread count is part of the
        # point's id, since it changes float reduction order.
        "threads": config["train"]["threads"],
        "batched": config["train"]["batched"],
        "tracking": {**tracking_params(), "run_dir": L.WANDB},
    }


def final_settings():
    """The final model trains as the built-in runner's pack of one, with no tracking."""
    return {"threads": config["train"]["threads"]}


# The interval settings' file, an input of every job that computes intervals (the built-in model's).
INTERVALS = {} if OWN else {"intervals": L.INTERVALS}


def interval_settings():
    """The interval method and its settings (snakesweep.intervals.Method.of), which the rule
    interval_settings writes to L.INTERVALS: intervals and ties are computed after training, so
    changing them reruns the summary, plots and evaluation only.
    """
    return {k: config["evaluate"][k] for k in ("interval", "bootstrap", "seed")}


def summary_settings():
    """What the summary needs besides the points' records (the runner's summarize, runners.py)."""
    ranking = {"names": SPEC.names, "metric": SPEC.metric, "goal": SPEC.goal}
    if OWN:
        return ranking
    return {
        **ranking,
        "min_class_rows": config["evaluate"]["min_class_rows"],
        # Which draws of the sweep each point stands for, from the points table.
        "points_table": L.POINTS_TABLE,
    }


def plot_settings():
    ranking = {"names": SPEC.names, "metric": SPEC.metric, "goal": SPEC.goal}
    top = {"top": config["evaluate"]["top"]}
    if OWN:
        return {**ranking, **top}
    return {**ranking, **top, "min_class_rows": config["evaluate"]["min_class_rows"]}


def evaluate_settings():
    if OWN:
        return {}
    return {
        "names": SPEC.names,
        "min_class_rows": config["evaluate"]["min_class_rows"],
    }


# --- resources: the arithmetic is snakesweep.resources (unit-tested); these adapt it to Snakemake ---


def mem_mb_for_data(base, per_input_mb):
    """Memory for a job that holds its inputs in memory, more on a retry."""

    def mem_mb(wildcards, input, attempt):
        return R.mem_mb(base, per_input_mb, input.size_mb, attempt)

    return mem_mb


def pack_mem_mb(accelerator):
    if OWN:
        return lambda wildcards, attempt: PROGRAM_CFG["mem_mb"] * attempt
    return mem_mb_for_data(R.mem_base(accelerator), R.TRAIN_MB_PER_INPUT_MB)


def pack_runtime(points):
    """Minutes for a pack of these points (SLURM's time limit), more on a retry."""
    if OWN:
        return lambda wildcards, attempt: R.program_runtime(
            len(points), PROGRAM_CFG["runtime"], attempt
        )
    epochs = R.pack_epochs([PLAN.by_id[p] for p in points])
    return lambda wildcards, input, attempt: R.runtime_minutes(
        epochs, input.size_mb, attempt
    )


def pack_gpu(accelerator):
    return (PROGRAM_CFG["gpu"] if OWN else 1) if accelerator == "gpu" else 0


# --- targets by mode ---


def per_point(pattern):
    """Every point's file, for a sweep planned upfront; an adaptive sweep's points are known only once
    their rounds are done, and its points table (an input wherever this is) stands for them.
    """
    return [] if ADAPTIVE else expand(pattern, point=POINTS)


POINT_METRICS = per_point(L.point("{point}", "metrics"))
# The plots of the sweep (made by plot_sweep), by the runner: an own program's points have the metric it
# logs and no validation ROC-AUC, ranking or interval.
SWEEP_PLOTS = (
    {
        "params": (L.plot("metric_by_param.svg"), "own_metric_by_param.rst"),
        "curves": (L.plot("top_learning_curves.svg"), "own_top_curves.rst"),
    }
    if OWN
    else {
        "ranking": (L.plot("ranking.svg"), "ranking.rst"),
        "curves": (L.plot("top_learning_curves.svg"), "top_learning_curves.rst"),
        "params": (L.plot("val_auc_by_param.svg"), "val_auc_by_param.rst"),
    }
)
# Everything a run makes but the test evaluation, in one list for all_targets and choose_best.
RUN_OUTPUTS = [
    L.POINTS_TABLE,
    L.SUMMARY,
    *[path for path, _ in SWEEP_PLOTS.values()],
    *(
        []
        if OWN
        else [L.plot("learning_curves"), *L.EXPLORE.values(), L.BASELINE_SCORES]
    ),
]


def all_targets():
    """What a run makes, by mode: the runner (built-in or own program) and whether rounds decide."""
    return [
        *RUN_OUTPUTS,
        L.BEST,
        *([] if OWN else [L.plot("test_roc.svg")]),
        # Asked for directly: Snakemake remakes a missing file only when something asks for it, and
        # the summary that reads it is otherwise up to date (its inputs are not newer).
        *POINT_METRICS,
        *([L.plot("rungs.svg")] if ADAPTIVE and not OWN else []),
    ]


# --- the run's crate (rules/crate.smk) ---

SWEEP_WRITTEN = read_sweep(config["sweep"]["file"])
CRATE_NAME = crate_name(SWEEP_WRITTEN)
CRATE_OUTPUTS = [L.CRATE_METADATA, L.crate_zip(CRATE_NAME)]


def crate_inputs():
    """What the crate job reads: the run's results but each point's metrics.json, whose changes reach it
    through the summary; the crate follows the jobs back from these to every point."""
    per_point = set(POINT_METRICS)
    return [t for t in all_targets() if t not in per_point]


def crate_run():
    """What the crate job records besides the jobs' own records (snakesweep.crate.Run)."""
    from snakemake import __version__ as snakemake_version

    program = (
        [os.path.join(PROGRAM_CFG["workdir"], SPEC.program)]
        if OWN and SPEC.program
        else []
    )
    return {
        "name": CRATE_NAME,
        "sweep_parameters": sweep_parameters(SWEEP_WRITTEN),
        "benchmarks": {
            r.name: str(r.benchmark) for r in workflow.rules if r.benchmark is not None
        },
        "snakemake_version": snakemake_version,
        "accelerator": PLAN.auto_accelerator or config["train"]["accelerator"],
        "program_files": program,
    }


# Snakemake does not look behind a checkpoint for new rounds while their table exists and is up to
# date: the table of an adaptive sweep of N points is its own file, so a new sweep.count is a missing
# file, which makes it look. points.tsv is its copy (made by plan_sweep).
COLLECTED = f"{L.ROUNDS}/points-{PLAN.total}.tsv"


def points_table_inputs(wildcards):
    """A planned sweep's table comes from its sweep file; an adaptive one's from its rounds."""
    return {"collected": COLLECTED} if ADAPTIVE else {"spec": config["sweep"]["file"]}


def data_input(wildcards):
    """A local source file is an input, so editing it reruns the data preparation."""
    source = config["data"]["source"]
    if source.startswith(("builtin:", "http://", "https://")):
        return []
    return [source]


def chosen_point(wildcards):
    """The chosen point's results, known once the choose_best checkpoint has run."""
    chosen = checkpoints.choose_best.get().output[0]
    if ADAPTIVE or OWN:
        # finish_round writes its files without naming them as outputs: the points table, made
        # after every round has finished, stands for them. An own program's best reads every point.
        return {"chosen": chosen, "points": L.POINTS_TABLE}
    point = read_json(chosen)["point"]
    final = {"final": L.final(point, "metrics")} if PLAN.units else {}
    return {"chosen": chosen, "metrics": L.point(point, "metrics"), **final}


def evaluate_inputs(wildcards):
    """What the best point's evaluation reads: the test split and the baseline, for the built-in model."""
    if OWN:
        return {}
    return {**TEST_DATA, "baseline": L.BASELINE_SCORES, **INTERVALS}


def show_warnings(best_json):
    """Repeat the result's warnings at the end of the run, where they cannot be missed."""
    if os.path.exists(best_json):
        for warning in read_json(best_json).get("warnings", []):
            logger.warning(f"snakesweep: warning: {warning}")


def check_machine():
    """Before the first job: can this machine run what was asked? The executor is known only now
    (not while the Snakefile is read); cluster executors leave GPUs to the scheduler."""
    if workflow.local_exec and workflow.is_main_process:
        try:
            check_gpus_visible(PLAN)
        except SnakesweepError as err:
            raise WorkflowError(f"snakesweep: {err}") from None


# --- the one place that changes Snakemake's resource settings ---
# A profile's `set-resources` names rules, and the training rules' names carry their pack's id (one rule
# per pack, since a rule's outputs cannot depend on a wildcard), which no profile can list. So the
# profile names them `train` (every training pack and stage) and `train_gpu` (GPU ones), and these copy
# those settings onto the real rules, overriding what the rules declare, as set-resources does. A `gres`
# request replaces the pack's `gpu=1` (the SLURM plugin refuses both --gres and --gpus).


def apply_profile_resources(rule_name, accelerator):
    """The profile's set-resources `train` (and `train_gpu`, for a GPU pack) on one pack's rule."""
    resources = workflow.get_rule(rule_name).resources
    names = ["train", "train_gpu"] if accelerator == "gpu" else ["train"]
    for name in names:
        overrides = workflow.resource_settings.overwrite_resources.get(name)
        if overrides:
            # Snakemake's own objects, as set-resources gives them: updated as a rule's own would be.
            resources.update(overrides)
            if "gres" in overrides and "gpu" not in overrides:
                resources.update({"gpu": 0})


def resource_for_job(resource, wildcards, job):
    """A rule's or a profile's resource for one job: Snakemake's Resource objects are evaluated in the
    job's context (`job`: what Snakemake passes a resource function; a profile's "1500 * attempt"
    needs all of it), plain values and functions as a rule's own."""
    if hasattr(resource, "evaluate"):
        return resource.evaluate(wildcards, **job).value
    if callable(resource):
        return resource(wildcards, job["input"], job["attempt"])
    return resource


def apply_profile_resources_to_stages():
    """The same for the stages of adaptive rounds: one stage definition serves every pack of every rung,
    whose accelerator is known only from its rung table: the GPU settings apply per job.
    """
    stage = workflow.get_rule("train_stage")
    overrides = workflow.resource_settings.overwrite_resources
    if overrides.get("train"):
        stage.resources.update(overrides.get("train"))
    gpu = overrides.get("train_gpu") or {}
    for key, value in gpu.items():
        cpu_value = (
            stage.resources[key]
            if key in stage.resources
            else (0 if key == "gpu" else None)
        )

        def pick(wildcards, value=value, cpu_value=cpu_value, **job):
            kind = stage_pack(wildcards, job["input"])[0]
            chosen = value if kind == "gpu" else cpu_value
            return resource_for_job(chosen, wildcards, job)

        stage.resources[key] = pick
    if "gres" in gpu and "gpu" not in gpu:
        stage.resources["gpu"] = 0
