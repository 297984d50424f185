"""Run a W&B sweep's own ``program`` for one sweep point, offline, the way ``wandb agent`` would.

A sweep written for W&B names a ``program`` and, optionally, a ``command`` built from macros
(``${env} ${interpreter} ${program} ${args}`` by default). ``wandb agent`` turns each run the server
hands it into an argv list, a parameter file and a few environment variables, starts the program
and lets ``wandb.init()`` inside it pick the values up. This module reproduces that contract without
a server, so a training script that works under ``wandb agent`` works here unchanged, and reads the
sweep's metric back from the offline run's ``.wandb`` file. It was checked against wandb 0.31
(``wandb/wandb_agent.py``, ``wandb/sdk/launch/sweeps/utils.py``, ``wandb/sdk/lib/config_util.py``)::

    record = run_point(point_id=pid, params={"lr": 0.01, "opt.name": "adam"}, command=None,
                       program="train.py", cwd=project_dir, run_dir=point_dir, metric="val_loss",
                       sweep_id="snakesweep", timeout_s=3600, log_path=point_dir / "program.log")

What is the same as ``wandb agent``
-----------------------------------
* The command's macros and their rendering: ``--name=value`` with Python's ``str()`` of the value
  (``True``, ``None``, ``1e-05``, ``[1, 2]``, ``{'b': 1}``), one argv item per parameter even when it
  holds spaces; a macro is expanded only when it is a whole item, ``${envvar:NAME}`` anywhere.
* Nested parameters (our dotted names, ``opt.name``) go back under their top-level name as dicts, in
  the order of the sweep's parameters (:func:`nest`).
* The parameter file at ``WANDB_SWEEP_PARAM_PATH`` (``<WANDB_DIR>/wandb/sweep-<sweep>/config-<run>.yaml``)
  byte for byte, the ``${args_json_file}`` file beside it, and the environment: ``WANDB_RUN_ID``,
  ``WANDB_SWEEP_ID``, ``WANDB_SWEEP_PARAM_PATH``, ``WANDB_DIR``, and no ``WANDB_SERVICE``.
* The program runs as an argv list (no shell: a value can never become a command) with stdin closed,
  in its own process group.

Where we deviate, and why
-------------------------
* ``${interpreter}`` is this job's own Python (``sys.executable``), not whatever ``python`` is first on
  ``PATH``: the job's environment is the one that was set up and recorded for the sweep.
* ``${envvar:NAME}`` with ``NAME`` unset is an error; W&B would pass the literal text ``NAME`` on,
  a wrong argument that fails, if at all, far from its cause.
* An unknown whole-item macro (a typo such as ``${arg}``) is an error; W&B silently drops it.
  ``${args_dict}``, which W&B expands to the parameter *names* by accident of its code, is refused too.
* Command items must be strings (quote numbers in the sweep YAML); W&B would ``str()`` them, turning
  an unquoted ``yes`` into ``True``.
* The program gets a timeout, after which its whole process group is stopped (SIGTERM, then SIGKILL
  after a grace period; W&B's agent only stops a run the server asks it to stop, after 30 s), and
  processes of its group still running after it exits are stopped the same way: a batch job must not
  leave anything running. A SIGTERM or SIGHUP to the job stops the program before the job ends.
  The program runs in a session of its own (W&B: a process group of its own in the agent's session).
  wandb-core puts itself in a session of its own too and ends when it sees its program gone.
* ``WANDB_MODE`` is ``offline`` unless asked otherwise, and ``WANDB_SILENT=true``.
* A run without the metric is reported as failed with the keys it did log, instead of being a run
  the sweep cannot use.

Nothing here imports snakemake or wandb; :func:`read_metric` uses :mod:`snakesweep.wandb_reader`,
which imports wandb's protobuf classes only when a file is read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import SnakesweepError
from .io import atomic_path

__all__ = [
    "DEFAULT_COMMAND",
    "MACROS",
    "MODES",
    "RunOutcome",
    "SweepFiles",
    "expand_command",
    "macro_values",
    "nest",
    "param_file_text",
    "program_env",
    "read_metric",
    "run_point",
    "run_program",
    "sweep_files",
    "sweep_run_id",
    "write_sweep_files",
]

#: The command ``wandb agent`` runs when the sweep gives none (or an empty list).
DEFAULT_COMMAND: tuple[str, ...] = ("${env}", "${interpreter}", "${program}", "${args}")

#: Macros expanded when a command item is exactly ``${name}``; ``${envvar:NAME}`` is handled apart.
MACROS: frozenset[str] = frozenset({
    "env", "interpreter", "program", "args", "args_no_equals", "args_no_hyphens", "args_no_boolean_flags",
    "args_json", "args_json_file", "args_append_hydra", "args_override_hydra",
})

#: WANDB_MODE values under which the program leaves a run file to read the metric from.
MODES: tuple[str, ...] = ("offline", "online")

# W&B's own pattern: names of upper-case letters, digits and underscores only. `${envvar:lower}` is
# therefore not a variable reference for W&B either, and stays literal text (or, as a whole item, an
# unknown macro).
_ENVVAR = re.compile(r"\$\{envvar\:([A-Z0-9_]*)\}")
_ID = re.compile(r"[A-Za-z0-9_.-]+")
_HEX8 = re.compile(r"[0-9a-f]{8,}")
# Record fields run_point sets itself; a metric of the same name would overwrite one of them.
_RECORD_KEYS = frozenset({
    "point", "params", "status", "reason", "metric", "history", "logged_keys", "exit_code", "timed_out",
    "seconds", "run_id", "sweep_id", "config_received", "wandb_exit_code", "command", "cwd", "log", "run_file",
})


# ------------------------------------------------------------------------------------- parameters
def _plain(value: Any, where: str) -> Any:
    """The value as W&B's agent would see it: it reaches the agent as JSON, so tuples are lists, numpy
    scalars are Python numbers, and anything JSON cannot carry is refused rather than str()-ed."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise SnakesweepError(f"{where}: the key {k!r} is not a string; W&B parameters are JSON objects")
            out[k] = _plain(v, f"{where}.{k}")
        return out
    if isinstance(value, list | tuple):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    item = getattr(value, "item", None)  # numpy/torch scalars, without importing either
    if callable(item) and not isinstance(value, bytes):
        with contextlib.suppress(TypeError, ValueError):
            return _plain(item(), where)
    raise SnakesweepError(f"{where}: {value!r} ({type(value).__name__}) is not a JSON value; W&B passes sweep "
                          "parameters as JSON (numbers, strings, booleans, null, lists, objects)")


def nest(flat: Mapping[Any, Any]) -> dict[str, Any]:
    """Dotted parameter names back into W&B's nested form: ``{"a.b": 1, "c": 2}`` -> ``{"a": {"b": 1}, "c": 2}``;
    a key that is a tuple is the path itself (``("model.depth",)`` stays one top-level name).

    Top-level names keep the order in which they first appear (the order of the sweep's parameters),
    which is the order of the program's arguments. A name that is both a value and a prefix of another
    (``a`` and ``a.b``) is refused: W&B's nested parameters cannot express it.
    """
    out: dict[str, Any] = {}
    made: set[int] = set()  # the dicts made here for nesting, as opposed to a parameter's own dict value
    for name, value in flat.items():
        # A tuple is a path as the sweep file nests it: its parts are names, dots and all.
        parts = list(name) if isinstance(name, tuple) else name.split(".") if isinstance(name, str) else []
        if not parts or not all(isinstance(part, str) and part for part in parts):
            raise SnakesweepError(f"sweep parameter {name!r}: a name must be non-empty text, with non-empty parts "
                                  "between its dots (a dot marks a nested parameter)")
        *parents, leaf = parts
        node = out
        for depth, part in enumerate(parents):
            if part not in node:
                node[part] = {}
                made.add(id(node[part]))
            elif id(node[part]) not in made:
                raise SnakesweepError(f"sweep parameter {name!r}: '{'.'.join(parents[:depth + 1])}' is also a "
                                      "parameter of its own, so it cannot hold nested parameters too")
            node = node[part]
        if leaf in node:
            raise SnakesweepError(f"sweep parameter {name!r} is given twice, or is both a parameter and the "
                                  "parent of nested parameters")
        node[leaf] = _plain(value, f"sweep parameter {name}")
    return out


def macro_values(params: Mapping[str, Any]) -> dict[str, list[str]]:
    """The argv items of each parameter macro, rendered exactly as W&B's agent renders them.

    ``params`` are flat (dotted names) or already nested; the rendering is of the nested form. Values
    are rendered with Python's ``str()``, as W&B does: ``True``, ``None``, ``1e-05``, ``[1, 2]``,
    ``{'b': 1}`` (a dict's repr, not JSON; ``${args_json}`` is the JSON form).
    """
    nested = nest(params)
    values: dict[str, list[str]] = {
        "args": [], "args_no_equals": [], "args_no_hyphens": [], "args_no_boolean_flags": [],
        "args_append_hydra": [], "args_override_hydra": [],
    }
    for name, value in nested.items():
        pair = f"{name}={value}"
        values["args"].append(f"--{pair}")
        values["args_no_equals"] += [f"--{name}", str(value)]
        values["args_no_hyphens"].append(pair)
        values["args_append_hydra"].append(f"+{pair}")
        values["args_override_hydra"].append(f"++{pair}")
        if isinstance(value, bool):
            if value:  # a true boolean is a bare flag, a false one is left out
                values["args_no_boolean_flags"].append(f"--{name}")
        else:
            values["args_no_boolean_flags"].append(f"--{pair}")
    values["args_json"] = [json.dumps(nested)]
    return values


def param_file_text(params: Mapping[str, Any]) -> str:
    """The text of the parameter file W&B's agent writes for ``wandb.init()`` (``WANDB_SWEEP_PARAM_PATH``).

    ``wandb_version: 1``, a blank line and ``{name: {"value": v}}`` per top-level parameter in YAML,
    in the sweep's order; with no parameters, the first line alone (W&B notes that an empty mapping
    there would not parse).
    """
    import yaml

    nested = nest(params)
    text = "wandb_version: 1"
    if nested:
        text += "\n\n" + yaml.dump({name: {"value": v} for name, v in nested.items()}, Dumper=yaml.SafeDumper,
                                   default_flow_style=False, allow_unicode=True, sort_keys=False)
    return text


# --------------------------------------------------------------------------------- ids and files
def sweep_run_id(point_id: str) -> str:
    """The W&B run id of a point: 8 lowercase letters or digits, like the ids W&B's server hands out.

    A hex point id (the workflow's content hashes) gives its first 8 characters, so the run folder
    is recognisable from the point's; any other id gives the first 8 hex digits of its sha256. Each
    point has its own folder, so a clash of two ids could never mix their runs.
    """
    if not isinstance(point_id, str) or not point_id.strip():
        raise SnakesweepError(f"point id must be a non-empty string, got {point_id!r}")
    if _HEX8.fullmatch(point_id):
        return point_id[:8]
    return hashlib.sha256(point_id.encode()).hexdigest()[:8]


def _check_id(value: str, what: str) -> None:
    # Both ids become parts of file names; W&B's own ids never hold anything else.
    if not isinstance(value, str) or not _ID.fullmatch(value) or value in {".", ".."}:
        raise SnakesweepError(f"{what}: {value!r} must be non-empty and made of letters, digits, '_', '.' or '-' "
                              "(it becomes part of a file name)")


@dataclass(frozen=True)
class SweepFiles:
    """Where W&B's agent puts a run's parameter files: under ``<WANDB_DIR>/wandb/sweep-<sweep id>/``."""

    param_file: Path  # config-<run id>.yaml, for wandb.init() (WANDB_SWEEP_PARAM_PATH)
    json_file: Path  # config-<run id>.json, for ${args_json_file}


def sweep_files(run_dir: str | Path, sweep_id: str, run_id: str) -> SweepFiles:
    """The parameter files' paths; ``run_dir`` is ``WANDB_DIR``, made absolute as the program's cwd differs."""
    _check_id(sweep_id, "sweep id")
    _check_id(run_id, "run id")
    folder = Path(run_dir).absolute() / "wandb" / f"sweep-{sweep_id}"
    return SweepFiles(folder / f"config-{run_id}.yaml", folder / f"config-{run_id}.json")


def _write_utf8(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_sweep_files(params: Mapping[str, Any], files: SweepFiles, *, json_file: bool) -> None:
    """Write the parameter file, and the ``${args_json_file}`` file when the command uses it (as W&B does).

    The JSON file holds ``json.dumps`` of the nested parameters and no trailing newline, like W&B's.
    """
    _write_utf8(files.param_file, param_file_text(params))
    if json_file:
        _write_utf8(files.json_file, macro_values(params)["args_json"][0])


# --------------------------------------------------------------------------------------- command
def expand_command(command: Sequence[str] | None, *, program: str | None, params: Mapping[str, Any],
                   run_dir: str | Path, sweep_id: str, run_id: str, interpreter: str = sys.executable,
                   environ: Mapping[str, str] = os.environ) -> tuple[list[str], Path | None]:
    """The argv W&B's agent would run for the sweep's ``command`` and ``program`` with these parameters.

    Returns ``(argv, json_file)``: ``json_file`` is the path the ``${args_json_file}`` macro stands for
    (the caller writes it, see :func:`write_sweep_files`), or None when the command does not use it.
    ``command`` None or empty means :data:`DEFAULT_COMMAND`. ``${envvar:NAME}`` is replaced anywhere in
    an item first, from ``environ``; then an item that is exactly ``${name}`` expands to its macro's
    items. Errors (SnakesweepError) name ``command`` or ``program`` and the item at fault.
    """
    if command is None or (isinstance(command, list | tuple) and not command):
        command = DEFAULT_COMMAND
    if not isinstance(command, list | tuple):
        raise SnakesweepError(f"command: expected a list of strings (one per argument, e.g. [\"${{env}}\", "
                              f"\"${{interpreter}}\", \"${{program}}\", \"${{args}}\"]), got {command!r} "
                              f"({type(command).__name__})")
    argv: list[str] = []
    json_file: Path | None = None
    values: dict[str, list[str]] | None = None
    for i, item in enumerate(command, start=1):
        if not isinstance(item, str):
            raise SnakesweepError(f"command: item {i} is {item!r} ({type(item).__name__}), not a string; quote it "
                                  "in the sweep YAML so it is passed exactly as written")

        def envvar(match: re.Match, i: int = i, item: str = item) -> str:
            name = match.group(1)
            if name not in environ:
                raise SnakesweepError(
                    f"command: item {i} ({item!r}) uses ${{envvar:{name}}}, but the environment variable "
                    f"{name or '(empty name)'!s} is not set; set it for the job (W&B's agent would pass the "
                    f"literal text {name!r} on instead)")
            return environ[name]

        item = _ENVVAR.sub(envvar, item)
        if not (item.startswith("${") and item.endswith("}")):
            argv.append(item)
            continue
        name = item[2:-1]
        if name == "env":
            # W&B's agent passes no `env` on Windows, where /usr/bin/env does not exist.
            argv += [] if platform.system() == "Windows" else ["/usr/bin/env"]
        elif name == "interpreter":
            argv.append(interpreter)
        elif name == "program":
            if not isinstance(program, str) or not program:
                raise SnakesweepError(f"program: the command uses ${{program}} (item {i}), but the sweep names no "
                                      f"program (got {program!r}); add `program: <script>` to the sweep")
            argv.append(program)
        elif name == "args_json_file":
            json_file = sweep_files(run_dir, sweep_id, run_id).json_file
            argv.append(str(json_file))
        elif name in MACROS:
            if values is None:
                values = macro_values(params)
            argv += values[name]
        else:
            raise SnakesweepError(f"command: item {i} is the unknown macro {item!r} (W&B's agent would silently "
                                  f"leave it out); known: {', '.join('${' + m + '}' for m in sorted(MACROS))} "
                                  "and ${envvar:NAME}")
    return argv, json_file


def program_env(*, run_dir: str | Path, sweep_id: str, run_id: str, mode: str = "offline",
                project: str | None = None, entity: str | None = None) -> dict[str, str]:
    """The variables W&B's agent (and ours) sets for the program, on top of the job's own environment.

    ``WANDB_SWEEP_ID`` and ``WANDB_SWEEP_PARAM_PATH`` make ``wandb.init()`` load the parameter file into
    ``wandb.config`` and ignore the id and project the program may pass it; ``WANDB_RUN_ID`` fixes the
    run id, so the run's folder can be found afterwards.
    """
    if mode not in MODES:
        raise SnakesweepError(f"mode: must be one of {', '.join(MODES)} (the program's run file is where the "
                              f"metric is read from), got {mode!r}")
    files = sweep_files(run_dir, sweep_id, run_id)
    env = {
        "WANDB_RUN_ID": run_id,
        "WANDB_SWEEP_ID": sweep_id,
        "WANDB_SWEEP_PARAM_PATH": str(files.param_file),
        "WANDB_DIR": str(Path(run_dir).absolute()),
        "WANDB_MODE": mode,
        "WANDB_SILENT": "true",
    }
    if project:
        env["WANDB_PROJECT"] = project
    if entity:
        env["WANDB_ENTITY"] = entity
    return env


# ------------------------------------------------------------------------------------------- run
@dataclass(frozen=True)
class RunOutcome:
    """How a program run ended. ``exit_code`` is negative (-N) when a signal N ended it (Popen's way)."""

    exit_code: int | None
    timed_out: bool
    seconds: float
    stragglers: bool = False  # processes of its group were still running after it exited, and were stopped


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running; zombies do not count (they wait for a reaper
    that, in some containers, is slow), so /proc is read where there is one."""
    proc = Path("/proc")
    if proc.is_dir() and (proc / "self" / "stat").exists():
        for stat in proc.glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended while we looked
            if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_group(pgid: int, seconds: float) -> bool:
    """Wait up to `seconds` for the group to empty; True if it did."""
    deadline = time.monotonic() + seconds
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _stop_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM to the whole group, SIGKILL to whatever is left after `grace_s`, as W&B's agent stops a run
    (it waits 30 s by default); the group, not only the program, so its workers go too."""
    pgid = proc.pid
    deadline = time.monotonic() + grace_s
    _signal_group(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    if not _wait_group(pgid, max(0.0, deadline - time.monotonic())):
        _signal_group(pgid, signal.SIGKILL)
    proc.wait()
    _wait_group(pgid, 5.0)


class _Terminated(BaseException):
    """A termination signal, raised so that the program's process group is stopped before we go."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"received signal {signum}")
        self.signum = signum


@contextlib.contextmanager
def _termination_as_exception():
    """SIGTERM and SIGHUP raise _Terminated (once) while the program runs, in the main thread only.

    The program is in a session of its own, so a signal to our process group (Snakemake cancelling a
    job, a closed terminal) would not reach it, and Python's default reaction (dying on the spot)
    would leave it running. A signal this process ignores stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal raised
        if not raised:  # a second signal must not interrupt the stopping of the program
            raised = True
            raise _Terminated(signum)

    previous = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            current = signal.getsignal(sig)
            if current is not None and current is not signal.SIG_IGN:  # None: set outside Python, can't restore
                previous[sig] = signal.signal(sig, handler)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_program(*, argv: Sequence[str], cwd: str | Path, env_extra: Mapping[str, str], log_path: str | Path,
                timeout_s: float | None, grace_s: float = 5.0) -> RunOutcome:
    """Run `argv` (no shell) in `cwd`, stdin closed, stdout and stderr into `log_path`, in its own session.

    The environment is this process's, without ``WANDB_SERVICE`` (the agent drops it too: the program
    must start its own W&B service, not attach to ours), plus `env_extra`. Past `timeout_s` seconds
    (None: no limit) the whole process group is stopped. The log starts with the command, so the log
    alone says what ran, and ends with how it ended. A SIGTERM or SIGHUP to this process while the
    program runs stops the program's group first, then takes its usual effect. POSIX only.
    """
    argv = [str(a) for a in argv]
    if not argv:
        raise SnakesweepError("command: expands to nothing to run")
    cwd = Path(cwd)
    if not cwd.is_dir():
        raise SnakesweepError(f"the program's working directory {cwd} does not exist")
    if timeout_s is not None and not timeout_s > 0:
        raise SnakesweepError(f"timeout: must be a positive number of seconds (or none), got {timeout_s!r}")
    env = dict(os.environ)
    env.pop("WANDB_SERVICE", None)
    env.update({str(k): str(v) for k, v in env_extra.items()})
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(log_path, "wb") as log, _termination_as_exception():
            log.write(f"[snakesweep] running in {cwd.absolute()}: {shlex.join(argv)}\n".encode())
            log.flush()
            start = time.monotonic()
            try:
                proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as err:
                raise SnakesweepError(f"command: could not start {argv[0]!r} in {cwd}: {err.strerror}") from None
            timed_out = stragglers = False
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                _stop_group(proc, grace_s)
            except BaseException:  # Ctrl-C, or the job cancelled (SIGTERM, SIGHUP): never leave the program running
                _stop_group(proc, grace_s)
                raise
            seconds = time.monotonic() - start
            if not timed_out and _group_alive(proc.pid):
                # A daemon the program started (a data loader, a server) must not outlive the job; give it
                # the same grace as a program past its timeout.
                stragglers = not _wait_group(proc.pid, grace_s)
                if stragglers:
                    _stop_group(proc, grace_s)
            code = proc.returncode
            ending = (f"ran past its timeout of {timeout_s:g} s and was stopped" if timed_out
                      else f"exited with status {code}" if code >= 0 else f"was killed by signal {-code}")
            log.write(f"\n[snakesweep] the program {ending} ({seconds:.1f} s)"
                      f"{'; processes it left running were stopped' if stragglers else ''}\n".encode())
    except _Terminated as stop:
        # The program is stopped and our handlers are back: now react to the signal as we would have.
        signal.raise_signal(stop.signum)
        raise
    return RunOutcome(exit_code=code, timed_out=timed_out, seconds=seconds, stragglers=stragglers)


# ---------------------------------------------------------------------------------------- metric
def _run_folders(run_dir: Path, run_id: str) -> list[Path]:
    """The run's folders under ``<run_dir>/wandb`` (offline-run-<ts>-<id>, or run-<ts>-<id> online),
    oldest first: by start time, then by W&B's same-second suffix."""
    root = Path(run_dir) / "wandb"
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        name = p.name
        stamp = name.removeprefix("offline-").removeprefix("run-")
        if (name.startswith(("offline-run-", "run-")) and not p.is_symlink() and p.is_dir()
                and (p / f"run-{run_id}.wandb").is_file()):
            found.append((stamp.split("-", 1)[0], len(name), name, p))
    return [p for *_, p in sorted(found)]


def _flat_keys(d: Mapping[str, Any], prefix: str = "") -> set[str]:
    keys = set()
    for k, v in d.items():
        if k.startswith("_"):
            continue
        name = f"{prefix}{k}"
        # A nested dict is a namespace of metrics; a media value (it has "_type") is one metric.
        if isinstance(v, dict) and v and "_type" not in v:
            keys |= _flat_keys(v, f"{name}.")
        else:
            keys.add(name)
    return keys


_MISSING = object()


def _lookup(d: Mapping[str, Any], metric: str) -> Any:
    """A metric by its name, also where W&B nested it (``val.loss`` logged as ``{"val": {"loss": ..}}``)."""
    if metric in d:
        return d[metric]
    node: Any = d
    for part in metric.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def read_metric(run_dir: str | Path, run_id: str, metric: str, *, ignore: Sequence[Path] = ()) -> dict[str, Any]:
    """The sweep metric of the program's W&B run ``run_id`` under ``<run_dir>/wandb``, with W&B's semantics.

    The value is the run's summary value of `metric`: the last logged value, unless the program set
    ``run.summary[metric]`` itself. Returns ``{"value", "logged", "history", "logged_keys", "config",
    "exit_code", "run_file"}``: ``logged`` False (and value None) when the metric is in neither summary
    nor history, ``history`` the metric's value at each step that logged it, ``logged_keys`` the names
    the run did log (W&B's own ``_``-keys left out), ``config`` what ``wandb.config`` held (without
    W&B's ``_wandb``), ``exit_code`` the run's own (None if it never finished). Folders in `ignore`
    (runs of earlier attempts) are skipped; of the rest, the newest is read. Raises FileNotFoundError
    when there is no run file. Integral floats may come back as ints (1.0 as 1): W&B's JSON does that.
    """
    from .wandb_reader import read_offline_run

    skipped = {Path(p) for p in ignore}
    folders = [p for p in _run_folders(Path(run_dir), run_id) if p not in skipped]
    if not folders:
        raise FileNotFoundError(f"no W&B run {run_id} under {Path(run_dir) / 'wandb'}")
    run_file = folders[-1] / f"run-{run_id}.wandb"
    run = read_offline_run(run_file)
    history = [v for row in run["history"] if (v := _lookup(row, metric)) is not _MISSING]
    value = _lookup(run["summary"], metric)
    keys = set(_flat_keys(run["summary"]))
    for row in run["history"]:
        keys |= _flat_keys(row)
    return {
        "value": None if value is _MISSING else value,
        "logged": value is not _MISSING or bool(history),
        "in_summary": value is not _MISSING,
        "history": history,
        "logged_keys": sorted(keys),
        "config": {k: v for k, v in run["config"].items() if k != "_wandb"},
        "exit_code": run["exit_code"],
        "run_file": run_file,
    }


def _failure(metric: str, got: dict[str, Any]) -> str | None:
    """Why a metric read from the run is unusable, or None when it is a finite number."""
    if not got["logged"]:
        keys = ", ".join(got["logged_keys"]) or "none"
        return f"the program never logged the metric '{metric}' (keys it logged: {keys})"
    if not got["in_summary"]:
        return (f"the metric '{metric}' was logged but is not in the run's summary, which is what W&B's sweep "
                "reads (did the program delete it from run.summary?)")
    value = got["value"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"the metric '{metric}' is not a number: {value!r}"
    if not math.isfinite(value):
        return f"the metric '{metric}' is {value} (not finite)"
    return None


def run_point(*, point_id: str, params: Mapping[str, Any], command: Sequence[str] | None, program: str | None,
              cwd: str | Path, run_dir: str | Path, metric: str, sweep_id: str, timeout_s: float | None,
              log_path: str | Path, mode: str = "offline", project: str | None = None, entity: str | None = None,
              env: Mapping[str, str] | None = None, interpreter: str = sys.executable,
              grace_s: float = 5.0) -> dict[str, Any]:
    """Run the sweep's program for one point, as W&B's agent would, and read its metric back.

    `params` are the point's values by (dotted) name in the sweep's order; `run_dir` is the point's
    folder (``WANDB_DIR``: the run lands in ``run_dir/wandb/``); `cwd` the program's working directory;
    `env` extra variables for the program. Returns a record like the built-in trainer's metrics.json:
    ``point``, ``params``, ``status`` ("ok" or "failed"), ``reason`` (None when ok), ``<metric>`` (None
    unless ok), ``metric``, ``history`` (the metric per logged step), ``logged_keys``, ``exit_code``,
    ``timed_out``, ``seconds``, ``run_id``, ``sweep_id``, ``config_received`` (``wandb.config`` as the run
    recorded it), ``wandb_exit_code``, ``command``, ``cwd``, ``log`` and ``run_file``. Bad input (command,
    program, mode, parameter names) raises SnakesweepError before anything runs; a program that fails
    gives a failed record whose reason says why and where its log is.
    """
    if not isinstance(metric, str) or not metric:
        raise SnakesweepError(f"metric: the sweep's metric name must be non-empty text, got {metric!r}")
    if metric in _RECORD_KEYS:
        raise SnakesweepError(f"metric: '{metric}' clashes with a field of the point's record "
                              f"({', '.join(sorted(_RECORD_KEYS))}); rename the metric")
    run_id = sweep_run_id(point_id)
    run_dir = Path(run_dir).absolute()
    argv, json_file = expand_command(command, program=program, params=params, run_dir=run_dir, sweep_id=sweep_id,
                                     run_id=run_id, interpreter=interpreter)
    env_extra = {**(env or {}), **program_env(run_dir=run_dir, sweep_id=sweep_id, run_id=run_id, mode=mode,
                                              project=project, entity=entity)}
    files = sweep_files(run_dir, sweep_id, run_id)
    write_sweep_files(params, files, json_file=json_file is not None)
    earlier = _run_folders(run_dir, run_id)  # a rerun must not read an earlier attempt's run
    outcome = run_program(argv=argv, cwd=cwd, env_extra=env_extra, log_path=log_path, timeout_s=timeout_s,
                          grace_s=grace_s)
    log_note = f"(log: {log_path})"
    got: dict[str, Any] | None = None
    read_error = None
    try:
        got = read_metric(run_dir, run_id, metric, ignore=earlier)
    except FileNotFoundError:
        read_error = (f"the program left no W&B run {run_id} under {run_dir / 'wandb'}: did it call wandb.init() "
                      "(without dir= pointing elsewhere)?")
    except ValueError as err:  # not a W&B transaction log
        read_error = f"the program's W&B run file could not be read: {err}"

    if outcome.timed_out:
        reason = f"the program ran past its timeout of {timeout_s:g} s and was stopped {log_note}"
    elif outcome.exit_code != 0:
        how = (f"exited with status {outcome.exit_code}" if outcome.exit_code >= 0
               else f"was killed by signal {-outcome.exit_code} ({_signal_name(-outcome.exit_code)})")
        reason = f"the program {how} {log_note}"
    elif read_error is not None:
        reason = f"{read_error} {log_note}"
    else:
        assert got is not None
        why = _failure(metric, got)
        reason = None if why is None else f"{why} {log_note}"
    status = "ok" if reason is None else "failed"
    return {
        "point": point_id,
        "params": dict(params),
        "status": status,
        "reason": reason,
        "metric": metric,
        metric: got["value"] if status == "ok" and got is not None else None,
        "history": got["history"] if got is not None else [],
        "logged_keys": got["logged_keys"] if got is not None else [],
        "exit_code": outcome.exit_code,
        "timed_out": outcome.timed_out,
        "seconds": round(outcome.seconds, 3),
        "run_id": run_id,
        "sweep_id": sweep_id,
        "config_received": got["config"] if got is not None else None,
        "wandb_exit_code": got["exit_code"] if got is not None else None,
        "command": argv,
        "cwd": str(Path(cwd).absolute()),
        "log": str(log_path),
        "run_file": str(got["run_file"]) if got is not None else None,
    }


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"
