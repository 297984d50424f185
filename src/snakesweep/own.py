"""A sweep that runs the user's own program (W&B's `program`/`command`): its points and their runs.

Each point is one run of the program, as W&B's agent would start it (agent.py); what the workflow
keeps of it is the same as for the built-in trainer: each point's metrics.json in its folder (written last:
a point with one is complete), the history of the sweep's metric, and the run's log. A point's id
derives from its parameters, the command and the program file's content, so editing the program
runs every point again and nothing else does.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from . import SnakesweepError, __version__, layout
from .io import atomic_path, json_safe, read_json, write_json
from .points import as_point
from .ranking import is_number
from .records import cache_key, is_complete

# Fields of metrics.json that describe the run, not the result: they differ between reruns.
RUN_FIELDS = ("seconds", "pack")


def program_context(spec, *, workdir: str | Path, base: str | Path = ".") -> dict:
    """What decides an own program's results besides its parameters: the command, the program file's
    content and where it runs. Refuses a program file that is not there, before any job starts."""
    base = Path(base)
    digest = None
    if spec.program is not None:
        path = base / workdir / spec.program
        if not path.is_file():
            what = "is a directory" if path.is_dir() else "does not exist"
            raise SnakesweepError(f"sweep.file: program '{spec.program}' {what} (looked for {path}, relative to "
                                  "program.workdir); expected the training script the sweep runs")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return {"program": spec.program, "program_sha256": digest, "command": list(spec.command or []),
            "workdir": str(workdir)}


# An own program's point keeps its run's record and the metric's history (no model, no curve).
PROGRAM_FILES = ("history", "metrics")


def write_metric_history(path: Path, metric: str, history: list) -> None:
    """The metric per logged step, as the built-in trainer's history.csv has its per-epoch values."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["step", metric])
        for step, value in enumerate(history):
            w.writerow([step, repr(float(value)) if is_number(value) else ""])


def run_own_pack(*, pack: str, members: list[dict], metrics_files: list[str], spec_program: str | None,
                 spec_command: list | None, metric: str, workdir: str, logs_dir: str, sweep_id: str,
                 timeout_s: float | None, mode: str = "offline", paths: dict | None = None) -> list[dict]:
    """Run the program once for each of the pack's points that is not complete; one status line each.

    A point whose program fails (non-zero exit, timeout, metric never logged) is a result: status
    failed with the reason, as a diverging built-in point is. Its W&B files stay in its folder.
    """
    from .agent import run_point
    from .gpu import pack_device

    settings = {"timeout_s": timeout_s, "mode": mode, "metric": metric}
    members = [as_point(m) for m in members]
    kind = "gpu" if any(m.accelerator == "gpu" for m in members) else "cpu"
    lines = []
    with pack_device(pack, kind) as gpu:
        # As a built-in GPU pack's: one device claimed for the pack's life, shown to the program alone.
        gpu_env = {} if gpu is None else {"CUDA_VISIBLE_DEVICES": str(gpu)}
        for position, (point, metrics_file) in enumerate(zip(members, metrics_files, strict=True), 1):
            metrics_path = Path(metrics_file)
            folder = metrics_path.parent
            key = cache_key(point, {"settings": settings})
            if is_complete(layout.files(folder, PROGRAM_FILES), key):
                lines.append({"point": point.id, "status": "complete already", "reason": ""})
                continue
            folder.mkdir(parents=True, exist_ok=True)
            metrics_path.unlink(missing_ok=True)
            log = Path(logs_dir) / f"{point.id}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            # The values in the sweep file's own nesting: a dotted name written as such stays one name.
            nested = {tuple((paths or {}).get(name) or name.split(".")): value for name, value in point.params.items()}
            record = run_point(point_id=point.id, params=nested, command=spec_command, program=spec_program,
                               cwd=workdir, run_dir=folder.resolve(), metric=metric, sweep_id=sweep_id,
                               timeout_s=timeout_s, log_path=log, mode=mode, env=gpu_env)
            write_metric_history(layout.files(folder)["history"], metric, record.get("history") or [])
            record.update({"params": point.params, "cache_key": key, "draws": list(point.draws),
                           "snakesweep_version": __version__,
                           "pack": {"id": pack, "size": len(members), "position": position}})
            write_json(metrics_path, json_safe(record))
            lines.append({"point": point.id, "status": record["status"], "reason": record["reason"] or ""})
    for line in lines:
        print(f"{line['point']}: {line['status']} {line['reason']}".rstrip())
    return lines


def describe_best(*, chosen: str, metric_files: list[str], points: list[str], out: str) -> dict:
    """best.json for an own program: the point chosen by the program's metric (choose.choose_job), with
    how its run was started; no test split (the program splits its data itself)."""
    from .choose import read_records

    choice = read_json(chosen)
    records = read_records(points, metric_files)
    rec = next(r for r in records if r["point"] == choice["point"])
    metric = choice["chosen_by"]["metric"]
    ok = sum(r["status"] == "ok" for r in records)
    best = {"point": rec["point"], "params": rec["params"], metric: rec[metric],
            "chosen_by": {**choice["chosen_by"], "split": "the program's own (its logged metric)"},
            "run": {k: rec.get(k) for k in ("run_id", "run_file", "log", "command", "cwd", "seconds")},
            "points": {"ok": int(ok), "failed": int(len(records) - ok)},
            "snakesweep_version": __version__}
    write_json(out, json_safe(best))
    print(f"best by {metric}: {best['point']} ({metric} = {best[metric]})")
    return best
