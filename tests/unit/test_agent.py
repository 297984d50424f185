"""Tests for snakesweep.agent: W&B's agent contract (command macros, parameter file, environment) and real
programs run through it, including offline W&B runs read back from their .wandb files."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from snakesweep import SnakesweepError
from snakesweep.agent import (
    DEFAULT_COMMAND,
    MACROS,
    RunOutcome,
    expand_command,
    macro_values,
    nest,
    param_file_text,
    program_env,
    read_metric,
    run_point,
    run_program,
    sweep_files,
    sweep_run_id,
    write_sweep_files,
)

# The sweep's order: the nested "opt" comes where its first dotted name does.
PARAMS = {
    "lr": 1e-05,
    "momentum": 0.1,
    "use_bn": True,
    "dropout": None,
    "hidden": [64, 32],
    "opt.name": "adam w",
    "opt.beta": 0.9,
    "flag_off": False,
    "epochs": 10,
}
OPT = "{'name': 'adam w', 'beta': 0.9}"
NESTED = {"lr": 1e-05, "momentum": 0.1, "use_bn": True, "dropout": None, "hidden": [64, 32],
          "opt": {"name": "adam w", "beta": 0.9}, "flag_off": False, "epochs": 10}
ARGS = ["--lr=1e-05", "--momentum=0.1", "--use_bn=True", "--dropout=None", "--hidden=[64, 32]", f"--opt={OPT}",
        "--flag_off=False", "--epochs=10"]
NASTY = "a;b $(touch pwned) `touch pwned2` | rm -rf x"


def expand(command, params=PARAMS, program="train.py", **kw):
    return expand_command(command, program=program, params=params, run_dir=kw.pop("run_dir", "/runs/p1"),
                          sweep_id="sw1", run_id="abcd1234", interpreter=kw.pop("interpreter", "/py/bin/python"),
                          **kw)


# ------------------------------------------------------------------------------------- rendering
def test_nest_keeps_the_sweeps_order_and_rebuilds_nested_parameters():
    assert nest(PARAMS) == NESTED
    assert list(nest(PARAMS)) == list(NESTED)
    assert nest({"a.b.c": 1, "z": 2, "a.b.d": 3, "a.e": 4}) == {"a": {"b": {"c": 1, "d": 3}, "e": 4}, "z": 2}
    assert nest({}) == {}


@pytest.mark.parametrize("flat, word", [
    ({"a": 1, "a.b": 2}, "parameter of its own"),
    ({"a.b": 2, "a": 1}, "given twice"),
    ({"a..b": 1}, "non-empty parts"),
    ({"": 1}, "non-empty"),
    ({"a": {1, 2}}, "not a JSON value"),
])
def test_nest_refuses_what_w_and_b_cannot_express(flat, word):
    with pytest.raises(SnakesweepError, match=word):
        nest(flat)


def test_every_parameter_macro_renders_exactly_as_the_agent_does():
    values = macro_values(PARAMS)
    assert values["args"] == ARGS
    assert values["args_no_hyphens"] == [a[2:] for a in ARGS]
    assert values["args_append_hydra"] == ["+" + a[2:] for a in ARGS]
    assert values["args_override_hydra"] == ["++" + a[2:] for a in ARGS]
    assert values["args_no_equals"] == ["--lr", "1e-05", "--momentum", "0.1", "--use_bn", "True", "--dropout", "None",
                                        "--hidden", "[64, 32]", "--opt", OPT, "--flag_off", "False", "--epochs", "10"]
    # True is a bare flag, False is left out; None is not a boolean.
    assert values["args_no_boolean_flags"] == ["--lr=1e-05", "--momentum=0.1", "--use_bn", "--dropout=None",
                                               "--hidden=[64, 32]", f"--opt={OPT}", "--epochs=10"]
    assert values["args_json"] == ['{"lr": 1e-05, "momentum": 0.1, "use_bn": true, "dropout": null, "hidden": '
                                   '[64, 32], "opt": {"name": "adam w", "beta": 0.9}, "flag_off": false, "epochs": 10}']
    assert json.loads(values["args_json"][0]) == NESTED


def test_rendering_matches_wandbs_own_function():
    # wandb is a dependency of the project: its own functions are the reference (never skipped).
    from wandb.sdk.launch.sweeps import utils
    theirs = utils.create_sweep_command_args({"args": {k: {"value": v} for k, v in NESTED.items()}})
    ours = macro_values(PARAMS)
    assert set(ours) == {m for m in MACROS if m.startswith("args")} - {"args_json_file"}
    for name, items in ours.items():
        assert items == theirs[name], name


def test_numpy_and_tuple_values_render_as_the_json_values_wandb_would_receive():
    values = macro_values({"lr": np.float64(1e-05), "n": np.int64(3), "on": np.bool_(True), "sizes": (8, 4)})
    assert values["args"] == ["--lr=1e-05", "--n=3", "--on=True", "--sizes=[8, 4]"]
    assert values["args_json"] == ['{"lr": 1e-05, "n": 3, "on": true, "sizes": [8, 4]}']


# ----------------------------------------------------------------------------------------- command
def test_default_command_for_none_or_an_empty_list():
    for command in (None, []):
        argv, json_file = expand(command)
        assert argv == ["/usr/bin/env", "/py/bin/python", "train.py", *ARGS]
        assert json_file is None
    assert expand(None, interpreter=sys.executable)[0][1] == sys.executable
    assert list(DEFAULT_COMMAND) == ["${env}", "${interpreter}", "${program}", "${args}"]


def test_each_macro_as_a_whole_item_and_literal_text_elsewhere():
    params = {"a": 1, "b": True}
    argv, json_file = expand(["${interpreter}", "-u", "${program}", "--x=${args}", "${args}x", "${args_no_equals}",
                              "${args_no_hyphens}", "${args_no_boolean_flags}", "${args_json}",
                              "${args_append_hydra}", "${args_override_hydra}", "${args_json_file}", "${env}"],
                             params=params)
    files = sweep_files("/runs/p1", "sw1", "abcd1234")
    assert json_file == files.json_file == Path("/runs/p1/wandb/sweep-sw1/config-abcd1234.json")
    assert files.param_file == Path("/runs/p1/wandb/sweep-sw1/config-abcd1234.yaml")
    assert argv == ["/py/bin/python", "-u", "train.py", "--x=${args}", "${args}x",
                    "--a", "1", "--b", "True", "a=1", "b=True", "--a=1", "--b", '{"a": 1, "b": true}',
                    "+a=1", "+b=True", "++a=1", "++b=True", str(json_file), "/usr/bin/env"]


def test_no_parameters_expand_to_no_arguments():
    assert expand(None, params={})[0] == ["/usr/bin/env", "/py/bin/python", "train.py"]
    assert expand(["${args_json}"], params={})[0] == ["{}"]


def test_envvar_is_substituted_anywhere_in_an_item_before_macros():
    env = {"DATA": "/data/x", "N2": "7", "WHICH": "${args}"}
    argv, _ = expand(["python", "--data=${envvar:DATA}/train", "${envvar:N2}${envvar:N2}", "--lc=${envvar:lower}",
                      "${envvar:WHICH}"], params={"a": 1}, environ=env)
    # Lower-case names are no variables for W&B's pattern; a variable holding a macro expands, as in W&B.
    assert argv == ["python", "--data=/data/x/train", "77", "--lc=${envvar:lower}", "--a=1"]


def test_missing_envvar_is_an_error_naming_it():
    with pytest.raises(SnakesweepError, match=r"SNAKESWEEP_NOT_SET.*is not set"):
        expand(["python", "--d=${envvar:SNAKESWEEP_NOT_SET}"], environ={})
    with pytest.raises(SnakesweepError, match=r"empty name"):
        expand(["${envvar:}"], environ={})


# W&B takes any item that starts with "${" and ends with "}" for a macro: "${args}}" names "args}".
@pytest.mark.parametrize("item", ["${arg}", "${args_dict}", "${envvar:lower}", "${}", "${ args}", "${args}}",
                                  "${args} ${program}"])
def test_unknown_whole_item_macro_is_an_error_naming_it(item):
    with pytest.raises(SnakesweepError, match=r"command: item 2 is the unknown macro") as err:
        expand(["python", item], environ={})
    assert repr(item) in str(err.value)


def test_program_is_required_only_where_the_command_uses_it():
    for program in (None, ""):
        with pytest.raises(SnakesweepError, match=r"^program: the command uses \$\{program\}"):
            expand(None, program=program)
    assert expand(["python", "-m", "mypkg.train", "${args}"], params={"a": 1}, program=None)[0] == [
        "python", "-m", "mypkg.train", "--a=1"]


@pytest.mark.parametrize("command, word", [
    ("python train.py", "expected a list of strings"),
    ({"a": 1}, "expected a list of strings"),
    (["python", 3], "item 2 is 3 \\(int\\)"),
    (["python", True], "item 2 is True \\(bool\\)"),
])
def test_command_must_be_a_list_of_strings(command, word):
    with pytest.raises(SnakesweepError, match=r"^command: .*" + word):
        expand(command)


# ----------------------------------------------------------------------------------- param files
def test_param_file_text_exactly():
    assert param_file_text({"lr": 0.1, "opt.name": "adam", "on": True, "d": None, "h": [1, 2]}) == textwrap.dedent("""\
        wandb_version: 1

        lr:
          value: 0.1
        opt:
          value:
            name: adam
        'on':
          value: true
        d:
          value: null
        h:
          value:
          - 1
          - 2
        """)
    assert param_file_text({}) == "wandb_version: 1"


@pytest.mark.parametrize("params", [PARAMS, {}, {"name": "café ünïcode ✓", "x.y.z": 1e-300, "lst": [[1], {"a": 2}]}])
def test_param_file_is_byte_for_byte_what_wandb_writes(tmp_path, params):
    from wandb.sdk.lib import config_util
    theirs = tmp_path / "theirs" / "config.yaml"
    config_util.save_config_file_from_dict(str(theirs), {k: {"value": v} for k, v in nest(params).items()})
    files = sweep_files(tmp_path / "ours", "sw1", "abcd1234")
    write_sweep_files(params, files, json_file=True)
    assert files.param_file.read_bytes() == theirs.read_bytes()
    # The ${args_json_file} file: json.dumps, no trailing newline (W&B writes the string as it is).
    assert files.json_file.read_text() == json.dumps(nest(params))


def test_json_file_only_when_the_command_uses_it(tmp_path):
    files = sweep_files(tmp_path, "sw1", "abcd1234")
    write_sweep_files({"a": 1}, files, json_file=False)
    assert files.param_file.is_file() and not files.json_file.exists()


def test_ids():
    assert sweep_run_id("3f9a0c1b2d4e") == "3f9a0c1b"
    other = sweep_run_id("My Point/1")
    assert len(other) == 8 and other.isalnum() and other == other.lower() and other == sweep_run_id("My Point/1")
    for bad in ("", "a/b", "..", "x y"):
        with pytest.raises(SnakesweepError, match="sweep id"):
            sweep_files("/r", bad, "abcd1234")


def test_program_env(tmp_path):
    env = program_env(run_dir=tmp_path / "p", sweep_id="sw1", run_id="abcd1234", project="proj", entity="me")
    assert env == {
        "WANDB_RUN_ID": "abcd1234",
        "WANDB_SWEEP_ID": "sw1",
        "WANDB_SWEEP_PARAM_PATH": str(tmp_path / "p" / "wandb" / "sweep-sw1" / "config-abcd1234.yaml"),
        "WANDB_DIR": str(tmp_path / "p"),
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_PROJECT": "proj",
        "WANDB_ENTITY": "me",
    }
    assert "WANDB_PROJECT" not in program_env(run_dir=tmp_path, sweep_id="s", run_id="r")
    with pytest.raises(SnakesweepError, match="^mode: "):
        program_env(run_dir=tmp_path, sweep_id="s", run_id="r", mode="disabled")


# ------------------------------------------------------------------------------- real processes
ECHO = """\
import json, os, sys
print("to stdout"); print("to stderr", file=sys.stderr)
json.dump({"argv": sys.argv, "stdin": sys.stdin.read(), "cwd": os.getcwd(), "service": os.environ.get("WANDB_SERVICE"),
           "extra": os.environ.get("SNAKESWEEP_EXTRA")}, open("argv.json", "w"))
"""


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its reaper."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def _group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


def _services_of(pid: int) -> list[int]:
    """Live wandb-core processes started by the program `pid`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        ours = args[0].endswith(b"wandb-core") and b"--pid" in args and str(pid).encode() in args
        if ours and _alive(int(cmdline.parent.name)):
            found.append(int(cmdline.parent.name))
    return found


def test_shell_metacharacters_reach_the_program_intact_as_one_item(tmp_path, monkeypatch):
    cwd = tmp_path / "proj"
    cwd.mkdir()
    (cwd / "echo.py").write_text(ECHO)
    (cwd / "x").write_text("must survive")
    monkeypatch.setenv("WANDB_SERVICE", "someone-elses-service")
    params = {"cmd": NASTY, "n": 1}
    argv, _ = expand_command(None, program="echo.py", params=params, run_dir=tmp_path / "run", sweep_id="s",
                             run_id="abcd1234")
    out = run_program(argv=argv, cwd=cwd, env_extra={"SNAKESWEEP_EXTRA": "yes"}, log_path=tmp_path / "log.txt",
                      timeout_s=30)
    assert out.exit_code == 0 and not out.timed_out and not out.stragglers
    got = json.loads((cwd / "argv.json").read_text())
    assert got["argv"] == ["echo.py", f"--cmd={NASTY}", "--n=1"]
    assert got["stdin"] == "" and got["cwd"] == str(cwd)
    assert got["service"] is None and got["extra"] == "yes"
    assert not list(tmp_path.rglob("pwned*")) and not list(Path.cwd().glob("pwned*"))
    assert (cwd / "x").read_text() == "must survive"
    log = (tmp_path / "log.txt").read_text()
    assert "to stdout" in log and "to stderr" in log and "echo.py" in log and "exited with status 0" in log


def test_timeout_stops_the_whole_process_group(tmp_path):
    # A child that ignores SIGTERM: only the SIGKILL after the grace period ends it.
    (tmp_path / "hang.py").write_text(textwrap.dedent("""\
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"])
        open("pids", "w").write(f"{os.getpid()} {child.pid} {os.getpgid(0)}")
        time.sleep(60)
    """))
    t0 = time.monotonic()
    out = run_program(argv=[sys.executable, "hang.py"], cwd=tmp_path, env_extra={}, log_path=tmp_path / "log",
                      timeout_s=1.5, grace_s=1.0)
    assert time.monotonic() - t0 < 10
    assert out.timed_out and out.exit_code == -15
    pid, child, pgid = map(int, (tmp_path / "pids").read_text().split())
    assert pgid == pid  # its own session and group, not ours
    assert not _alive(pid) and not _alive(child) and _group_members(pgid) == []
    assert "ran past its timeout of 1.5 s and was stopped" in (tmp_path / "log").read_text()


def test_processes_left_behind_after_a_normal_exit_are_stopped(tmp_path):
    (tmp_path / "leave.py").write_text(textwrap.dedent("""\
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open("pid", "w").write(str(child.pid))
    """))
    out = run_program(argv=[sys.executable, "leave.py"], cwd=tmp_path, env_extra={}, log_path=tmp_path / "log",
                      timeout_s=30, grace_s=0.5)
    assert out == RunOutcome(exit_code=0, timed_out=False, seconds=out.seconds, stragglers=True)
    assert not _alive(int((tmp_path / "pid").read_text()))


def test_cancelling_the_job_stops_the_program_too(tmp_path):
    """Snakemake cancels a job with SIGTERM to the job's own process group, which the program (in its own
    session) would never see: run_program must stop it before the job goes."""
    import signal
    import subprocess

    (tmp_path / "hang.py").write_text("import os, time\nopen('pid', 'w').write(str(os.getpid()))\ntime.sleep(60)\n")
    job = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""\
        import sys
        from snakesweep.agent import run_program
        run_program(argv=[sys.executable, "hang.py"], cwd=".", env_extra={}, log_path="log", timeout_s=60,
                    grace_s=1)
        print("not reached")
    """)], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not (tmp_path / "pid").is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int((tmp_path / "pid").read_text())
    assert _alive(pid)
    job.send_signal(signal.SIGTERM)
    out, _ = job.communicate(timeout=20)
    assert job.returncode == -signal.SIGTERM and "not reached" not in out
    assert not _alive(pid)


def test_run_program_refuses_bad_input(tmp_path):
    with pytest.raises(SnakesweepError, match="does not exist"):
        run_program(argv=["true"], cwd=tmp_path / "nope", env_extra={}, log_path=tmp_path / "log", timeout_s=5)
    with pytest.raises(SnakesweepError, match="could not start"):
        run_program(argv=["/no/such/program"], cwd=tmp_path, env_extra={}, log_path=tmp_path / "log", timeout_s=5)
    with pytest.raises(SnakesweepError, match="timeout"):
        run_program(argv=["true"], cwd=tmp_path, env_extra={}, log_path=tmp_path / "log", timeout_s=0)


# --------------------------------------------------------------------------------- end to end
PROGRAM = """\
import json, math, os, sys, time
if "--behaviour=noinit" in sys.argv:
    sys.exit(0)
import wandb

run = wandb.init(project="ignored-under-a-sweep")
behaviour = wandb.config["behaviour"]
out = os.path.join(os.environ["WANDB_DIR"], "seen.json")
json.dump({"config": dict(wandb.config), "argv": sys.argv, "run_id": run.id, "pgid": os.getpgid(0),
           "project": run.project}, open(out, "w"))
if behaviour == "crash":
    sys.exit(3)
if behaviour == "hang":
    time.sleep(60)
if behaviour == "nolog":
    wandb.log({"loss": 1.0, "acc": 0.5, "val": {"auc": 0.5}})
elif behaviour == "nan":
    wandb.log({"score": float("nan")})
else:
    for s in (0.5, 0.25, 0.125):
        wandb.log({"score": s, "loss": 2 * s})
if behaviour == "summary":
    run.summary["score"] = 0.75
run.finish()
"""
E2E_PARAMS = {"lr": 1e-05, "use_bn": True, "dropout": None, "hidden": [64, 32], "opt.name": "adam w",
              "opt.beta": 0.9}


@pytest.fixture
def project(wandb_sandbox, tmp_path):
    """A project folder with the program, in the W&B sandbox (conftest.py)."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "train.py").write_text(PROGRAM)

    def point(behaviour, *, point_id=None, run_dir=None, **kw):
        point_id = point_id or f"{abs(hash(behaviour)):012x}"[:12]
        run_dir = run_dir or tmp_path / "results" / behaviour
        kw.setdefault("timeout_s", 60)
        kw.setdefault("command", None)
        record = run_point(point_id=point_id, params={**E2E_PARAMS, "behaviour": behaviour}, program="train.py",
                           cwd=proj, run_dir=run_dir, metric="score", sweep_id="sw1",
                           log_path=run_dir / "program.log", **kw)
        seen = run_dir / "seen.json"
        return record, (json.loads(seen.read_text()) if seen.is_file() else None)

    return point


def test_end_to_end_config_arguments_and_the_last_logged_metric(project):
    record, seen = project("ok")
    nested = {**nest(E2E_PARAMS), "behaviour": "ok"}
    assert record["status"] == "ok", record["reason"]
    assert record["reason"] is None
    assert seen["config"] == nested == record["config_received"]
    assert seen["argv"][1:] == macro_values({**E2E_PARAMS, "behaviour": "ok"})["args"]
    assert seen["run_id"] == record["run_id"] and seen["project"] != "ignored-under-a-sweep"
    assert record["score"] == 0.125 and record["history"] == [0.5, 0.25, 0.125]
    assert record["logged_keys"] == ["loss", "score"]
    assert record["exit_code"] == 0 and record["wandb_exit_code"] == 0 and not record["timed_out"]
    assert Path(record["run_file"]).is_file() and "offline-run-" in record["run_file"]
    json.dumps(record)  # a metrics.json record


def test_end_to_end_explicit_summary_wins_and_args_json_file(project, tmp_path):
    command = ["${env}", "${interpreter}", "${program}", "--behaviour=summary", "--cfg", "${args_json_file}"]
    record, seen = project("summary", command=command)
    assert record["status"] == "ok", record["reason"]
    assert record["score"] == 0.75 and record["history"] == [0.5, 0.25, 0.125]
    cfg = Path(seen["argv"][-1])
    assert cfg.read_text() == json.dumps({**nest(E2E_PARAMS), "behaviour": "summary"})
    # The metric read alone, as the module offers it.
    got = read_metric(tmp_path / "results" / "summary", record["run_id"], "score")
    assert got["value"] == 0.75 and got["in_summary"] and got["config"] == seen["config"]


def test_end_to_end_crash(project):
    record, seen = project("crash")
    assert seen is not None  # it did start
    assert record["status"] == "failed" and record["score"] is None
    assert "exited with status 3" in record["reason"] and "program.log" in record["reason"]
    assert record["exit_code"] == 3


def test_end_to_end_hang_is_stopped_with_its_process_group(project):
    t0 = time.monotonic()
    record, seen = project("hang", timeout_s=3, grace_s=2)
    assert time.monotonic() - t0 < 20
    assert record["status"] == "failed" and record["timed_out"]
    assert "ran past its timeout of 3 s and was stopped" in record["reason"]
    assert _group_members(seen["pgid"]) == []
    # wandb-core runs in a session of its own and ends when it sees its program gone, as under W&B's agent.
    deadline = time.monotonic() + 10
    while _services_of(seen["pgid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _services_of(seen["pgid"]) == []


def test_end_to_end_metric_never_logged_names_it_and_what_was_logged(project):
    record, _ = project("nolog")
    assert record["status"] == "failed" and record["exit_code"] == 0
    assert "never logged the metric 'score'" in record["reason"]
    assert "(keys it logged: acc, loss, val.auc)" in record["reason"]
    assert record["logged_keys"] == ["acc", "loss", "val.auc"]


def test_end_to_end_non_finite_metric(project):
    record, _ = project("nan")
    assert record["status"] == "failed" and "not finite" in record["reason"] and record["score"] is None


def test_end_to_end_no_wandb_run_and_no_stale_run_from_an_earlier_attempt(project, tmp_path):
    run_dir = tmp_path / "results" / "again"
    first, _ = project("ok", point_id="0123456789ab", run_dir=run_dir)
    assert first["status"] == "ok", first["reason"]
    # The same point again, now with a program that exits 0 without wandb.init(): the earlier run's
    # file is still there and must not be taken for this attempt's.
    second, _ = project("noinit", point_id="0123456789ab", run_dir=run_dir)
    assert second["status"] == "failed" and "left no W&B run 01234567" in second["reason"]


def test_run_point_refuses_a_metric_named_like_a_record_field(project, tmp_path):
    with pytest.raises(SnakesweepError, match="^metric: 'status' clashes"):
        run_point(point_id="abcdef123456", params={}, command=None, program="train.py", cwd=tmp_path,
                  run_dir=tmp_path / "r", metric="status", sweep_id="s", timeout_s=5, log_path=tmp_path / "log")
