"""The plain PyTorch engine: the tutorial's own loop (its section 1.3.4) on the shared kernel."""

from __future__ import annotations

import time

import torch
from torch import nn

from .kernel import (
    FitResult,
    Split,
    autocast_for,
    batch_generator,
    divergence,
    epoch_batches,
    make_optimizer,
    resume_plan,
    rng_states,
    set_rng_states,
    validate,
)
from .model import build


def fit_torch(hp: dict, train: Split, val: Split, device: torch.device, on_epoch=None, resume: dict | None = None,
              epochs: int | None = None) -> FitResult:
    """The tutorial's plain loop (section 1.3.4), on in-memory batches.

    `resume`: a checkpoint (kernel.load_checkpoint) to continue from, bit-identically; `epochs`: how many
    epochs the result has in total (default hp["max_epochs"]). `on_epoch` sees the new epochs only.
    """
    done, total = resume_plan(resume, hp, epochs)
    torch.manual_seed(hp["seed"])
    model = build(train.x.shape[1], hp).to(device)
    optimizer = make_optimizer(hp, model.parameters())
    loss_fn = nn.BCEWithLogitsLoss()
    autocast = autocast_for(hp["precision"], device)
    scaler = torch.amp.GradScaler(device.type) if hp["precision"] == "16-mixed" else None
    gen = batch_generator(hp["seed"], device)
    result = FitResult(model, optimizer, generator=gen, scaler=scaler)
    if resume is not None:
        model.load_state_dict(resume["model_state"])
        optimizer.load_state_dict(resume["optimizer_state"])
        gen.set_state(resume["batch_generator_state"])
        # After build: the fresh weights' draws are replaced by the saved ones, so the RNG must be too.
        set_rng_states(resume, device)
        if scaler is not None and resume.get("scaler_state"):
            scaler.load_state_dict(resume["scaler_state"])
        result.history = [dict(row) for row in resume["history"]]
    n = len(train.y)
    t0 = time.perf_counter()
    # A checkpoint of a point that diverged stays failed: training straight through stopped there too.
    result.reason = divergence(result.history[-1]) if result.history else ""
    for epoch in range(done + 1, total + 1):
        if result.reason:
            break
        model.train()
        total_loss = torch.zeros((), device=device)
        for idx in epoch_batches(n, hp["batch_size"], gen, device):
            # index_select: faster than x[idx], with identical values (benchmarks/README.md).
            xb, yb = train.x.index_select(0, idx), train.y.index_select(0, idx)
            optimizer.zero_grad(set_to_none=True)
            if autocast is not None:
                with autocast():
                    loss = loss_fn(model(xb).float(), yb)
            else:
                loss = loss_fn(model(xb), yb)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            if result.first_step_at is None:
                result.first_step_at = time.time()
            total_loss += loss.detach() * len(idx)
        # Validation runs in full precision in both engines, whatever the training precision.
        val_loss, val_auc, scores = validate(model, val)
        row = {"epoch": epoch, "train_loss": (total_loss / n).item(), "val_loss": val_loss, "val_roc_auc": val_auc}
        result.history.append(row)
        result.val_scores = scores
        if on_epoch is not None:
            on_epoch(row)
        result.reason = divergence(row)
    if result.val_scores is None:
        # Nothing left to train: the restored model's scores are those of its last epoch (eval is deterministic).
        result.val_scores = validate(model, val)[2]
    if result.reason:
        result.status = "failed"
    result.rng_state = rng_states(device)
    result.train_seconds = time.perf_counter() - t0
    return result
