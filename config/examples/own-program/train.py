"""A training program of your own, written for W&B's agent: it reads its parameters from wandb.config
and logs its metrics with wandb.log. snakesweep runs it once per sweep point, unchanged.

A logistic regression by gradient descent (momentum optional) on scikit-learn's breast-cancer data,
validated on a held-out quarter; it logs val_loss and val_auc every epoch.
"""

import argparse

import numpy as np
import wandb
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=20)  # a plain argument, from the sweep's command
args, _ = parser.parse_known_args()

run = wandb.init()
cfg = wandb.config
x, y = load_breast_cancer(return_X_y=True)
x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.25, stratify=y, random_state=cfg.get("seed", 0))
mean, sd = x_train.mean(axis=0), x_train.std(axis=0)
x_train, x_val = (x_train - mean) / sd, (x_val - mean) / sd

w, b = np.zeros(x.shape[1]), 0.0
vw, vb = np.zeros_like(w), 0.0
momentum = cfg["optimizer"]["momentum"]
for epoch in range(args.epochs):
    p = 1 / (1 + np.exp(-(x_train @ w + b)))
    gw = x_train.T @ (p - y_train) / len(y_train) + cfg["l2"] * w
    gb = float(np.mean(p - y_train))
    vw, vb = momentum * vw + gw, momentum * vb + gb
    w, b = w - cfg["learning_rate"] * vw, b - cfg["learning_rate"] * vb
    q = np.clip(1 / (1 + np.exp(-(x_val @ w + b))), 1e-12, 1 - 1e-12)
    val_loss = float(-np.mean(y_val * np.log(q) + (1 - y_val) * np.log(1 - q)))
    wandb.log({"epoch": epoch + 1, "val_loss": val_loss, "val_auc": roc_auc_score(y_val, q)})
run.finish()
