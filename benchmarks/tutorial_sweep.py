#!/usr/bin/env python
"""The tutorial's hyperparameter sweep (sections 2.2-2.4), as a user runs it: the baseline of run.py end_to_end.

    python benchmarks/tutorial_sweep.py [--count 20] [--seed 0] [--wandb-dir DIR]

The code below is the tutorial's, copied from its text. Two things differ, because W&B's server cannot be
reached here: W&B runs offline (WANDB_MODE=offline; the script runs in --wandb-dir or a temporary directory,
where W&B and Lightning write their files), and instead of wandb.sweep/wandb.agent (which need the server)
the sweep's points are drawn from the tutorial's sweep_configuration with random.Random(--seed) and
sweep(**point) is called --count times in this process.
Prints one JSON line at the end: name, seconds (since this process started, imports included), points and
best_val_loss.
"""

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path


def process_start_time() -> float:
    """Wall-clock time this process started (Linux), so that `seconds` includes interpreter start and imports."""
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return time.time() - uptime + ticks / os.sysconf("SC_CLK_TCK")


STARTED = process_start_time()
parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--count", type=int, default=20, help="points to train (the tutorial's wandb.agent count)")
parser.add_argument("--seed", type=int, default=0, help="seed of the random draw of the points")
parser.add_argument("--wandb-dir", help="where W&B and Lightning write their runs and checkpoints (default: a new "
                    "temporary directory); the sweep runs in it, since WandbLogger's save_dir defaults to '.'")
args = parser.parse_args()
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_DIR"] = args.wandb_dir or tempfile.mkdtemp(prefix="tutorial-wandb-")
os.makedirs(os.environ["WANDB_DIR"], exist_ok=True)
os.chdir(os.environ["WANDB_DIR"])

# --- Section 2.2.1: the data ---
import lightning as L  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import wandb  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

_ = torch.manual_seed(42)


class CancerDataset(Dataset):
    def __init__(self, features: pd.DataFrame, targets: pd.Series):
        self.features = torch.tensor(features.values, dtype=torch.float32)
        self.targets = torch.tensor(targets.values, dtype=torch.float32)

    def __len__(self):
        return len(self.features)

    def __getitem__(self, idx):
        x = self.features[idx]
        y = self.targets[idx]
        return x, y


cancer_data = load_breast_cancer(as_frame=True)
cancer_dataset = CancerDataset(cancer_data['data'], cancer_data['target'])

data_train, data_validation = torch.utils.data.random_split(cancer_dataset, [0.8, 0.2])
dataloader_train = DataLoader(data_train, batch_size=32, shuffle=True)
dataloader_validation = DataLoader(data_validation, batch_size=32, shuffle=False)


# --- Section 2.4: the configurable model and module ---
class BreastCancerClassifier(nn.Module):
    def __init__(self, hidden_layers=1, hidden_neurons=10):
        super().__init__()
        self.layers = nn.ModuleList()
        self.layers.append(nn.Linear(30, hidden_neurons))
        for _ in range(hidden_layers - 1):
            self.layers.append(nn.Linear(hidden_neurons, hidden_neurons))
        self.layers.append(nn.Linear(hidden_neurons, 1))
        self.activation = nn.ReLU()

    def forward(self, x):
        # Iterate over all layers except the last one and add activations
        for layer in self.layers[:-1]:
            x = layer(x)
            x = self.activation(x)
        # Last layer without activation
        x = self.layers[-1](x)
        return x


class BreastCancerModule(L.LightningModule):
    def __init__(self, learning_rate=0.001, hidden_layers=1, hidden_neurons=10):
        super().__init__()
        self.save_hyperparameters()
        self.model = BreastCancerClassifier(hidden_layers, hidden_neurons)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.learning_rate = learning_rate
        self.optimizer = torch.optim.Adam

    def forward(self, x):
        return self.model(x).squeeze()

    def training_step(self, batch, batch_idx):
        x, y = batch
        y_hat = self(x)
        loss = self.loss_fn(y_hat, y)
        self.log('train_loss', loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        y_hat = self(x)
        loss = self.loss_fn(y_hat, y)
        self.log('val_loss', loss, prog_bar=True)

        return loss

    def configure_optimizers(self):
        return self.optimizer(self.parameters(), lr=self.learning_rate)


def sweep(*args, **kwargs):
    # Create the trainer
    trainer = L.Trainer(
        max_epochs=10,
        accelerator="auto",
        logger=L.pytorch.loggers.WandbLogger(
            project="breast-cancer-classification",
            # The tutorial has log_model=True, which Lightning refuses offline (WandbLogger(offline=True,
            # log_model=True) raises): checkpoints are not uploaded here.
            log_model=False,
        ))

    trainer.fit(
        BreastCancerModule(*args, **kwargs),
        train_dataloaders=dataloader_train,
        val_dataloaders=dataloader_validation,
    )
    wandb.finish()
    return trainer.callback_metrics["val_loss"].item()  # added: the run's val_loss, which the sweep minimises


sweep_configuration = {
    "method": "random",
    "metric": {"goal": "minimize", "name": "val_loss"},
    "parameters": {
        "hidden_layers": {
            "values": [0, 1, 2]
        },
        "hidden_neurons": {
            "values": [2, 4, 8, 16, 32]
        },
        "learning_rate": {
            "min": 0.0001,
            "max": 0.01
        },
    },
}


# --- In place of wandb.sweep + wandb.agent(sweep_id, function=sweep, count=20): the same random search ---
def draw(parameters: dict, rng: random.Random) -> dict:
    return {name: rng.choice(p["values"]) if "values" in p else rng.uniform(p["min"], p["max"])
            for name, p in parameters.items()}


rng = random.Random(args.seed)
val_losses = [sweep(**draw(sweep_configuration["parameters"], rng)) for _ in range(args.count)]
print(json.dumps({"name": "tutorial_sweep", "seconds": round(time.time() - STARTED, 3), "points": args.count,
                  "best_val_loss": min(val_losses)}))
