"""The built-in runner: a pack of sweep points trained one after another in one process.

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
import os
import time
import traceback
from pathlib import Path

from . import __version__, layout
from .io import json_safe, read_json, write_json
from .points import Point, as_point
from .records import builtin_settings, cache_key, is_complete, keep, restore_kept
from .unitdata import PackData

# Which points run, where and in what order, not what they compute: not part of a point's id.
RESULT_CODE = False
FAIL_ONCE_ENV = "SNAKESWEEP_TEST_FAIL_ONCE"


def _tracker(point: Point, tracking: dict):
    if not tracking.get("enabled") or tracking.get("mode") == "disabled":
        return None
    from .tracking import WandbTracker

    opts = {k: tracking[k] for k in ("mode", "project", "entity", "group", "log_model") if k in tracking}
    return WandbTracker(point=point.id, run_dir=Path(tracking["run_dir"]),
                        config={"point": point.id, **point.hparams}, **opts)


def _write_error(point: Point, paths: dict[str, Path], err: BaseException, log: Path, extra: dict) -> dict:
    reason = f"{type(err).__name__}: {err}".strip()
    reason = (reason if len(reason) <= 300 else reason[:297] + "...") + f" (traceback in {log})"
    if "model" in paths:
        paths["model"].unlink(missing_ok=True)
    with open(paths["metrics"].parent / layout.ERRORS, "a") as fh:
        fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {reason}\n")
    from .curves import draw_learning_curve

    draw_learning_curve([], paths["curve"], title=point.title, note=reason)
    record = {"point": point.id, "params": point.params, "status": "error", "reason": reason,
              "train_loss": None, "val_loss": None, "val_roc_auc": None, "epochs": 0,
              "hparams": point.hparams, "seed": point.hparams["seed"],
              "engine": point.hparams["engine"], "snakesweep_version": __version__, **extra}
    write_json(paths["metrics"], json_safe(record))
    return record


def run_pack(*, pack: str, members: list[Point | dict], labels: str, threads: int, metrics_files: list[str],
             logs_dir: str, train: str | None = None, val: str | None = None, cv: str | None = None,
             tracking: dict | None = None, gpu_lock_dir: str | None = None, batched: bool = True) -> list[dict]:
    """Train the pack's points that are not complete; returns one line of status per point.

    `members`: the pack's points (points.Point, or their plain() dicts as Snakemake passes them), all
    of one accelerator kind; `metrics_files`: their metrics.json,
    in the same order (each point's other files go beside it). Points with units read their data from
    `cv` (folds.py), the others from `train` and `val`. A GPU pack claims one device for its whole
    life, before torch starts; torch is imported only when some point has to train. `batched`: train the
    points of one group (batched.py) together, each bit-identical to training it alone.
    """
    tracking = tracking or {}
    folders = [Path(m).parent for m in metrics_files]
    # A point's files sit in its folder, a hyperband stage's in a folder inside it.
    members = [as_point(m) for m in members]
    if any(m.id not in f.parts[-2:] for f, m in zip(folders, members, strict=True)):
        raise ValueError(f"pack {pack}: the metrics files {metrics_files} do not match its points")
    kinds = {m.hparams["accelerator"] for m in members}
    if len(kinds) != 1:
        raise ValueError(f"pack {pack} mixes accelerators {sorted(kinds)}")
    lines, todo = [], []
    settings = builtin_settings(tracking=tracking)
    for position, (point, folder) in enumerate(zip(members, folders, strict=True), 1):
        paths = layout.files(folder, layout.UNITS_POINT_FILES if point.units else layout.FINAL_FILES if point.final
                             else tuple(layout.POINT_FILES))
        key = cache_key(point, settings)
        if is_complete(paths, key):
            lines.append({"point": point.id, "status": "complete already"})
        # A point with units keeps its units' files instead (no output Snakemake knows of): the pack
        # trains the units that are missing and sums them up again, which is cheap.
        elif not point.units and restore_kept(paths, key):
            lines.append({"point": point.id, "status": "kept from an earlier attempt"})
        else:
            lines.append(None)  # filled in when trained
            todo.append((position, point, paths, key))
    if todo:
        from .gpu import pack_device

        with pack_device(pack, next(iter(kinds)), gpu_lock_dir):
            trained = _train(pack, len(members), todo, PackData(train, val, cv), labels, threads, Path(logs_dir),
                             tracking, batched)
        for (position, *_), line in zip(todo, trained, strict=True):
            lines[position - 1] = line
    for line in lines:
        print(f"{line['point']}: {line['status']} {line.get('reason', '')}".rstrip())
    errors = [line for line in lines if line["status"] == "error"]
    if errors:
        print(f"error: {len(errors)} point(s) of pack {pack} raised an error; their logs in {logs_dir} have the "
              "traceback. The other points' results are kept; the next run trains these again.")
    return lines


def _fit_groups(pack, todo, data, device, probes: Path) -> dict:
    """The results of the pack's points that train batched, by point id: (kernel.FitResult, how). Groups
    of one, and groups whose probe found a difference on this machine, train one point at a time."""
    from . import batched

    groups = {}
    for _, point, _, _ in todo:
        if point.units or point.final or point.resume is not None or batched.why_not(point.hparams, device):
            continue
        groups.setdefault((batched.group_key(point.hparams), point.epochs), []).append(point)
    fitted = {}
    for (key, epochs), points in groups.items():
        if len(points) < 2:
            continue
        name = hashlib.sha256(key.encode()).hexdigest()[:8]
        train, val = data.single()
        verdict = batched.probe([p.hparams for p in points], train, val, probes)
        if not verdict["exact"]:
            print(f"pack {pack}: group {name} ({len(points)} points, {key}) trains one point at a time: on this "
                  f"machine the batched path differs from training alone ({verdict['differs']}; probe "
                  f"{verdict['file']})")
            continue
        t0 = time.perf_counter()
        # Chunks bound the memory; a point's numbers do not depend on which points share its chunk.
        for start in range(0, len(points), batched.MAX_GROUP):
            chunk = points[start:start + batched.MAX_GROUP]
            results = batched.fit_group([p.hparams for p in chunk], train, val, epochs)
            for p, result in zip(chunk, results, strict=True):
                fitted[p.id] = result, {"group": name, "points": len(points)}
        print(f"pack {pack}: group {name}: {len(points)} points trained batched in "
              f"{time.perf_counter() - t0:.2f} s ({key})")
    return fitted


def _train(pack, size, todo, data, labels, threads, logs_dir, tracking, batched):
    from .gpu import AUTO_ENV
    from .kernel import make_deterministic, resolve_device
    from .train import train_final, train_point, train_units

    make_deterministic(threads)
    device = resolve_device(todo[0][1].hparams)
    data.device = device
    features = read_json(labels)["features"]
    logs_dir.mkdir(parents=True, exist_ok=True)
    fitted = _fit_groups(pack, todo, data, device, layout.probe_dir(logs_dir)) if batched else {}
    frozen = False
    lines = []
    for position, point, paths, key in todo:
        paths["metrics"].parent.mkdir(parents=True, exist_ok=True)
        paths["metrics"].unlink(missing_ok=True)
        extra = {"cache_key": key, "pack": {"id": pack, "size": size, "position": position},
                 "batched": fitted[point.id][1] if point.id in fitted else None}
        log = logs_dir / f"{point.id}.log"
        with open(log, "w", buffering=1) as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
            print(f"point {point.id} of pack {pack} ({position}/{size}), pid {os.getpid()}, accelerator "
                  f"{point.hparams['accelerator']} ({AUTO_ENV}={os.environ.get(AUTO_ENV)!r}), device {device}")
            try:
                if point.units:
                    record = train_units(point, paths, data, features, threads, extra)
                elif point.final:
                    record = train_final(point, paths, data, features, threads, extra)
                else:
                    splits = data.single()
                    if point.id in fitted:
                        print(f"trained batched with the {extra['batched']['points']} points of its group "
                              f"{extra['batched']['group']} in this pack (bit-identical to training it alone)")
                    record = train_point(point=point.id, hp=point.hparams, train=splits[0], val=splits[1],
                                         epochs=point.epochs, resume=point.resume,
                                         fitted=fitted.pop(point.id, (None,))[0],
                                         features=features, threads=threads, outputs=paths,
                                         title=point.title, tracker=_tracker(point, tracking),
                                         params=point.params, extra=extra)
            except Exception as err:  # one point's bug or out-of-memory must not cost the others
                traceback.print_exc()
                record = _write_error(point, paths, err, log, extra)
                if device.type == "cuda":
                    import torch

                    torch.cuda.empty_cache()
            print(f"point {point.id}: {record['status']} {record['reason']} val_loss={record['val_loss']} "
                  f"val_roc_auc={record['val_roc_auc']} on {record.get('device', device)}")
        if record["status"] != "error":
            keep(paths)
        # A point's garbage (Lightning's trainer holds reference cycles) goes before the next point; a
        # point trained batched left none (1 ms a point). After the first point everything imported is
        # frozen out of the collector's sight, or each collection would walk torch's and Lightning's
        # objects (benchmarks/README.md).
        if extra["batched"] is None or not frozen:
            gc.collect()
        if not frozen:
            gc.freeze()
            frozen = True
        lines.append({"point": point.id, "status": record["status"], "reason": record["reason"]})
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
