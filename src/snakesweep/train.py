"""One sweep point, from the split in memory to its files: the engine's fit, then the checkpoint, the
per-epoch history, the learning curve and metrics.json (written last: a point with a metrics.json is
complete). The built-in runner (runner.py) calls this once per point; `run_point` is the same for a point
trained on its own.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

from . import __version__
from .io import json_safe, read_json, write_json, write_scores
from .kernel import (
    Split,
    load_checkpoint,
    load_split,
    make_deterministic,
    process_start_time,
    resolve_device,
    save_checkpoint,
    write_history,
)


def fit(hp: dict, train: Split, val: Split, device: torch.device, on_epoch=None, resume: dict | None = None,
        epochs: int | None = None):
    """Train with the point's engine. The engines are peers on the kernel; Lightning is imported only
    by packs that use it (it costs seconds). `resume` (a loaded checkpoint) and `epochs` (in total,
    default hp["max_epochs"]) are as in engine_torch.fit_torch."""
    if hp["engine"] == "lightning":
        from .engine_lightning import fit_lightning

        return fit_lightning(hp, train, val, device, on_epoch=on_epoch, resume=resume, epochs=epochs)
    from .engine_torch import fit_torch

    return fit_torch(hp, train, val, device, on_epoch=on_epoch, resume=resume, epochs=epochs)


def train_point(*, point: str, hp: dict, train: Split, val: Split, features: list[str], threads: int,
                outputs: dict, title: str = "", tracker=None, params: dict | None = None,
                extra: dict | None = None, resume=None, epochs: int | None = None, fitted=None) -> dict:
    """Train one point on splits already on its device and write its files; returns metrics.json's record.

    `params` are the point's swept values as the points table shows them; `extra` fields (the cache
    key, the pack) are added to the record. The validation scores go to outputs["scores"] when asked
    for: intervals and ties are computed from them later (intervals.py), so no interval method or
    setting is part of training. `resume`: the path of a checkpoint
    of this point to continue from (bit-identical to training straight through); `epochs`: how many
    epochs to have in total (default hp["max_epochs"]); the files describe all of them. `fitted`: the point's
    kernel.FitResult, trained already with the other points of its group (batched.fit_group, bit-identical
    to training it here): only its files are written, and its epochs are logged to the tracker.
    """
    device = train.x.device
    on_epoch = None
    if tracker is not None:
        def on_epoch(row):
            tracker.log_epoch(row["epoch"], {k: v for k, v in row.items() if k != "epoch"})
    if fitted is None:
        checkpoint = load_checkpoint(resume, device) if resume is not None else None
        result = fit(hp, train, val, device, on_epoch=on_epoch, resume=checkpoint, epochs=epochs)
    else:
        result = fitted
        for row in result.history if on_epoch is not None else ():
            on_epoch(row)
    last = result.history[-1] if result.history else {}
    ok = result.status == "ok"
    y_val = val.y.cpu().numpy()
    started = process_start_time()
    record = {
        "point": point,
        "params": params if params is not None else {},
        "status": result.status,
        "reason": result.reason,
        "train_loss": last.get("train_loss") if ok else None,
        "val_loss": last.get("val_loss") if ok else None,
        "val_roc_auc": last.get("val_roc_auc") if ok else None,
        "val_rows": {"positive": int(y_val.sum()), "negative": int(len(y_val) - y_val.sum())},
        "epochs": len(result.history),
        "hparams": hp,
        "seed": hp["seed"],
        "engine": hp["engine"],
        "threads": int(threads),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "train_seconds": round(result.train_seconds, 4),
        "startup_seconds": (round(result.first_step_at - started, 3)
                            if started is not None and result.first_step_at is not None else None),
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "snakesweep_version": __version__,
        **(extra or {}),
    }
    save_checkpoint(Path(outputs["model"]), result, hp, features)
    write_history(Path(outputs["history"]), result.history)
    if "scores" in outputs:
        # A failed point's scores are those of its last epoch that had any (or none): nothing reads them.
        write_scores(outputs["scores"], y_val, result.val_scores if result.val_scores is not None else [])
    if "curve" in outputs:
        from .curves import draw_learning_curve

        draw_learning_curve(result.history, outputs["curve"], title=title or point, note=result.reason)
    if tracker is not None:
        summary = {k: record[k] for k in ("status", "val_loss", "val_roc_auc", "train_loss", "epochs")}
        tracker.finish(json_safe(summary), Path(outputs["model"]), exit_code=0 if ok else 1)
    write_json(outputs["metrics"], record)
    return record


def run_point(*, point: str, hp: dict, train_path, val_path, features: list[str], threads: int,
              model_out, history_out, metrics_out, scores_out=None, tracker=None, params: dict | None = None,
              resume=None, epochs: int | None = None) -> dict:
    """One point on its own, from the split files (what a pack of one does, without the pack); `resume`
    and `epochs` as in train_point."""
    make_deterministic(threads)
    device = resolve_device(hp)
    return train_point(point=point, hp=hp, train=load_split(train_path, device), val=load_split(val_path, device),
                       features=features, threads=threads, tracker=tracker, params=params, resume=resume,
                       epochs=epochs, outputs={"model": model_out, "history": history_out, "metrics": metrics_out,
                                               **({"scores": scores_out} if scores_out is not None else {})})


def train_units(point, paths, data, features, threads, extra) -> dict:
    """Train a point's units that are not complete (a unit's files outlive a pack that dies, as they
    are no outputs Snakemake knows of), then write the point's summary of them."""
    import dataclasses

    from .records import builtin_settings, cache_key, is_complete, unit_paths
    from .selection import aggregate

    folder = paths["metrics"].parent
    records = []
    for unit in point.units:
        upaths = unit_paths(folder, point, unit["unit"])
        hp = {**point.hparams, "seed": unit["seed"]}
        # Keyed by the unit base, not the point: points with more repeats or seeds share these units.
        ukey = cache_key(dataclasses.replace(point, id=point.base, hparams=hp, units=()),
                         builtin_settings(tracking={}), unit=unit)
        if is_complete(upaths, ukey):
            records.append(read_json(upaths["metrics"]))
            continue
        upaths["metrics"].parent.mkdir(parents=True, exist_ok=True)
        upaths["metrics"].unlink(missing_ok=True)
        train, val = data.unit(unit)
        print(f"unit {unit['unit']} (repeat {unit['repeat']}, fold {unit['fold']}, seed {unit['seed']}): "
              f"{len(train.y)} training rows, {len(val.y)} validation rows")
        records.append(train_point(point=point.base, hp=hp, train=train, val=val, features=features,
                                   threads=threads, outputs=upaths, params=point.params,
                                   extra={"cache_key": ukey, "unit": unit}))
    histories = [unit_paths(folder, point, u["unit"])["history"] for u in point.units]
    record, history = aggregate(point, records, data.cv_info(point), histories)
    from .curves import draw_learning_curve

    write_history(paths["history"], history)
    cv = record["cv"]
    note = record["reason"] or (f"mean over {len(records)} units: {cv['folds']} fold(s) x {cv['repeats']} "
                                f"repeat(s) x {cv['seeds']} seed(s)")
    draw_learning_curve(history, paths["curve"], title=point.title, note=note)
    record.update(extra)
    write_json(paths["metrics"], json_safe(record))
    return record


def train_final(point, paths, data, features, threads, extra) -> dict:
    """The chosen configuration on every row outside the test split, with the scaler fitted on them
    (written first: metrics.json, last, marks the model complete)."""
    split, scaler = data.final()
    folder = paths["metrics"].parent
    write_json(folder / "scaler.json", {**scaler.to_dict(features), "standardize": bool(data.cv()["standardize"]),
                                        "fitted_on": f"all {len(split.y)} rows outside the test split"})
    print(f"final model of point {point.id}: {len(split.y)} rows, {point.hparams['max_epochs']} epochs, "
          f"seed {point.hparams['seed']}")
    return train_point(point=point.id, hp=point.hparams, train=split, val=split, features=features,
                       threads=threads, outputs=paths, title=point.title, params=point.params,
                       extra={**extra, "trained_on": f"all {len(split.y)} rows outside the test split",
                                          "history_val_columns": "measured on the training rows (none held out)"})
