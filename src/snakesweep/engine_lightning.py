"""The Lightning engine (the tutorial's section 2): same kernel, model, batches, seeds and metrics as the
torch engine (engine_torch.py), its peer.

Lightning takes any iterable as a dataloader, so batches stay index slices of in-memory tensors; only
the training loop, optimiser step and precision handling are Lightning's.

Resuming does not use Lightning's own checkpoints (their files hold pickled objects and the loop's
state, not the kernel's): the kernel's checkpoint is restored into the module, the batches, the
optimiser Lightning creates and its scaler, and the trainer runs only the remaining epochs, numbered on
from the checkpoint's.
"""

from __future__ import annotations

import logging
import time
import warnings

import lightning as L
import torch
from torch import nn

from .kernel import (
    FitResult,
    Split,
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


class TensorBatches:
    """Shuffled batches sliced from tensors on the device, with a new seeded permutation each epoch."""

    def __init__(self, split: Split, batch_size: int, seed: int):
        self.split, self.batch_size = split, batch_size
        self.generator = batch_generator(seed, split.x.device)

    def __len__(self):
        return -(-len(self.split.y) // self.batch_size)

    def __iter__(self):
        for idx in epoch_batches(len(self.split.y), self.batch_size, self.generator, self.split.x.device):
            # index_select copies rows faster than x[idx], with identical values (benchmarks/README.md).
            yield self.split.x.index_select(0, idx), self.split.y.index_select(0, idx)


class BreastCancerModule(L.LightningModule):
    def __init__(self, hp: dict, n_features: int, val: Split, on_epoch=None, resume: dict | None = None):
        super().__init__()
        self.save_hyperparameters(hp)
        self.hp = hp
        self.model = build(n_features, hp)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.val, self.on_epoch = val, on_epoch
        self.resume = resume
        self.history: list[dict] = []
        self.reason = ""
        self.first_step_at = None
        self.val_scores = None
        self.rng_state = None
        self._sum = self._rows = None
        if resume is not None:
            self.model.load_state_dict(resume["model_state"])
            self.history = [dict(row) for row in resume["history"]]
        # The trainer counts only the epochs it runs; rows keep counting from the checkpoint's.
        self.epoch_offset = len(self.history)

    def forward(self, x):
        return self.model(x)

    def on_fit_start(self):
        # Lightning creates its GradScaler itself; the checkpoint's state goes into that one.
        scaler = getattr(self.trainer.precision_plugin, "scaler", None)
        if self.resume is not None and scaler is not None and self.resume.get("scaler_state"):
            scaler.load_state_dict(self.resume["scaler_state"])

    def on_train_start(self):
        # As late as possible before the first batch, so nothing between here and the first dropout draws.
        if self.resume is not None:
            set_rng_states(self.resume, self.device)

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
        row = {"epoch": self.epoch_offset + self.current_epoch + 1, "train_loss": (self._sum / self._rows).item(),
               "val_loss": val_loss, "val_roc_auc": val_auc}
        self.history.append(row)
        self.val_scores = scores
        self.log_dict({"train_loss": row["train_loss"], "val_loss": val_loss})
        if self.on_epoch is not None:
            self.on_epoch(row)
        self.rng_state = rng_states(self.device)
        self.reason = divergence(row)
        if self.reason:
            self.trainer.should_stop = True

    def configure_optimizers(self):
        optimizer = make_optimizer(self.hp, self.parameters())
        if self.resume is not None:
            optimizer.load_state_dict(self.resume["optimizer_state"])
        return optimizer


def fit_lightning(hp: dict, train: Split, val: Split, device: torch.device, on_epoch=None,
                  resume: dict | None = None, epochs: int | None = None) -> FitResult:
    """fit_torch's peer, with the same arguments and bit-identical results."""
    done, total = resume_plan(resume, hp, epochs)
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Lightning 2.6 calls an API that torch 2.13 deprecated, on every fit: noise in every point's log.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    L.seed_everything(hp["seed"], verbose=False)
    module = BreastCancerModule(hp, train.x.shape[1], val, on_epoch, resume)
    batches = TensorBatches(train, hp["batch_size"], hp["seed"])
    if resume is not None:
        batches.generator.set_state(resume["batch_generator_state"])
    # A checkpoint of a point that diverged stays failed: training straight through stopped there too.
    module.reason = divergence(module.history[-1]) if module.history else ""
    t0 = time.perf_counter()
    if done < total and not module.reason:
        trainer = L.Trainer(
            max_epochs=total - done,
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
        trainer.fit(module, train_dataloaders=batches)
        optimizer, scaler = trainer.optimizers[0], getattr(trainer.precision_plugin, "scaler", None)
    else:
        # Nothing to train: the checkpoint's state is the result, as fit_torch returns it.
        module.model.to(device)
        optimizer, scaler = make_optimizer(hp, module.model.parameters()), None
        optimizer.load_state_dict(resume["optimizer_state"])
        if hp["precision"] == "16-mixed":
            scaler = torch.amp.GradScaler(device.type)
            if resume.get("scaler_state"):
                scaler.load_state_dict(resume["scaler_state"])
        set_rng_states(resume, device)
    result = FitResult(module.model, optimizer, module.history, generator=batches.generator, scaler=scaler)
    result.train_seconds = time.perf_counter() - t0
    result.first_step_at = module.first_step_at
    result.val_scores = module.val_scores if module.val_scores is not None else validate(module.model, val)[2]
    result.rng_state = module.rng_state if module.rng_state is not None else rng_states(device)
    if module.reason:
        result.status, result.reason = "failed", module.reason
    return result
