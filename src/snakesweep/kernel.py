"""The training kernel both engines share: the split in memory, seeded batches, the optimiser,
full-batch validation, divergence, determinism, the device, and the checkpoint and history files.

Batches are index slices of tensors that already live on the training device: the tutorial's
per-sample Dataset + DataLoader spends far more time collating than computing. The engines
(engine_torch.py, engine_lightning.py) differ only in who runs the loop; they import this module and
never each other.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import metrics
from .io import atomic_path
from .model import build

VAL_BATCH = 65536
# Tests only: a cluster with fake GPUs schedules 'gpu' points, which then train on the CPU.
GPU_ON_CPU_ENV = "SNAKESWEEP_TEST_GPU_ON_CPU"
OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop,
              "adagrad": torch.optim.Adagrad}


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor


@dataclass
class FitResult:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    history: list[dict] = field(default_factory=list)
    status: str = "ok"
    reason: str = ""
    val_scores: np.ndarray | None = None
    train_seconds: float = 0.0
    first_step_at: float | None = None  # time.time() of the first optimiser step


def load_split(path: str | Path, device: torch.device | str = "cpu") -> Split:
    with np.load(path) as z:
        x, y = z["x"], z["y"]
    return Split(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device),
                 torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32)).to(device))


def make_optimizer(hp: dict, params) -> torch.optim.Optimizer:
    return OPTIMIZERS[hp["optimizer"]](params, lr=hp["learning_rate"], weight_decay=hp["weight_decay"])


def epoch_batches(n: int, batch_size: int, generator: torch.Generator, device) -> list[torch.Tensor]:
    """Index slices of one seeded permutation: the epoch's shuffled batches, without copying rows twice."""
    perm = torch.randperm(n, generator=generator, device=generator.device).to(device)
    return list(torch.split(perm, batch_size))


def batch_generator(seed: int, device) -> torch.Generator:
    dev = torch.device(device)
    g = torch.Generator(device=dev.type if dev.type != "cpu" else "cpu")
    g.manual_seed(seed)
    return g


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Logits for every row, in large batches and full precision."""
    was_training = model.training
    model.eval()
    outs = [model(chunk) for chunk in torch.split(x, VAL_BATCH)]
    model.train(was_training)
    return torch.cat(outs)


def validate(model: nn.Module, val: Split) -> tuple[float, float, np.ndarray]:
    logits = predict(model, val.x)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, val.y).item()
    scores = logits.double().cpu().numpy()
    return loss, metrics.roc_auc(val.y.cpu().numpy(), scores), scores


def divergence(row: dict) -> str:
    """Why a point stopped early, or '' when its losses are finite."""
    for key in ("train_loss", "val_loss"):
        if not math.isfinite(row[key]):
            return f"{key} became {row[key]} at epoch {row['epoch']} (diverged)"
    return ""


def autocast_for(precision: str, device: torch.device):
    if precision == "32":
        return None
    dtype = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


def resolve_device(hp: dict) -> torch.device:
    if hp["accelerator"] == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda", 0)
    if hp["accelerator"] == "gpu" and os.environ.get(GPU_ON_CPU_ENV) == "1":
        print(f"{GPU_ON_CPU_ENV}=1: accelerator 'gpu' trains on the CPU (tests only: the cluster's GPU is fake, "
              f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})")
        return torch.device("cpu")
    if hp["accelerator"] == "gpu":
        raise RuntimeError("accelerator 'gpu' was asked for, but torch sees no CUDA device "
                           f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})")
    return torch.device("cpu")


def make_deterministic(threads: int) -> None:
    # cuBLAS needs this before its first call for deterministic algorithms to be allowed at all.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(True)
    else:
        # The public call also sets the compiler's flag, and importing the compiler (torch._inductor,
        # torch._dynamo) costs 1.2 s, most of a small job's start-up. Nothing here is compiled, so set
        # the flag that eager execution reads, alone; torch.are_deterministic_algorithms_enabled() reads it.
        torch._C._set_deterministic_algorithms(True, warn_only=False)
    torch.set_num_threads(max(1, int(threads)))


def process_start_time() -> float | None:
    """Wall-clock time this process started (Linux), to report start-up cost honestly."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def write_history(path: Path, history: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["epoch", "train_loss", "val_loss", "val_roc_auc"],
                           lineterminator="\n")
        w.writeheader()
        for row in history:
            w.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})


def save_checkpoint(path: Path, result: FitResult, hp: dict, features: list[str]) -> None:
    """Weights, hyperparameters and optimiser state: enough to evaluate the model or resume training."""
    state = {
        "hparams": hp,
        "features": list(features),
        "n_features": len(features),
        "epoch": len(result.history),
        "model_state": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
        "optimizer_state": result.optimizer.state_dict(),
    }
    # torch.save records the file name it writes to inside the archive: saving to memory first keeps
    # the bytes identical between reruns (the temporary name is random).
    buf = io.BytesIO()
    torch.save(state, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def load_model(path: str | Path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = build(state["n_features"], state["hparams"])
    model.load_state_dict(state["model_state"])
    model.eval()
    return model, state


