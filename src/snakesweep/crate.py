"""The run's Provenance Run Crate: results/crate/ and results/<name>.crate.zip, built with ro-crate-py.

The crate (RO-Crate 1.1, Workflow RO-Crate 1.0, Process/Workflow/Provenance Run Crate 0.5) holds the
workflow (Snakefile, rules, scripts, schema, this library), the config as it was used, the sweep file, the
input table, the results (points' metrics and histories, the chosen model, best.json, the summary, plots,
predictions), and the environment. Its actions come from the jobs' own records (provenance.py): each job
is a CreateAction of its rule's tool, the run a CreateAction of the workflow whose parameters are every
config key and sweep parameter, and Snakemake the engine of an OrganizeAction.

A crate is rebuilt when any result changed; files that did not change are neither hashed again (a cache
keyed by size and mtime) nor copied again (hard links into the crate's folder).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import platform
import re
import subprocess
import warnings
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import __version__, layout
from .data import sha256_file
from .io import link_or_copy, load_yaml, read_json, write_text

# How a run is recorded, not what it computes: not part of a point's id (identity.py).
RESULT_CODE = False

WORKFLOW_RUN_CONTEXT = "https://w3id.org/ro/terms/workflow-run"
PROFILES = {
    "https://w3id.org/ro/wfrun/process/0.5": "Process Run Crate",
    "https://w3id.org/ro/wfrun/workflow/0.5": "Workflow Run Crate",
    "https://w3id.org/ro/wfrun/provenance/0.5": "Provenance Run Crate",
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": "Workflow RO-Crate",
}
COMPLETED = "http://schema.org/CompletedActionStatus"
# The packages whose versions can change a result, recorded in the crate and compared by `reproduce`.
COMPUTING = ("torch", "numpy", "scipy", "pandas", "scikit-learn", "lightning", "optuna", "wandb", "snakemake",
             "matplotlib", "seaborn", "pyyaml", "rocrate")
# The workflow's own files, relative to the folder it runs from (its Snakefile's).
WORKFLOW_GLOBS = ("Snakefile", "LICENSE", "workflow/rules/*.smk", "workflow/scripts/*.py", "workflow/schemas/*.yaml",
                  "workflow/report/*", "src/snakesweep/*.py", "environment.yml", "pyproject.toml",
                  "requirements/*.txt")
CONFIG = "config/config.yaml"  # the config as used, in the crate: what `reproduce` runs with
ENVIRONMENT = "environment.json"  # the machine and packages of the run, in the crate
INPUTS = "inputs"  # where user files from outside the working folder go, by name
# Snakemake's benchmark columns recorded as a job's resource use: column -> (name, unit).
RESOURCES = {"s": ("wall-clock time", "https://qudt.org/vocab/unit/SEC"),
             "cpu_time": ("CPU time", "https://qudt.org/vocab/unit/SEC"),
             "max_rss": ("peak resident memory", "https://qudt.org/vocab/unit/MegaBYTE"),
             "io_in": ("data read", "https://qudt.org/vocab/unit/MegaBYTE"),
             "io_out": ("data written", "https://qudt.org/vocab/unit/MegaBYTE")}
BENCHMARK_DOCS = "https://snakemake.readthedocs.io/en/stable/snakefiles/rules.html#benchmark-rules"
BIOSCHEMAS_WORKFLOW = "https://bioschemas.org/profiles/ComputationalWorkflow/1.0-RELEASE"
README = "README.md"
SPDX = re.compile(r"^[A-Za-z0-9.+-]+$")


class Hashes:
    """sha256 of files, kept between crates by size and modification time (as make and rsync judge a file):
    a file that did not change is not read again, even in a results folder moved or restored elsewhere."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.known = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.known = {}
        self.used: dict[str, list] = {}
        self.unchanged: set[str] = set()  # files as they were at the previous crate

    def __call__(self, file: str | Path) -> tuple[str, int]:
        st = os.stat(file)
        stamp = [st.st_size, st.st_mtime_ns]
        entry = self.known.get(str(file))
        if entry and entry[:2] == stamp:
            self.unchanged.add(str(file))
        else:
            entry = [*stamp, sha256_file(file)]
        self.used[str(file)] = entry
        return entry[2], st.st_size

    def save(self) -> None:
        write_text(self.path, json.dumps(self.used, sort_keys=True))


# --- what ran: the jobs' records ---


@dataclass
class Job:
    key: str
    rule: str
    record: dict
    results: list[str] = field(default_factory=list)  # outputs this job is the latest maker of
    new: bool = True  # made by this run (not in the previous crate)

    @property
    def tool(self) -> str:
        # One rule per pack exists because a rule's outputs cannot depend on a wildcard: one tool.
        return "train" if re.fullmatch(r"train_[0-9a-f]{12}", self.rule) else self.rule

    @property
    def name(self) -> str:
        wildcards = ", ".join(f"{k}={v}" for k, v in sorted(self.record.get("wildcards", {}).items()))
        return f"{self.rule} ({wildcards})" if wildcards else self.rule


def read_jobs(records_dir: str | Path) -> list[Job]:
    jobs = []
    for path in sorted(Path(records_dir).glob("*/*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        key = f"{path.parent.name}-{path.stem}"
        jobs.append(Job(key=key, rule=record["rule"], record=record))
    return jobs


def jobs_behind(targets: list[str], jobs: list[Job]) -> list[Job]:
    """The jobs that made the targets, and the jobs that made their inputs, back to the sources: records
    of files that no longer belong to the run (an earlier sweep's points) are left out. Where two records
    claim a file, the later one made it."""
    maker: dict[str, Job] = {}
    for job in sorted(jobs, key=lambda j: j.record.get("ended", "")):
        for out in job.record["outputs"]:
            maker[out] = job
    wanted, seen = list(targets), set()
    chosen: dict[str, Job] = {}
    while wanted:
        path = wanted.pop()
        if path in seen:
            continue
        seen.add(path)
        job = maker.get(path)
        if job is None:
            continue
        if job.key not in chosen:
            chosen[job.key] = job
            wanted.extend(job.record["inputs"])
            # A job's other outputs belong to the run as well (a pack's points, a checkpoint's table).
            wanted.extend(job.record["outputs"])
        job.results.append(path)
    return sorted(chosen.values(), key=lambda j: (j.record.get("started", ""), j.key))


# --- what goes into the crate ---


def in_results(path: str) -> bool:
    parts = Path(path).parts
    return (len(parts) > 1 and parts[0] == layout.RESULTS and parts[1] not in layout.NOT_RESULTS
            and not any(p.startswith(".") for p in parts) and not path.endswith(".crate.zip"))


@functools.cache
def expand(path: str) -> tuple[str, ...]:
    """A file, or the files of a folder output (the learning curves). Cached for one build (build() clears
    it): the same files are named by many jobs."""
    if os.path.isdir(path):
        return tuple(sorted(f.as_posix() for f in Path(path).rglob("*") if f.is_file() and not f.name.startswith(".")))
    return (Path(path).as_posix(),) if os.path.isfile(path) else ()


@functools.cache
def _siblings(path: str) -> tuple[str, ...]:
    """The files beside a point's (or final model's) metrics.json that exist: history, curve, validation
    scores, model."""
    folder, name = os.path.split(path)
    if name != layout.POINT_FILES["metrics"] or os.path.basename(os.path.dirname(folder)) not in ("points", "final"):
        return ()
    names = (layout.POINT_FILES[k] for k in ("history", "curve", "scores", "model"))
    return tuple(f for f in (f"{folder}/{n}" for n in names) if os.path.isfile(f))


def point_companions(path: str, models: set[str], all_models: bool) -> list[str]:
    """A point's (or final model's) other files beside its metrics.json: its history, learning curve and
    validation scores, and its model when it is the chosen one or every model is asked for."""
    model = layout.POINT_FILES["model"]
    return [f for f in _siblings(path) if not f.endswith("/" + model) or all_models or f in models]


def chosen_models(best: dict) -> set[str]:
    final = best.get("final_model") or {}
    return {m for m in (final.get("model"),) if m}


# --- the environment ---


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(folder: str | Path) -> dict | None:
    """The project's commit, when the workflow runs from a git checkout (and whether it had changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10)
        if head.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                               capture_output=True, text=True, timeout=10)
        return {"commit": head.stdout.strip(), "changed": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def environment(*, workflow_dir: str | Path, gpus: list[str]) -> dict:
    """The machine and the packages of this run. GPU names come from the points that trained on one."""
    from . import lock

    versions = lock.installed()
    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "packages": {d: versions[lock.canonical(d)] for d in COMPUTING if lock.canonical(d) in versions},
        "snakesweep": __version__,
        "git": git_commit(workflow_dir),
        "gpus": sorted(set(gpus)),
    }
    if gpus:
        import torch

        env["cuda"] = torch.version.cuda
        env["gpu_driver"] = gpu_driver()
    env["lock"] = lock.compare_installed(Path(workflow_dir) / lock.FOLDER, versions)
    return env


def gpu_driver() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


# --- the config as used ---


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def relocate(path: str, base: Path) -> str:
    """A user's file by a path inside the crate: as it is when it lies under the working folder (and
    outside results/), by its name under inputs/ otherwise, so that no path of the user's machine is kept.
    """
    p = Path(path)
    full = p if p.is_absolute() else (base / p)
    try:
        rel = full.resolve().relative_to(base.resolve())
        if rel.parts and rel.parts[0] != layout.RESULTS:
            return rel.as_posix()
    except ValueError:
        pass
    return f"{INPUTS}/{p.name}"


# --- the crate ---


@dataclass
class Run:
    """What the crate job knows of the run, from the rule (workflow/rules/crate.smk)."""

    name: str
    config: dict
    targets: list[str]
    sweep_parameters: dict
    benchmarks: dict[str, str]
    workflow_dir: Path
    snakemake_version: str
    accelerator: str | None = None
    program_files: list[str] = field(default_factory=list)


def build(run: Run, *, out_dir: str | Path = layout.CRATE, zip_path: str | Path,
          results: str | Path = layout.RESULTS) -> dict:
    """Write the crate's folder and zip; returns a few counts for the log."""
    from rocrate.rocrate import ROCrate

    base = Path.cwd()
    out_dir = Path(out_dir)
    expand.cache_clear()
    _siblings.cache_clear()
    state_dir = layout.provenance_dir(results)
    hashes = Hashes(state_dir / "hashes.json")
    previous = _read_json(state_dir / "crated.json") or {}
    cfg = run.config
    best = _read_json(layout.BEST) or {}
    models = chosen_models(best)
    all_models = bool(cfg.get("crate", {}).get("models", False))

    # Predictions made by the predict target, now or in an earlier run, belong to the run too.
    targets = [*run.targets, *sorted(p.as_posix() for p in Path(layout.PREDICTIONS).glob("*.tsv"))]
    jobs = jobs_behind(targets, read_jobs(layout.job_records(results)))
    for job in jobs:
        job.new = previous.get(job.key) != job.record.get("started")

    # Files: crate path -> source path on disk.
    files: dict[str, str] = {}
    for target in targets:
        for f in expand(target):
            if in_results(f):
                files[f] = f
    for job in jobs:
        for path in [*job.record["inputs"], *job.record["outputs"]]:
            for f in expand(path):
                if in_results(f):
                    files[f] = f
                    for extra in point_companions(f, models, all_models):
                        files[extra] = extra
    # Every point of the points table, the one list of the run's points (an adaptive sweep's are written
    # by its rounds without being named as outputs).
    for metrics in _table_points():
        for f in [metrics, *point_companions(metrics, models, all_models)]:
            if Path(f).is_file():
                files[f] = f
    for m in models:
        if Path(m).is_file():
            files[m] = m

    # The user's own files, by where they lie in the crate: the config as used names those paths.
    used = copy.deepcopy(cfg)
    user_files: dict[str, str] = {}
    sweep_file = used["sweep"]["file"]
    if sweep_file and Path(sweep_file).is_file():
        used["sweep"]["file"] = relocate(sweep_file, base)
        user_files[used["sweep"]["file"]] = sweep_file
    source = used["data"]["source"]
    data_url = source if source.startswith(("http://", "https://")) else None
    if not source.startswith(("builtin:", "http://", "https://")) and Path(source).is_file():
        used["data"]["source"] = relocate(source, base)
        user_files[used["data"]["source"]] = source
    for pf in run.program_files:
        if Path(pf).is_file():
            user_files[relocate(pf, base)] = pf
    if used.get("predict", {}).get("input"):
        used["predict"]["input"] = None  # a prediction's table is an input of that job, not of the run
    workflow_files = {}
    for pattern in WORKFLOW_GLOBS:
        for f in sorted(run.workflow_dir.glob(pattern)):
            if f.is_file() and "__pycache__" not in f.parts:
                workflow_files[f.relative_to(run.workflow_dir).as_posix()] = str(f)

    out_dir.mkdir(parents=True, exist_ok=True)
    # Written fresh: the config as used, and the environment.
    env = environment(workflow_dir=run.workflow_dir, gpus=_gpus_of(layout.SUMMARY))
    # What `auto` resolved to (a point's id names its accelerator): `reproduce` resolves it the same way.
    env["accelerator"] = run.accelerator
    generated = {
        CONFIG: _yaml(used),
        ENVIRONMENT: json.dumps(env, indent=1, sort_keys=True) + "\n",
        README: _readme(run.name, env),
    }
    layout_files = {**workflow_files, **user_files, **files}
    layout_files = {k: v for k, v in layout_files.items() if k not in generated}
    placed = {Path(k).relative_to(out_dir).as_posix() for k in hashes.known if Path(k).is_relative_to(out_dir)}
    foreign = _sync(out_dir, layout_files, generated, placed)

    entries = {}
    for rel in sorted({*layout_files, *generated}):
        sha, size = hashes(out_dir / rel)
        entries[rel] = {"sha256": sha, "contentSize": str(size)}

    crate = ROCrate(version="1.1")
    crate.metadata.extra_contexts.append(WORKFLOW_RUN_CONTEXT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "No source": the files are laid out by _sync, not by ro-crate-py
        _describe(crate, run, cfg, used, env, jobs, entries, workflow_files, user_files, data_url, best)
        crate.metadata.write(out_dir)
    kept = state_dir / "crate.zip"  # the last zip, which Snakemake deletes before the job runs again
    _zip(out_dir, Path(zip_path), previous=kept, files=[*entries, "ro-crate-metadata.json"],
         unchanged={Path(f).relative_to(out_dir).as_posix() for f in hashes.unchanged})
    link_or_copy(zip_path, kept)
    # Saved last: a crate job that fails before this leaves the previous state, which still fits the kept zip.
    hashes.save()
    write_text(state_dir / "crated.json", json.dumps({j.key: j.record.get("started") for j in jobs}, indent=1))
    counts = {"files": len(entries), "jobs": len(jobs), "new_jobs": sum(j.new for j in jobs)}
    return {**counts, "left as they are, not in the crate": foreign} if foreign else counts


def _read_json(path) -> dict | None:
    """A state file of an earlier crate, or None when there is none (or it was cut short)."""
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def _yaml(obj) -> str:
    import yaml

    return "# The config of the run as it was used: config files merged, --config applied.\n" + yaml.safe_dump(
        obj, sort_keys=False, default_flow_style=False)


def _readme(name: str, env: dict) -> str:
    return f"""# snakesweep run: {name}

A Provenance Run Crate (RO-Crate 1.1) of one run of the snakesweep Snakemake workflow: the workflow
(`Snakefile`, `workflow/`, `src/snakesweep/`), the config as it was used (`{CONFIG}`), the sweep file,
the input table (`{layout.DATA['table']}`), the results under `results/`, and the machine and packages
of the run (`{ENVIRONMENT}`). `ro-crate-metadata.json` says which job read and wrote which file, when,
with every file's sha256.

Made by snakesweep {env['snakesweep']} with Python {env['python']} on {env['machine']}.

Re-run it anywhere and compare every result, file by file:

    pip install snakesweep=={env['snakesweep']}   # or the project's locks: requirements/
    snakesweep reproduce THIS.crate.zip --into DIR

`DIR/reproduction.tsv` then gives a verdict per file.
"""


def _table_points() -> list[str]:
    if not Path(layout.POINTS_TABLE).is_file():
        return []
    from .jobs import sweep_points

    return sweep_points(layout.POINTS_TABLE)[1]


def _gpus_of(summary: str) -> list[str]:
    """The GPUs the points trained on, from the summary's `device` column (one file, not every point's)."""
    import csv

    try:
        with open(summary, newline="") as fh:
            devices = {row.get("device") or "" for row in csv.DictReader(fh, delimiter="\t")}
    except OSError:
        return []
    return sorted(d for d in devices if d not in ("cpu", ""))


def _files_in(folder: Path) -> list[str]:
    """Every file under a folder, by its path relative to it (os.walk: a crate holds thousands)."""
    out = []
    for root, _dirs, names in os.walk(folder):
        rel = os.path.relpath(root, folder)
        out += [name if rel == "." else f"{rel}/{name}".replace(os.sep, "/") for name in names]
    return out


def _sync(out_dir: Path, linked: dict[str, str], generated: dict[str, str], placed: set[str]) -> list[str]:
    """The crate's folder holds these files: links to the run's files (made again only for a file that
    changed) and the generated ones. Files an earlier crate placed there and this one does not hold are
    removed; any other file (one a user put there) is left as it is, out of the crate and its zip, and
    returned, to be named in the log."""
    keep = {*linked, *generated, "ro-crate-metadata.json"}
    for rel in sorted(placed - keep):
        path = out_dir / rel
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        for folder in path.parents:  # folders left empty, up to the crate's own
            if folder == out_dir or any(folder.iterdir()):
                break
            folder.rmdir()
    base = str(out_dir)
    for rel, src in linked.items():
        dst = f"{base}/{rel}"
        try:
            a, b = os.stat(src), os.stat(dst)
            if (a.st_ino, a.st_dev) == (b.st_ino, b.st_dev):
                continue
        except FileNotFoundError:
            pass
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        link_or_copy(src, dst)
    for rel, text in generated.items():
        dst = out_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists() or dst.read_text() != text:
            write_text(dst, text)
    return sorted(rel for rel in _files_in(out_dir) if rel not in keep)


def _zip(out_dir: Path, zip_path: Path, previous: Path | None = None, unchanged: frozenset | set = frozenset(),
         files: list[str] | None = None) -> None:
    """The crate's folder as one zip. Entries in order with a fixed date: the same crate, the same bytes
    (the metadata's own dates aside). A file unchanged since the previous zip is copied from it as it was
    compressed there, not compressed again. `files`: the crate's files (default: every file of the folder)."""
    old = None
    if previous is not None and unchanged and zipfile.is_zipfile(previous):
        old = zipfile.ZipFile(previous)
    tmp = zip_path.with_name(zip_path.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for rel in sorted(_files_in(out_dir) if files is None else files):
                f = out_dir / rel
                info = old.NameToInfo.get(rel) if old is not None and rel in unchanged else None
                if info is not None and not info.flag_bits & 0x08:
                    _copy_entry(old, info, zf)
                    continue
                info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with open(f, "rb") as src, zf.open(info, "w") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
    finally:
        if old is not None:
            old.close()
    os.replace(tmp, zip_path)


def _copy_entry(src: zipfile.ZipFile, info: zipfile.ZipInfo, dst: zipfile.ZipFile) -> None:
    """One entry of a zip into another, its compressed bytes as they are. zipfile has no public way to
    do this; it uses what ZipFile.writestr does (the local header, the file list, the directory's start)."""
    import struct

    src.fp.seek(info.header_offset)
    header = src.fp.read(zipfile.sizeFileHeader)
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    src.fp.seek(info.header_offset + zipfile.sizeFileHeader + name_len + extra_len)
    data = src.fp.read(info.compress_size)
    entry = copy.copy(info)
    entry.header_offset = dst.fp.tell()
    dst.fp.write(entry.FileHeader())
    dst.fp.write(data)
    dst.filelist.append(entry)
    dst.NameToInfo[entry.filename] = entry
    dst.start_dir = dst.fp.tell()
    dst._didModify = True


def _license(value: str) -> str:
    return f"https://spdx.org/licenses/{value}" if SPDX.match(value) else value


def _ref(entity) -> dict:
    return {"@id": entity if isinstance(entity, str) else entity.id}


def _kind(value) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    return "Text"


def _value(value):
    if isinstance(value, (bool, int, float, str)):
        return value
    return json.dumps(value, sort_keys=True)


def _describe(crate, run: Run, cfg, used, env, jobs, entries, workflow_files, user_files, data_url, best):
    from rocrate.model.contextentity import ContextEntity
    from rocrate.model.person import Person

    def context(id_, props):
        return crate.add(ContextEntity(crate, id_, properties=props))

    # Our own index of the crate's files: ro-crate-py's lookup of an id it lacks scans every entity.
    added = {}

    def add_file(rel, props=None):
        if rel not in added:
            added[rel] = crate.add_file(dest_path=rel, properties={**entries[rel], **(props or {})})
        return added[rel]

    now = datetime.now(UTC).isoformat(timespec="seconds")
    root = crate.root_dataset
    root["name"] = f"snakesweep run: {run.name}"
    root["description"] = (
        f"A hyperparameter sweep ({run.name}) of small PyTorch networks run by the snakesweep Snakemake "
        "workflow, with its workflow, config, input table, results and environment; re-run it with "
        "`snakesweep reproduce`.")
    root["datePublished"] = now
    crate_cfg = cfg.get("crate", {})
    lic = _license(crate_cfg.get("license", "CC-BY-4.0"))
    context(lic, {"@type": "CreativeWork", "name": crate_cfg.get("license", lic)})
    root["license"] = _ref(lic)
    people = []
    for a in crate_cfg.get("authors") or []:
        pid = a.get("orcid") or f"#person-{re.sub(r'[^A-Za-z0-9]+', '-', a['name']).strip('-').lower()}"
        people.append(crate.add(Person(crate, pid, properties={"name": a["name"]})))
    if people:
        root["creator"] = [_ref(p) for p in people]
    for pid, pname in PROFILES.items():
        context(pid, {"@type": ["CreativeWork", "Profile"], "name": pname, "version": pid.rsplit("/", 1)[1]})
    root["conformsTo"] = [_ref(p) for p in PROFILES]

    # The workflow, its files and its tools (one per rule that ran) with their steps.
    wf = crate.add_workflow(dest_path="Snakefile", main=True, lang="snakemake", lang_version=run.snakemake_version,
                            properties={**entries["Snakefile"], "name": "snakesweep",
                                        # Its steps make it a HowTo too (Provenance Run Crate).
                                        "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
                                        "version": __version__,
                                        "description": "The snakesweep workflow: data, exploration, split, "
                                                       "one training job per pack of sweep points, evaluation "
                                                       "and an aggregated ROC-AUC report.",
                                        "license": _ref(_license("MIT")),
                                        "conformsTo": {"@id": BIOSCHEMAS_WORKFLOW}})
    context(_license("MIT"), {"@type": "CreativeWork", "name": "MIT"})
    for rel in workflow_files:
        if rel != "Snakefile":
            code = rel.endswith((".py", ".smk"))
            add_file(rel, {"@type": ["File", "SoftwareSourceCode"] if code else "File", "name": rel,
                           **({"version": __version__} if code else {})})
    deps = []
    for dist, version in sorted(env["packages"].items()):
        deps.append(context(f"#software-{dist}", {"@type": "SoftwareApplication", "name": dist,
                                                  "version": version, "url": f"https://pypi.org/project/{dist}/"}))
    deps.append(context("#software-python", {"@type": "SoftwareApplication", "name": "Python",
                                             "version": env["python"], "url": "https://www.python.org"}))
    project = context("#software-snakesweep", {
        "@type": "SoftwareApplication", "name": "snakesweep", "version": __version__,
        "softwareRequirements": [_ref(d) for d in deps],
        **({"identifier": f"git commit {env['git']['commit']}"} if env.get("git") else {}),
    })
    tools, steps = {}, {}
    for job in jobs:
        if job.tool in tools:
            continue
        tools[job.tool] = context(f"#rule-{job.tool}", {
            "@type": "SoftwareApplication", "name": f"rule {job.tool}", "version": __version__,
            "description": f"The workflow's rule {job.tool}" + (" (one rule per pack of points)" if job.tool == "train"
                                                              else ""),
            "softwareRequirements": [_ref(project)]})
        steps[job.tool] = context(f"#step-{job.tool}", {
            "@type": "HowToStep", "name": job.tool, "position": str(len(steps)), "workExample": _ref(tools[job.tool])})
    wf["hasPart"] = [_ref(t) for t in tools.values()]
    wf["step"] = [_ref(s) for s in steps.values()]

    # The workflow's parameters (every config key and sweep parameter) and its files in and out.
    def param(pid, name, kind, description=None):
        props = {"@type": "FormalParameter", "name": name, "additionalType": kind,
                 "conformsTo": {"@id": "https://bioschemas.org/profiles/FormalParameter/1.0-RELEASE"}}
        if description:
            props["description"] = description
        return context(pid, props)

    inputs, values = [], []
    for key, value in sorted(flatten(used).items()):
        p = param(f"#param-config-{key}", key, _kind(value), "A key of the config")
        inputs.append(p)
        values.append(context(f"#value-config-{key}", {"@type": "PropertyValue", "name": key, "value": _value(value),
                                                       "exampleOfWork": _ref(p)}))
    for key, value in sorted(run.sweep_parameters.items()):
        p = param(f"#param-sweep-{key}", f"sweep parameter {key}", "Text", "A parameter of the sweep file")
        inputs.append(p)
        values.append(context(f"#value-sweep-{key}", {"@type": "PropertyValue", "name": key, "value": _value(value),
                                                      "exampleOfWork": _ref(p)}))
    add_file(README, {"name": "About this crate", "about": {"@id": "./"}, "encodingFormat": "text/markdown"})
    run_inputs = [add_file(CONFIG, {"name": "the config as used", "encodingFormat": "application/yaml"}),
                  add_file(ENVIRONMENT, {"name": "the run's machine and packages",
                                         "encodingFormat": "application/json"})]
    for rel in user_files:
        run_inputs.append(add_file(rel))
    table = layout.DATA["table"]
    if table in entries:
        props = {"name": "the input table as the run read it"}
        if data_url:
            props["url"] = data_url
        run_inputs.append(add_file(table, props))
    file_params = {}
    for f in run_inputs:
        pid = f"#param-file-{f.id}"
        file_params[f.id] = param(pid, f.id, "File")
        f["exampleOfWork"] = _ref(file_params[f.id])
    outputs = [f for f in sorted(entries) if f.startswith(f"{layout.RESULTS}/") and f != table]
    out_entities = [add_file(f) for f in outputs]
    out_params = []
    for f in (layout.BEST, layout.SUMMARY):
        if f in entries:
            p = param(f"#param-file-{f}", f, "File")
            added[f]["exampleOfWork"] = _ref(p)
            out_params.append(p)
    wf["input"] = [_ref(p) for p in [*inputs, *file_params.values()]]
    wf["output"] = [_ref(p) for p in out_params]

    # The actions: one per job, the run, Snakemake's organisation of it.
    engine = context("#snakemake", {"@type": "SoftwareApplication", "name": "Snakemake",
                                    "version": run.snakemake_version, "url": "https://snakemake.github.io"})
    controls, starts, ends = [], [], []
    for job in jobs:
        rec = job.record
        in_files = [added[f] for i in rec["inputs"] for f in expand(i) if f in added]
        out_files = [added[f] for o in job.results for f in [*expand(o), *_siblings(o)] if f in added]
        for f in out_files:
            if _changed_after(f.id, rec["ended"]):
                f["description"] = (f"Changed after the job that made it ({job.name}) ended: its sha256 is of the "
                                    "file as it is now.")
        props = {"@type": "CreateAction", "name": job.name, "startTime": rec["started"], "endTime": rec["ended"],
                 "actionStatus": COMPLETED, "description": f"The job {job.name} of the workflow's rule {job.rule}."}
        if not job.new:
            props["description"] += " Made by an earlier run; this run found its outputs up to date."
        else:
            starts.append(rec["started"])
            ends.append(rec["ended"])
        usage = _resources(run.benchmarks.get(job.tool if job.tool != "train" else job.rule), rec, job.key)
        action = crate.add_action(tools[job.tool], identifier=f"#job-{job.key}",
                                  object=[_ref(f) for f in _unique(in_files)],
                                  result=[_ref(f) for f in _unique(out_files)], properties=props)
        if usage:
            action["resourceUsage"] = [_ref(context(u.pop("@id"), u)) for u in usage]
        controls.append(context(f"#control-{job.key}", {"@type": "ControlAction", "name": f"orchestrate {job.name}",
                                                       "instrument": _ref(steps[job.tool]), "object": _ref(action),
                                                       "actionStatus": COMPLETED}))
    start = min(starts) if starts else now
    run_action = crate.add_action(wf, identifier="#run", object=[*map(_ref, run_inputs), *map(_ref, values)],
                                  result=[_ref(f) for f in out_entities], properties={
                                      "@type": "CreateAction", "name": f"snakesweep run of {run.name}",
                                      "startTime": start, "endTime": now, "actionStatus": COMPLETED,
                                      "description": f"{sum(j.new for j in jobs)} of {len(jobs)} jobs run by this "
                                                     "run; the others were up to date."})
    if people:
        for e in crate.get_entities():
            if _is_action(e):
                e["agent"] = [_ref(p) for p in people]
    crate.add_action(engine, identifier="#organize", object=[_ref(c) for c in controls], result=[_ref(run_action)],
                     properties={"@type": "OrganizeAction", "name": "Snakemake's run of the workflow",
                                 "startTime": start, "endTime": now, "actionStatus": COMPLETED})
    root["mentions"] = [_ref(e) for e in crate.get_entities() if _is_action(e)]
    root["mainEntity"] = _ref(wf)
    for e in crate.get_entities():
        # RO-Crate 1.1 writes a property of one value as that value, not a list of one.
        for k, v in list(e._jsonld.items()):
            if isinstance(v, list) and len(v) == 1 and k != "@type":
                e._jsonld[k] = v[0]
        if "File" in _types(e) and "encodingFormat" not in e._jsonld:
            kind = _media_type(e.id)
            if kind:
                e._jsonld["encodingFormat"] = kind


def _types(e) -> list:
    t = e._jsonld.get("@type", [])
    return [t] if isinstance(t, str) else list(t)


def _is_action(e) -> bool:
    return any(t.endswith("Action") for t in _types(e))


MEDIA_TYPES = {".json": "application/json", ".tsv": "text/tab-separated-values", ".csv": "text/csv",
               ".svg": "image/svg+xml", ".png": "image/png", ".yaml": "application/yaml", ".yml": "application/yaml",
               ".py": "text/x-python", ".smk": "text/x-snakemake", ".txt": "text/plain", ".toml": "application/toml",
               ".rst": "text/x-rst", ".npz": "application/x-npz", ".pt": "application/x-pytorch",
               ".html": "text/html", ".css": "text/css"}


def _media_type(path: str) -> str | None:
    if Path(path).name == "Snakefile":
        return "text/x-snakemake"
    return MEDIA_TYPES.get(Path(path).suffix.lower())


def _changed_after(path: str, ended: str) -> bool:
    """Whether a file was written after its job ended (edited by hand, say); a second of slack for
    filesystems' coarse timestamps."""
    try:
        return os.stat(path).st_mtime > datetime.fromisoformat(ended).timestamp() + 1
    except (OSError, ValueError):
        return False


def _unique(entities):
    seen, out = set(), []
    for e in entities:
        if e.id not in seen:
            seen.add(e.id)
            out.append(e)
    return out


def _resources(pattern: str | None, record: dict, key: str) -> list[dict]:
    """A job's resource use from its benchmark file (Snakemake's columns), when the rule has one."""
    if not pattern:
        return []
    try:
        path = pattern.format(**record.get("wildcards", {}))
        import csv

        with open(path, newline="") as fh:
            row = next(csv.DictReader(fh, delimiter="\t"))
    except (OSError, KeyError, IndexError, StopIteration, ValueError):
        return []
    usage = []
    for column, (name, unit) in RESOURCES.items():
        try:
            value = float(row[column])
        except (KeyError, TypeError, ValueError):
            continue
        usage.append({"@id": f"#job-{key}-{column}", "@type": "PropertyValue", "name": name,
                      "propertyID": f"{BENCHMARK_DOCS}:{column}",
                      "value": value, "unitCode": unit})
    return usage


# --- what the rule passes ---


def read_sweep(sweep_file: str | None) -> dict:
    """The sweep file as written (already checked by the plan), read once for crate_name and
    sweep_parameters."""
    if not sweep_file or not Path(sweep_file).is_file():
        return {}
    raw = load_yaml(sweep_file, "sweep.file")
    return raw if isinstance(raw, dict) else {}


def crate_name(sweep: dict) -> str:
    """The zip's name: the sweep file's `name` (as a file name), else `snakesweep`."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", str(sweep.get("name") or "")).strip(".-")
    return name or "snakesweep"


def sweep_parameters(sweep: dict) -> dict:
    """The sweep file's parameters as written (nested ones by their dotted name), its method and metric."""
    out = {}

    def walk(params: dict, prefix: str = "") -> None:
        for name, body in (params or {}).items():
            if isinstance(body, dict) and "parameters" in body:
                walk(body["parameters"], f"{prefix}{name}.")
            else:
                out[f"parameters.{prefix}{name}"] = body

    walk(sweep.get("parameters") or {})
    for key in ("method", "metric", "early_terminate", "program", "command"):
        if key in sweep:
            out[key] = sweep[key]
    return out
