"""What a job declares to the scheduler: memory and time, from what it trains and how large its data is.

Snakemake passes these to SLURM (`--mem`, `--time`); locally they bound how many jobs run at once. A
retry (`--retries`) multiplies each by the attempt number, so a job killed for memory or time gets more.
The rule files wrap these in Snakemake's callables (workflow/rules/common.smk).
"""

from __future__ import annotations

import math

# What jobs ask of the scheduler, not what they compute: not part of a point's id (identity.py).
RESULT_CODE = False

# MB of a pack's process before its data: torch and Lightning. GPU packs add CUDA's host-side context
# (not measured on the CPU-only machines where this was sized; a retry doubles it anyway).
MEM_BASE_MB = {"cpu": 700, "gpu": 2000}
# MB per MB of input a training job holds (its split, tensors and copies); measured on tall and wide
# tables (benchmarks/README.md).
TRAIN_MB_PER_INPUT_MB = 4


def mem_base(accelerator: str) -> int:
    return MEM_BASE_MB["gpu" if accelerator == "gpu" else "cpu"]


def mem_mb(base: float, per_input_mb: float, input_mb: float, attempt: int = 1) -> int:
    """Memory for a job that holds its inputs in memory: a base for the libraries plus a multiple of
    the input size."""
    return int((base + per_input_mb * input_mb) * attempt)


def runtime_minutes(epochs: list[int], input_mb: float, attempt: int = 1, *, startup_s: float = 60,
                    per_point_s: float = 5, per_point_s_per_input_mb: float = 60) -> int:
    """Minutes for a pack whose points (or units) train `epochs` each, one after another: start-up once,
    then each point for every 10 of its epochs (far more than the bundled data needs), longer on larger
    splits. A pack's memory does not grow with its size; its runtime does."""
    tens_of_epochs = sum(max(1.0, e / 10) for e in epochs)
    per_point = per_point_s + per_point_s_per_input_mb * input_mb
    return max(1, math.ceil((startup_s + tens_of_epochs * per_point) * attempt / 60))


def program_runtime(runs: int, minutes_each: float, attempt: int = 1) -> int:
    """Minutes for a pack of an own program's runs: each may take program.runtime (then it is stopped),
    plus a minute for the pack's own start."""
    return int(minutes_each * runs * attempt + 1)


def pack_epochs(points) -> list[int]:
    """The epochs each training in a pack runs: one per point (points.Point), or one per unit of a point
    with units."""
    return [p.hparams["max_epochs"] for p in points for _ in p.units or [None]]
