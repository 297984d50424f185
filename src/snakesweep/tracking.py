"""Optional, engine-independent Weights & Biases tracking for one sweep point.

Our own per-epoch CSV stays the source of truth; this module only mirrors it to W&B.  It talks to
the ``wandb`` SDK directly (never Lightning's ``WandbLogger``), so the plain PyTorch loop and the
Lightning loop log identically from their own per-epoch hooks::

    tracker = WandbTracker(point=pid, run_dir=out_dir, config=params, group=sweep_name, log_model=True)
    for epoch in range(n_epochs):
        ...
        tracker.log_epoch(epoch, {"train_loss": tl, "val_loss": vl})
    tracker.finish({"val_roc_auc": auc}, model_path=out_dir / "model.pt")

Design notes
------------
* ``wandb`` is imported lazily (only for ``offline``/``online`` modes); this module imports neither
  torch, lightning nor snakemake.
* Everything W&B writes lives under ``run_dir``: ``dir=run_dir`` puts the run folders in
  ``run_dir/wandb/`` and ``WANDB_DATA_DIR`` (artifact staging), ``WANDB_CACHE_DIR`` (core logs,
  artifact cache), ``WANDB_CONFIG_DIR`` and ``WANDB_ARTIFACT_DIR`` point into ``run_dir/wandb/.*``.
  These variables are set only while a tracker is active and restored by :meth:`WandbTracker.finish`.
* Start-up is kept fast and quiet: no console capture, no system-metrics sampler, no metadata probe
  (which would run git/nvidia-smi, query cloud metadata endpoints and record argv and SLURM env),
  no ``requirements.txt`` scan, no code saving, no error reporting (Sentry).
* The run id is derived from the point id (:func:`run_id`), so parallel offline runs never collide
  and a rerun of the same point resumes (``resume="allow"``) the same W&B run.
* Offline ``log_model`` works: ``run.log_artifact`` in offline mode copies the file into the staging
  folder (``WANDB_DATA_DIR/artifacts/staging``) and writes an ``artifact`` record into the ``.wandb``
  file; ``wandb sync`` uploads it later (see :func:`sync_offline_runs`).  The manifest references the
  staged copy by absolute path, so sync from the same filesystem layout.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Logging to W&B, which reads the results and never changes them: not part of a point's id.
RESULT_CODE = False

__all__ = [
    "MODES",
    "WandbTracker",
    "model_artifact_name",
    "offline_runs",
    "run_id",
    "sync_offline_runs",
]

log = logging.getLogger(__name__)

MODES = ("offline", "online", "disabled")

#: Sub-folders of ``run_dir`` that W&B's env-configurable locations are pointed at.
_ENV_DIRS = {
    "WANDB_DIR": "",  # root: wandb creates ``wandb/`` below it
    "WANDB_DATA_DIR": "wandb/.data",  # artifact staging
    "WANDB_CACHE_DIR": "wandb/.cache",  # wandb-core logs, artifact file cache
    "WANDB_CONFIG_DIR": "wandb/.config",  # settings file; nothing read from ~/.config/wandb
    "WANDB_ARTIFACT_DIR": "wandb/.artifacts",  # artifact downloads
}
#: Quiet/fast/no-telemetry switches (env side; the Settings side is in ``_quiet_settings``).
_ENV_FLAGS = {
    "WANDB_SILENT": "true",
    "WANDB_ERROR_REPORTING": "false",
    "WANDB_DISABLE_GIT": "true",
    "WANDB_DISABLE_CODE": "true",
    "WANDB_CONSOLE": "off",
}
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")


# --------------------------------------------------------------------------------------------- ids
def run_id(point: str, project: str) -> str:
    """Deterministic W&B run id for a sweep point: ``<point>-<8 hex of sha256(project, point)>``.

    The point id stays readable in the id; the digest makes it project-scoped.  Deterministic ids
    mean parallel offline runs never share a directory (cf. wandb#4267) and a rerun resumes the
    same run.  Result is at most 64 characters, only ``[A-Za-z0-9_.-]``.
    """
    if not isinstance(point, str) or not point.strip():
        raise ValueError(f"point id must be a non-empty string, got {point!r}")
    digest = hashlib.sha256(f"{project}\0{point}".encode()).hexdigest()[:8]
    safe = _SAFE_ID.sub("-", point.strip())[:55]
    return f"{safe}-{digest}"


def model_artifact_name(point: str) -> str:
    """Name of the ``model`` artifact logged for a point (mirrors Lightning's ``model-<id>``)."""
    return f"model-{_SAFE_ID.sub('-', point.strip())}"


# ----------------------------------------------------------------------------------------- tracker
class WandbTracker:
    """Mirror one sweep point's training to W&B (offline by default).

    ``mode="disabled"`` gives a no-op object that never imports wandb or touches the filesystem.
    Can be used as a context manager: leaving the block without :meth:`finish` finishes the run with
    an empty summary and exit code 1 if an exception escaped, else 0.
    """

    def __init__(
        self,
        *,
        point: str,
        run_dir: Path,
        config: dict,
        mode: str = "offline",
        project: str = "snakesweep",
        entity: str | None = None,
        group: str | None = None,
        name: str | None = None,
        tags: list[str] | None = None,
        log_model: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.point = point
        self.mode = mode
        self.project = project
        self.log_model = log_model
        self.run_dir = Path(run_dir).resolve()
        self.run_id = run_id(point, project)
        self.run = None
        self.run_path: Path | None = None  # .../wandb/offline-run-<ts>-<id> (or run-<ts>-<id> online)
        self.init_seconds = 0.0
        self._saved_env: dict[str, str | None] = {}
        self._finished = False
        if mode == "disabled":
            return

        t0 = time.perf_counter()
        self._enter_env()
        try:
            import wandb

            self.run = wandb.init(
                project=project,
                entity=entity,
                group=group,
                name=name or point,
                tags=list(tags) if tags else None,
                job_type="train",
                config=dict(config),
                id=self.run_id,
                resume="allow",
                dir=str(self.run_dir),
                settings=wandb.Settings(**_quiet_settings(wandb, mode)),
            )
            self.run_path = Path(self.run.dir).parent
        except BaseException:
            self._restore_env()
            raise
        self.init_seconds = time.perf_counter() - t0
        log.debug(
            "wandb %s run %s started in %.2fs at %s", mode, self.run_id, self.init_seconds, self.run_path
        )

    # -- public API ------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """True while a real (offline/online) run is open."""
        return self.run is not None and not self._finished

    @property
    def run_file(self) -> Path | None:
        """The run's transaction log (``run-<id>.wandb``), if any."""
        return None if self.run_path is None else self.run_path / f"run-{self.run_id}.wandb"

    def log_epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """Log one epoch's metrics under their own names, with ``step=epoch`` (plus an ``epoch`` key)."""
        if not self.active:
            return
        row: dict[str, Any] = {k: _scalar(v) for k, v in metrics.items()}
        row.setdefault("epoch", int(epoch))
        self.run.log(row, step=int(epoch))

    def finish(self, summary: Mapping[str, Any], model_path: Path | None = None, exit_code: int = 0) -> None:
        """Set the final summary, log the model artifact (if enabled) and close the run. Idempotent."""
        if self.run is None or self._finished:
            self._finished = True
            return
        self._finished = True
        try:
            import wandb

            if summary:
                self.run.summary.update({k: _scalar(v) for k, v in summary.items()})
            if self.log_model and model_path is not None:
                model_path = Path(model_path)
                if not model_path.is_file():
                    raise FileNotFoundError(f"log_model: model file not found: {model_path}")
                art = wandb.Artifact(
                    model_artifact_name(self.point),
                    type="model",
                    metadata={"point": self.point, "run_id": self.run_id, "file": model_path.name},
                )
                art.add_file(str(model_path), name=model_path.name)
                self.run.log_artifact(art, aliases=["latest"])
        finally:
            try:
                self.run.finish(exit_code=int(exit_code))
                # Stop this process's wandb-core service so that nothing lingers and a later tracker
                # (another run_dir) starts a service that sees its own env.
                import wandb

                wandb.teardown()
            finally:
                self._restore_env()

    def __enter__(self) -> WandbTracker:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._finished:
            self.finish({}, exit_code=1 if exc_type is not None else 0)

    # -- env scoping -----------------------------------------------------------------------------
    def _enter_env(self) -> None:
        env = {k: str(self.run_dir / sub) if sub else str(self.run_dir) for k, sub in _ENV_DIRS.items()}
        env.update(_ENV_FLAGS)
        for sub in _ENV_DIRS.values():
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        for key, value in env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, old in self._saved_env.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        self._saved_env = {}


def _quiet_settings(wandb: Any, mode: str) -> dict[str, Any]:
    wanted = {
        "mode": mode,
        "console": "off",
        "silent": True,
        "quiet": True,
        "show_info": False,
        "x_disable_stats": True,  # no system-metrics sampler
        "x_disable_meta": True,  # no git/gpu/cloud-metadata probe, no argv/env capture
        "x_disable_machine_info": True,
        "x_save_requirements": False,
        "disable_git": True,
        "disable_code": True,
        "save_code": False,
        "disable_job_creation": True,
    }
    fields = getattr(wandb.Settings, "model_fields", None)
    if fields is None:  # very old SDK: only the essentials
        return {"mode": mode, "console": "off", "silent": True}
    return {k: v for k, v in wanted.items() if k in fields}


def _scalar(v: Any) -> Any:
    """Turn numpy/torch 0-d values into plain Python numbers; leave everything else alone."""
    item = getattr(v, "item", None)
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            return v
    return v


# ------------------------------------------------------------------------------------ offline sync
def offline_runs(root: Path) -> list[Path]:
    """Offline run folders (``offline-run-<ts>-<id>`` holding a ``run-*.wandb``) under ``root``.

    Symlinks (``latest-run``) are not followed.  Sorted chronologically: by the folder's start
    timestamp, then by wandb's same-second de-duplication suffix (``-1``, ``-2``, ...).
    """
    root = Path(root)
    found: list[Path] = []
    if not root.is_dir():
        return found
    for dirpath, dirnames, _ in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for d in list(dirnames):
            p = here / d
            if d.startswith("offline-run-") and not p.is_symlink() and any(p.glob("run-*.wandb")):
                found.append(p)
                dirnames.remove(d)  # nothing to find inside a run folder
    return sorted(found, key=_run_dir_order)


def _run_dir_order(p: Path) -> tuple[str, int, str]:
    # offline-run-YYYYMMDD_HHMMSS-<id>[-N]: same timestamp and id -> the longer name is the later run
    stamp = p.name[len("offline-run-") :].split("-", 1)[0]
    return stamp, len(p.name), str(p)


def _is_synced(run_path: Path) -> bool:
    return any(run_path.glob("run-*.wandb.synced"))


def _wandb_cli() -> list[str]:
    exe = shutil.which("wandb")
    return [exe] if exe else [sys.executable, "-m", "wandb"]


def sync_offline_runs(root: Path, *, dry_run: bool = False) -> list[str]:
    """Upload offline runs under ``root`` with ``wandb sync <run folder>``, one command per run.

    Runs already marked synced (``run-*.wandb.synced``) are skipped.  Returns the shell-quoted
    commands; with ``dry_run`` nothing is executed.  Credentials come from the usual places
    (``WANDB_API_KEY`` or ``~/.netrc`` via ``wandb login``) and are never passed on the command line.
    Raises ``RuntimeError`` naming the failed runs after trying all of them.
    """
    cli = _wandb_cli()
    cmds = [[*cli, "sync", str(p)] for p in offline_runs(root) if not _is_synced(p)]
    if dry_run:
        return [shlex.join(c) for c in cmds]
    failed = []
    for cmd in cmds:
        proc = subprocess.run(cmd, check=False)
        if proc.returncode != 0:
            failed.append(f"{cmd[-1]} (exit {proc.returncode})")
    if failed:
        raise RuntimeError("wandb sync failed for: " + ", ".join(failed))
    return [shlex.join(c) for c in cmds]


def sync_job(*, root: str, out: str) -> None:
    """The `wandb_sync` target: upload every offline run not yet synced, and list what was synced."""
    from .io import write_text

    commands = sync_offline_runs(Path(root))
    write_text(out, "".join(c + "\n" for c in commands))
    print(f"synced {len(commands)} offline run(s) from {root}")
