"""The training kernel both engines share: the split in memory, seeded batches, the optimiser,
full-batch validation, divergence, determinism, the device, and the checkpoint and history files.

Batches are index slices of tensors that already live on the training device: the tutorial's
per-sample Dataset + DataLoader spends far more time collating than computing. The engines
(engine_torch.py, engine_lightning.py) differ only in who runs the loop; they import this module and
never each other.

A checkpoint holds everything the next epoch depends on (weights, optimiser and scaler state, the batch
order's generator, torch's global RNG, which dropout draws from, and the history), so a point trained
to epoch e and resumed to E is bit-identical to the same point trained straight to E.
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
from .hparams import effective
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
    # What resuming needs besides weights and optimiser: see save_checkpoint.
    generator: torch.Generator | None = None
    scaler: torch.amp.GradScaler | None = None
    rng_state: dict | None = None  # rng_states() when the last epoch ended


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


def rng_states(device: torch.device) -> dict:
    """torch's global RNG states that training on `device` draws from (dropout)."""
    states = {"rng_state": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda_rng_state"] = torch.cuda.get_rng_state(device)
    return states


def set_rng_states(states: dict, device: torch.device) -> None:
    torch.set_rng_state(states["rng_state"])
    if device.type == "cuda":
        if "cuda_rng_state" not in states:
            raise ValueError("the checkpoint was not trained on CUDA (it has no CUDA RNG state): "
                             "resuming it on a GPU would not continue the same training")
        torch.cuda.set_rng_state(states["cuda_rng_state"], device)


def resume_plan(resume: dict | None, hp: dict, epochs: int | None) -> tuple[int, int]:
    """(epochs already trained, epochs wanted in total) for a fit, checking the checkpoint can continue it."""
    total = hp["max_epochs"] if epochs is None else int(epochs)
    if total < 1:
        raise ValueError(f"epochs must be >= 1, found {epochs!r}")
    if resume is None:
        return 0, total
    missing = [k for k in ("history", "batch_generator_state", "rng_state", "optimizer_state") if k not in resume]
    if missing:
        raise ValueError(f"the checkpoint cannot be resumed: it lacks {missing}")
    # max_epochs only bounds how far a point trains, and the engines are bit-identical peers: any other
    # difference would continue a different point's training.
    ignore = ("max_epochs", "engine")
    old = {k: v for k, v in effective(resume["hparams"]).items() if k not in ignore}
    new = {k: v for k, v in effective(hp).items() if k not in ignore}
    if old != new:
        changed = sorted(k for k in old.keys() | new.keys() if old.get(k, "<unset>") != new.get(k, "<unset>"))
        raise ValueError(f"the checkpoint was trained with other hyperparameters ({', '.join(changed)})")
    done = len(resume["history"])
    if done > total:
        raise ValueError(f"the checkpoint has {done} epochs, more than the {total} asked for")
    return done, total


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
        # torch._dynamo) is most of a small job's start-up (benchmarks/README.md). Nothing here is
        # compiled, so set the flag that eager execution reads, alone;
        # torch.are_deterministic_algorithms_enabled() reads it.
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


def _interned(obj):
    """`obj` with every string interned. Pickle writes a string it has seen as a reference to the same
    object, so strings read back from a checkpoint (a resumed optimiser's keys, history rows) would
    otherwise make a resumed point's file differ from the same point's trained straight through."""
    # Exact types: sys.intern refuses str subclasses, and a named tuple is not built from one iterable.
    if type(obj) is str:
        return sys.intern(obj)
    if isinstance(obj, dict):
        return {_interned(k): _interned(v) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_interned(v) for v in obj)
    return obj


def save_checkpoint(path: Path, result: FitResult, hp: dict, features: list[str]) -> None:
    """Weights, hyperparameters, optimiser state, and what continuing the training needs (see the module's
    docstring): enough to evaluate the model or resume training. Only tensors, dicts, lists, numbers and
    strings, so that torch.load(weights_only=True) reads it."""
    model_state = result.model.state_dict()
    device = next(iter(model_state.values())).device if model_state else torch.device("cpu")
    state = {
        "hparams": hp,
        "features": list(features),
        "n_features": len(features),
        "epoch": len(result.history),
        "model_state": {k: v.detach().cpu() for k, v in model_state.items()},
        "optimizer_state": result.optimizer.state_dict(),
        "history": [dict(row) for row in result.history],
        # A result built by hand has no end-of-training RNG state: the current one is the best guess.
        **(result.rng_state if result.rng_state is not None else rng_states(device)),
    }
    if result.generator is not None:
        state["batch_generator_state"] = result.generator.get_state()
    if result.scaler is not None:
        state["scaler_state"] = result.scaler.state_dict()
    # torch.save records the file name it writes to inside the archive: saving to memory first keeps
    # the bytes identical between reruns (the temporary name is random).
    buf = io.BytesIO()
    torch.save(_interned(state), buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict:
    """A checkpoint as save_checkpoint wrote it, to pass to a fit as `resume`, its weights on `device`.

    Everything else stays on the CPU: RNG and generator states must be CPU tensors, and the optimiser
    moves its state to its parameters' device when it loads it.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    state["model_state"] = {k: v.to(device) for k, v in state["model_state"].items()}
    return state


def load_model(path: str | Path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = build(state["n_features"], state["hparams"])
    model.load_state_dict(state["model_state"])
    model.eval()
    return model, state


