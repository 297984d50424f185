"""`snakesweep run`: the workflow this package ships, run by Snakemake in a folder of the user's choosing.

The workflow's files (Snakefile, workflow/, config/, profiles/, ...) are those of the checkout when the
package is installed from one (`pip install -e .`), else the copy a wheel carries in snakesweep/_workflow
(setup.py puts it there). Everything else is Snakemake's: the run is `snakemake --snakefile ... --directory
DIR --configfile ...`, so a folder run this way is the same as one run from a checkout, crate included.

What a Galaxy job (galaxy/) or a batch script needs on top: cores, memory and GPUs given as numbers, the
HTML report and the chosen model as files, and on failure the workflow's own one-line message last on
stderr, not a traceback among Snakemake's output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import SnakesweepError
from .io import load_yaml

# How snakesweep is run, not what it computes: not part of a point's id (identity.py).
RESULT_CODE = False

PACKAGED = "_workflow"  # the workflow's files inside an installed wheel (setup.py says which)
DEFAULT_CONFIG = "config/config.yaml"
DEFAULT_SWEEP = "config/sweep.yaml"
# A line of the workflow's own explanation of a failure: a job's (jobs.run_logged), or the checks made
# when the DAG is built (common.smk); not its warnings.
MESSAGE = re.compile(r"snakesweep: (?!warning: )(?:error: )?(.+)")


def workflow_dir() -> Path:
    """The folder holding the workflow's Snakefile: the checkout's, or the installed copy."""
    package = Path(__file__).resolve().parent
    checkout = package.parents[1]  # src/snakesweep -> the checkout
    if (checkout / "Snakefile").is_file() and (checkout / "workflow" / "rules").is_dir():
        return checkout
    packaged = package / PACKAGED
    if (packaged / "Snakefile").is_file():
        return packaged
    raise SnakesweepError(f"the workflow's files are not installed with snakesweep (looked in {checkout} and "
                          f"{packaged}); install snakesweep from a wheel or a checkout of its repository")


def galaxy_gpus(env=None) -> int:
    """GPUs this job may use: none when Galaxy says the job has none (GALAXY_GPU_ENABLED=false), else those
    CUDA_VISIBLE_DEVICES lists, or the machine's (Galaxy 26.1's tools have no way to ask for a GPU)."""
    from .gpu import count_gpus

    env = os.environ if env is None else env
    if env.get("GALAXY_GPU_ENABLED", "").strip().lower() in ("false", "0", "no"):
        return 0
    return count_gpus(env=env)


def config_files(directory: Path, configfile: str | Path | None, wf: Path, scratch: Path) -> list[str]:
    """The config files Snakemake gets: the user's (or the folder's config/config.yaml, or the installed
    default); then, when its sweep file is a relative path found not in the folder but among the installed
    workflow's files (config/sweep.yaml, the examples), one that names that file."""
    if configfile is not None:
        cfg_path = Path(configfile)
        if not cfg_path.is_file():
            raise SnakesweepError(f"--configfile: file '{configfile}' does not exist; expected a YAML config "
                                  f"(its keys: {wf / 'config' / 'README.md'})")
    elif (directory / DEFAULT_CONFIG).is_file():
        cfg_path = directory / DEFAULT_CONFIG
    else:
        cfg_path = wf / DEFAULT_CONFIG
    cfg = load_yaml(cfg_path, "--configfile") or {}
    if not isinstance(cfg, dict):
        raise SnakesweepError(f"--configfile: '{cfg_path}' holds {type(cfg).__name__}, expected a mapping of keys")
    files = [str(cfg_path.resolve())]
    sweep = cfg.get("sweep") if isinstance(cfg.get("sweep"), dict) else {}
    sweep_file = sweep.get("file", DEFAULT_SWEEP)
    if (isinstance(sweep_file, str) and not Path(sweep_file).is_absolute() and not (directory / sweep_file).exists()
            and (wf / sweep_file).is_file()):
        extra = scratch / "sweep-file.yaml"
        extra.write_text(json.dumps({"sweep": {"file": str(wf / sweep_file)}}) + "\n")
        files.append(str(extra))
    return files


def snakemake_command(wf: Path, directory: Path, configs: list[str], *, cores: int, gpus: int, mem_mb: int,
                      extra: list[str]) -> list[str]:
    resources = [*([f"gpu={gpus}"] if gpus else []), *([f"mem_mb={mem_mb}"] if mem_mb else [])]
    return [sys.executable, "-m", "snakemake", "--snakefile", str(wf / "Snakefile"), "--directory", str(directory),
            "--configfile", *configs, "--cores", str(cores), *(["--resources", *resources] if resources else []),
            *extra]


def _run(cmd: list[str], env: dict, out) -> tuple[int, list[str]]:
    """Run Snakemake with its output passed on to `out`; returns its exit status and the workflow's own
    messages found in that output."""
    messages = []
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          bufsize=1) as proc:
        for line in proc.stdout:
            out.write(line)
            if (m := MESSAGE.search(line)) and m.group(1).strip() not in messages:
                messages.append(m.group(1).strip())
        out.flush()
        return proc.wait(), messages


def run(*, directory: str | Path = ".", configfile: str | Path | None = None, cores: int = 1,
        gpus: int | str = "auto", mem_mb: int = 0, report: str | Path | None = None,
        model_zip: str | Path | None = None, extra: list[str] | None = None, out=sys.stdout) -> int:
    """Run the workflow in `directory`; then, when asked, write the HTML report and the chosen model's
    bundle (predict.bundle_model). Returns 0, or raises SnakesweepError with the workflow's own message."""
    if cores < 1:
        raise SnakesweepError(f"--cores must be 1 or more, found {cores}")
    if mem_mb < 0:
        raise SnakesweepError(f"--mem-mb must be 0 (no limit) or more, found {mem_mb}")
    wf = workflow_dir()
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    n_gpus = galaxy_gpus() if gpus == "auto" else int(gpus)
    if n_gpus < 0:
        raise SnakesweepError(f"--gpus must be 'auto' or 0 or more, found {gpus}")
    env = dict(os.environ)
    from .gpu import AUTO_ENV

    # train.accelerator 'auto' follows what this job was given, not what the machine has (unless the user
    # already said what it means, as on a cluster's login node: docs/gpus.md).
    env.setdefault(AUTO_ENV, "gpu" if n_gpus else "cpu")
    with tempfile.TemporaryDirectory(prefix="snakesweep-run-") as scratch:
        configs = config_files(directory, configfile, wf, Path(scratch))
        cmd = snakemake_command(wf, directory, configs, cores=cores, gpus=n_gpus, mem_mb=mem_mb, extra=extra or [])
        print(f"snakesweep run: {' '.join(cmd[1:])}", file=out, flush=True)
        status, messages = _run(cmd, env, out)
        if status != 0:
            # The first: the failure itself, not what others failed of it.
            raise SnakesweepError(messages[0] if messages else
                                  f"the workflow failed (Snakemake's exit status {status}); its output is above")
        if report is not None:
            # Snakemake names the report's kind by its suffix (.html or .zip); a Galaxy dataset has neither.
            made = Path(scratch) / "report.html"
            status, messages = _run([*cmd, "--report", str(made)], env, out)
            if status != 0:
                raise SnakesweepError(messages[0] if messages else f"writing the report {report} failed")
            shutil.copyfile(made, report)
    if model_zip is not None:
        from .predict import bundle_model

        bundle_model(Path(model_zip), root=directory)
        print(f"snakesweep run: the chosen model and its scaler: {model_zip}", file=out, flush=True)
    return 0
