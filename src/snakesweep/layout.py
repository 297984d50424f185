"""Where every file of a run lives under `results/`: the one owner of the results layout.

The library and the rule files (through workflow/rules/common.smk) build every such path here, so a
file is named once. Paths are relative to the working directory Snakemake runs in, as Snakemake's own
inputs and outputs are. A string pattern may hold Snakemake wildcards (`point("{point}", "metrics")`).
"""

from __future__ import annotations

from pathlib import Path

# File layout decides where results go, never what they are: not part of a point's id (identity.py).
RESULT_CODE = False

RESULTS = "results"

# A point's files, inside its folder; metrics.json is written last: a point with one is complete.
# val_scores.tsv: its label and score (logit) per validation row, from which intervals and ties are
# computed after training (intervals.py).
POINT_FILES = {"model": "model.pt", "history": "history.csv", "curve": "learning_curve.svg",
               "scores": "val_scores.tsv", "metrics": "metrics.json"}
# A point trained as units (folds x seeds) keeps the units' models and scores instead of its own.
UNITS_POINT_FILES = ("history", "curve", "metrics")
UNIT_FILES = ("model", "history", "scores", "metrics")
# A final model has no validation rows: it trains on all rows outside the test split.
FINAL_FILES = ("model", "history", "curve", "metrics")
# What Snakemake knows of a point and removes after a failed pack: hard links of them outlive that.
DECLARED = ("metrics", "curve")
KEPT = ".kept"
ERRORS = "errors.log"
STAGE = "e{epochs}"  # a hyperband stage's files, inside its point's folder

DATA = {"table": f"{RESULTS}/data/table.tsv", "labels": f"{RESULTS}/data/labels.json"}
SPLIT = {name: f"{RESULTS}/split/{name}.npz" for name in ("train", "val", "test", "cv")} | {
    "assignment": f"{RESULTS}/split/assignment.tsv", "scaler": f"{RESULTS}/split/scaler.json"}
EXPLORE = {"counts": f"{RESULTS}/explore/class_counts.tsv", "balance": f"{RESULTS}/explore/class_balance.svg",
           "pairplot": f"{RESULTS}/explore/pairplot.png", "correlation": f"{RESULTS}/explore/correlation.svg"}
POINTS_TABLE = f"{RESULTS}/sweep/points.tsv"
CHOSEN = f"{RESULTS}/sweep/chosen.json"
# The interval method and its settings, as a file: the jobs after training that compute intervals read
# it, so another method reruns them (Snakemake does not see a changed parameter of a job after a checkpoint).
INTERVALS = f"{RESULTS}/sweep/intervals.json"
ROUNDS = f"{RESULTS}/sweep/rounds"
SUMMARY = f"{RESULTS}/summary.tsv"
BEST = f"{RESULTS}/best.json"
BASELINE_CV = f"{RESULTS}/baseline/cv.json"
BASELINE_SCORES = f"{RESULTS}/baseline/test_scores.tsv"
PLOTS = f"{RESULTS}/plots"
WANDB = f"{RESULTS}/wandb"
# The run's provenance: each job's record (provenance.py), and the crate built from them (crate.py).
CRATE = f"{RESULTS}/crate"
CRATE_METADATA = f"{CRATE}/ro-crate-metadata.json"
PREDICTIONS = f"{RESULTS}/predictions"
# Made by a run for the run itself, never a result: left out of the crate.
NOT_RESULTS = ("logs", "benchmarks", "provenance", "crate", "wandb")


def plot(name: str) -> str:
    return f"{PLOTS}/{name}"


def probe_dir(logs_dir: str | Path) -> Path:
    """Beside the training logs (`results/logs/probes`): the verdicts of batched training's probe
    (batched.probe), one file per machine and group, which the packs on that machine reuse."""
    return Path(logs_dir).parent / "probes"


def provenance_dir(results: str | Path = RESULTS) -> Path:
    """The jobs' records and the crate's own state (its hash cache, its last zip): never in a crate."""
    return Path(results) / "provenance"


def job_records(results: str | Path = RESULTS) -> Path:
    return provenance_dir(results) / "jobs"


def crate_zip(name: str) -> str:
    """The crate as one zip, for WorkflowHub or Zenodo (which take `*.crate.zip`)."""
    return f"{RESULTS}/{name}.crate.zip"


def prediction(name: str) -> str:
    return f"{PREDICTIONS}/{name}.tsv"


def point_dir(point: str) -> Path:
    return Path(RESULTS) / "points" / point


def point(point_id: str, name: str) -> str:
    """One of a point's files by its kind (`metrics`, `model`, ...): a string, for Snakemake too."""
    return (point_dir(point_id) / POINT_FILES[name]).as_posix()


def final_dir(point_id: str) -> Path:
    """The final model of a point trained as units: its configuration on every row outside the test split."""
    return Path(RESULTS) / "final" / point_id


def final(point_id: str, name: str) -> str:
    return (final_dir(point_id) / POINT_FILES[name]).as_posix()


def stage_dir(point_id: str, epochs: int) -> Path:
    return point_dir(point_id) / STAGE.format(epochs=epochs)


def unit_dir(unit_base: str, unit: str, results: str | Path = RESULTS) -> Path:
    """A unit's folder. Keyed by the unit base (the point's id without its count of repeats and seeds):
    a point with more repeats finds the units already trained there."""
    return Path(results) / "units" / unit_base / unit


def results_of(point_folder: str | Path) -> Path:
    """The results folder a point's folder is in (a pack may be given points outside ./results)."""
    return Path(point_folder).parent.parent


def files(folder: str | Path, names=tuple(POINT_FILES)) -> dict[str, Path]:
    """The files of a point, a stage, a unit or a final model, in their folder, by kind."""
    folder = Path(folder)
    return {k: folder / POINT_FILES[k] for k in names}


def metrics_files(points: list[str]) -> list[str]:
    return [point(p, "metrics") for p in points]


def round_file(r: int | str) -> str:
    return f"{ROUNDS}/{r}.json"


def done_file(r: int | str) -> str:
    return f"{ROUNDS}/{r}.done.json"


def rung_file(r: int | str, k: int | str) -> str:
    return f"{ROUNDS}/{r}/rung{k}.json"


def stage_record(r: int | str, k: int | str, pack: str) -> str:
    return f"{ROUNDS}/{r}/rung{k}/{pack}.json"
