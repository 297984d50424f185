"""GPU checks: are reruns bit-identical on a GPU, how far is the GPU from the CPU, and how fast is it?

For each engine, trains the same point three times, each in a fresh process as a training job would:
twice on the GPU and once on the CPU, on a synthetic table (`--rows` training rows x 30 features, a
4096-row validation split). It prints, and writes as JSON lines with `--out`:

- `gpu_reruns_identical`: the two GPU runs' checkpoints and histories are the same bytes;
- `gpu_vs_cpu_max_abs_diff`: the largest difference of a per-epoch validation loss between GPU and CPU;
- `train_seconds` on each device, and whether the two engines agree on the GPU.

    python benchmarks/gpu_check.py                      # needs a CUDA GPU; 1-2 minutes (six fresh processes)
    python benchmarks/gpu_check.py --rows 2000000 --out gpu.jsonl
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

FEATURES = 30


def make_split(root: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    w = rng.normal(size=FEATURES)
    for name, n in (("train", rows), ("val", 4096)):
        x = rng.normal(size=(n, FEATURES)).astype(np.float32)
        y = (x @ w + rng.normal(size=n) > 0).astype(np.float32)
        np.savez(root / f"{name}.npz", x=x, y=y)


def child(out: Path, hp: dict) -> None:
    """One training job's work: run_point on the split beside `out`, as the workflow calls it."""
    from snakesweep.train import run_point

    record = run_point(point="gpucheck0000", hp=hp, train_path=out.parent / "train.npz",
                       val_path=out.parent / "val.npz", features=[f"f{i}" for i in range(FEATURES)],
                       threads=1, model_out=out / "model.pt", history_out=out / "history.csv",
                       metrics_out=out / "metrics.json")
    print(json.dumps({k: record[k] for k in ("device", "train_seconds", "deterministic", "val_loss")}))


def run_child(root: Path, name: str, hp: dict) -> dict:
    out = root / name
    out.mkdir()
    p = subprocess.run([sys.executable, __file__, "--child", str(out), json.dumps(hp)], capture_output=True,
                       text=True, check=True, env={**__import__("os").environ, "PYTHONPATH": str(SRC)})
    info = json.loads(p.stdout.strip().splitlines()[-1])
    info["digest"] = hashlib.sha256((out / "model.pt").read_bytes() + (out / "history.csv").read_bytes()).hexdigest()
    with open(out / "history.csv") as fh:
        info["val_loss_by_epoch"] = [float(r["val_loss"]) for r in csv.DictReader(fh)]
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000, help="training rows (default 200000)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--out", help="also write the JSON lines here")
    ap.add_argument("--child", nargs=2, metavar=("DIR", "HPARAMS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(Path(args.child[0]), json.loads(args.child[1]))
        return 0

    import torch

    from snakesweep.hparams import HPARAMS

    if not torch.cuda.is_available():
        print("no CUDA GPU visible: nothing to check", file=sys.stderr)
        return 1
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_split(root, args.rows)
        gpu_runs = {}
        for engine in ("torch", "lightning"):
            hp = {k: v.default for k, v in HPARAMS.items()} | {
                "engine": engine, "hidden_layers": 2, "hidden_neurons": 64, "batch_size": args.batch,
                "max_epochs": args.epochs}
            a = run_child(root, f"{engine}-gpu-a", hp | {"accelerator": "gpu"})
            b = run_child(root, f"{engine}-gpu-b", hp | {"accelerator": "gpu"})
            c = run_child(root, f"{engine}-cpu", hp | {"accelerator": "cpu"})
            gpu_runs[engine] = a
            lines.append({
                "engine": engine, "device": a["device"], "rows": args.rows, "epochs": args.epochs,
                "batch": args.batch, "deterministic": a["deterministic"],
                "gpu_reruns_identical": a["digest"] == b["digest"],
                "gpu_vs_cpu_max_abs_diff": max(abs(x - y) for x, y in zip(a["val_loss_by_epoch"],
                                                                          c["val_loss_by_epoch"], strict=True)),
                "train_seconds_gpu": a["train_seconds"], "train_seconds_cpu_1_thread": c["train_seconds"],
            })
        lines.append({"engines_agree_on_gpu": gpu_runs["torch"]["val_loss_by_epoch"]
                      == gpu_runs["lightning"]["val_loss_by_epoch"],
                      "torch": torch.__version__, "cuda": torch.version.cuda})
    for line in lines:
        print(json.dumps(line))
    if args.out:
        Path(args.out).write_text("".join(json.dumps(line) + "\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
