#!/usr/bin/env python
"""The workflow's figures against their baselines, each measured in the same command.

    python benchmarks/run.py [end_to_end] [incremental] [scale] [job_overhead] [rounds]     # default: all
    python benchmarks/run.py coverage     # only when named: the intervals' coverage (interval_coverage.py)
    python benchmarks/run.py large_sweep  # only when named: 1,000 points against the default 20

Every figure runs the real workflow (the `snakemake` of this interpreter's environment) in a fresh temporary
copy of the project, so the checkout's results/ are never touched. stdout: one JSON line per figure, each with
`name` and `ratio` (to its baseline); stderr: progress. Exits 1 when a run failed (after printing the
figures that succeeded). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
PROJECT = ["Snakefile", "workflow", "config", "src", "profiles", "environment.yml", "pyproject.toml",
           "requirements"]  # rules name its conda env; the crate records the lock
SWEEP = {"file": "config/sweep.yaml", "seed": 1}
MACHINE = f"{platform.platform()}, {os.cpu_count()} cpus"


class Failed(Exception):
    pass


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def copy_project() -> Path:
    """A fresh copy of the workflow and its code in a temporary directory, with no results/."""
    work = Path(tempfile.mkdtemp(prefix="snakesweep-bench-"))
    for name in PROJECT:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, work / name)
    return work


def write_config(work: Path, **sections) -> str:
    """Config overrides as a file for --configfile (on the command line, --config reads numbers as strings)."""
    path = work / "bench-config.yaml"
    path.write_text(yaml.safe_dump(sections))
    return str(path)


def run_timed(cmd: list[str], cwd: Path, timeout: float, sample: bool = True) -> tuple[float, float]:
    """Run cmd; return its wall seconds and the largest peak RSS (MiB) of any one of its descendant processes
    (sampled every 50 ms, the process itself excluded; 0 with sample=False: sampling costs CPU, which
    matters on 2 cores). Raises Failed, with its output's tail, on error or timeout."""
    peak = 0
    with tempfile.TemporaryFile("w+", errors="replace") as out:
        t0 = time.perf_counter()
        proc = psutil.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        while True:
            try:
                proc.wait(timeout=0.05)
                break
            except psutil.TimeoutExpired:
                pass
            if time.perf_counter() - t0 > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            for child in proc.children(recursive=True) if sample else ():
                with contextlib.suppress(psutil.Error):  # it may have exited since
                    peak = max(peak, child.memory_info().rss)
        seconds = time.perf_counter() - t0
        out.seek(0)
        output = out.read()
    if proc.returncode != 0:
        reason = f"timed out after {timeout:.0f} s" if seconds > timeout else f"exit status {proc.returncode}"
        tail = "\n".join(output.splitlines()[-40:])
        raise Failed(f"{' '.join(cmd)} (in {cwd}): {reason}; its output ends:\n{tail}")
    return seconds, peak / 2**20


def snakemake(work: Path, *args: str, config: str | None = None, timeout: float = 1800,
              sample: bool = False) -> tuple[float, float]:
    """Run the workflow in `work`; return its wall seconds and the largest job's peak RSS in MiB (sampled when
    asked, and any benchmark file's max_rss)."""
    cmd = [SNAKEMAKE, "--cores", "2", *args, *(["--configfile", config] if config else [])]
    seconds, peak = run_timed(cmd, work, timeout, sample)
    for tsv in work.glob("results/benchmarks/**/*.tsv"):
        with open(tsv) as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                with contextlib.suppress(ValueError):  # 'NA' or '-' for a job too short to sample
                    peak = max(peak, float(row.get("max_rss", "")))
    return seconds, peak


def only(paths) -> Path:
    """The one file of a one-point sweep."""
    paths = sorted(paths)
    if len(paths) != 1:
        raise Failed(f"expected one file, found {len(paths)}: {[str(p) for p in paths]}")
    return paths[0]


def end_to_end(pairs: int = 2) -> list[dict]:
    flow, tutorial, peak = [], [], 0.0
    for i in range(pairs):
        work = copy_project()
        try:
            log(f"end_to_end {i + 1}/{pairs}: snakemake --cores 2 (20 points) ...")
            seconds, rss = snakemake(work, sample=True)
            flow.append(seconds)
            peak = max(peak, rss)
            log(f"  {seconds:.1f} s, largest job {rss:.0f} MiB; tutorial_sweep.py ...")
            cmd = [sys.executable, str(ROOT / "benchmarks/tutorial_sweep.py"), "--wandb-dir", str(work / "wandb")]
            seconds, _ = run_timed(cmd, work, timeout=900, sample=True)  # sampled alike, for a fair pair
            tutorial.append(seconds)
            log(f"  {seconds:.1f} s")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return [{"name": "end_to_end", "ratio": round(min(flow) / min(tutorial), 3), "seconds": round(min(flow), 2),
             "baseline_seconds": round(min(tutorial), 2), "peak_rss_mb": round(peak, 1),
             "pairs": pairs, "machine": MACHINE}]


def incremental(points: int = 500) -> list[dict]:
    work = copy_project()
    try:
        log(f"incremental: a {points}-point sweep from scratch ...")
        first, _ = snakemake(work, config=write_config(work, sweep={**SWEEP, "count": points}), timeout=7200)
        log(f"  {first:.1f} s; the same sweep with one more point ...")
        second, _ = snakemake(work, config=write_config(work, sweep={**SWEEP, "count": points + 1}), timeout=7200)
        log(f"  {second:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [{"name": "incremental", "ratio": round(second / first, 4), "seconds": round(second, 2),
             "baseline_seconds": round(first, 2), "points": points}]


def scale(sizes: tuple[int, ...] = (1000, 10000), base: int = 20) -> list[dict]:
    work = copy_project()
    try:
        def dry_run(count: int) -> float:
            log(f"scale: dry run of {count} points ...")
            seconds, _ = snakemake(work, "-n", "-q", config=write_config(work, sweep={**SWEEP, "count": count}))
            log(f"  {seconds:.2f} s")
            return seconds

        baseline = dry_run(base)
        lines = []
        for n in sizes:
            seconds = dry_run(n)
            lines.append({"name": "scale", "points": n, "seconds": round(seconds, 2),
                          "baseline_seconds": round(baseline, 2), "ratio": round(seconds / baseline, 2)})
        return lines
    finally:
        shutil.rmtree(work, ignore_errors=True)


def job_overhead(engines: tuple[str, ...] = ("torch", "lightning")) -> list[dict]:
    lines = []
    for engine in engines:
        work = copy_project()
        try:
            config = write_config(work, train={"engine": engine}, sweep={**SWEEP, "count": 1})
            log(f"job_overhead {engine}: one-point workflow ...")
            snakemake(work, config=config)
            shutil.rmtree(work / "results/points")
            log("  again, with results/points/ deleted ...")
            rerun, _ = snakemake(work, config=config)
            tsv = only(p for d in ("packs", "train") for p in work.glob(f"results/benchmarks/{d}/*.tsv"))
            with open(tsv) as fh:
                to_exit = float(next(csv.DictReader(fh, delimiter="\t"))["s"])
            metrics = json.loads(only(work.glob("results/points/*/metrics.json")).read_text())
            log(f"  training job {to_exit:.2f} s, of which training {metrics['train_seconds']:.2f} s")
            lines.append({"name": "job_overhead", "engine": engine,
                          "ratio": round(to_exit / metrics["train_seconds"], 2),
                          "to_first_step_seconds": metrics["startup_seconds"], "to_exit_seconds": round(to_exit, 3),
                          "train_seconds": metrics["train_seconds"], "rerun_seconds": round(rerun, 2)})
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return lines


ROUND_SPECS = {
    # The tutorial's sweep, as W&B would run it, and the same points as adaptive sweeps.
    "rounds": {"metric": {"name": "val_loss", "goal": "minimize", "target": 0.0}},  # unreachable: 2 rounds
    "bayes": {"method": "bayes"},
    "hyperband": {"early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 3}},
}


def rounds(points: int = 20, round_size: int = 10) -> list[dict]:
    """What adaptive sweeps cost over the same number of points planned upfront: the checkpoints between
    rounds and rungs. `rounds` trains the static sweep's very points in two rounds; bayes proposes its own;
    hyperband trains fewer epochs in all (points stop at bands)."""
    base = yaml.safe_load((ROOT / "config/sweep.yaml").read_text())
    times = {}
    for name, change in {"static": {}, **ROUND_SPECS}.items():
        work = copy_project()
        try:
            spec = {**base, **change, "metric": {**base["metric"], **change.get("metric", {})}}
            (work / "config/bench-sweep.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
            config = write_config(work, sweep={"file": "config/bench-sweep.yaml", "count": points, "seed": 1,
                                               "round_size": round_size})
            log(f"rounds: {name} ({points} points) ...")
            times[name], _ = snakemake(work, config=config)
            log(f"  {times[name]:.1f} s")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return [{"name": f"rounds_{name}", "ratio": round(times[name] / times["static"], 3),
             "seconds": round(times[name], 2), "baseline_seconds": round(times["static"], 2), "points": points,
             "round_size": round_size, "machine": MACHINE} for name in ROUND_SPECS]


def large_sweep(points: int = 1000) -> list[dict]:
    """A 1,000-point random sweep of the default search space against the default 20-point sweep, each from
    empty results in its own copy, and the same 1,000 points trained one at a time (train.batched: false)."""
    def timed(what: str, **sections) -> tuple[float, float]:
        work = copy_project()
        try:
            log(f"large_sweep: {what} ...")
            seconds, rss = snakemake(work, config=write_config(work, **sections), timeout=3600)
            log(f"  {seconds:.1f} s, largest job {rss:.0f} MiB")
            return seconds, rss
        finally:
            shutil.rmtree(work, ignore_errors=True)

    baseline, _ = timed("the default sweep (20 points)", sweep=SWEEP)
    seconds, rss = timed(f"{points} points", sweep={**SWEEP, "count": points})
    serial, _ = timed(f"{points} points, train.batched: false", sweep={**SWEEP, "count": points},
                      train={"batched": False})
    return [{"name": "large_sweep", "points": points, "seconds": round(seconds, 2),
             "baseline_seconds": round(baseline, 2), "ratio": round(seconds / baseline, 3),
             "serial_seconds": round(serial, 2), "batched_to_serial": round(seconds / serial, 3),
             "largest_job_mb": round(rss, 1), "machine": MACHINE}]


def coverage() -> list[dict]:
    """The 95% intervals' coverage, method by method (interval_coverage.py): statistics, not the workflow's speed."""
    import interval_coverage as measure

    t0 = time.perf_counter()
    lines = list(measure.run())
    log(f"coverage: {len(lines)} cells in {time.perf_counter() - t0:.0f} s")
    return [{**line, "machine": MACHINE} for line in lines]


FIGURES = {"end_to_end": end_to_end, "incremental": incremental, "scale": scale, "job_overhead": job_overhead,
           "rounds": rounds}
# Run only when named: not part of `run.py` alone (the performance check runs that whole).
ON_REQUEST = {"coverage": coverage, "large_sweep": large_sweep}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"any of {', '.join(FIGURES)} (default: all of them), or {', '.join(ON_REQUEST)}")
    names = parser.parse_args().names or list(FIGURES)
    figures = FIGURES | ON_REQUEST
    if unknown := set(names) - set(figures):
        parser.error(f"unknown figure(s): {', '.join(sorted(unknown))}")
    failed = False
    for name in names:
        try:
            for line in figures[name]():
                print(json.dumps(line), flush=True)
        except Exception as err:  # a failed figure must not stop the others
            log(f"{name}: FAILED: {type(err).__name__}: {err}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
