"""Each job's own provenance: what it read and wrote, and when, recorded by the job as it runs.

Every script of the workflow starts with `record_job(snakemake)`: it sends the job's output to the rule's
log and, when the job ends with all its outputs written, leaves a small JSON record under
`results/provenance/jobs/`. The run's crate (crate.py) is built from these records, so it depends on no
file internal to Snakemake. A record is keyed by the job's rule and outputs: a job run again replaces its
record. Timestamps are UTC, in ISO 8601.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from . import layout

# How jobs are recorded, not what they compute: not part of a point's id (identity.py).
RESULT_CODE = False


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _paths(named) -> list[str]:
    """A Snakemake file list (names and all) as plain strings, flattened."""
    out = []
    for item in named:
        if isinstance(item, (list, tuple)):
            out.extend(str(x) for x in item)
        else:
            out.append(str(item))
    return out


def job_record(smk, started: str, ended: str) -> dict:
    """The record of one job, from Snakemake's script object (read, never imported)."""
    return {
        "rule": smk.rule,
        "wildcards": {k: str(v) for k, v in dict(smk.wildcards.items()).items()},
        "inputs": _paths(smk.input),
        "outputs": _paths(smk.output),
        "log": _paths(smk.log),
        "threads": int(smk.threads),
        "started": started,
        "ended": ended,
    }


def record_path(rule: str, outputs: list[str], results: str | Path = layout.RESULTS) -> Path:
    """Where a job's record lives: one file per rule and set of outputs, replaced when the job runs again."""
    key = hashlib.sha256("\0".join(sorted(outputs)).encode()).hexdigest()[:16]
    return layout.job_records(results) / rule / f"{key}.json"


def write_record(record: dict, results: str | Path = layout.RESULTS) -> Path | None:
    """Keep the record of a job whose outputs all exist (a failed job leaves none; its outputs are gone)."""
    if not all(os.path.exists(p) for p in record["outputs"]):
        return None
    path = record_path(record["rule"], record["outputs"], results)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


_failed = False


def mark_failed() -> None:
    """The job is failing (jobs.run_logged calls this before it exits with an error): no record."""
    global _failed
    _failed = True


def record_job(smk) -> None:
    """Start a job: its output (stdout and stderr) goes to the rule's log, and its record is written when
    the interpreter exits, if the job did not fail and every output is there."""
    if smk.log:
        sys.stderr = sys.stdout = open(smk.log[0], "w", buffering=1)  # noqa: SIM115 (open for the job's life)
    started = now()
    hook = sys.excepthook

    def failing(*exc):
        mark_failed()
        hook(*exc)

    sys.excepthook = failing
    atexit.register(lambda: None if _failed else write_record(job_record(smk, started, now())))
