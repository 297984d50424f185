#!/usr/bin/env python
"""Packing on a SLURM cluster: a 100-point sweep through profiles/slurm with pack size 1 and with the
default, against the same sweep run locally in the same command.

    python benchmarks/slurm.py [--points 100] [--sizes 1 20]

Needs the test cluster (`tests/slurm/cluster.sh install`; this script starts it when it is not running and
stops it again afterwards) or, with SLURM_CONF and --partition/--account, any cluster whose compute nodes
share this file system. stdout: one JSON line per pack size with `submissions` (SLURM jobs, from sacct),
`seconds` (the whole `snakemake --profile profiles/slurm` run, from an empty results/) and `ratio` to the
local run (`snakemake --cores 2`, default pack size); stderr: progress. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from run import MACHINE, ROOT, SNAKEMAKE, Failed, copy_project, log, run_timed, write_config

CLUSTER = ROOT / "tests/slurm/cluster.sh"


def cluster(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CLUSTER), command], capture_output=True, text=True, timeout=300)


def set_profile(work: Path, partition: str, account: str) -> None:
    """What the README asks of a user: set partition and account in the copied profile."""
    path = work / "profiles/slurm/profile.yaml"
    profile = yaml.safe_load(path.read_text())
    profile["default-resources"].update(slurm_partition=partition, slurm_account=account)
    path.write_text(yaml.safe_dump(profile, sort_keys=False))


def submissions(work: Path) -> int:
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-S", "now-1days", "-o", "JobID,WorkDir"],
                         capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if line.split("|")[-1] == str(work))


def sweep_run(points: int, pack_size: int, slurm: bool, partition: str, account: str) -> dict:
    work = copy_project()
    try:
        config = write_config(work, sweep={"file": "config/sweep.yaml", "seed": 1, "count": points},
                              train={"pack_size": pack_size})
        if slurm:
            set_profile(work, partition, account)
            cmd = [SNAKEMAKE, "--profile", "profiles/slurm", "--configfile", config]
        else:
            cmd = [SNAKEMAKE, "--cores", "2", "--configfile", config]
        seconds, _ = run_timed(cmd, work, timeout=3600, sample=False)
        return {"seconds": round(seconds, 1), "submissions": submissions(work) if slurm else 0}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--partition", default="debug", help="of the test cluster unless given")
    parser.add_argument("--account", default="snakesweep", help="of the test cluster unless given")
    args = parser.parse_args()
    started = False
    if "SLURM_CONF" not in os.environ:
        started = cluster("status").returncode != 0
        if (p := cluster("start")).returncode != 0:
            log(p.stderr)
            return 1
        os.environ["SLURM_CONF"] = cluster("env").stdout.strip().split("=", 1)[1]
    try:
        log(f"local: snakemake --cores 2, {args.points} points ...")
        local = sweep_run(args.points, 20, False, args.partition, args.account)
        log(f"  {local['seconds']} s")
        for size in args.sizes:
            log(f"slurm: snakemake --profile profiles/slurm, {args.points} points, pack size {size} ...")
            res = sweep_run(args.points, size, True, args.partition, args.account)
            log(f"  {res['seconds']} s, {res['submissions']} submissions")
            print(json.dumps({"name": f"slurm_pack_{size}", "ratio": round(res["seconds"] / local["seconds"], 2),
                              **res, "points": args.points, "pack_size": size,
                              "baseline_seconds": local["seconds"], "machine": MACHINE}), flush=True)
    except Failed as err:
        log(f"FAILED: {err}")
        return 1
    finally:
        if started:
            cluster("stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
