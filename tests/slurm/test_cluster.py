"""The SLURM profile against a real one-node SLURM cluster (slurmctld, slurmd, slurmdbd on MariaDB)
that tests/slurm/cluster.sh starts on this machine: the same results as a local run, retries, GPU
requests, packing, and resuming after a job is cancelled.

The cluster is started once for these tests (and stopped again if they started it). Without the SLURM
packages the tests skip, unless SNAKESWEEP_REQUIRE_SLURM=1 (CI) makes that a failure."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from e2e import REPO, make_workdir, pack_jobs, point_files, processes_in, snakemake, trained_points, wait_for_kept

from snakesweep.kernel import GPU_ON_CPU_ENV
from snakesweep.runner import FAIL_ONCE_ENV

CLUSTER = REPO / "tests/slurm/cluster.sh"
PARTITION, ACCOUNT = "debug", "snakesweep"  # what cluster.sh sets up
# Timing columns differ between any two runs; the rest of the summary must not.
TIMING = ["train_seconds", "startup_seconds"]
# Status checks every second instead of the plugin's 40 s first wait: the jobs here take seconds.
FAST = ("--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1")


def cluster(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(CLUSTER), command], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module", autouse=True)
def slurm_cluster():
    was_running = cluster("status").returncode == 0
    started = cluster("start")
    if started.returncode != 0:
        if not was_running:
            cluster("stop")  # whatever came up before the failure
        if started.returncode == 2 and os.environ.get("SNAKESWEEP_REQUIRE_SLURM") != "1":
            pytest.skip(f"no SLURM here ({started.stderr.strip()})")
        pytest.fail(f"tests/slurm/cluster.sh start failed:\n{started.stdout}\n{started.stderr}")
    conf = cluster("env").stdout.strip().split("=", 1)[1]
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = conf
    yield conf
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old
    if not was_running:
        cluster("stop")


def use_cluster_profile(wd: Path) -> None:
    """What the README asks of a user: set the partition and account in the copied profile."""
    path = wd / "profiles/slurm/profile.yaml"
    profile = yaml.safe_load(path.read_text())
    profile["default-resources"].update(slurm_partition=PARTITION, slurm_account=ACCOUNT)
    path.write_text(yaml.safe_dump(profile, sort_keys=False))


def slurm_run(wd: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    return snakemake(wd, "--profile", "profiles/slurm", *FAST, *args, check=check, env=env)


def jobs(wd: Path) -> pd.DataFrame:
    """The SLURM jobs submitted from this working directory, oldest first, as sacct records them."""
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-S", "now-2hours", "-o",
                          "JobID,Comment,State,AllocTRES,ReqMem,Timelimit,Start,End,WorkDir"],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split("|") for line in out.splitlines() if line]
    df = pd.DataFrame(rows, columns=["id", "comment", "state", "tres", "mem", "time", "start", "end", "workdir"])
    df = df[df["workdir"] == str(wd)].copy()
    df["rule"] = df["comment"].str.removeprefix("rule_")
    return df.sort_values("id", key=lambda s: s.astype(int)).reset_index(drop=True)


def summary(wd: Path) -> pd.DataFrame:
    return pd.read_csv(wd / "results/summary.tsv", sep="\t").drop(columns=TIMING)


@pytest.fixture(scope="module")
def tiny_on_slurm(tmp_path_factory):
    """The tiny sweep (3 points, one pack) through the cluster profile."""
    wd = make_workdir(tmp_path_factory.mktemp("slurm"), points=3)
    use_cluster_profile(wd)
    run = slurm_run(wd)
    return wd, run.stdout + run.stderr


def test_the_cluster_script_is_idempotent():
    before = cluster("status")
    again = cluster("start")
    assert again.returncode == 0 and "already running" in again.stderr
    assert cluster("status").stdout == before.stdout  # same daemons, same pids
    assert "export SLURM_CONF=" in cluster("env").stdout


def test_the_tiny_sweep_on_slurm_matches_a_local_run(tiny_on_slurm, tmp_path):
    wd, _ = tiny_on_slurm
    local = make_workdir(tmp_path, points=3)
    snakemake(local, "--cores", "2")
    pd.testing.assert_frame_equal(summary(local), summary(wd))
    best = [json.loads((w / "results/best.json").read_text()) for w in (local, wd)]
    assert best[0] == best[1]
    submitted = jobs(wd)
    # Only the training pack was a SLURM job; the light jobs ran on the submitting node.
    assert list(submitted["state"]) == ["COMPLETED"]
    assert submitted["rule"].str.fullmatch(r"train_[0-9a-f]{12}").all(), submitted
    assert not (wd / ".snakemake/slurm_logs/rule_summarize").exists()


def test_packed_and_unpacked_runs_on_slurm_give_identical_results(tiny_on_slurm, tmp_path):
    packed, _ = tiny_on_slurm
    unpacked = make_workdir(tmp_path, points=3, **{"train.pack_size": 1})
    use_cluster_profile(unpacked)
    slurm_run(unpacked)
    assert len(jobs(unpacked)) == 3 and len(jobs(packed)) == 1  # one submission per pack
    a, b = point_files(packed), point_files(unpacked)
    assert len(a) == 3 and a == b
    pd.testing.assert_frame_equal(summary(packed), summary(unpacked))


def test_a_pack_that_fails_once_is_retried_with_more_time_and_memory(tmp_path):
    wd = make_workdir(tmp_path, points=3, **{"train.threads": 2})
    use_cluster_profile(wd)
    slurm_run(wd, env={FAIL_ONCE_ENV: str(tmp_path / "failed-once")})
    submitted = jobs(wd)
    assert list(submitted["state"]) == ["FAILED", "COMPLETED"], submitted
    assert submitted["rule"].nunique() == 1
    first, retry = submitted.iloc[0], submitted.iloc[1]
    assert abs(mb(retry["mem"]) - 2 * mb(first["mem"])) <= 1 and minutes(retry["time"]) > minutes(first["time"])
    assert "cpu=2," in first["tres"]  # as many cores as torch threads
    assert (summary(wd)["status"] == "ok").all() and len(summary(wd)) == 3
    # The point the failed attempt finished came back from .kept instead of training again.
    log = next((wd / "results/logs/packs").glob("*.log")).read_text()
    assert log.count("kept from an earlier attempt") == 1, log


def test_a_gpu_pack_asks_slurm_for_a_gpu_and_uses_the_one_it_gets(tmp_path):
    wd = make_workdir(tmp_path, points=4, **{"train.accelerator": "gpu", "train.pack_size": 2})
    use_cluster_profile(wd)
    # The submitting node has no GPU: on a cluster that is the scheduler's business, not a refusal.
    slurm_run(wd, env={GPU_ON_CPU_ENV: "1"})
    submitted = jobs(wd)
    assert len(submitted) == 2 and (submitted["state"] == "COMPLETED").all()
    assert submitted["tres"].str.contains("gres/gpu=1").all(), submitted["tres"]
    devices = {}
    for log in (wd / "results/logs/packs").glob("*.log"):
        m = re.search(r"GPU (\S+) \(CUDA_VISIBLE_DEVICES='(\S*)', SLURM_STEP_GPUS=(\S*), SLURM_JOB_GPUS=(\S*)\)",
                      log.read_text())
        assert m, log.read_text()
        claimed, visible, step, job = m.groups()
        # SLURM's own record of the device it bound (the jobstep plugin passes the step's on, not the job's).
        slurm = (step if step != "None" else job).strip("'")
        assert claimed == visible == slurm and claimed in {"0", "1"}, m.group(0)
        devices[log.stem] = claimed
    # Two packs at once (two cores, two GPUs) got a device each from SLURM, never the same one.
    first, second = submitted.iloc[0], submitted.iloc[1]
    if second["start"] < first["end"]:
        assert len(set(devices.values())) == 2, devices
    points = [json.loads(m.read_text()) for m in (wd / "results/points").glob("*/metrics.json")]
    assert len(points) == 4 and {p["hparams"]["accelerator"] for p in points} == {"gpu"}


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "power-loss"])
def test_a_cancelled_job_resumes_with_only_its_unfinished_points(tmp_path, stop):
    sweep = {"method": "grid", "parameters": {"max_epochs": {"values": [1, 2, 1500]}}}
    wd = make_workdir(tmp_path, sweep=sweep)
    use_cluster_profile(wd)
    command = [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", *FAST, "--retries", "0"]
    # Its own process group, as a terminal gives a command: Ctrl-C signals the whole group. SIGINT is set
    # back to its default: a shell without job control (CI started in the background) makes its children
    # ignore SIGINT, and Python then never turns it into KeyboardInterrupt.
    run = subprocess.Popen(command, cwd=wd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    kept = wait_for_kept(wd, 2)
    assert len(kept) == 2, "the pack did not finish its quick points in time"
    running = jobs(wd)
    while running.empty and time.time() < deadline:
        # slurmctld hands job records to slurmdbd asynchronously: sacct may not list a running job yet.
        time.sleep(0.5)
        running = jobs(wd)
    assert list(running["state"]) == ["RUNNING"], running
    job = running["id"].iloc[0]
    if stop == signal.SIGKILL:
        # A power loss: Snakemake, the job's Snakemake and the pack die at once, nothing cleans up.
        for pid in processes_in(wd):
            os.kill(pid, signal.SIGKILL)
    else:
        subprocess.run(["scancel", job], check=True)
    while time.time() < deadline and jobs(wd)["state"].iloc[0] == "RUNNING":
        time.sleep(0.2)
    # The plugin (2.8) reads sacct's "CANCELLED by <uid>" as still running, so Snakemake would wait on:
    # stop it as a user would (Ctrl-C).
    if stop == signal.SIGINT:
        os.killpg(run.pid, signal.SIGINT)
    try:
        out, _ = run.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        out, _ = run.communicate()
        pytest.fail(f"Snakemake did not stop within 180 s of {stop!r}; its output ends:\n{out[-4000:]}")
    assert run.returncode != 0, out

    if stop == signal.SIGKILL:
        # Snakemake's lock on the folder outlives it: the README's first step after an outage.
        subprocess.run([*command, "--unlock"], cwd=wd, capture_output=True, timeout=300, check=True)
        # The finished points' files are there, but no clean-up marked the killed job's end.
        assert all((wd / "results/points" / p / "metrics.json").exists() for p in kept)
    started = time.time()
    again = subprocess.run(command, cwd=wd, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert trained_points(wd, started) == set(os.listdir(wd / "results/points")) - set(kept)
    for point, data in kept.items():
        assert (wd / "results/points" / point / "metrics.json").read_bytes() == data
    assert jobs(wd)["state"].iloc[-1] == "COMPLETED" and len(jobs(wd)) == 2
    assert (summary(wd)["status"] == "ok").all()


def test_a_pack_that_outlives_its_snakemake_is_not_trained_again(tmp_path):
    # The login node goes down while a pack runs, and the job finishes: its points are done, not redone.
    wd = make_workdir(tmp_path, points=3)
    use_cluster_profile(wd)
    command = [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm", *FAST]
    run = subprocess.Popen(command, cwd=wd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and (jobs(wd).empty or jobs(wd)["state"].iloc[0] != "RUNNING"):
        time.sleep(0.2)
    assert list(jobs(wd)["state"]) == ["RUNNING"], "the pack was not seen running"
    run.kill()
    run.wait()
    while time.time() < deadline and jobs(wd)["state"].iloc[0] == "RUNNING":
        time.sleep(0.2)
    assert list(jobs(wd)["state"]) == ["COMPLETED"]
    trained = {f.name: f.stat().st_mtime for f in (wd / "results/logs/train").glob("*.log")}
    assert len(trained) == 3
    subprocess.run([*command, "--unlock"], cwd=wd, capture_output=True, timeout=300, check=True)
    again = subprocess.run(command, cwd=wd, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert {f.name: f.stat().st_mtime for f in (wd / "results/logs/train").glob("*.log")} == trained
    assert (summary(wd)["status"] == "ok").all() and len(summary(wd)) == 3


def mb(mem: str) -> int:
    return int(float(mem.rstrip("MG")) * (1024 if mem.endswith("G") else 1))


def minutes(limit: str) -> int:
    h, m, _ = (int(x) for x in limit.split("-")[-1].split(":"))
    return h * 60 + m


def test_cluster_resources_come_from_the_profile(tmp_path):
    """A dry run: partition and account reach every job; `set-resources: train:` every training pack,
    `train_gpu:` the GPU packs alone; the packs ask for as many cores as torch uses threads."""
    sweep = {"method": "grid", "parameters": {"accelerator": {"values": ["cpu", "gpu"]},
                                              "learning_rate": {"values": [0.01, 0.02]}}}
    wd = make_workdir(tmp_path, sweep=sweep, **{"train.threads": 2})
    use_cluster_profile(wd)
    path = wd / "profiles/slurm/profile.yaml"
    profile = yaml.safe_load(path.read_text())
    profile["set-resources"]["train"]["mem_mb"] = "1234 * attempt"
    profile["set-resources"]["train_gpu"] = {"gres": "gpu:a100:1"}
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    dry = snakemake(wd, "--profile", "profiles/slurm", "-n", "--cores", "4").stdout
    packs = {tuple(job["points"]): job["resources"] for job in pack_jobs(dry).values()}
    assert len(packs) == 2
    gpu = [r for r in packs.values() if "gres=gpu:a100:1" in r]
    cpu = [r for r in packs.values() if "gres" not in r]
    assert len(gpu) == len(cpu) == 1, packs
    assert "gpu=0" in gpu[0] and "gpu=0" in cpu[0]  # the GRES form replaces --gpus=1
    for resources in packs.values():
        for expected in ("mem_mb=1234", "slurm_partition=debug", "slurm_account=snakesweep", "cpus_per_task=2"):
            assert expected in resources, resources
    # Without the profile's set-resources, the packs still ask for their cores and their GPU.
    dry = snakemake(wd, "--profile", "profiles/slurm", "-n", "--set-resources", "summarize:mem_mb=10").stdout
    for job in pack_jobs(dry).values():
        assert "cpus_per_task=2" in job["resources"], job["resources"]
    assert sorted(re.findall(r"gpu=(\d)", " ".join(j["resources"] for j in pack_jobs(dry).values()))) == ["0", "1"]


def test_the_profiles_gpu_settings_reach_only_the_gpu_stages_of_hyperband_rungs(tmp_path):
    """One stage rule serves every pack of every rung: `set-resources: train_gpu:` (a GRES and memory
    as an expression of the attempt) must reach the GPU stages alone, the CPU ones keep their own."""
    sweep = {"method": "grid", "metric": {"name": "val_loss", "goal": "minimize"},
             "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2},
             "parameters": {"accelerator": {"values": ["cpu", "gpu"]}, "learning_rate": {"values": [0.01, 0.02]}}}
    wd = make_workdir(tmp_path, points=4, epochs=3, sweep=sweep)
    use_cluster_profile(wd)
    path = wd / "profiles/slurm/profile.yaml"
    profile = yaml.safe_load(path.read_text())
    profile["set-resources"]["train_gpu"] = {"gres": "gpu:1", "mem_mb": "1500 * attempt"}
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    slurm_run(wd, env={**os.environ, GPU_ON_CPU_ENV: "1"})
    stages = jobs(wd)
    stages = stages[stages["rule"].str.startswith("train_stage")]
    gpu = stages[stages["tres"].str.contains("gres/gpu=1")]
    cpu = stages[~stages["tres"].str.contains("gres/gpu")]
    assert len(gpu) and len(cpu) and len(gpu) + len(cpu) == len(stages), stages
    assert (gpu["mem"] == "1500M").all() and (cpu["mem"] != "1500M").all(), stages
    assert (stages["state"] == "COMPLETED").all(), stages


def test_bayes_rounds_with_hyperband_rungs_on_slurm_match_a_local_run(tmp_path):
    """An adaptive sweep on the cluster: each rung's packs are SLURM jobs (train_stage), the decisions
    between them run where Snakemake runs, and the result equals a local run's."""
    spec = {"method": "bayes", "metric": {"name": "val_loss", "goal": "minimize"},
            "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2},
            "parameters": {"learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}}}
    settings = {"sweep.round_size": 3}
    wd = make_workdir(tmp_path / "slurm", points=6, epochs=2, sweep=spec, **settings)
    use_cluster_profile(wd)
    slurm_run(wd)
    local = make_workdir(tmp_path / "local", points=6, epochs=2, sweep=spec, **settings)
    snakemake(local, "--cores", "2")
    pd.testing.assert_frame_equal(summary(local), summary(wd))
    submitted = jobs(wd)
    assert submitted["rule"].str.startswith("train_stage").all() and (submitted["state"] == "COMPLETED").all()
    # Two rounds of two rungs (all three to epoch 1, then those under W&B's threshold to epoch 2; at
    # most two of six points are over it): one pack each.
    assert len(submitted) == 4
    assert set(summary(wd)["status"]) == {"ok", "stopped"}


def test_cross_validation_on_slurm_matches_a_local_run(tmp_path):
    """split.folds with seed repeats on the cluster: the pack of units and the final model are SLURM
    jobs, and every figure equals a local run's, the final model's test evaluation included."""
    settings = {"split.folds": 3, "sweep.repeats": 2}
    wd = make_workdir(tmp_path / "slurm", points=3, epochs=2, **settings)
    use_cluster_profile(wd)
    slurm_run(wd)
    local = make_workdir(tmp_path / "local", points=3, epochs=2, **settings)
    snakemake(local, "--cores", "2")
    pd.testing.assert_frame_equal(summary(local), summary(wd))
    best = [json.loads((w / "results/best.json").read_text()) for w in (local, wd)]
    assert best[0] == best[1] and best[0]["n_units"] == 6
    submitted = jobs(wd)
    assert (submitted["state"] == "COMPLETED").all()
    assert len(submitted) == 2, submitted
    assert submitted["rule"].str.fullmatch(r"train_[0-9a-f]{12}").sum() == 1, submitted
    assert submitted["rule"].str.startswith("train_final").sum() == 1, submitted  # "train_final_wildcards_..."


def test_an_own_program_sweep_on_slurm_matches_a_local_run(tmp_path):
    """A W&B sweep's own program on the cluster: each run a SLURM job, the same summary as locally."""
    spec = {"program": "own/train.py", "method": "random", "metric": {"name": "score", "goal": "maximize"},
            "parameters": {"lr": {"distribution": "log_uniform_values", "min": 0.001, "max": 0.1}}}
    program = ("import wandb\nrun = wandb.init()\nfor s in range(2):\n"
               "    wandb.log({'score': -abs(wandb.config['lr'] - 0.01) * (s + 1)})\nrun.finish()\n")
    runs = []
    for where in ("slurm", "local"):
        wd = make_workdir(tmp_path / where, points=2, sweep=spec)
        (wd / "own").mkdir()
        (wd / "own/train.py").write_text(program)
        if where == "slurm":
            use_cluster_profile(wd)
            slurm_run(wd)
        else:
            snakemake(wd, "--cores", "2")
        runs.append(wd)
    a, b = (pd.read_csv(w / "results/summary.tsv", sep="\t").drop(columns=["seconds"]) for w in runs)
    pd.testing.assert_frame_equal(a, b)
    assert (a["status"] == "ok").all() and len(a) == 2
    submitted = jobs(runs[0])
    assert len(submitted) == 2 and submitted["rule"].str.fullmatch(r"train_[0-9a-f]{12}").all(), submitted
    assert (submitted["state"] == "COMPLETED").all()
