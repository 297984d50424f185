"""A pack: several sweep points trained one after another in one process.

A point trains in a tenth of a second; starting a process that can train (Python, torch, Lightning)
takes seconds. A pack pays that once for all its points and loads the split once, while every point
keeps its own folder, files, log, W&B run and cache identity, bit-identical to training it alone.

What a pack does with each of its points:

- complete already (its metrics.json is there with the same cache key): nothing. Snakemake reruns a
  whole pack when one of its points is missing; the others are kept (their outputs are `update()`).
- kept: a point trained by an earlier attempt of this pack that then died (killed, out of memory)
  has hard links of its files in `<point>/.kept/`, which Snakemake's clean-up of a failed job does
  not touch; they are linked back instead of training again.
- otherwise it trains. A diverging point is a result (`status: failed`). A real error (a bug, out of
  memory) is caught: the traceback goes to the point's log, the point gets `status: error` and a
  line in its `errors.log`, and the pack goes on with its other points. The run still fails loudly:
  choose_best refuses to choose while any point has an error, and the next run trains that point
  again (the workflow passes the count of lines in `errors.log` as a parameter of its pack).

For the cluster tests only, `SNAKESWEEP_TEST_FAIL_ONCE=<folder>` makes each pack die once, after its
first point, as a node failure would (a marker file per pack in that folder remembers it).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import tempfile
import time
import traceback
from pathlib import Path

from .io import json_safe, link_or_copy, read_json, write_json

# What a point's files are called inside results/points/<id>/; metrics.json comes last.
FILES = {"model": "model.pt", "history": "history.csv", "curve": "learning_curve.svg", "metrics": "metrics.json"}
# Fields of metrics.json that describe the run, not the result: they differ between reruns and between
# pack sizes, everything else is bit-identical.
RUN_FIELDS = ("train_seconds", "startup_seconds", "pack")
KEPT = ".kept"
ERRORS = "errors.log"
DECLARED = ("metrics", "curve")  # the files Snakemake knows of, and would remove after a failed pack
FAIL_ONCE_ENV = "SNAKESWEEP_TEST_FAIL_ONCE"


# A point trained as several units (folds, seeds, see folds.py): each unit's files in
# results/units/<unit base>/<unit>/, and the point's own: the mean learning curve over its units and
# metrics.json, the summary of them. The unit base is the point's id without its count of repeats and
# seeds: a point with more of them is another point (another id, so everything after training sees
# it), whose units already trained are found there and kept.
UNIT_FILES = ("model", "history", "metrics")
POINT_FILES = ("history", "curve", "metrics")


def output_paths(folder: str | Path, names=tuple(FILES)) -> dict[str, Path]:
    folder = Path(folder)
    return {k: folder / FILES[k] for k in names}


def unit_paths(point_folder: str | Path, member: dict, unit: str) -> dict[str, Path]:
    """A unit's files, from its point's folder (results/points/<id>) and the point's plan record."""
    root = Path(point_folder).parent.parent
    return output_paths(root / "units" / member.get("unit_base", member["point"]) / unit, UNIT_FILES)


def cache_key(member: dict, *, bootstrap: int, bootstrap_seed: int, tracking: dict) -> str:
    """Everything that decides a point's files: its id (data, split, code, hyperparameters), the
    validation interval's bootstrap and whether it is tracked, but not the pack it trains in."""
    blob = json.dumps({"point": member["point"], "hparams": member["hparams"], "params": member["params"],
                       # A hyperband stage: trained to fewer epochs than the point's max_epochs.
                       **({"epochs": member["epochs"]} if member.get("epochs") is not None else {}),
                       # A unit's fold and seed; a point's units (folds x seeds): raising sweep.repeats
                       # adds units, not new points.
                       **({"unit": member["unit"]} if member.get("unit") else {}),
                       **({"final": True} if member.get("final") else {}),
                       **({"units": [u["unit"] for u in member["units"]]} if member.get("units") else {}),
                       "bootstrap": [int(bootstrap), int(bootstrap_seed)],
                       "tracking": {k: v for k, v in tracking.items() if k != "run_dir"}},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _record(path: Path) -> dict | None:
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def _has_files(paths: dict[str, Path]) -> bool:
    return all(p.is_file() for p in paths.values())


def is_complete(paths: dict[str, Path], key: str) -> bool:
    record = _record(paths["metrics"])
    return (record is not None and record.get("cache_key") == key and record.get("status") in ("ok", "failed")
            and _has_files(paths))


def keep(paths: dict[str, Path]) -> None:
    """Hard links of the declared files, which outlive Snakemake's clean-up of a pack that dies later."""
    kept = paths["metrics"].parent / KEPT
    kept.mkdir(exist_ok=True)
    for name in DECLARED:
        link_or_copy(paths[name], kept / paths[name].name)


def restore_kept(paths: dict[str, Path], key: str) -> bool:
    kept = paths["metrics"].parent / KEPT
    record = _record(kept / paths["metrics"].name)
    if record is None or record.get("cache_key") != key or record.get("status") not in ("ok", "failed"):
        return False
    if not all((kept / paths[n].name).is_file() for n in DECLARED) or not all(
            paths[n].is_file() for n in paths if n not in DECLARED):
        return False
    for name in ("curve", "metrics"):  # metrics.json last: it marks the point complete
        link_or_copy(kept / paths[name].name, paths[name])
    return True


def error_count(folder: str | Path) -> int:
    """Real errors recorded for a point so far: part of its pack's parameters, so a pack reruns after one."""
    try:
        with open(Path(folder) / ERRORS) as fh:
            return sum(1 for _ in fh)
    except OSError:
        return 0


def _tracker(member: dict, tracking: dict):
    if not tracking.get("enabled") or tracking.get("mode") == "disabled":
        return None
    from .tracking import WandbTracker

    opts = {k: tracking[k] for k in ("mode", "project", "entity", "group", "log_model") if k in tracking}
    return WandbTracker(point=member["point"], run_dir=Path(tracking["run_dir"]),
                        config={"point": member["point"], **member["hparams"]}, **opts)


def _write_error(member: dict, paths: dict[str, Path], err: BaseException, log: Path, extra: dict) -> dict:
    reason = f"{type(err).__name__}: {err}".strip()
    reason = (reason if len(reason) <= 300 else reason[:297] + "...") + f" (traceback in {log})"
    if "model" in paths:
        paths["model"].unlink(missing_ok=True)
    with open(paths["metrics"].parent / ERRORS, "a") as fh:
        fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {reason}\n")
    from .curves import draw_learning_curve

    draw_learning_curve([], paths["curve"], title=member.get("title") or member["point"], note=reason)
    record = {"point": member["point"], "params": member["params"], "status": "error", "reason": reason,
              "train_loss": None, "val_loss": None, "val_roc_auc": None, "val_roc_auc_ci95": None, "epochs": 0,
              "hparams": member["hparams"], "seed": member["hparams"]["seed"],
              "engine": member["hparams"]["engine"], **extra}
    write_json(paths["metrics"], json_safe(record))
    return record


def run_pack(*, pack: str, members: list[dict], train: str | None, val: str | None, labels: str, threads: int,
             metrics_files: list[str], logs_dir: str, tracking: dict | None = None, bootstrap: int = 2000,
             bootstrap_seed: int = 0, gpu_lock_dir: str | None = None, cv: str | None = None) -> list[dict]:
    """Train the pack's points that are not complete; returns one line of status per point.

    `members`: the plan's points (`point`, `hparams`, `params`, `title`, and `units` for a point
    trained once per fold and seed), all of one accelerator kind; `metrics_files`: their metrics.json,
    in the same order (each point's other files go beside it). Points with units read their data from
    `cv` (folds.py), the others from `train` and `val`. A GPU pack claims one device for its whole
    life, before torch starts; torch is imported only when some point has to train.
    """
    tracking = tracking or {}
    folders = [Path(m).parent for m in metrics_files]
    # A point's files sit in results/points/<id>/, a hyperband stage's in a folder inside it.
    if any(m["point"] not in f.parts[-2:] for f, m in zip(folders, members, strict=True)):
        raise ValueError(f"pack {pack}: the metrics files {metrics_files} do not match its points")
    kinds = {m["hparams"]["accelerator"] for m in members}
    if len(kinds) != 1:
        raise ValueError(f"pack {pack} mixes accelerators {sorted(kinds)}")
    lines, todo = [], []
    for position, (member, folder) in enumerate(zip(members, folders, strict=True), 1):
        paths = output_paths(folder, POINT_FILES if member.get("units") else tuple(FILES))
        key = cache_key(member, bootstrap=bootstrap, bootstrap_seed=bootstrap_seed, tracking=tracking)
        if is_complete(paths, key):
            lines.append({"point": member["point"], "status": "complete already"})
        # A point with units keeps its units' files instead (no output Snakemake knows of): the pack
        # trains the units that are missing and sums them up again, which is cheap.
        elif not member.get("units") and restore_kept(paths, key):
            lines.append({"point": member["point"], "status": "kept from an earlier attempt"})
        else:
            lines.append(None)  # filled in when trained
            todo.append((position, member, paths, key))
    if todo:
        claim = contextlib.nullcontext()
        if kinds == {"gpu"}:
            # GPUs belong to the host, so their locks live in a host-local directory, never on a shared
            # filesystem where jobs on two nodes would contend for each other's "gpu0".
            from .gpu import claimed_gpu, count_gpus

            lock_dir = Path(gpu_lock_dir or Path(tempfile.gettempdir()) / f"snakesweep-gpu-locks-{os.getuid()}")
            claim = claimed_gpu(count_gpus(), lock_dir, owner=f"pack {pack}")
        with claim as gpu:
            if gpu is not None:
                # The device the scheduler or the claim gave this pack, for the log and the cluster tests.
                given = {v: os.environ.get(v) for v in ("CUDA_VISIBLE_DEVICES", "SLURM_STEP_GPUS", "SLURM_JOB_GPUS")}
                print(f"pack {pack}: GPU {gpu} ({', '.join(f'{k}={v!r}' for k, v in given.items())})", flush=True)
            trained = _train(pack, len(members), todo, PackData(train, val, cv), labels, threads, Path(logs_dir),
                             tracking, bootstrap, bootstrap_seed)
        for (position, *_), line in zip(todo, trained, strict=True):
            lines[position - 1] = line
    for line in lines:
        print(f"{line['point']}: {line['status']} {line.get('reason', '')}".rstrip())
    errors = [line for line in lines if line["status"] == "error"]
    if errors:
        print(f"error: {len(errors)} point(s) of pack {pack} raised an error; their logs in {logs_dir} have the "
              "traceback. The other points' results are kept; the next run trains these again.")
    return lines


class PackData:
    """The pack's data on its device, loaded once, when first asked for: the single split, or each
    unit's training and validation rows scaled by a scaler fitted on its training rows only."""

    def __init__(self, train, val, cv):
        self.paths = {"train": train, "val": val, "cv": cv}
        self.device = None
        self._single = None
        self._cv = None
        self._units = {}

    def single(self):
        from .kernel import load_split

        if self._single is None:
            self._single = load_split(self.paths["train"], self.device), load_split(self.paths["val"], self.device)
        return self._single

    def cv(self) -> dict:
        if self._cv is None:
            import numpy as np

            with np.load(self.paths["cv"]) as z:
                self._cv = {k: z[k] for k in ("x", "y", "fold", "standardize")}
        return self._cv

    def unit(self, unit: dict):
        """(train, val) of a unit: the same arithmetic as the split job's, so fold 0 of one-fold seed
        repeats is bit-identical to the single split."""
        key = (unit["repeat"], unit["fold"])
        if key not in self._units:
            import numpy as np
            import torch

            from .folds import unit_rows
            from .kernel import Split
            from .split import Scaler

            cv = self.cv()
            train, val = unit_rows(cv["fold"], unit)
            x = cv["x"]
            scaler = Scaler.fit(x[train]) if bool(cv["standardize"]) else Scaler.identity(x.shape[1])

            def split(rows):
                xs = scaler.transform(x[rows]).astype(np.float32)
                return Split(torch.from_numpy(np.ascontiguousarray(xs)).to(self.device),
                             torch.from_numpy(np.ascontiguousarray(cv["y"][rows], dtype=np.float32)).to(self.device))

            self._units[key] = split(train), split(val)
        return self._units[key]

    def final(self):
        """All rows outside the test split, for the final model, and the scaler fitted on them. The
        kernel scores every epoch on a validation split; with no rows held out, that is these rows."""
        import numpy as np
        import torch

        from .kernel import Split
        from .split import Scaler

        cv = self.cv()
        x = cv["x"]
        scaler = Scaler.fit(x) if bool(cv["standardize"]) else Scaler.identity(x.shape[1])
        split = Split(torch.from_numpy(np.ascontiguousarray(scaler.transform(x).astype(np.float32))).to(self.device),
                      torch.from_numpy(np.ascontiguousarray(cv["y"], dtype=np.float32)).to(self.device))
        return split, scaler

    def cv_info(self, member: dict) -> dict:
        from .folds import fold_sizes

        n_train, n_val = fold_sizes(self.cv()["fold"])
        return {"folds": member["folds"], "repeats": member["repeats"], "seeds": member["seeds"],
                "train_rows": n_train, "val_rows": n_val}


def _train_units(member, paths, data, features, threads, bootstrap, bootstrap_seed, extra) -> dict:
    """Train a point's units that are not complete (a unit's files outlive a pack that dies, as they
    are no outputs Snakemake knows of), then write the point's summary of them."""
    from .selection import aggregate
    from .train import train_point

    folder = paths["metrics"].parent
    records = []
    for unit in member["units"]:
        upaths = unit_paths(folder, member, unit["unit"])
        hp = {**member["hparams"], "seed": unit["seed"]}
        # Keyed by the unit base, not the point: points with more repeats or seeds share these units.
        base = member.get("unit_base", member["point"])
        ukey = cache_key({**member, "point": base, "hparams": hp, "unit": unit, "units": None}, bootstrap=bootstrap,
                         bootstrap_seed=bootstrap_seed, tracking={})
        if is_complete(upaths, ukey):
            records.append(read_json(upaths["metrics"]))
            continue
        upaths["metrics"].parent.mkdir(parents=True, exist_ok=True)
        upaths["metrics"].unlink(missing_ok=True)
        train, val = data.unit(unit)
        print(f"unit {unit['unit']} (repeat {unit['repeat']}, fold {unit['fold']}, seed {unit['seed']}): "
              f"{len(train.y)} training rows, {len(val.y)} validation rows")
        records.append(train_point(point=base, hp=hp, train=train, val=val, features=features,
                                   threads=threads, outputs=upaths, params=member["params"], n_boot=bootstrap,
                                   boot_seed=bootstrap_seed, extra={"cache_key": ukey, "unit": unit}))
    histories = [unit_paths(folder, member, u["unit"])["history"] for u in member["units"]]
    record, history = aggregate(member, records, data.cv_info(member), histories)
    from .curves import draw_learning_curve
    from .kernel import write_history

    write_history(paths["history"], history)
    cv = record["cv"]
    note = record["reason"] or (f"mean over {len(records)} units: {cv['folds']} fold(s) x {cv['repeats']} "
                                f"repeat(s) x {cv['seeds']} seed(s)")
    draw_learning_curve(history, paths["curve"], title=member.get("title") or member["point"], note=note)
    record.update(extra)
    write_json(paths["metrics"], json_safe(record))
    return record


def _train_final(member, paths, data, features, threads, extra) -> dict:
    """The chosen configuration on every row outside the test split, with the scaler fitted on them
    (written first: metrics.json, last, marks the model complete)."""
    from .train import train_point

    split, scaler = data.final()
    folder = paths["metrics"].parent
    write_json(folder / "scaler.json", {**scaler.to_dict(features), "standardize": bool(data.cv()["standardize"]),
                                        "fitted_on": f"all {len(split.y)} rows outside the test split"})
    print(f"final model of point {member['point']}: {len(split.y)} rows, {member['hparams']['max_epochs']} epochs, "
          f"seed {member['hparams']['seed']}")
    return train_point(point=member["point"], hp=member["hparams"], train=split, val=split, features=features,
                       threads=threads, outputs=paths, title=member.get("title", ""), params=member["params"],
                       n_boot=100, extra={**extra, "trained_on": f"all {len(split.y)} rows outside the test split",
                                          "history_val_columns": "measured on the training rows (none held out)"})


def _train(pack, size, todo, data, labels, threads, logs_dir, tracking, bootstrap, bootstrap_seed):
    from .gpu import AUTO_ENV
    from .kernel import make_deterministic, resolve_device
    from .train import train_point

    make_deterministic(threads)
    device = resolve_device(todo[0][1]["hparams"])
    data.device = device
    features = read_json(labels)["features"]
    logs_dir.mkdir(parents=True, exist_ok=True)
    frozen = False
    lines = []
    for position, member, paths, key in todo:
        point = member["point"]
        paths["metrics"].parent.mkdir(parents=True, exist_ok=True)
        paths["metrics"].unlink(missing_ok=True)
        extra = {"cache_key": key, "pack": {"id": pack, "size": size, "position": position}}
        log = logs_dir / f"{point}.log"
        with open(log, "w", buffering=1) as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
            print(f"point {point} of pack {pack} ({position}/{size}), pid {os.getpid()}, accelerator "
                  f"{member['hparams']['accelerator']} ({AUTO_ENV}={os.environ.get(AUTO_ENV)!r}), device {device}")
            try:
                if member.get("units"):
                    record = _train_units(member, paths, data, features, threads, bootstrap, bootstrap_seed, extra)
                elif member.get("final"):
                    record = _train_final(member, paths, data, features, threads, extra)
                else:
                    splits = data.single()
                    record = train_point(point=point, hp=member["hparams"], train=splits[0], val=splits[1],
                                         epochs=member.get("epochs"), resume=member.get("resume"),
                                         features=features, threads=threads, outputs=paths,
                                         title=member.get("title", ""), tracker=_tracker(member, tracking),
                                         params=member["params"], n_boot=bootstrap, boot_seed=bootstrap_seed,
                                         extra=extra)
            except Exception as err:  # one point's bug or out-of-memory must not cost the others
                traceback.print_exc()
                record = _write_error(member, paths, err, log, extra)
                if device.type == "cuda":
                    import torch

                    torch.cuda.empty_cache()
            print(f"point {point}: {record['status']} {record['reason']} val_loss={record['val_loss']} "
                  f"val_roc_auc={record['val_roc_auc']} on {record.get('device', device)}")
        if record["status"] != "error":
            keep(paths)
        # A point's garbage (Lightning's trainer holds reference cycles) goes before the next point.
        # After the first point everything imported is frozen out of the collector's sight, or each
        # collection would walk torch's, Lightning's and matplotlib's objects: 0.2 s per point.
        gc.collect()
        if not frozen:
            gc.freeze()
            frozen = True
        lines.append({"point": point, "status": record["status"], "reason": record["reason"]})
        _fail_once_for_tests(pack)
    return lines


def _fail_once_for_tests(pack: str) -> None:
    folder = os.environ.get(FAIL_ONCE_ENV)
    if not folder:
        return
    marker = Path(folder) / pack
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        raise RuntimeError(f"pack {pack}: failing once after its first point, as {FAIL_ONCE_ENV} asks (tests only)")
