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


def output_paths(folder: str | Path) -> dict[str, Path]:
    folder = Path(folder)
    return {k: folder / v for k, v in FILES.items()}


def cache_key(member: dict, *, bootstrap: int, bootstrap_seed: int, tracking: dict) -> str:
    """Everything that decides a point's files: its id (data, split, code, hyperparameters), the
    validation interval's bootstrap and whether it is tracked, but not the pack it trains in."""
    blob = json.dumps({"point": member["point"], "hparams": member["hparams"], "params": member["params"],
                       # A hyperband stage: trained to fewer epochs than the point's max_epochs.
                       **({"epochs": member["epochs"]} if member.get("epochs") is not None else {}),
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


def run_pack(*, pack: str, members: list[dict], train: str, val: str, labels: str, threads: int,
             metrics_files: list[str], logs_dir: str, tracking: dict | None = None, bootstrap: int = 2000,
             bootstrap_seed: int = 0, gpu_lock_dir: str | None = None) -> list[dict]:
    """Train the pack's points that are not complete; returns one line of status per point.

    `members`: the plan's points (`point`, `hparams`, `params`, `title`), all of one accelerator kind;
    `metrics_files`: their metrics.json, in the same order (each point's other files go beside it). A
    GPU pack claims one device for its whole life, before torch starts; torch is imported only when
    some point has to train.
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
        paths = output_paths(folder)
        key = cache_key(member, bootstrap=bootstrap, bootstrap_seed=bootstrap_seed, tracking=tracking)
        if is_complete(paths, key):
            lines.append({"point": member["point"], "status": "complete already"})
        elif restore_kept(paths, key):
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
            trained = _train(pack, len(members), todo, train, val, labels, threads, Path(logs_dir), tracking,
                             bootstrap, bootstrap_seed)
        for (position, *_), line in zip(todo, trained, strict=True):
            lines[position - 1] = line
    for line in lines:
        print(f"{line['point']}: {line['status']} {line.get('reason', '')}".rstrip())
    errors = [line for line in lines if line["status"] == "error"]
    if errors:
        print(f"error: {len(errors)} point(s) of pack {pack} raised an error; their logs in {logs_dir} have the "
              "traceback. The other points' results are kept; the next run trains these again.")
    return lines


def _train(pack, size, todo, train, val, labels, threads, logs_dir, tracking, bootstrap, bootstrap_seed):
    from .gpu import AUTO_ENV
    from .kernel import load_split, make_deterministic, resolve_device
    from .train import train_point

    make_deterministic(threads)
    device = resolve_device(todo[0][1]["hparams"])
    features = read_json(labels)["features"]
    splits = load_split(train, device), load_split(val, device)
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
