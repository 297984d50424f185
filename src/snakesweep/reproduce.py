"""`snakesweep reproduce CRATE`: re-run a run's crate (crate.py) elsewhere and compare, file by file.

Before anything runs, every file of the crate is checked against its recorded sha256 (a mismatch is
refused, naming the file). The crate's workflow, config, sweep file and user files are laid out in a
fresh folder, the environment is compared with the recorded one, the input table is made again and
checked against the crate's copy (before any training), then the whole workflow runs with the crate's
config and recorded choices, and every recorded result is compared with the new one:
`DIR/reproduction.tsv` holds a verdict per file, and the last line says whether the run reproduced.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import SnakesweepError, layout
from .crate import COMPUTING, CONFIG, ENVIRONMENT, README, cpu_model
from .data import sha256_file
from .io import outside_members

# How a run is checked, not what it computes: not part of a point's id (identity.py).
RESULT_CODE = False

METADATA = "ro-crate-metadata.json"
# Fields that differ on every run by nature, never compared: timings, memory, the machine and device,
# dates, and which pack a point trained in (packs follow the order of work, not the results).
VOLATILE = frozenset({
    "train_seconds", "startup_seconds", "seconds", "s", "h:m:s", "max_rss", "max_vms", "max_uss", "max_pss",
    "io_in", "io_out", "mean_load", "cpu_time", "peak_rss_mb", "host", "hostname", "device", "date", "created",
    "started", "ended", "pack",
    # Whether a point trained batched (batched.py): its numbers are the same either way, and a machine
    # whose probe finds a difference trains it alone.
    "batched",
    # Where the input table lay (labels.json): a crate moves a table from outside the run's folder (a
    # Galaxy job's dataset, say) to inputs/; its content is compared first, as results/data/table.tsv.
    "source",
})
RELATIVE_TOLERANCE = 1e-6
STRUCTURED = (".json", ".tsv", ".csv")
IDENTICAL, TOLERANCE, DIFFERENT, MISSING = "identical", "equal within tolerance", "different", "missing"


@dataclass
class Verdict:
    file: str
    recorded: str
    new: str
    verdict: str
    note: str = ""


# --- the crate as sent ---


def open_crate(crate: str | Path, scratch: Path) -> Path:
    """The crate's folder: a folder as it is, a zip extracted into `scratch`."""
    crate = Path(crate)
    if crate.is_dir():
        if not (crate / METADATA).is_file():
            raise SnakesweepError(f"{crate}: no {METADATA}; expected a crate's folder or its .crate.zip")
        return crate
    if not zipfile.is_zipfile(crate):
        raise SnakesweepError(f"{crate}: not a crate; expected a crate's folder or its .crate.zip")
    with zipfile.ZipFile(crate) as zf:
        if outside := outside_members(zf):
            raise SnakesweepError(f"{crate}: refusing the entry {outside[0]!r}, which points outside the crate")
        zf.extractall(scratch)
    if not (scratch / METADATA).is_file():
        raise SnakesweepError(f"{crate}: the zip has no {METADATA} at its top")
    return scratch


def recorded_files(crate_dir: Path) -> dict[str, str]:
    """Every file of the crate with its recorded sha256: crate path -> sha256."""
    try:
        graph = json.loads((crate_dir / METADATA).read_text())["@graph"]
    except (OSError, ValueError, KeyError) as err:
        raise SnakesweepError(f"{crate_dir / METADATA}: not readable as RO-Crate metadata ({err})") from None
    out = {}
    for e in graph:
        types = e.get("@type", [])
        types = [types] if isinstance(types, str) else types
        if "File" in types and e.get("sha256"):
            out[e["@id"].removeprefix("./")] = e["sha256"]
    return out


def check_files(crate_dir: Path, files: dict[str, str]) -> None:
    """Every file is there and has the bytes the crate recorded; refused otherwise, naming the files."""
    wrong = []
    for rel, sha in sorted(files.items()):
        path = crate_dir / rel
        if not path.is_file():
            wrong.append(f"{rel} is missing")
        elif sha256_file(path) != sha:
            wrong.append(f"{rel} does not match its recorded sha256")
    if wrong:
        more = f" (and {len(wrong) - 5} more)" if len(wrong) > 5 else ""
        raise SnakesweepError("the crate was changed after it was made: " + "; ".join(wrong[:5]) + more
                              + ". Nothing was run")


# --- the environment ---


def environment_differences(recorded: dict) -> list[str]:
    """What differs between the recorded machine and packages and this one, as 'torch 2.13.0 recorded,
    2.12.1 here'."""
    from .lock import canonical, installed

    versions = installed()
    out = []
    if recorded.get("python") != platform.python_version():
        out.append(f"Python {recorded.get('python')} recorded, {platform.python_version()} here")
    for dist in sorted(set(recorded.get("packages", {})) | set(COMPUTING)):
        was = recorded.get("packages", {}).get(dist)
        now = versions.get(canonical(dist))
        if was != now and (was or now):
            out.append(f"{dist} {was or 'absent'} recorded, {now or 'absent'} here")
    if recorded.get("cpu") and recorded.get("cpu") != cpu_model():
        out.append(f"CPU {recorded['cpu']} recorded, {cpu_model()} here")
    if recorded.get("platform") and recorded["platform"] != platform.platform():
        out.append(f"platform {recorded['platform']} recorded, {platform.platform()} here")
    return out


# --- comparing results ---


def _number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _close(a, b) -> bool:
    return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))


def compare_values(a, b, path: str, volatile: set, inexact: list, unequal: list) -> None:
    """Walk two parsed files together; volatile keys are noted, not compared."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in VOLATILE:
                if a.get(k) != b.get(k):
                    volatile.add(k)
                continue
            if k not in a or k not in b:
                unequal.append(f"{path}{k} (only in one)")
                continue
            compare_values(a[k], b[k], f"{path}{k}.", volatile, inexact, unequal)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            unequal.append(f"{path.rstrip('.')} (lengths {len(a)}, {len(b)})")
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            compare_values(x, y, f"{path}{i}.", volatile, inexact, unequal)
    elif isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        if a != b:
            unequal.append(path.rstrip("."))
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if a != b:
            (inexact if _close(float(a), float(b)) else unequal).append(path.rstrip("."))
    elif isinstance(a, str) and isinstance(b, str) and a != b:
        x, y = _number(a), _number(b)
        if x is not None and y is not None and _close(x, y):
            inexact.append(path.rstrip("."))
        else:
            unequal.append(path.rstrip("."))
    elif type(a) is not type(b):
        unequal.append(path.rstrip("."))


def _rows(path: Path) -> list[dict]:
    delimiter = "," if path.suffix == ".csv" else "\t"
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def compare_file(rel: str, recorded_sha: str, recorded: Path, new: Path) -> Verdict:
    if not new.is_file():
        return Verdict(rel, recorded_sha, "", MISSING, "not made by this run")
    new_sha = sha256_file(new)
    if new_sha == recorded_sha:
        return Verdict(rel, recorded_sha, new_sha, IDENTICAL)
    if new.suffix not in STRUCTURED:
        return Verdict(rel, recorded_sha, new_sha, DIFFERENT)
    try:
        if new.suffix == ".json":
            a, b = json.loads(recorded.read_text()), json.loads(new.read_text())
        else:
            a, b = _rows(recorded), _rows(new)
    except (OSError, ValueError, csv.Error) as err:
        return Verdict(rel, recorded_sha, new_sha, DIFFERENT, f"not comparable: {err}")
    volatile, inexact, unequal = set(), [], []
    compare_values(a, b, "", volatile, inexact, unequal)
    notes = []
    if volatile:
        notes.append("volatile, not compared: " + ", ".join(sorted(volatile)))
    if unequal:
        return Verdict(rel, recorded_sha, new_sha, DIFFERENT, "; ".join(["differs: " + ", ".join(unequal[:5]), *notes]))
    if inexact:
        notes.insert(0, "within a relative 1e-6: " + ", ".join(inexact[:5]))
        return Verdict(rel, recorded_sha, new_sha, TOLERANCE, "; ".join(notes))
    return Verdict(rel, recorded_sha, new_sha, IDENTICAL, "; ".join(notes))


def write_report(path: Path, verdicts: list[Verdict]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(["file", "recorded_sha256", "new_sha256", "verdict", "note"])
        for v in verdicts:
            w.writerow([v.file, v.recorded, v.new, v.verdict, v.note])


def summary_line(verdicts: list[Verdict], env_diffs: list[str]) -> tuple[bool, str]:
    n = len(verdicts)
    identical = sum(v.verdict == IDENTICAL for v in verdicts)
    close = sum(v.verdict == TOLERANCE for v in verdicts)
    bad = [v for v in verdicts if v.verdict in (DIFFERENT, MISSING)]
    if not bad:
        extra = f", {close} equal within tolerance" if close else ""
        return True, f"reproduced: {identical} of {n} files identical{extra}"
    names = ", ".join(f"{v.file} ({v.verdict})" for v in bad[:5])
    names += f" and {len(bad) - 5} more" if len(bad) > 5 else ""
    why = f"; environment differences that may explain it: {'; '.join(env_diffs)}" if env_diffs else ""
    return False, f"not reproduced: {len(bad)} of {n} files differ: {names}{why}"


# --- the run ---


def lay_out(crate_dir: Path, into: Path, files: dict[str, str]) -> None:
    """The crate's workflow, config and user files in the fresh folder; results are made by the run."""
    for rel in files:
        if rel.startswith(f"{layout.RESULTS}/") or rel in (ENVIRONMENT, README):
            continue
        dst = into / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(crate_dir / rel, dst)


def run_snakemake(into: Path, cores: int, env: dict, targets: list[str], log) -> int:
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), *targets]
    print(f"$ (cd {into} && snakemake --cores {cores} {' '.join(targets)})", file=log, flush=True)
    return subprocess.run(cmd, cwd=into, env=env, stdout=log, stderr=subprocess.STDOUT).returncode


def reproduce(crate: str | Path, into: str | Path | None = None, cores: int = 1, out=print) -> int:
    """Re-run a crate in `into` and compare; the exit status: 0 reproduced, 1 not, 2 refused."""
    crate = Path(crate)
    into = Path(into) if into else Path(f"reproduced-{crate.name.removesuffix('.zip').removesuffix('.crate')}")
    if into.exists() and any(into.iterdir()):
        raise SnakesweepError(f"{into}: the folder exists and is not empty; give --into a new folder "
                              "(nothing there is overwritten)")
    scratch = Path(tempfile.mkdtemp(prefix="snakesweep-crate-"))
    try:
        crate_dir = open_crate(crate, scratch)
        files = recorded_files(crate_dir)
        if CONFIG not in files:
            raise SnakesweepError(f"{crate}: the crate has no {CONFIG}; was it made by snakesweep?")
        check_files(crate_dir, files)
        out(f"checked {len(files)} files of the crate against their sha256")
        recorded_env = json.loads((crate_dir / ENVIRONMENT).read_text()) if (crate_dir / ENVIRONMENT).is_file() else {}
        diffs = environment_differences(recorded_env)
        for d in diffs:
            out(f"environment: {d}")
        if not diffs:
            out("environment: the same Python and packages as recorded")

        into.mkdir(parents=True, exist_ok=True)
        lay_out(crate_dir, into, files)
        env = dict(os.environ)
        env.pop("WANDB_API_KEY", None)  # a crate is re-run offline; a key has no use here
        if recorded_env.get("accelerator") in ("cpu", "gpu"):
            from .gpu import AUTO_ENV

            env[AUTO_ENV] = recorded_env["accelerator"]
        log_path = into / "reproduce.log"
        with open(log_path, "w") as log:
            # The input table first, checked against the crate's copy before any training.
            table = layout.DATA["table"]
            if table in files:
                if run_snakemake(into, cores, env, [table], log):
                    raise SnakesweepError(f"making {table} failed; see {log_path}")
                made = sha256_file(into / table)
                if made != files[table]:
                    raise SnakesweepError(f"{table}: the input table made here (sha256 {made[:12]}…) is not the "
                                          f"crate's (sha256 {files[table][:12]}…); nothing was trained")
                out(f"{table}: made again, identical to the crate's copy")
            out(f"running the workflow in {into} (log: {log_path}) ...")
            if run_snakemake(into, cores, env, [], log):
                raise SnakesweepError(f"the workflow failed; see {log_path}")
        verdicts = [compare_file(rel, sha, crate_dir / rel, into / rel)
                    for rel, sha in sorted(files.items()) if rel.startswith(f"{layout.RESULTS}/")]
        write_report(into / "reproduction.tsv", verdicts)
        ok, line = summary_line(verdicts, diffs)
        out(f"verdicts per file: {into / 'reproduction.tsv'}")
        out(line)
        return 0 if ok else 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
