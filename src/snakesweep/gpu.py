"""Give each concurrently running GPU job its own device.

``snakemake --resources gpu=N`` only bounds how many GPU jobs run at once; it never tells a job
*which* GPU to use (snakemake#281), so without help every job lands on ``cuda:0``. Jobs therefore
claim a device themselves through one ``flock``-ed file per device. Under SLURM the scheduler has
already bound devices to the job, so those are used as they are and nothing is claimed.

Stdlib only: this is imported by Snakefiles and job scripts that must not pay for importing torch.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Which device a pack is given, not what it computes there (the accelerator is a hyperparameter,
# in the id already): not part of a point's id (identity.py).
RESULT_CODE = False

PROC_GPUS = Path("/proc/driver/nvidia/gpus")
# What accelerator 'auto' means for a run, decided once by the process that builds the DAG and
# exported to its jobs (see plan.auto_choice).
AUTO_ENV = "SNAKESWEEP_AUTO_ACCELERATOR"
_SLURM_GPU_VARS = ("CUDA_VISIBLE_DEVICES", "SLURM_STEP_GPUS", "SLURM_JOB_GPUS")


def _parse_devices(value: str | None) -> list[str] | None:
    """Entries of a device list such as CUDA_VISIBLE_DEVICES; None when the variable is unset.

    CUDA ignores everything from the first negative entry on, so "-1" (or "") means no device.
    """
    if value is None:
        return None
    devices = []
    for entry in (e.strip() for e in value.split(",")):
        if not entry or entry.startswith("-"):
            break
        devices.append(entry)
    return devices


def count_gpus(
    *, env: Mapping[str, str] | None = None, proc_dir: Path = PROC_GPUS, nvidia_smi: str | None = "nvidia-smi"
) -> int:
    """Number of NVIDIA GPUs this process may use, found without importing torch (slow, and may
    initialise CUDA in the Snakemake parent). An explicit CUDA_VISIBLE_DEVICES wins because it is
    the user's (or scheduler's) restriction; the driver's /proc entries and ``nvidia-smi -L`` are
    fallbacks. The probes are parameters so tests can fake hosts with any number of GPUs."""
    visible = _parse_devices((os.environ if env is None else env).get("CUDA_VISIBLE_DEVICES"))
    if visible is not None:
        return len(visible)
    with contextlib.suppress(OSError):
        if n := sum(1 for _ in proc_dir.iterdir()):
            return n
    exe = shutil.which(nvidia_smi) if nvidia_smi else None
    if exe:
        # A wedged driver can hang nvidia-smi; a wrong count of 0 is better than a hung workflow.
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=5, check=True).stdout
            return sum(1 for line in out.splitlines() if line.startswith("GPU "))
    return 0


def scheduler_assigned_devices(env: Mapping[str, str] | None = None) -> list[str] | None:
    """Devices SLURM bound to this job, or None when not in a SLURM job that was given GPUs.

    SLURM confines the job to its devices already (cgroups), so claiming among them would only let
    jobs on *other* nodes that share lock_dir block us for no reason."""
    env = os.environ if env is None else env
    if not env.get("SLURM_JOB_ID"):
        return None
    for var in _SLURM_GPU_VARS:
        if devices := _parse_devices(env.get(var)):
            return devices
    return None


@dataclass(eq=False)
class Claim:
    """Exclusive use of one device for as long as ``_fd`` stays open and locked.

    The kernel drops a flock when its last fd closes, so a job killed by SIGKILL or OOM frees its
    device by itself; a lock file left on disk means nothing unless someone still holds it."""

    device: str
    path: Path
    _fd: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Fallback for callers that forget to release; a no-op once release() has run.
        atexit.register(self.release)

    def release(self) -> None:
        """Free the device; safe to call any number of times."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        atexit.unregister(self.release)
        try:
            # Unlock explicitly rather than just closing: a forked child (e.g. a DataLoader worker)
            # shares the open file description and would otherwise keep the device locked.
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        # The file is deliberately not unlinked: a waiter may have it open already and would then
        # lock an orphaned inode while a newcomer locks a fresh file, so both would own the device.

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_device(
    n_devices: int,
    lock_dir: Path,
    *,
    timeout: float = 3600,
    poll: float = 0.2,
    owner: str = "",
    devices: Sequence[str] | None = None,
) -> Claim:
    """Lock a free device among ``devices`` (default "0".."n_devices-1"), waiting while all are busy.

    lock_dir must be local to this host (GPUs are per host). Every process starts its search at a
    hash of ``owner`` (or its pid), so simultaneous starters rarely contend for the same file and a
    partly used machine spreads jobs over its GPUs. Raises TimeoutError after ``timeout`` seconds.
    """
    candidates = [str(i) for i in range(n_devices)] if devices is None else list(devices)[:n_devices]
    if not candidates:
        raise RuntimeError(
            f"a GPU job was scheduled but no GPU is visible (n_devices={n_devices}, "
            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}); "
            "run with --resources gpu=0 or on a host with GPUs"
        )
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    start = zlib.crc32((owner or str(os.getpid())).encode()) % len(candidates)
    order = candidates[start:] + candidates[:start]
    deadline = time.monotonic() + timeout
    while True:
        for device in order:
            path = lock_dir / f"gpu{device}.lock"
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            info = f"pid={os.getpid()} host={socket.gethostname()} owner={owner} since={time.ctime()}\n"
            # Only for humans diagnosing a stuck job, so failing to write it must not lose the claim.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.write(fd, info.encode())
            return Claim(device, path, fd)
        if time.monotonic() >= deadline:
            holders = "; ".join(_describe(lock_dir / f"gpu{d}.lock") for d in candidates)
            raise TimeoutError(
                f"no free GPU after {timeout:g}s: all {len(candidates)} of n_devices={n_devices} are locked "
                f"in {lock_dir} ({holders}); is --resources gpu larger than the GPUs of this host?"
            )
        time.sleep(poll)


def _describe(path: Path) -> str:
    try:
        return f"{path.name}: {path.read_text().strip() or '?'}"
    except OSError:
        return f"{path.name}: ?"


@contextlib.contextmanager
def claimed_gpu(
    n_devices: int, lock_dir: Path, *, timeout: float = 3600, poll: float = 0.2, owner: str = ""
) -> Iterator[str]:
    """Run the body on one GPU of its own, yielding the device id that CUDA_VISIBLE_DEVICES is set to.

    Enter before anything initialises CUDA: the process then sees only its device, as ``cuda:0``.
    Under SLURM a job given one GPU uses it untouched; with several, concurrent jobs claim among them.
    An inherited CUDA_VISIBLE_DEVICES mask is respected by claiming among its entries, so the job never
    escapes the GPUs the user allowed."""
    assigned = scheduler_assigned_devices()
    if assigned and len(assigned) == 1:
        yield assigned[0]
        return
    # Several GPUs in one allocation are shared by the jobs Snakemake runs in it: claim among them.
    old = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = _parse_devices(old)
    if devices is None:
        devices = assigned
    with claim_device(n_devices, lock_dir, timeout=timeout, poll=poll, owner=owner, devices=devices) as claim:
        os.environ["CUDA_VISIBLE_DEVICES"] = claim.device
        try:
            yield claim.device
        finally:
            if old is None:
                os.environ.pop("CUDA_VISIBLE_DEVICES", None)
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = old


def default_lock_dir() -> Path:
    """GPUs belong to the host, so their locks live in a host-local directory, never on a shared
    filesystem where jobs on two nodes would contend for each other's "gpu0"."""
    import tempfile

    return Path(tempfile.gettempdir()) / f"snakesweep-gpu-locks-{os.getuid()}"


@contextlib.contextmanager
def pack_device(pack: str, accelerator: str, lock_dir: str | Path | None = None) -> Iterator[int | None]:
    """The GPU a pack of either runner uses for its whole life, claimed before torch or the user's
    program starts; None for a CPU pack. Prints what the scheduler or the claim gave it, for the log."""
    if accelerator != "gpu":
        yield None
        return
    with claimed_gpu(count_gpus(), Path(lock_dir or default_lock_dir()), owner=f"pack {pack}") as gpu:
        given = {v: os.environ.get(v) for v in _SLURM_GPU_VARS}
        print(f"pack {pack}: GPU {gpu} ({', '.join(f'{k}={v!r}' for k, v in given.items())})", flush=True)
        yield gpu
