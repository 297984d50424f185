"""A point's record on disk, as the runners see it: the key that says which settings made its files,
whether it is complete, hard links kept for a pack that dies, and the errors it raised.

A pack skips a point whose metrics.json carries the same cache key; a pack that died after training a
point finds its files kept in `<point>/.kept/` (which Snakemake's clean-up of a failed job does not
touch) and links them back instead of training again.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from . import layout
from .io import link_or_copy, read_json
from .points import Point
from .ranking import is_number

# Bookkeeping of which files are complete, not what they hold: not part of a point's id (identity.py).
RESULT_CODE = False

# Fields of metrics.json that describe the run, not the result: they differ between reruns, between
# pack sizes and between a point trained batched and alone (batched.py); everything else is bit-identical.
RUN_FIELDS = ("train_seconds", "startup_seconds", "pack", "batched")


def unit_paths(point_folder: str | Path, point: Point, unit: str) -> dict[str, Path]:
    """A unit's files, from its point's folder and the point's plan record."""
    folder = layout.unit_dir(point.base, unit, layout.results_of(point_folder))
    return layout.files(folder, layout.UNIT_FILES)


def cache_key(point: Point, settings: dict, unit: dict | None = None) -> str:
    """Everything that decides a point's files, for either runner: its id (data, split, code,
    hyperparameters; an own program's file and command), its parameters, and the runner's `settings`
    that shape its files (W&B tracking; an own program's
    timeout, W&B mode and metric), but not the pack it trains in."""
    blob = json.dumps({"point": point.id, "hparams": point.hparams, "params": point.params,
                       # A hyperband stage: trained to fewer epochs than the point's max_epochs.
                       **({"epochs": point.epochs} if point.epochs is not None else {}),
                       # A unit's fold and seed; a point's units (folds x seeds): raising sweep.repeats
                       # adds units, not new points.
                       **({"unit": unit} if unit else {}),
                       **({"final": True} if point.final else {}),
                       **({"units": [u["unit"] for u in point.units]} if point.units else {}),
                       **settings},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def read_record(path: Path) -> dict | None:
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def _has_files(paths: dict[str, Path]) -> bool:
    return all(p.is_file() for p in paths.values())


def is_complete(paths: dict[str, Path], key: str) -> bool:
    record = read_record(paths["metrics"])
    return (record is not None and record.get("cache_key") == key and record.get("status") in ("ok", "failed")
            and _has_files(paths))


def keep(paths: dict[str, Path]) -> None:
    """Hard links of the declared files, which outlive Snakemake's clean-up of a pack that dies later."""
    kept = paths["metrics"].parent / layout.KEPT
    kept.mkdir(exist_ok=True)
    for name in layout.DECLARED:
        link_or_copy(paths[name], kept / paths[name].name)


def restore_kept(paths: dict[str, Path], key: str) -> bool:
    kept = paths["metrics"].parent / layout.KEPT
    record = read_record(kept / paths["metrics"].name)
    if record is None or record.get("cache_key") != key or record.get("status") not in ("ok", "failed"):
        return False
    if not all((kept / paths[n].name).is_file() for n in layout.DECLARED) or not all(
            paths[n].is_file() for n in paths if n not in layout.DECLARED):
        return False
    for name in ("curve", "metrics"):  # metrics.json last: it marks the point complete
        link_or_copy(kept / paths[name].name, paths[name])
    return True


def error_count(folder: str | Path) -> int:
    """Real errors recorded for a point so far: part of its pack's parameters, so a pack reruns after one."""
    try:
        with open(Path(folder) / layout.ERRORS) as fh:
            return sum(1 for _ in fh)
    except OSError:
        return 0


def builtin_settings(*, tracking: dict) -> dict:
    """The built-in runner's settings that shape a point's files (see cache_key). Intervals are not
    among them: they are computed from the stored scores after training (intervals.py)."""
    return {"tracking": {k: v for k, v in tracking.items() if k != "run_dir"}}


def history_values(folder: str | Path, metric: str) -> list[float]:
    """The metric per epoch, finite values only (as W&B's engine filters them); [] before
    the point has one."""
    path = layout.files(folder)["history"]
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        out = []
        for row in csv.DictReader(fh):
            try:
                v = float(row[metric])
            except (KeyError, ValueError):
                continue
            if is_number(v):
                out.append(v)
    return out
