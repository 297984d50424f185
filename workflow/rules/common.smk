# Helpers shared by the rules: config validation, the sweep plan, and input/param functions.
import itertools
import math
import os
import shutil
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
from snakesweep.pack import error_count
from snakesweep.rounds import (
    is_last,
    per_round,
    round_settings,
    round_size_of,
    stage_folder,
)
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
# The sweep runs the user's own program (W&B's program/command), not the built-in trainer.
OWN = SPEC.own
PROGRAM = config["program"]
ROUNDS = round_settings(PLAN, config) if ADAPTIVE else None
PER_ROUND = per_round(SPEC, config["sweep"]["round_size"], PLAN.total)


# Points trained once per fold and seed (split.folds, sweep.repeats) read the rows outside the test
# split, unscaled, with their folds; the others the single split.
SPLIT_CV = {"cv": "results/split/cv.npz"} if PLAN.units else {}
TRAIN_DATA = (
    {"cv": ancient(SPLIT_CV["cv"])}
    if PLAN.units
    else {
        "train": ancient("results/split/train.npz"),
        "val": ancient("results/split/val.npz"),
    }
)


# The baseline is validated as the points are, and tested as the model that is tested.
BASELINE_DATA = (
    {"cv": SPLIT_CV["cv"]}
    if PLAN.units
    else {"train": "results/split/train.npz", "test": "results/split/test.npz"}
)
BASELINE_CV = {"baseline_cv": "results/baseline/cv.json"} if PLAN.units else {}
TEST_DATA = (
    {"cv": SPLIT_CV["cv"], **BASELINE_CV}
    if PLAN.units
    else {"test": "results/split/test.npz", "scaler": "results/split/scaler.json"}
)


def final_member(wildcards):
    """The final model's training, as a pack's member: the chosen point, on every row outside the test
    split."""
    point = PLAN.by_id[wildcards.point]
    return {
        **{
            k: v
            for k, v in point.items()
            if k not in ("units", "folds", "repeats", "seeds")
        },
        "final": True,
        "title": "final model: "
        + ", ".join(f"{k}={v}" for k, v in point_labels(wildcards.point).items()),
    }


def mem_mb_for_data(base, per_input_mb):
    """Memory to declare for a job that holds its inputs in memory: a base for the libraries plus a
    multiple of the input size (measured on tall and wide tables; see the README), more on a retry.
    """

    def mem_mb(wildcards, input, attempt):
        return int((base + per_input_mb * input.size_mb) * attempt)

    return mem_mb


def runtime_minutes(
    epochs, input, attempt, startup_s=60, per_point_s=5, per_point_s_per_input_mb=60
):
    """Minutes to declare for a pack (SLURM's time limit) whose points train `epochs` each: start-up
    once, then each point in turn, for every 10 of its epochs (a point of 10 epochs trains in about
    0.1 s on the bundled data: 50x room), longer on larger splits; doubled, tripled, ... on a retry.
    Points train one after another, so a pack's memory does not grow with its size (see
    mem_mb_for_data), its runtime does.
    """
    tens_of_epochs = sum(max(1.0, e / 10) for e in epochs)
    per_point = per_point_s + per_point_s_per_input_mb * input.size_mb
    return max(1, math.ceil((startup_s + tens_of_epochs * per_point) * attempt / 60))


def pack_runtime(pack):
    epochs = [
        PLAN.by_id[p]["hparams"]["max_epochs"]
        for p in pack.points
        for _ in PLAN.by_id[p].get("units") or [None]
    ]
    return lambda wildcards, input, attempt: runtime_minutes(epochs, input, attempt)


def pack_mem_base(pack):
    return mem_base(pack.accelerator)


def mem_base(accelerator):
    """MB a pack needs before its data: torch and Lightning; CUDA's host-side context on top for GPU
    packs (not measured here: these machines have no GPU; a retry doubles it anyway)."""
    return 2000 if accelerator == "gpu" else 700


def pack_set_resources(pack):
    """`set-resources` under the name `train` (as in profiles/slurm) applies to every training pack, and
    under `train_gpu` to the GPU packs: their rule names carry the pack id, which a profile cannot
    list. Like set-resources for a rule, they override what the rule declares. A `gres` request replaces
    the pack's `gpu=1` (the plugin would otherwise ask for both --gres and --gpus).
    """
    names = ["train", "train_gpu"] if pack.accelerator == "gpu" else ["train"]
    resources = workflow.get_rule(f"train_{pack.id}").resources
    for name in names:
        overrides = workflow.resource_settings.overwrite_resources.get(name)
        if overrides:
            resources.update(overrides)
            if "gres" in overrides and "gpu" not in overrides:
                resources.update({"gpu": 0})


def point_labels(point):
    """The point id and its swept parameters, for the title of its learning curve."""
    params = PLAN.by_id[point]["params"]
    return {"point": point, **{k: "-" if v is None else v for k, v in params.items()}}


def pack_members(pack):
    """What the pack's job needs to know of each of its points."""
    return [
        {
            **PLAN.by_id[p],
            "title": ", ".join(f"{k}={v}" for k, v in point_labels(p).items()),
        }
        for p in pack.points
    ]


def pack_errors(pack):
    """Real errors recorded for the pack's points: a new one changes this parameter, so Snakemake runs
    the pack again (the points that are complete stay untouched), without a spurious rerun later.
    """
    counts = {p: error_count(f"results/points/{p}") for p in pack.points}
    return {p: n for p, n in counts.items() if n}


def data_input(wildcards):
    """A local source file is an input, so editing it reruns the data preparation."""
    source = config["data"]["source"]
    if source.startswith(("builtin:", "http://", "https://")):
        return []
    return [source]


def chosen_point(wildcards):
    """The chosen point's results, known once the choose_best checkpoint has run."""
    chosen = checkpoints.choose_best.get().output[0]
    if ADAPTIVE:
        # finish_round writes its files without naming them as outputs: the points table, made
        # after every round has finished, stands for them.
        return {"chosen": chosen, "points": "results/sweep/points.tsv"}
    point = read_json(chosen)["point"]
    final = {"final": f"results/final/{point}/metrics.json"} if PLAN.units else {}
    return {
        "chosen": chosen,
        "metrics": f"results/points/{point}/metrics.json",
        **final,
    }


def per_point(pattern):
    """Every point's file, for a sweep planned upfront; an adaptive sweep's points are known only once
    their rounds are done, and its points table (an input wherever this is) stands for them.
    """
    return [] if ADAPTIVE else expand(pattern, point=POINTS)


def round_file(r):
    return f"results/sweep/rounds/{r}.json"


def done_file(r):
    return f"results/sweep/rounds/{r}.done.json"


def walk_rounds():
    """The proposal of every round with points, up to the last; asking for the next proposal makes
    Snakemake run the rounds before it (a checkpoint's get() raises until its file exists).
    """
    files = []
    for r in itertools.count():
        proposed = len(
            read_json(checkpoints.propose_round.get(round=r).output[0])["points"]
        )
        if proposed:
            files.append(round_file(r))
        if is_last(r, proposed, PLAN.total, PER_ROUND):
            return files


def round_size(wildcards):
    return round_size_of(int(wildcards.round), PLAN.total, PER_ROUND)


def round_start(wildcards):
    """Where round r's points begin in a grid or random sweep's planned list."""
    return int(wildcards.round) * PER_ROUND


def walk_rungs(r):
    """The rung tables of round r, up to the one after which no point trains further."""
    files = []
    for k in itertools.count():
        path = checkpoints.select_rung.get(round=r, rung=k).output[0]
        files.append(path)
        if read_json(path)["final"]:
            return files


def stage_records(rung_table):
    """The pack records of one rung."""
    record = read_json(rung_table)
    return [
        f"results/sweep/rounds/{record['round']}/rung{record['rung']}/{p['id']}.json"
        for p in record["packs"]
    ]


def propose_inputs(wildcards):
    return {
        "spec": config["sweep"]["file"],
        "done": [done_file(r) for r in range(int(wildcards.round))],
    }


def rung_inputs(wildcards):
    r, k = int(wildcards.round), int(wildcards.rung)
    if k == 0:
        return {"round_file": round_file(r)}
    previous = checkpoints.select_rung.get(round=r, rung=k - 1).output[0]
    return {
        "round_file": round_file(r),
        "previous": previous,
        "stages": stage_records(previous),
        "done": [done_file(i) for i in range(r)],
    }


def finish_inputs(wildcards):
    rungs = walk_rungs(int(wildcards.round))
    return {
        "round_file": round_file(wildcards.round),
        "rungs": rungs,
        "stages": [s for f in rungs for s in stage_records(f)],
    }


def collect_inputs(wildcards):
    rounds = walk_rounds()
    done = [done_file(read_json(f)["round"]) for f in rounds]
    return {"rounds": rounds, "done": done}


def stage_pack(wildcards, input):
    """The stage's pack: its accelerator and its points' epochs, from the rung table."""
    record = read_json(input.rung)
    pack = next(p for p in record["packs"] if p["id"] == wildcards.pack)
    epochs = [t["epochs"] for t in record["train"] if t["pack"] == wildcards.pack]
    return pack["accelerator"], epochs


def stage_gpu(wildcards, input):
    return 1 if stage_pack(wildcards, input)[0] == "gpu" else 0


# A stage of an own program's round runs the program (no split to read), with program.* resources.
STAGE_DATA = (
    {}
    if OWN
    else {
        "train": ancient("results/split/train.npz"),
        "val": ancient("results/split/val.npz"),
        "labels": ancient("results/data/labels.json"),
    }
)
STAGE_THREADS = PROGRAM["threads"] if OWN else config["train"]["threads"]


def stage_mem_mb(wildcards, input, attempt):
    """As a pack's (mem_mb_for_data with mem_base); an own program's runs as program.mem_mb says."""
    if OWN:
        return PROGRAM["mem_mb"] * attempt
    base = mem_base(stage_pack(wildcards, input)[0])
    return mem_mb_for_data(base=base, per_input_mb=4)(wildcards, input, attempt)


def stage_runtime(wildcards, input, attempt):
    """As a pack's, for the epochs its points train to in this stage; an own program's runs may take
    program.runtime each."""
    if OWN:
        return PROGRAM["runtime"] * len(stage_pack(wildcards, input)[1]) * attempt + 1
    return runtime_minutes(stage_pack(wildcards, input)[1], input, attempt)


def stage_errors(wildcards):
    """Real errors recorded for the stage's points: a new one changes this parameter, so the stage runs
    again (its complete points are kept), as pack_errors does for a static sweep's packs.
    """
    table = f"results/sweep/rounds/{wildcards.round}/rung{wildcards.rung}.json"
    if not os.path.exists(table):  # Snakemake may ask before the rung is selected
        return {}
    counts = {
        t["point"]: error_count(stage_folder(t["point"], t["epochs"]))
        for t in read_json(table)["train"]
        if t["pack"] == wildcards.pack
    }
    return {p: n for p, n in counts.items() if n}


def stage_set_resources():
    """The profile's set-resources `train` (and `train_gpu` for GPU packs) for the stages' packs too."""
    stage = workflow.get_rule("train_stage")
    train = workflow.resource_settings.overwrite_resources.get("train") or {}
    gpu = workflow.resource_settings.overwrite_resources.get("train_gpu") or {}
    stage.resources.update(train)
    for key, value in gpu.items():
        cpu_value = stage.resources.get(key, 0 if key == "gpu" else None)

        def pick(wildcards, input, attempt, value=value, cpu_value=cpu_value):
            if stage_pack(wildcards, input)[0] != "gpu":
                return (
                    cpu_value(wildcards, input, attempt)
                    if callable(cpu_value)
                    else cpu_value
                )
            return value

        stage.resources[key] = pick
    if "gres" in gpu and "gpu" not in gpu:
        stage.resources["gpu"] = 0


def tracking_params():
    """W&B settings for training jobs; only when enabled, so other tracking edits retrain nothing."""
    cfg = dict(config["tracking"]["wandb"])
    if not cfg["enabled"] or cfg["mode"] == "disabled":
        return {"enabled": False}
    cfg["group"] = cfg.get("group") or SPEC.name
    return cfg


# Everything a run makes but the test evaluation, in one list for all_targets and choose_best.
RUN_OUTPUTS = [
    "results/sweep/points.tsv",
    "results/summary.tsv",
    "results/plots/top_learning_curves.svg",
    "results/plots/val_auc_by_param.svg",
    "results/plots/learning_curves",
    "results/explore/class_counts.tsv",
    "results/explore/class_balance.svg",
    "results/explore/pairplot.png",
    "results/explore/correlation.svg",
    "results/baseline/test_scores.tsv",
]


def own_settings():
    """How each run of the user's program is started (agent.py) and what is read back from it."""
    return {
        "spec_program": SPEC.program,
        "spec_command": list(SPEC.command) if SPEC.command else None,
        "metric": SPEC.metric,
        "workdir": PROGRAM["workdir"],
        "sweep_id": SPEC.name,
        "timeout_s": PROGRAM["timeout"] or PROGRAM["runtime"] * 60,
        "mode": PROGRAM["mode"],
        "paths": {p.name: list(p.path) for p in SPEC.params},
    }


def all_targets():
    if OWN:
        return [
            "results/sweep/points.tsv",
            "results/summary.tsv",
            "results/best.json",
            "results/plots/metric_by_param.svg",
            "results/plots/top_learning_curves.svg",
            *per_point("results/points/{point}/metrics.json"),
        ]
    return [
        *RUN_OUTPUTS,
        "results/best.json",
        "results/plots/test_roc.svg",
        # Asked for directly: Snakemake remakes a missing file only when something asks for it, and
        # the summary that reads it is otherwise up to date (its inputs are not newer).
        *per_point("results/points/{point}/metrics.json"),
        *(["results/plots/rungs.svg"] if ADAPTIVE else []),
    ]


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
