"""The Lightning engine (the tutorial's section 2): same kernel, model, batches, seeds and metrics as the
torch engine (engine_torch.py), its peer.

Lightning takes any iterable as a dataloader, so batches stay index slices of in-memory tensors; only
the training loop, optimiser step and precision handling are Lightning's.
"""

from __future__ import annotations

import logging
import time
import warnings

import lightning as L
import torch
from torch import nn

from .kernel import FitResult, Split, batch_generator, divergence, epoch_batches, make_optimizer, validate
from .model import build


class TensorBatches:
    """Shuffled batches sliced from tensors on the device, with a new seeded permutation each epoch."""

    def __init__(self, split: Split, batch_size: int, seed: int):
        self.split, self.batch_size = split, batch_size
        self.generator = batch_generator(seed, split.x.device)

    def __len__(self):
        return -(-len(self.split.y) // self.batch_size)

    def __iter__(self):
        for idx in epoch_batches(len(self.split.y), self.batch_size, self.generator, self.split.x.device):
            # index_select copies rows 3-4x faster than x[idx], with identical values.
            yield self.split.x.index_select(0, idx), self.split.y.index_select(0, idx)


class BreastCancerModule(L.LightningModule):
    def __init__(self, hp: dict, n_features: int, val: Split, on_epoch=None):
        super().__init__()
        self.save_hyperparameters(hp)
        self.hp = hp
        self.model = build(n_features, hp)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.val, self.on_epoch = val, on_epoch
        self.history: list[dict] = []
        self.reason = ""
        self.first_step_at = None
        self.val_scores = None
        self._sum = self._rows = None

    def forward(self, x):
        return self.model(x)

    def on_train_epoch_start(self):
        self._sum = torch.zeros((), device=self.device)
        self._rows = 0

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x).float(), y)
        self._sum += loss.detach() * len(y)
        self._rows += len(y)
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self.first_step_at is None:
            self.first_step_at = time.time()

    def on_train_epoch_end(self):
        # Validation is done here, on the whole split at once, so both engines compute it identically.
        val_loss, val_auc, scores = validate(self.model, self.val)
        row = {"epoch": self.current_epoch + 1, "train_loss": (self._sum / self._rows).item(),
               "val_loss": val_loss, "val_roc_auc": val_auc}
        self.history.append(row)
        self.val_scores = scores
        self.log_dict({"train_loss": row["train_loss"], "val_loss": val_loss})
        if self.on_epoch is not None:
            self.on_epoch(row)
        self.reason = divergence(row)
        if self.reason:
            self.trainer.should_stop = True

    def configure_optimizers(self):
        return make_optimizer(self.hp, self.parameters())


def fit_lightning(hp: dict, train: Split, val: Split, device: torch.device, on_epoch=None) -> FitResult:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Lightning 2.6 calls an API that torch 2.13 deprecated, on every fit: noise in every point's log.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    L.seed_everything(hp["seed"], verbose=False)
    module = BreastCancerModule(hp, train.x.shape[1], val, on_epoch)
    trainer = L.Trainer(
        max_epochs=hp["max_epochs"],
        accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=hp["devices"] if device.type == "cuda" else 1,
        precision=hp["precision"],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        deterministic=True,
    )
    t0 = time.perf_counter()
    trainer.fit(module, train_dataloaders=TensorBatches(train, hp["batch_size"], hp["seed"]))
    result = FitResult(module.model, trainer.optimizers[0], module.history)
    result.train_seconds = time.perf_counter() - t0
    result.first_step_at = module.first_step_at
    result.val_scores = module.val_scores
    if module.reason:
        result.status, result.reason = "failed", module.reason
    return result
