"""The plain PyTorch engine: the tutorial's own loop (its section 1.3.4) on the shared kernel."""

from __future__ import annotations

import time

import torch
from torch import nn

from .kernel import FitResult, Split, autocast_for, batch_generator, divergence, epoch_batches, make_optimizer, validate
from .model import build


def fit_torch(hp: dict, train: Split, val: Split, device: torch.device, on_epoch=None) -> FitResult:
    """The tutorial's plain loop (section 1.3.4), on in-memory batches."""
    torch.manual_seed(hp["seed"])
    model = build(train.x.shape[1], hp).to(device)
    optimizer = make_optimizer(hp, model.parameters())
    loss_fn = nn.BCEWithLogitsLoss()
    autocast = autocast_for(hp["precision"], device)
    scaler = torch.amp.GradScaler(device.type) if hp["precision"] == "16-mixed" else None
    gen = batch_generator(hp["seed"], device)
    result = FitResult(model, optimizer)
    n = len(train.y)
    t0 = time.perf_counter()
    for epoch in range(1, hp["max_epochs"] + 1):
        model.train()
        total = torch.zeros((), device=device)
        for idx in epoch_batches(n, hp["batch_size"], gen, device):
            xb, yb = train.x.index_select(0, idx), train.y.index_select(0, idx)  # 3-4x faster than x[idx]
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
            total += loss.detach() * len(idx)
        # Validation runs in full precision in both engines, whatever the training precision.
        val_loss, val_auc, scores = validate(model, val)
        row = {"epoch": epoch, "train_loss": (total / n).item(), "val_loss": val_loss, "val_roc_auc": val_auc}
        result.history.append(row)
        result.val_scores = scores
        if on_epoch is not None:
            on_epoch(row)
        result.reason = divergence(row)
        if result.reason:
            result.status = "failed"
            break
    result.train_seconds = time.perf_counter() - t0
    return result
