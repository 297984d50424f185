"""Points that differ only in learning rate and seed, trained together as one batched model, each
bit-identical to training it alone (engine_torch.fit_torch).

The points of a group share an architecture, so their weights stack: one tensor of N weight matrices
per layer, and a batch of every point's rows (each point its own batch order) goes through all N
networks in one batched matrix product. What makes that exact, and not merely close:

- Layout (`Stack`). Each point's block of every tensor starts on a 64-byte boundary, as a lone
  tensor does (the allocator's alignment), and blocks are separated by padding. An elementwise op
  over a stack then walks each block as it walks the lone tensor: ATen vectorises a contiguous run in
  chunks of 2 x the SIMD width and does the remainder with scalar code, and the two round differently
  for tanh, sigmoid, log-sigmoid, lerp and addcmul (fused multiply-adds). Without the padding, blocks
  would merge into one run and a point's remainder would fall elsewhere.
- Products (`Products`). A batched product (baddbmm/bmm) is used for a shape only when it rounds as
  the lone point's own call does, checked once per shape and process on random data at 17 positions
  (every 64-byte alignment a block can have). Where it does not, each point runs the lone point's own
  call on its aligned block. On torch 2.13 with MKL: the output layer (one output: a lone point takes
  MKL's matrix-vector path), narrow layers (MKL's result depends on each slice's alignment) and
  products under about 400 multiply-adds (bmm's own loop) take the per-point call.
- The optimiser steps are the single-tensor steps torch's optimisers take on the CPU, with the
  learning rate as a per-point column; an `addcdiv_` with a per-point value is computed as its kernel
  computes it, (value * a) / b + param, each step rounded to float32. SGD's `add_(alpha=-lr)` is a
  fused multiply-add in ATen's vector code, which no batched op reproduces: it runs per point.

`probe` trains a small group both ways on the machine at hand before a pack trusts this path
(runner.py); any difference sends the pack's points one after another, and the log says so.

What the files of a point hold comes from the kernel's own code (the checkpoint, the history): this
module computes the same numbers, which the probe checks on every machine before use, so it is not
part of a point's id (identity.py): the id covers the code that defines the numbers.
"""

from __future__ import annotations

import json
import math
import time

import torch
from torch import nn

from . import metrics
from .hparams import effective
from .kernel import FitResult, Split, batch_generator, divergence, rng_states
from .model import build

# Verified equal to the kernel's numbers at run time (`probe`), not part of an id: see the docstring.
RESULT_CODE = False

ALIGN = 16  # floats per 64 bytes
POSITIONS = 17  # blocks in a shape's check: every alignment a block can have, and one more
# What may differ between the points of a group.
PER_POINT = ("learning_rate", "seed", "weight_decay")
# Each optimiser's settings as torch 2.13's single-tensor step uses them and its state_dict() lists them,
# in that order ("lr" and "weight_decay" are the point's own); `probe` catches a torch that differs.
OPTIMIZERS = {
    "adam": {"lr": None, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": None, "amsgrad": False,
             "maximize": False, "foreach": None, "capturable": False, "differentiable": False, "fused": None,
             "decoupled_weight_decay": False},
    "sgd": {"lr": None, "momentum": 0, "dampening": 0, "weight_decay": None, "nesterov": False, "maximize": False,
            "foreach": None, "differentiable": False, "fused": None},
    "rmsprop": {"lr": None, "momentum": 0, "alpha": 0.99, "eps": 1e-08, "centered": False, "weight_decay": None,
                "capturable": False, "foreach": None, "maximize": False, "differentiable": False},
    "adagrad": {"lr": None, "lr_decay": 0, "eps": 1e-10, "weight_decay": None, "initial_accumulator_value": 0,
                "foreach": None, "maximize": False, "differentiable": False, "fused": None},
}
# Points per batched model: bounds a pack's memory (a point's numbers do not depend on it).
MAX_GROUP = 256


def why_not(hp: dict, device: torch.device) -> str:
    """Why a point trains one at a time, or '' when it can train batched."""
    if hp["engine"] != "torch":
        return f"engine {hp['engine']} trains one point at a time"
    if device.type != "cpu":
        return "batched training is exact on CPUs only"
    if hp["precision"] != "32":
        return f"precision {hp['precision']} trains one point at a time"
    if effective(hp).get("dropout", 0) > 0:
        return "dropout draws from torch's global random stream, which points cannot share"
    if hp["optimizer"] not in OPTIMIZERS:
        return f"optimizer {hp['optimizer']} has no batched step"
    return ""


def group_key(hp: dict) -> str:
    """What the points of one group share: every effective hyperparameter but learning rate, seed and
    weight decay."""
    return json.dumps({k: v for k, v in effective(hp).items() if k not in PER_POINT}, sort_keys=True)


class Stack:
    """N blocks of one shape, each 64-byte aligned and followed by padding (see the module's docstring)."""

    def __init__(self, n: int, shape: tuple[int, ...], fill: float | None = None, dtype=torch.float32):
        self.n, self.shape = n, tuple(shape)
        self.size = math.prod(self.shape)
        self.step = -(-(self.size + 1) // ALIGN) * ALIGN
        buf = torch.empty(n, self.step, dtype=dtype) if fill is None else torch.full((n, self.step), fill, dtype=dtype)
        self.buf = buf
        strides, acc = [], 1
        for s in reversed(self.shape):
            strides.append(acc)
            acc *= s
        self.v = buf.as_strided((n, *self.shape), (self.step, *reversed(strides)))
        self.flat = buf[:, : self.size]

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.v[i]

    def take(self, rows: torch.Tensor) -> Stack:
        """The blocks of `rows`, in that order, in a new stack."""
        out = Stack(len(rows), self.shape, dtype=self.buf.dtype)
        out.buf.copy_(self.buf.index_select(0, rows))
        return out


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(torch.equal(a.view(torch.int32), b.view(torch.int32)))


class Products:
    """The matrix products of a layer, batched where that rounds as a lone point's call does (checked per
    shape), else per point on the aligned blocks."""

    # Per process: a shape's verdict holds for every group that has it.
    batched_ok: dict[tuple, bool] = {}

    # Each op: (batched call, lone point's call), on stacks; `out` receives the result.
    @staticmethod
    def _forward(out, a, w, b, batched):  # out = a @ w.T + b
        if batched:
            torch.baddbmm(b.v.unsqueeze(1), a.v, w.v.transpose(1, 2), out=out.v)
        else:
            for i in range(out.n):
                torch.addmm(b[i], a[i], w[i].t(), out=out[i])

    @staticmethod
    def _grad_input(out, g, w, batched):  # out = g @ w (autograd's mm_mat1_backward)
        if batched:
            torch.bmm(g.v, w.v, out=out.v)
        else:
            for i in range(out.n):
                torch.mm(g[i], w[i], out=out[i])

    @staticmethod
    def _grad_weight(out, g, a, batched):  # out = g.T @ a (mm_mat2_backward of a transposed weight)
        if batched:
            torch.bmm(g.v.transpose(1, 2), a.v, out=out.v)
        else:
            for i in range(out.n):
                torch.mm(g[i].t(), a[i], out=out[i])

    @staticmethod
    def _grad_bias(out, g, batched):  # out = g.sum(0) (autograd's sum_to of addmm's bias)
        if batched:
            torch.sum(g.v, dim=1, out=out.v)
        else:
            for i in range(out.n):
                torch.sum(g[i], dim=0, out=out[i])

    def _use_batched(self, op: str, shapes: tuple) -> bool:
        key = (op, shapes, torch.get_num_threads())
        if key not in self.batched_ok:
            self.batched_ok[key] = self._check(op, shapes)
        return self.batched_ok[key]

    def _check(self, op: str, shapes: tuple) -> bool:
        """Whether the batched call gives every block the bits of the lone point's call on lone tensors."""
        gen = torch.Generator().manual_seed(len(op) * 7919 + sum(shapes))
        rows, k, m = shapes
        n = POSITIONS
        if op == "forward":  # (rows, k) @ (m, k).T + (m,)
            ins = [Stack(n, (rows, k)), Stack(n, (m, k)), Stack(n, (m,))]
            out = Stack(n, (rows, m))
        elif op == "grad_input":  # (rows, m) @ (m, k)
            ins = [Stack(n, (rows, m)), Stack(n, (m, k))]
            out = Stack(n, (rows, k))
        elif op == "grad_weight":  # (rows, m).T @ (rows, k)
            ins = [Stack(n, (rows, m)), Stack(n, (rows, k))]
            out = Stack(n, (m, k))
        else:  # grad_bias: (rows, m).sum(0)
            ins = [Stack(n, (rows, m))]
            out = Stack(n, (m,))
        for s in ins:
            s.buf.copy_(torch.randn(s.buf.shape, generator=gen))
        getattr(self, "_" + op)(out, *ins, True)
        for i in range(n):
            lone = [s[i].clone() for s in ins]  # fresh, aligned tensors, as a lone point has
            if op == "forward":
                ref = torch.addmm(lone[2], lone[0], lone[1].t())
            elif op == "grad_input":
                ref = lone[0].mm(lone[1])
            elif op == "grad_weight":
                ref = lone[0].t().mm(lone[1])
            else:
                ref = lone[0].sum(0)
            if not _same(out[i], ref):
                return False
        return True

    def forward(self, out, a, w, b):
        rows, k = a.shape
        self._forward(out, a, w, b, self._use_batched("forward", (rows, k, w.shape[0])))

    def grad_input(self, out, g, w):
        rows, m = g.shape
        self._grad_input(out, g, w, self._use_batched("grad_input", (rows, w.shape[1], m)))

    def grad_weight(self, out, g, a):
        rows, m = g.shape
        self._grad_weight(out, g, a, self._use_batched("grad_weight", (rows, a.shape[1], m)))

    def grad_bias(self, out, g):
        rows, m = g.shape
        self._grad_bias(out, g, self._use_batched("grad_bias", (rows, 1, m)))


ACTIVATIONS = {"relu": torch.relu_, "tanh": torch.tanh_, "sigmoid": torch.sigmoid_}


def _activation_backward(name: str, grad: torch.Tensor, result: torch.Tensor, out: torch.Tensor) -> None:
    """The activation's autograd formula, as ATen computes it for a lone point."""
    if name == "relu":
        out.copy_(torch.ops.aten.threshold_backward(grad, result, 0))
    elif name == "tanh":
        torch.ops.aten.tanh_backward.grad_input(grad, result, grad_input=out)
    else:
        torch.ops.aten.sigmoid_backward.grad_input(grad, result, grad_input=out)


def _linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.layers if isinstance(m, nn.Linear)]


class Group:
    """The stacked weights and optimiser state of N points of one group, and one training step of all."""

    def __init__(self, hps: list[dict], models: list[nn.Module]):
        hp = hps[0]
        self.hp = hp
        self.n = len(hps)
        self.activation = hp["activation"]
        # Layer by layer, every point's weights and biases into one stack each.
        per_layer = zip(*(_linears(m) for m in models), strict=True)
        self.weights, self.biases = [], []
        for lins in per_layer:
            w, b = Stack(self.n, tuple(lins[0].weight.shape)), Stack(self.n, tuple(lins[0].bias.shape))
            for p, lin in enumerate(lins):
                w[p].copy_(lin.weight.detach())
                b[p].copy_(lin.bias.detach())
            self.weights.append(w)
            self.biases.append(b)
        self.params = [t for pair in zip(self.weights, self.biases, strict=True) for t in pair]
        self.grads = [Stack(self.n, s.shape) for s in self.params]
        self.lrs = [h["learning_rate"] for h in hps]
        self.wds = [h["weight_decay"] for h in hps]
        self.state = self._initial_state(hp["optimizer"])
        self.step_count = 0
        self.products = Products()

    def _initial_state(self, optimizer: str) -> dict:
        if optimizer == "adam":
            return {"exp_avg": [Stack(self.n, p.shape, 0.0) for p in self.params],
                    "exp_avg_sq": [Stack(self.n, p.shape, 0.0) for p in self.params]}
        if optimizer == "rmsprop":
            return {"square_avg": [Stack(self.n, p.shape, 0.0) for p in self.params]}
        if optimizer == "adagrad":
            return {"sum": [Stack(self.n, p.shape, 0.0) for p in self.params]}
        return {}

    def take(self, rows: list[int]) -> None:
        """Keep the points at `rows` only (the others stopped)."""
        idx = torch.tensor(rows, dtype=torch.long)
        self.weights = [w.take(idx) for w in self.weights]
        self.biases = [b.take(idx) for b in self.biases]
        self.params = [t for pair in zip(self.weights, self.biases, strict=True) for t in pair]
        self.grads = [Stack(len(rows), s.shape) for s in self.params]
        self.state = {k: [s.take(idx) for s in v] for k, v in self.state.items()}
        self.lrs = [self.lrs[r] for r in rows]
        self.wds = [self.wds[r] for r in rows]
        self.n = len(rows)

    def forward(self, x: Stack, keep: bool) -> tuple[Stack, list[Stack]]:
        """Logits (N, rows) of every point, and each layer's input when `keep` (for the backward pass)."""
        rows = x.shape[0]
        act = ACTIVATIONS[self.activation]
        a, inputs = x, []
        for li, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if keep:
                inputs.append(a)
            z = Stack(self.n, (rows, w.shape[0]))
            self.products.forward(z, a, w, b)
            if li < len(self.weights) - 1:
                act(z.v)
            a = z
        logits = Stack(self.n, (rows,))
        logits.v.copy_(a.v.squeeze(-1))
        return logits, inputs

    def train_step(self, x: Stack, y: Stack) -> torch.Tensor:
        """One batch for every point: forward, the mean BCE loss per point, backward, the optimiser's step.
        Returns the losses (N,), float32, each as the lone point's loss."""
        rows = x.shape[0]
        logits, inputs = self.forward(x, keep=True)
        losses = _bce_mean(logits, y)
        # binary_cross_entropy_with_logits_backward: (sigmoid(x) - y) * grad, divided by numel for 'mean'.
        g = Stack(self.n, (rows,))
        torch.sigmoid(logits.v, out=g.v)
        g.v.sub_(y.v).div_(rows)
        grad = Stack(self.n, (rows, 1))
        grad.v.copy_(g.v.unsqueeze(-1))
        last = len(self.weights) - 1
        for li in range(last, -1, -1):
            w = self.weights[li]
            a = inputs[li]
            self.products.grad_weight(self.grads[2 * li], grad, a)
            self.products.grad_bias(self.grads[2 * li + 1], grad)
            if li == 0:
                break
            ga = Stack(self.n, a.shape)
            self.products.grad_input(ga, grad, w)
            # a is the previous layer's activation output: its backward takes that result.
            gz = Stack(self.n, a.shape)
            _activation_backward(self.activation, ga.v, a.v, gz.v)
            grad = gz
        self._optimizer_step()
        return losses

    def _optimizer_step(self) -> None:
        self.step_count += 1
        step = float(self.step_count)
        opt = self.hp["optimizer"]
        defaults = OPTIMIZERS[opt]
        decay = any(self.wds)
        same = len(set(self.wds)) == 1
        # Each point's step size, as its own optimiser computes it in double precision: the value of
        # addcdiv_, rounded to float32 by ATen's kernel.
        if opt == "adam":
            steps = [lr / (1 - defaults["betas"][0] ** step) for lr in self.lrs]
        elif opt == "adagrad":
            steps = [lr / (1 + (step - 1) * defaults["lr_decay"]) for lr in self.lrs]
        else:
            steps = self.lrs
        values = torch.tensor([-v for v in steps], dtype=torch.float32).unsqueeze(1)
        for i, (p, g) in enumerate(zip(self.params, self.grads, strict=True)):
            grad = g.flat
            if decay:
                # grad.add(param, alpha=wd) is a fused multiply-add in ATen's vector code: one call for a
                # weight decay the points share, else one per point (a point without decay skips it).
                d = Stack(self.n, g.shape)
                if same:
                    torch.add(grad, p.flat, alpha=self.wds[0], out=d.flat)
                else:
                    for r, wd in enumerate(self.wds):
                        if wd != 0:
                            torch.add(grad[r], p.flat[r], alpha=wd, out=d.flat[r])
                        else:
                            d.flat[r].copy_(grad[r])
                grad = d.flat
            if opt == "adam":
                beta1, beta2 = defaults["betas"]
                m, v = self.state["exp_avg"][i].flat, self.state["exp_avg_sq"][i].flat
                m.lerp_(grad, 1 - beta1)
                v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bc2 = 1 - beta2**step
                denom = (v.sqrt() / bc2**0.5).add_(defaults["eps"])
                _addcdiv(p.flat, m, denom, values)
            elif opt == "rmsprop":
                alpha = defaults["alpha"]
                s = self.state["square_avg"][i].flat
                s.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
                avg = s.sqrt().add_(defaults["eps"])
                _addcdiv(p.flat, grad, avg, values)
            elif opt == "adagrad":
                s = self.state["sum"][i].flat
                s.addcmul_(grad, grad, value=1)
                std = s.sqrt().add_(defaults["eps"])
                _addcdiv(p.flat, grad, std, values)
            else:  # sgd: a fused multiply-add in ATen's vector code, per point
                for r, lr in enumerate(self.lrs):
                    p.flat[r].add_(grad[r], alpha=-lr)

    def export(self, row: int, model: nn.Module) -> Optimiser:
        """Point `row`'s weights into `model` (built for it), and its optimiser as a lone point's training
        leaves it."""
        with torch.no_grad():
            for li, lin in enumerate(_linears(model)):
                lin.weight.copy_(self.weights[li][row])
                lin.bias.copy_(self.biases[li][row])
        state = {}
        if self.hp["optimizer"] != "sgd":  # without momentum, SGD keeps no state
            for i in range(len(self.params)):
                state[i] = {"step": torch.tensor(float(self.step_count), dtype=torch.float32),
                            **{name: stacks[i][row].clone() for name, stacks in self.state.items()}}
        group = {k: v for k, v in OPTIMIZERS[self.hp["optimizer"]].items()}
        group.update(lr=self.lrs[row], weight_decay=self.wds[row], params=list(range(len(self.params))))
        return Optimiser(state, group)


class Optimiser:
    """A point's optimiser as its checkpoint holds it (kernel.save_checkpoint calls state_dict()): what
    torch's optimiser returns, without building one (the first built in a process imports torch._dynamo,
    a second of a pack's start-up)."""

    def __init__(self, state: dict, group: dict):
        self.state, self.group = state, group

    def state_dict(self) -> dict:
        return {"state": self.state, "param_groups": [self.group]}


def _addcdiv(param: torch.Tensor, t1: torch.Tensor, t2: torch.Tensor, values: torch.Tensor) -> None:
    """param.addcdiv_(t1, t2, value=v) with a value per row (`values`: a float32 column): ATen computes
    param + (v * t1) / t2 in float32, v rounded to float32 first."""
    param.add_(torch.mul(t1, values).div_(t2))


def _bce_mean(logits: Stack, y: Stack) -> torch.Tensor:
    """binary_cross_entropy_with_logits(..., reduction='mean') per point: ((1 - y) * x - log_sigmoid(x)),
    summed, divided by the rows."""
    rows = logits.shape[0]
    ls = nn.functional.logsigmoid(logits.v)
    loss = Stack(logits.n, (rows,))
    torch.sub(1, y.v, out=loss.v)
    loss.v.mul_(logits.v).sub_(ls)
    return loss.v.sum(dim=1).div_(rows)


def _rows(split: Split, idx: torch.Tensor, n_features: int) -> tuple[Stack, Stack]:
    """Every point's batch rows (idx: N x rows), each point's block as index_select gives it alone."""
    n, rows = idx.shape
    x, y = Stack(n, (rows, n_features)), Stack(n, (rows,))
    flat = idx.reshape(-1)
    x.v.copy_(split.x.index_select(0, flat).view(n, rows, n_features))
    y.v.copy_(split.y.index_select(0, flat).view(n, rows))
    return x, y


def fit_group(hps: list[dict], train: Split, val: Split, epochs: int | None = None) -> list[FitResult]:
    """Train the points `hps` (one group: see group_key) together; each result as fit_torch gives it alone."""
    n_features = train.x.shape[1]
    total = hps[0]["max_epochs"] if epochs is None else int(epochs)
    models, results, gens = [], [], []
    for hp in hps:
        torch.manual_seed(hp["seed"])
        model = build(n_features, hp)
        rng = rng_states(torch.device("cpu"))  # nothing else draws from it without dropout
        models.append(model)
        gen = batch_generator(hp["seed"], "cpu")
        gens.append(gen)
        results.append(FitResult(model, None, generator=gen, rng_state=rng))
    group = Group(hps, models)
    active = list(range(len(hps)))
    n, bs = len(train.y), hps[0]["batch_size"]
    val_x = Stack(len(hps), tuple(val.x.shape))
    val_y = Stack(len(hps), (len(val.y),))
    y_val = val.y.numpy()
    t0 = time.perf_counter()
    first_step_at = None
    for epoch in range(1, total + 1):
        if not active:
            break
        perms = torch.stack([torch.randperm(n, generator=gens[p]) for p in active])
        total_loss = torch.zeros(len(active))
        for start in range(0, n, bs):
            idx = perms[:, start:start + bs]
            x, y = _rows(train, idx, n_features)
            losses = group.train_step(x, y)
            if first_step_at is None:
                first_step_at = time.time()
            total_loss += losses * idx.shape[1]
        train_losses = (total_loss / n).tolist()
        if val_x.n != len(active):
            val_x, val_y = Stack(len(active), tuple(val.x.shape)), Stack(len(active), (len(val.y),))
        val_x.v.copy_(val.x.expand(len(active), *val.x.shape))
        val_y.v.copy_(val.y.expand(len(active), len(val.y)))
        logits, _ = group.forward(val_x, keep=False)
        val_losses = _bce_mean(logits, val_y).tolist()
        scores = logits.v.double().numpy()
        stopped = []
        for r, p in enumerate(active):
            row = {"epoch": epoch, "train_loss": train_losses[r], "val_loss": val_losses[r],
                   "val_roc_auc": metrics.roc_auc(y_val, scores[r])}
            res = results[p]
            res.history.append(row)
            res.val_scores = scores[r].copy()
            res.reason = divergence(row)
            if res.reason or epoch == total:
                stopped.append(r)
        for r in stopped:
            p = active[r]
            results[p].optimizer = group.export(r, results[p].model)
        if stopped:
            keep = [r for r in range(len(active)) if r not in stopped]
            if keep:
                group.take(keep)
            active = [active[r] for r in keep]
    seconds = time.perf_counter() - t0
    for res in results:
        res.status = "failed" if res.reason else "ok"
        res.train_seconds = seconds / len(results)
        res.first_step_at = first_step_at
    return results


# Where a machine's verdicts are kept for every run on it (the run's own copy goes in its logs).
CACHE_ENV = "SNAKESWEEP_CACHE_DIR"
# Settings that change which kernels MKL and ATen pick without changing torch's build or the CPU.
KERNEL_ENV = ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "MKL_DEBUG_CPU_TYPE", "MKL_NUM_THREADS",
              "OMP_NUM_THREADS")


def machine() -> dict:
    """What decides how torch rounds on this machine: the torch build (its BLAS), the CPU's vector
    instructions and model, the threads, and the settings that steer MKL's and ATen's choice of kernels."""
    import os

    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    config = torch.__config__.show()
    blas = [line.strip(" -") for line in config.splitlines() if "Math Kernel" in line or "BLAS_INFO" in line
            or "OpenBLAS" in line]
    return {"torch": torch.__version__, "blas": blas, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cpu": cpu, "threads": torch.get_num_threads(),
            "environment": {k: os.environ[k] for k in KERNEL_ENV if k in os.environ}}


def machine_cache():
    """The folder of this user's verdicts on this machine: $SNAKESWEEP_CACHE_DIR, else snakesweep/probes
    in $XDG_CACHE_HOME or ~/.cache."""
    import os
    from pathlib import Path

    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "snakesweep" / "probes"


def _state_bytes(result: FitResult) -> bytes:
    import io

    buf = io.BytesIO()
    torch.save({"model": result.model.state_dict(), "optimizer": result.optimizer.state_dict(),
                "history": result.history, "rng": result.rng_state, "generator": result.generator.get_state(),
                "scores": result.val_scores.tobytes(), "status": result.status}, buf)
    return buf.getvalue()


def probe(hps: list[dict], train: Split, val: Split, folder, epochs: int = 1) -> dict:
    """Whether this group trains batched, bit for bit as alone, on this machine: three points of its
    configuration (the group's first, and two of other learning rates and seeds, one with another of the
    group's weight decays if it has several) trained both ways for `epochs`, compared byte by byte.

    The verdict depends on the machine and the configuration only, so it is kept for every run on this
    machine (machine_cache(); best effort: a cache that cannot be written is skipped) and copied into
    `folder`, the run's own record of what it relied on."""
    import hashlib
    from pathlib import Path

    from .io import write_json

    who = machine()
    key = group_key(hps[0])
    first = hps[0]
    # A group whose points decay their weights differently steps each point's decay on its own: probe that.
    other = next((h["weight_decay"] for h in hps if h["weight_decay"] != first["weight_decay"]), None)
    name = hashlib.sha256(json.dumps([who, key, other is not None], sort_keys=True).encode()).hexdigest()[:16]
    path, kept = Path(folder) / f"{name}.json", machine_cache() / f"{name}.json"
    verdict = _read_verdict(path) or _read_verdict(kept)
    if verdict is None:
        verdict = _probe(first, other, epochs, train, val)
        verdict.update(group=json.loads(key), machine=who)
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            write_json(kept, verdict)
        except OSError as err:
            print(f"batched: the probe's verdict is not kept for other runs ({kept}: {err})")
    if _read_verdict(path) is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, verdict)
    return {**verdict, "file": str(path)}


def _read_verdict(path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):  # none yet, or a probe that died writing: probe again
        return None


def _probe(first: dict, other_decay: float | None, epochs: int, train: Split, val: Split) -> dict:
    from .engine_torch import fit_torch

    sample = [first, *({**first, "learning_rate": first["learning_rate"] * f, "seed": (first["seed"] + i) % 2**32}
                       for i, f in ((1, 3.0), (2, 1 / 3)))]
    if other_decay is not None:
        sample[2]["weight_decay"] = other_decay
    epochs = min(epochs, first["max_epochs"])
    together = fit_group(sample, train, val, epochs)
    alone = [fit_torch(hp, train, val, torch.device("cpu"), epochs=epochs) for hp in sample]
    differs = [f"learning_rate {hp['learning_rate']:.6g}, seed {hp['seed']}"
               for hp, a, b in zip(sample, together, alone, strict=True) if _state_bytes(a) != _state_bytes(b)]
    return {"exact": not differs, "differs": differs, "epochs": epochs}
