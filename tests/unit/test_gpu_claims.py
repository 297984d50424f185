"""Tests for snakesweep.gpu: device counting, SLURM detection and cross-process GPU claims.

Claims are exercised between real processes because flock semantics (and SIGKILL cleanup) are
per open file description and only meaningful across processes; no GPU is needed.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snakesweep.gpu import (
    Claim,
    claim_device,
    claimed_gpu,
    count_gpus,
    scheduler_assigned_devices,
)

SRC = Path(__file__).resolve().parents[2] / "src"
ENV_VARS = ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID", "SLURM_STEP_GPUS", "SLURM_JOB_GPUS")

# Claims a device, reports it, and holds it until the release file appears (bounded, so a broken
# test cannot leave a hung process behind).
WORKER = r"""
import os, sys, time
from pathlib import Path
from snakesweep.gpu import claimed_gpu

lock_dir, n, release, owner = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
with claimed_gpu(n, lock_dir, timeout=5, poll=0.01, owner=owner) as dev:
    print(dev, os.environ["CUDA_VISIBLE_DEVICES"], time.time(), flush=True)
    deadline = time.monotonic() + 10
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
print("released", time.time(), flush=True)
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """The suite may itself run inside a SLURM job or with a GPU mask; neither may leak in."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


def start_worker(lock_dir: Path, n: int, release: Path, owner: str = "same") -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-c", WORKER, str(lock_dir), str(n), str(release), owner]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)


def read_claim(proc: subprocess.Popen, timeout: float = 5) -> tuple[str, str, float]:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "worker did not report a claim in time"
    device, visible, stamp = proc.stdout.readline().split()
    return device, visible, float(stamp)


def finish(proc: subprocess.Popen) -> None:
    proc.stdout.read()
    assert proc.wait(timeout=5) == 0


# --- count_gpus --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("0", 1), ("0,1,2", 3), ("", 0), ("-1", 0), ("2,-1,3", 1), (" 1 , 3 ", 2)]
)
def test_count_gpus_honours_cuda_visible_devices(tmp_path, value, expected):
    (tmp_path / "gpus" / "0000:01:00.0").mkdir(parents=True)
    env = {"CUDA_VISIBLE_DEVICES": value}
    assert count_gpus(env=env, proc_dir=tmp_path / "gpus", nvidia_smi=None) == expected


def test_count_gpus_reads_proc_driver_entries(tmp_path):
    for bus in ("0000:01:00.0", "0000:41:00.0", "0000:81:00.0"):
        (tmp_path / bus).mkdir()
    assert count_gpus(env={}, proc_dir=tmp_path, nvidia_smi=None) == 3


def test_count_gpus_falls_back_to_nvidia_smi(tmp_path):
    smi = tmp_path / "fake-smi"
    smi.write_text(
        "#!/bin/sh\n"
        'test "$1" = -L || exit 2\n'
        "echo 'GPU 0: NVIDIA H100 (UUID: GPU-a)'\n"
        "echo '  MIG 1g.10gb Device 0: (UUID: MIG-b)'\n"
        "echo 'GPU 1: NVIDIA H100 (UUID: GPU-c)'\n"
    )
    smi.chmod(0o755)
    assert count_gpus(env={}, proc_dir=tmp_path / "missing", nvidia_smi=str(smi)) == 2


def test_count_gpus_is_zero_without_any_probe(tmp_path):
    (tmp_path / "empty").mkdir()
    assert count_gpus(env={}, proc_dir=tmp_path / "empty", nvidia_smi=str(tmp_path / "no-such-smi")) == 0
    assert count_gpus(env={}, proc_dir=tmp_path / "missing", nvidia_smi=None) == 0


# --- scheduler_assigned_devices ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CUDA_VISIBLE_DEVICES": "0,1"}, None),  # a mask alone is not a scheduler assignment
        ({"SLURM_JOB_ID": "42"}, None),  # a SLURM job without GPUs must still claim locally
        ({"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "0,1"}, ["0", "1"]),
        ({"SLURM_JOB_ID": "42", "SLURM_STEP_GPUS": "3"}, ["3"]),
        ({"SLURM_JOB_ID": "42", "SLURM_JOB_GPUS": "2,5"}, ["2", "5"]),
        ({"SLURM_JOB_ID": "42", "CUDA_VISIBLE_DEVICES": "0", "SLURM_JOB_GPUS": "6"}, ["0"]),
    ],
)
def test_scheduler_assigned_devices(env, expected):
    assert scheduler_assigned_devices(env) == expected


# --- claims within one process -----------------------------------------------------------------


def test_claimed_gpu_sets_and_restores_cuda_visible_devices(tmp_path):
    with claimed_gpu(2, tmp_path / "locks", timeout=2, owner="job-a") as dev:
        assert dev in {"0", "1"}
        assert os.environ["CUDA_VISIBLE_DEVICES"] == dev
        assert f"pid={os.getpid()}" in (tmp_path / "locks" / f"gpu{dev}.lock").read_text()
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    # Released: the same device can be locked again at once.
    claim_device(1, tmp_path / "locks", devices=[dev], timeout=0).release()


def test_claimed_gpu_claims_within_an_inherited_mask(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    # Another job holds physical GPU 5, so this one must get 7 -- never an unmasked index like 0 or 1.
    with claim_device(1, tmp_path, devices=["5"], timeout=2), claimed_gpu(2, tmp_path, timeout=2) as dev:
        assert dev == "7"
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "7"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "5,7"


def test_claimed_gpu_releases_on_exception(tmp_path):
    with pytest.raises(ValueError), claimed_gpu(1, tmp_path, timeout=2):
        raise ValueError("training crashed")
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    claim_device(1, tmp_path, timeout=0).release()


def test_release_is_idempotent(tmp_path):
    claim = claim_device(1, tmp_path, timeout=2)
    assert isinstance(claim, Claim) and claim.device == "0"
    claim.release()
    claim.release()
    with claim_device(1, tmp_path, timeout=0) as again:
        assert again.device == "0"


def test_second_claim_skips_a_busy_device(tmp_path):
    with claim_device(2, tmp_path, timeout=2, owner="x") as a, claim_device(2, tmp_path, timeout=2, owner="x") as b:
        assert {a.device, b.device} == {"0", "1"}


def test_timeout_names_lock_dir_and_device_count(tmp_path):
    with claim_device(1, tmp_path, timeout=2, owner="holder-job"):
        started = time.monotonic()
        with pytest.raises(TimeoutError) as err:
            claim_device(1, tmp_path, timeout=0.2, poll=0.05)
        assert 0.2 <= time.monotonic() - started < 2
    message = str(err.value)
    assert str(tmp_path) in message and "n_devices=1" in message and "owner=holder-job" in message


def test_one_slurm_gpu_short_circuits_the_claim(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    lock_dir = tmp_path / "locks"
    with claimed_gpu(0, lock_dir, timeout=2) as dev:  # n_devices is irrelevant under SLURM
        assert dev == "3"
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert not lock_dir.exists()


def test_jobs_sharing_a_multi_gpu_slurm_allocation_claim_distinct_devices(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,4")
    lock_dir = tmp_path / "locks"
    with claimed_gpu(2, lock_dir, timeout=2) as first:
        assert os.environ["CUDA_VISIBLE_DEVICES"] == first
        other = claim_device(2, lock_dir, timeout=2, devices=["3", "4"])
        assert {first, other.device} == {"3", "4"}
        other.release()
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3,4"


@pytest.mark.parametrize("mask", [None, "", "-1"])
def test_no_visible_gpu_raises(tmp_path, monkeypatch, mask):
    if mask is not None:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", mask)
    n = 0 if mask is None else 2
    with pytest.raises(RuntimeError, match="no GPU is visible"), claimed_gpu(n, tmp_path, timeout=2):
        pass


# --- claims across processes -------------------------------------------------------------------


def test_concurrent_processes_get_different_devices_and_a_third_waits(tmp_path):
    lock_dir = tmp_path / "locks"
    release = {name: tmp_path / f"release-{name}" for name in "abc"}
    # Same owner => same preferred start device, so the second claimant must actually contend.
    a = start_worker(lock_dir, 2, release["a"])
    b = start_worker(lock_dir, 2, release["b"])
    dev_a, visible_a, _ = read_claim(a)
    dev_b, visible_b, _ = read_claim(b)
    assert {dev_a, dev_b} == {"0", "1"}
    assert (visible_a, visible_b) == (dev_a, dev_b)

    c = start_worker(lock_dir, 2, release["c"])
    assert not select.select([c.stdout], [], [], 0.5)[0], "third claimant got a device while both were held"
    released_at = time.time()
    release["a"].touch()
    dev_c, _, claimed_at = read_claim(c)
    assert dev_c == dev_a
    assert claimed_at >= released_at
    for name, proc in (("b", b), ("c", c)):
        release[name].touch()
        finish(proc)
    finish(a)


def test_sigkilled_holder_frees_its_device(tmp_path):
    holder = start_worker(tmp_path, 1, tmp_path / "never")
    assert read_claim(holder)[0] == "0"
    with pytest.raises(TimeoutError):
        claim_device(1, tmp_path, timeout=0.05, poll=0.01)
    holder.kill()
    holder.wait(timeout=5)
    holder.stdout.close()
    # The stale lock file stays behind but must not block anyone.
    assert (tmp_path / "gpu0.lock").exists()
    with claim_device(1, tmp_path, timeout=2, poll=0.01) as claim:
        assert claim.device == "0"
