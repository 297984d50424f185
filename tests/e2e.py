"""Helpers for end-to-end tests: a fresh copy of the workflow, config edits, real snakemake runs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
COPY = ["Snakefile", "workflow", "config", "profiles", "src", "environment.yml", "pyproject.toml", "requirements",
        "LICENSE"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info")


def make_workdir(tmp: Path, points: int = 3, epochs: int = 2, sweep: dict | None = None, **changes) -> Path:
    wd = tmp / "wf"
    for name in COPY:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, wd / name, ignore=IGNORE)
        else:
            wd.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, wd / name)
    if sweep is not None:
        (wd / "config" / "tiny-sweep.yaml").write_text(yaml.safe_dump(sweep, sort_keys=False))
        changes["sweep.file"] = "config/tiny-sweep.yaml"
    changes.setdefault("sweep.count", points)
    changes.setdefault("train.max_epochs", epochs)
    edit_config(wd, **changes)
    return wd


def edit_config(wd: Path, **changes) -> None:
    path = wd / "config" / "config.yaml"
    cfg = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        node = cfg
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def snakemake(wd: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=wd, capture_output=True, text=True,
                       timeout=900, env=None if env is None else {**os.environ, **env})
    if check and p.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def pack_jobs(snakemake_output: str) -> dict[str, dict]:
    """{pack rule: {"points": [...], "resources": "..."}} of the training packs Snakemake listed (dry run
    or real run): each pack is a rule of its own, named train_<pack id>."""
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule |\[)", snakemake_output):
        m = re.match(r"(?:local)?rule (train_[0-9a-f]{12}):", block.strip())
        if m:
            out = re.search(r"output: (.*)", block).group(1)
            resources = re.search(r"resources: (.*)", block)
            jobs[m.group(1)] = {"points": sorted(set(re.findall(r"results/points/([0-9a-f]{12})/", out))),
                                "resources": resources.group(1) if resources else ""}
    return jobs


def trained_points(wd: Path, since: float) -> set[str]:
    """Points trained after `since` (a time.time()): their log is written when they train. (Not the
    mtime of their files: Snakemake touches every output of a finished job, kept points' included.)"""
    return {f.stem for f in (wd / "results/logs/train").glob("*.log") if f.stat().st_mtime > since}


def job_count(dry_run_output: str, rule: str) -> int:
    """The count of `rule` in Snakemake's job-stats table (0 when absent)."""
    for line in dry_run_output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == rule and parts[1].isdigit():
            return int(parts[1])
    return 0


# A point's files whose bytes must not depend on how it was trained (alone, in a pack, on a cluster).
POINT_BYTES = ("model.pt", "history.csv", "learning_curve.svg")


def point_files(wd: Path) -> dict[str, dict]:
    """Every point's files: exact bytes, and metrics.json without the fields that describe the run."""
    from snakesweep.records import RUN_FIELDS

    out = {}
    for folder in sorted((wd / "results/points").iterdir()):
        metrics = json.loads((folder / "metrics.json").read_text())
        out[folder.name] = {**{name: (folder / name).read_bytes() for name in POINT_BYTES},
                            "metrics": {k: v for k, v in metrics.items() if k not in RUN_FIELDS}}
    return out


def wait_for_kept(wd: Path, count: int, timeout: float = 300) -> dict[str, bytes]:
    """Wait until a running pack has finished `count` points (their hard links in .kept/); returns
    {point: metrics.json bytes} of those found when it returns."""
    deadline = time.time() + timeout
    pattern = "*/.kept/metrics.json"
    while time.time() < deadline and len(list((wd / "results/points").glob(pattern))) < count:
        time.sleep(0.2)
    return {f.parents[1].name: f.read_bytes() for f in (wd / "results/points").glob(pattern)}


def processes_in(wd: Path, command_part: bytes = b"") -> list[int]:
    """The processes working in `wd` (whose command line contains `command_part`), this one excepted."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if command_part in (proc / "cmdline").read_bytes() and (proc / "cwd").resolve() == wd.resolve():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def crate_validates(wd: Path, scratch: Path) -> None:
    """The run's crate passes roc-validator's provenance-run-crate-0.5 at the REQUIRED level, offline."""
    from rocrate_offline import seed_cache, validate

    valid, issues = validate(wd / "results/crate", seed_cache(scratch / "http_cache"))
    assert valid, issues
