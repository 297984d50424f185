#!/usr/bin/env python
"""Training throughput of snakesweep's engines against the tutorial's DataLoader loop and a bare-loop ceiling.

    python benchmarks/throughput.py --rows 2000000          # CPU, and CUDA when torch sees a GPU
    python benchmarks/throughput.py --rows 200000 --device cpu --out benchmarks/results/cpu.jsonl

One JSON line per path and device goes to stdout (and to --out); a human-readable summary, with the
goals checked, goes to stderr. Paths, all training the same MLP (2 hidden layers of 64, relu, adam) on
the same seeded synthetic table:

- tutorial:  what the tutorial's sweep (its section 2.4) runs for each point: the per-sample Dataset +
             DataLoader(batch_size=32, shuffle=True) feeding its Lightning module, which logs train_loss
             every step; stopped after --tutorial-seconds (in all rounds together). `ratio` is against it;
- tutorial_loop: the same Dataset + DataLoader with the tutorial's plain loop (section 1.3.4, with
             its per-step loss.item()); `ratio_loop` is against it;
- limit:     a bare loop over index slices of in-memory tensors (randperm per epoch), no validation,
             no logging, no framework: the ceiling of this model on this hardware at the large batch;
- torch:     snakesweep.engine_torch.fit_torch, as a training job runs it (per-epoch validation included);
- lightning: snakesweep.engine_lightning.fit_lightning, likewise.

`ratio` is samples_per_s divided by the tutorial's on the same device, measured in the same run. The four
paths run one after another, --repeats times; each reports its best round (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from snakesweep.engine_lightning import fit_lightning
from snakesweep.engine_torch import fit_torch
from snakesweep.hparams import HPARAMS
from snakesweep.kernel import Split, make_deterministic, make_optimizer, resolve_device
from snakesweep.model import build

FEATURES = 30
TUTORIAL_BATCH = 32
DEFAULT_BATCH = {"cpu": 16384, "cuda": 65536}
# Goals from the issue: (path, baseline path, minimum ratio) per device type.
GOALS = {
    "cpu": [("torch", "limit", 0.8), ("lightning", "limit", 0.8), ("torch", "tutorial", 30.0),
            ("lightning", "tutorial", 30.0)],
    "cuda": [("torch", "tutorial", 1000.0), ("lightning", "tutorial", 1000.0)],
}


def log(msg: str = "") -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- data


def synthetic_table(rows: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """N x 30 standard-normal features; labels from a random linear rule plus noise (seeded)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, FEATURES, generator=g)
    w = torch.randn(FEATURES, generator=g) / math.sqrt(FEATURES)
    y = ((x @ w + 0.5 * torch.randn(rows, generator=g)) > 0).float()
    return x, y


def hparams(batch_size: int, max_epochs: int, device: torch.device, seed: int) -> dict:
    """HPARAMS defaults, overridden as the issue asks: 2 hidden layers of 64, relu, adam, fp32."""
    hp = {name: spec.default for name, spec in HPARAMS.items()}
    hp.update(hidden_layers=2, hidden_neurons=64, activation="relu", optimizer="adam", precision="32",
              batch_size=batch_size, max_epochs=max_epochs, seed=seed,
              accelerator="gpu" if device.type == "cuda" else "cpu")
    return hp


class OtherLoad:
    """Average number of CPU cores that other processes kept busy while a path was timed (Linux only).

    On a shared machine other work makes every multi-threaded path slower, and small-batch paths
    (the tutorial) far more than the rest: an OpenMP team waits for its descheduled thread at every op.
    """

    def __enter__(self):
        self.start, self.t0 = self._jiffies(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        end = self._jiffies()
        elapsed = time.perf_counter() - self.t0
        if self.start is None or end is None or elapsed <= 0:
            self.cores = None
        else:
            busy = (end[0] - self.start[0]) - (end[1] - self.start[1])
            self.cores = round(max(0.0, busy / os.sysconf("SC_CLK_TCK") / elapsed), 2)
        return False

    @staticmethod
    def _jiffies() -> tuple[int, int] | None:
        """(non-idle jiffies of the whole machine, jiffies of this process)."""
        try:
            with open("/proc/stat") as fh:
                v = [int(f) for f in fh.readline().split()[1:9]]
            with open("/proc/self/stat") as fh:
                mine = fh.read().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            return None
        return sum(v) - v[3] - v[4], int(mine[11]) + int(mine[12])


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------------------------- paths


class TutorialDataset(Dataset):
    """The tutorial's Dataset: one row at a time, collated into batches by the DataLoader."""

    def __init__(self, features: torch.Tensor, targets: torch.Tensor):
        self.features, self.targets = features, targets

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, idx):
        return self.features[idx], self.targets[idx]


def endless(loader: DataLoader) -> Iterator:
    while True:
        yield from loader


def run_tutorial(train: Split, device: torch.device, seconds: float, seed: int, warmup_steps: int = 20) -> dict:
    """The tutorial's loop, stopped after `seconds` of timed training (plus a few warm-up steps)."""
    hp = hparams(TUTORIAL_BATCH, 1, device, seed)
    torch.manual_seed(seed)
    model = build(FEATURES, hp).to(device)
    optimizer = make_optimizer(hp, model.parameters())
    loss_fn = nn.BCEWithLogitsLoss()
    # The tutorial keeps its tensors on the host and moves each batch to the device.
    loader = DataLoader(TutorialDataset(train.x.cpu(), train.y.cpu()), batch_size=TUTORIAL_BATCH, shuffle=True)
    batches = endless(loader)
    model.train()

    def step() -> int:
        inputs, labels = next(batches)
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = loss_fn(outputs, labels)
        loss.backward()
        optimizer.step()
        loss.item()  # the tutorial accumulates epoch_loss_train += loss_value.item() every step
        return len(labels)

    for _ in range(warmup_steps):
        step()
    sync(device)
    samples = steps = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        samples += step()
        steps += 1
    sync(device)
    elapsed = time.perf_counter() - t0
    return {"batch_size": TUTORIAL_BATCH, "samples": samples, "steps": steps, "seconds": elapsed}


class TutorialModule:
    """The tutorial's BreastCancerModule (section 2.4), built lazily so that importing this file stays cheap."""

    @staticmethod
    def make(hp: dict):
        import lightning as L

        class BreastCancerModule(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.model = build(FEATURES, hp)
                self.loss_fn = nn.BCEWithLogitsLoss()

            def forward(self, x):
                return self.model(x)

            def training_step(self, batch, batch_idx):
                x, y = batch
                loss = self.loss_fn(self(x), y)
                self.log("train_loss", loss, prog_bar=True)
                return loss

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters(), lr=hp["learning_rate"])

        return BreastCancerModule()


def run_tutorial_lightning(train: Split, device: torch.device, seconds: float, seed: int,
                           warmup_steps: int = 20) -> dict:
    """The tutorial's sweep path: Lightning fed by the per-sample DataLoader, stopped after `seconds`."""
    import lightning as L

    hp = hparams(TUTORIAL_BATCH, 1, device, seed)
    torch.manual_seed(seed)
    loader = DataLoader(TutorialDataset(train.x.cpu(), train.y.cpu()), batch_size=TUTORIAL_BATCH, shuffle=True)
    state = {"steps": 0, "samples": 0, "t0": None, "elapsed": 0.0}

    class Clock(L.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            state["steps"] += 1
            if state["steps"] == warmup_steps:
                sync(device)
                state["t0"] = time.perf_counter()
            elif state["t0"] is not None:
                state["samples"] += len(batch[1])
                state["elapsed"] = time.perf_counter() - state["t0"]
                if state["elapsed"] >= seconds:
                    trainer.should_stop = True

    trainer = L.Trainer(max_epochs=1000, accelerator="gpu" if device.type == "cuda" else "cpu", devices=1,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[Clock()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on DataLoader workers, once per fit
        trainer.fit(TutorialModule.make(hp), train_dataloaders=loader)
    return {"batch_size": TUTORIAL_BATCH, "samples": state["samples"], "steps": state["steps"] - warmup_steps,
            "seconds": state["elapsed"]}


def run_limit(train: Split, batch: int, device: torch.device, seconds: float, seed: int,
              warmup_steps: int = 3) -> dict:
    """The ceiling: randperm per epoch, index_select rows, forward/backward/step; nothing else."""
    hp = hparams(batch, 1, device, seed)
    torch.manual_seed(seed)
    model = build(FEATURES, hp).to(device)
    optimizer = make_optimizer(hp, model.parameters())
    loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator(device=device).manual_seed(seed)
    x, y, n = train.x, train.y, len(train.y)
    model.train()

    def batches() -> Iterator[torch.Tensor]:
        while True:
            yield from torch.split(torch.randperm(n, generator=gen, device=device), batch)

    def step(idx: torch.Tensor) -> int:
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        return len(idx)

    it = batches()
    for _ in range(warmup_steps):
        step(next(it))
    it = batches()  # timing starts on a fresh epoch, randperm included
    sync(device)
    samples = steps = 0
    t0 = time.perf_counter()
    while samples < n or time.perf_counter() - t0 < seconds:  # at least one epoch
        samples += step(next(it))
        steps += 1
    sync(device)
    elapsed = time.perf_counter() - t0
    return {"batch_size": batch, "samples": samples, "steps": steps, "seconds": elapsed}


def calibrate(train: Split, batch: int, device: torch.device, seed: int, steps: int = 8) -> float:
    """Samples/s of limit's step, from its fastest of a few steps (robust to other processes' bursts)."""
    hp = hparams(batch, 1, device, seed)
    model = build(FEATURES, hp).to(device)
    optimizer = make_optimizer(hp, model.parameters())
    loss_fn = nn.BCEWithLogitsLoss()
    idx = torch.arange(min(batch, len(train.y)), device=device)
    fastest = math.inf
    for _ in range(steps):
        sync(device)
        t0 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(train.x[idx]), train.y[idx]).backward()
        optimizer.step()
        sync(device)
        fastest = min(fastest, time.perf_counter() - t0)
    return len(idx) / fastest


def run_engine(fit: Callable, train: Split, val: Split, batch: int, epochs: int, device: torch.device,
               seed: int) -> dict:
    """One engine as a training job runs it; samples = train rows x epochs, time = FitResult.train_seconds."""
    result = fit(hparams(batch, epochs, device, seed), train, val, device)
    if result.status != "ok":
        raise RuntimeError(f"{fit.__name__} failed: {result.reason}")
    done = len(result.history)
    return {"batch_size": batch, "samples": len(train.y) * done, "epochs": done,
            "steps": done * -(-len(train.y) // batch), "seconds": result.train_seconds}


def warm_up_engines(train: Split, val: Split, batch: int, device: torch.device, seed: int) -> None:
    """One short epoch of each engine (first kernels, allocator, Lightning's first Trainer)."""
    rows = min(len(train.y), 2 * batch)
    small = Split(train.x[:rows], train.y[:rows])
    for fit in (fit_torch, fit_lightning):
        fit(hparams(batch, 1, device, seed), small, val, device)


# ----------------------------------------------------------------------------------------- reporting


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()


def summarize(records: list[dict]) -> bool:
    """Print the table and the goals to stderr; True when every goal for the measured devices is met."""
    all_met = True
    for dev in dict.fromkeys(r["device"] for r in records):
        rows = {r["path"]: r for r in records if r["device"] == dev}
        first = next(iter(rows.values()))
        log(f"\n{dev}: {first['device_name']}, {first['threads']} threads, {first['train_rows']:,} train rows, "
            f"deterministic={first['deterministic']}, best of {len(first['rounds'])} round(s)")
        log(f"  {'path':<10} {'batch':>6} {'samples/s':>13} {'seconds':>8} {'x tutorial':>11} {'x limit':>8} "
            f"{'other cores':>12}")
        for r in rows.values():
            other = f"{r['other_load']:.2f}" if r["other_load"] is not None else "-"
            log(f"  {r['path']:<10} {r['batch_size']:>6} {r['samples_per_s']:>13,.0f} {r['seconds']:>8.2f} "
                f"{r['ratio']:>11.1f} {r['vs_limit']:>8.2f} {other:>12}")
        busy = [r["path"] for r in rows.values() if (r["other_load"] or 0) > 0.2]
        if dev == "cpu" and busy:
            log(f"  WARNING: other processes used CPU while {', '.join(busy)} ran (see 'other cores'): with "
                f"{first['threads']} threads on a busy machine the numbers, the tutorial's most of all, are not "
                "reliable. Rerun on an idle machine.")
        log("  goals:")
        for path, base, minimum in GOALS.get(dev, []):
            got = rows[path]["samples_per_s"] / rows[base]["samples_per_s"]
            met = got >= minimum
            all_met &= met
            log(f"    {path:<9} >= {minimum:g}x {base}: {got:.2f}x  {'ok' if met else 'MISSED'}")
    return all_met


# ---------------------------------------------------------------------------------------------- main


def measure_device(device: torch.device, args, x: torch.Tensor, y: torch.Tensor) -> list[dict]:
    """All four paths on one device, `--repeats` rounds one path after another; the best round of each path."""
    batch = args.batch or DEFAULT_BATCH[device.type]
    n_train = len(y) - args.val_rows
    train = Split(x[:n_train].to(device), y[:n_train].to(device))
    val = Split(x[n_train:].to(device), y[n_train:].to(device))
    common = {"device_name": device_name(device), "threads": torch.get_num_threads(),
              "deterministic": torch.are_deterministic_algorithms_enabled(), "rows": len(y),
              "train_rows": n_train, "val_rows": args.val_rows}
    tag = f"[{device.type}]"
    log(f"{tag} {common['device_name']}: {n_train:,} train rows, batch {batch}, {args.repeats} round(s)")
    log(f"{tag} warm-up of both engines")
    warm_up_engines(train, val, batch, device, args.seed)

    # About --seconds of training at the ceiling's speed (at least one epoch), the same in every round.
    epochs = args.epochs or max(1, math.ceil(args.seconds * calibrate(train, batch, device, args.seed) / n_train))
    log(f"{tag} engines: {epochs} epoch(s) each")
    rounds: dict[str, list[dict]] = {path: [] for path in ("tutorial", "tutorial_loop", "limit", "torch",
                                                           "lightning")}

    def timed(path: str, fn: Callable[[], dict]) -> None:
        with OtherLoad() as other:
            r = fn()
        r.update(rate=r["samples"] / r["seconds"], other_load=other.cores)
        rounds[path].append(r)
        extra = f", other processes {other.cores:.2f} cores" if other.cores is not None else ""
        log(f"{tag}   {path:<9} {r['rate']:>13,.0f} samples/s in {r['seconds']:.2f} s{extra}")

    started = time.perf_counter()
    for i in range(1, args.repeats + 1):
        if i > 1 and time.perf_counter() - started > args.max_seconds:
            log(f"{tag} stopping after {i - 1} round(s): --max-seconds {args.max_seconds:g} is spent")
            break
        log(f"{tag} round {i}")
        timed("tutorial", lambda: run_tutorial_lightning(train, device, args.tutorial_seconds / args.repeats,
                                                         args.seed))
        timed("tutorial_loop", lambda: run_tutorial(train, device, args.tutorial_seconds / args.repeats, args.seed))
        timed("limit", lambda: run_limit(train, batch, device, args.seconds, args.seed))
        timed("torch", lambda: run_engine(fit_torch, train, val, batch, epochs, device, args.seed))
        timed("lightning", lambda: run_engine(fit_lightning, train, val, batch, epochs, device, args.seed))

    best = {path: max(rs, key=lambda r: r["rate"]) for path, rs in rounds.items()}
    records = []
    for path, r in best.items():
        records.append({
            "path": path, "device": device.type, "batch_size": r["batch_size"],
            "samples_per_s": round(r["rate"], 1),
            "samples_per_s_median": round(statistics.median(q["rate"] for q in rounds[path]), 1),
            "ratio": round(r["rate"] / best["tutorial"]["rate"], 2),
            "ratio_loop": round(r["rate"] / best["tutorial_loop"]["rate"], 2),
            "vs_limit": round(r["rate"] / best["limit"]["rate"], 3),
            "samples": r["samples"], "seconds": round(r["seconds"], 4), "steps": r["steps"],
            "epochs": r.get("epochs"), "other_load": r["other_load"],
            "rounds": [round(q["rate"], 1) for q in rounds[path]], **common})
    log(f"{tag} done in {time.perf_counter() - started:.1f} s")
    return records


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=2_000_000, help="rows of the synthetic table (default 2000000)")
    p.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                   help="cpu, cuda, or all available (default)")
    p.add_argument("--batch", type=int, default=None,
                   help="the large batch of limit/torch/lightning (default 8192 on cpu, 65536 on cuda)")
    p.add_argument("--repeats", type=int, default=5,
                   help="rounds of all four paths, one path after another; each path reports its best round, "
                        "which keeps other processes' bursts out of the numbers (default 5)")
    p.add_argument("--tutorial-seconds", type=float, default=5.0,
                   help="time budget of the tutorial path in all, split evenly over the rounds (default 5)")
    p.add_argument("--seconds", type=float, default=2.0,
                   help="per round: time budget of limit (at least one epoch) and the engines' target, which "
                        "sets their epoch count from limit's speed (default 2)")
    p.add_argument("--max-seconds", type=float, default=60.0,
                   help="per device: start no new round after this many seconds (default 45), which bounds "
                        "the run on a busy machine")
    p.add_argument("--epochs", type=int, default=None, help="fix the engines' max_epochs instead")
    p.add_argument("--val-rows", type=int, default=4096, help="rows held out for per-epoch validation")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="also write the JSON lines to this file")
    p.add_argument("--strict", action="store_true", help="exit with status 1 when a goal is missed")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    if args.rows <= args.val_rows:
        p.error(f"--rows must exceed --val-rows ({args.val_rows})")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", module="lightning")
    # The same for every path: what a training job does (deterministic algorithms, all cores).
    make_deterministic(args.threads)
    if args.device == "all":
        devices = [torch.device("cpu")] + ([torch.device("cuda", 0)] if torch.cuda.is_available() else [])
    elif args.device == "cuda":
        try:
            devices = [resolve_device({"accelerator": "gpu"})]
        except RuntimeError as exc:
            log(f"error: {exc}")
            return 2
    else:
        devices = [torch.device("cpu")]

    x, y = synthetic_table(args.rows, args.seed)
    log(f"synthetic table: {args.rows:,} x {FEATURES}, positive rate {y.mean().item():.3f}; torch {torch.__version__}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    records = []
    with open(args.out, "w") if args.out else contextlib.nullcontext() as out:
        for device in devices:  # each device's lines are written as soon as it is measured
            for rec in measure_device(device, args, x, y):
                line = json.dumps(rec)
                print(line, flush=True)
                if out is not None:
                    out.write(line + "\n")
                    out.flush()
                records.append(rec)
    met = summarize(records)
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
