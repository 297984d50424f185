# Helpers shared by the rules: config validation, the sweep plan, and input/param functions.
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
from snakesweep.io import read_json
from snakesweep.plan import (
    AUTO_ENV,
    check_config,
    check_config_files,
    check_gpus_visible,
    load_schema,
    make_plan,
    normalise_integers,
)

SCHEMA = workflow.source_path("../schemas/config.schema.yaml")

try:
    # Snakemake has merged the config files already, keeping the last of any duplicate key.
    check_config_files(workflow.configfiles)
    schema = load_schema(SCHEMA)
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


wildcard_constraints:
    point="[0-9a-f]{12}",


def hparams(wildcards):
    return PLAN.hparams(wildcards.point)


def point_params(wildcards):
    """The point's swept values as the points table shows them (empty where they have no effect)."""
    return PLAN.by_id[wildcards.point]["params"]


def mem_mb_for_data(base, per_input_mb):
    """Memory to declare for a job that holds its inputs in memory: a base for the libraries plus a
    multiple of the input size (measured on tall and wide tables; see the README), more on a retry.
    """

    def mem_mb(wildcards, input, attempt):
        return int((base + per_input_mb * input.size_mb) * attempt)

    return mem_mb


def gpu_count(wildcards):
    """A job declares gpu=1 exactly when it trains on a GPU, so CPU jobs never wait for one."""
    return 1 if PLAN.hparams(wildcards.point)["accelerator"] == "gpu" else 0


def point_label(wildcards):
    """Report labels: the point id and its swept parameters."""
    params = PLAN.by_id[wildcards.point]["params"]
    return {
        "point": wildcards.point,
        **{k: "-" if v is None else v for k, v in params.items()},
    }


def point_title(wildcards):
    return ", ".join(f"{k}={v}" for k, v in point_label(wildcards).items())


def data_input(wildcards):
    """A local source file is an input, so editing it reruns the data preparation."""
    source = config["data"]["source"]
    if source.startswith(("builtin:", "http://", "https://")):
        return []
    return [source]


def per_point(pattern):
    return expand(pattern, point=POINTS)


def tracking_params():
    """W&B settings for training jobs; only when enabled, so other tracking edits retrain nothing."""
    cfg = dict(config["tracking"]["wandb"])
    if not cfg["enabled"] or cfg["mode"] == "disabled":
        return {"enabled": False}
    cfg["group"] = cfg.get("group") or SPEC.name
    return cfg


def all_targets():
    return [
        "results/sweep/points.tsv",
        "results/summary.tsv",
        "results/best.json",
        "results/plots/test_roc.svg",
        "results/plots/top_learning_curves.svg",
        "results/plots/val_auc_by_param.svg",
        "results/explore/class_balance.svg",
        "results/explore/pairplot.png",
        "results/explore/correlation.svg",
    ] + per_point("results/points/{point}/learning_curve.svg")


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
