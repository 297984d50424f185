"""One interface, two runners: what trains a sweep's points, chosen once when the plan is made.

- `builtin` (runner.py): the workflow's own model, trained by the kernel in packs;
- `program` (own.py): the user's own W&B program, one run per point, started as W&B's agent would.

Both run a pack of points one after another in one job, claim one GPU for a GPU pack's whole life
(gpu.pack_device), skip a point whose metrics.json carries the same cache key (records.py), and write
each point's metrics.json last. Everything after them (the summary, the ranking, the choice, the plots)
reads those records and calls the runner's own function only where the two differ (`step`).
"""

from __future__ import annotations

import importlib

# Dispatching jobs, not computing anything: not part of a point's id (identity.py).
RESULT_CODE = False

BUILTIN, PROGRAM = "builtin", "program"
# Each runner's module, by what a job asks of it: where the two runners differ after training.
MODULES = {BUILTIN: {"run_pack": "runner", "summarize": "summary", "plot_sweep": "plots"},
           PROGRAM: {"run_pack": "own", "summarize": "summary", "plot_sweep": "plots"}}
ENTRY = {(PROGRAM, "run_pack"): "run_own_pack", (PROGRAM, "summarize"): "summarize_program",
         (PROGRAM, "plot_sweep"): "plot_program_sweep"}


def runner_of(spec) -> str:
    """The runner a sweep needs: the user's program when its file names one (W&B's program/command)."""
    return PROGRAM if spec.own else BUILTIN


def step(runner: str, name: str):
    """The runner's function for a job (`run_pack`, `summarize`, `plot_sweep`)."""
    if runner not in MODULES:
        raise ValueError(f"unknown runner {runner!r}; expected one of {sorted(MODULES)}")
    module = importlib.import_module(f"{__package__}.{MODULES[runner][name]}")
    return getattr(module, ENTRY.get((runner, name), name))


# The data files a built-in pack reads (the rule's inputs); an own program reads its own data.
DATA_INPUTS = ("train", "val", "cv", "labels")


def run_pack(runner: str, *, pack: str, members: list[dict], metrics_files: list[str], logs_dir: str,
             settings: dict, data: dict | None = None) -> list[dict]:
    """Train (or run) the pack's points that are not complete; one status line per point. `settings`
    are the runner's own (the rule's params), `data` the input files a built-in pack reads."""
    if runner == BUILTIN:
        settings = {**settings, **{k: v for k, v in (data or {}).items() if k in DATA_INPUTS and v is not None}}
    return step(runner, "run_pack")(pack=pack, members=members, metrics_files=metrics_files, logs_dir=logs_dir,
                                    **settings)
