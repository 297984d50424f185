"""Batched training (batched.py): every point bit-identical to training it alone (engine_torch.fit_torch),
whatever points share its batch; the probe that guards it; and the pack that uses it.

These tests run the batched path against the kernel afresh (no probe cache): a torch or BLAS upgrade
that changes how a piece rounds fails them, naming the architecture.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from snakesweep import batched
from snakesweep.engine_torch import fit_torch
from snakesweep.hparams import HPARAMS

# prepared, splits and restore_torch_state: tests/unit/conftest.py
pytestmark = pytest.mark.usefixtures("restore_torch_state")

DEFAULTS = {k: v.default for k, v in HPARAMS.items()}
CPU = torch.device("cpu")


def state_bytes(result) -> bytes:
    """Everything a point's files are made of, as bytes: weights, optimiser state, history (NaN bits
    included), random states, validation scores and status."""
    buf = io.BytesIO()
    torch.save({"model": result.model.state_dict(), "optimizer": result.optimizer.state_dict(),
                "history": result.history, "rng": result.rng_state, "generator": result.generator.get_state(),
                "scores": result.val_scores.tobytes(), "status": result.status, "reason": result.reason}, buf)
    return buf.getvalue()


def group(base: dict, n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{**DEFAULTS, **base, "learning_rate": float(rng.uniform(1e-4, 1e-2)),
             "seed": int(rng.choice([42, 7, 12345]))} for _ in range(n)]


def assert_as_alone(hps, train, val, epochs=None):
    together = batched.fit_group(hps, train, val, epochs)
    for i, (hp, got) in enumerate(zip(hps, together, strict=True)):
        alone = fit_torch(hp, train, val, CPU, epochs=epochs)
        assert state_bytes(got) == state_bytes(alone), (
            f"point {i} of {len(hps)} ({hp}) differs from training it alone")


# Every architecture of the default search space (config/sweep.yaml), trained to its 10 epochs.
DEFAULT_SPACE = [(0, 2)] + [(layers, width) for layers in (1, 2) for width in (2, 4, 8, 16, 32)]


@pytest.mark.parametrize(("layers", "width"), DEFAULT_SPACE)
def test_every_architecture_of_the_default_space_trains_as_alone(layers, width, splits):
    assert_as_alone(group({"hidden_layers": layers, "hidden_neurons": width}, 4, seed=layers * 100 + width), *splits)


# The examples' spaces (config/examples/): widths in steps of 4 up to 68, three activations, up to three
# hidden layers, adam and rmsprop, odd batch sizes, weight decay per point; 3 epochs each.
EXAMPLE_SPACE = (
    [{"hidden_layers": layers, "hidden_neurons": width} for layers in (1, 2) for width in range(4, 69, 4)]
    + [{"hidden_layers": layers, "hidden_neurons": 16, "activation": act} for layers in (1, 2, 3)
       for act in ("relu", "tanh", "sigmoid")]
    + [{"hidden_layers": 2, "hidden_neurons": width, "optimizer": "rmsprop"} for width in (4, 36, 64)]
    + [{"hidden_layers": layers, "hidden_neurons": width, "batch_size": bs} for layers in (0, 1, 2)
       for width in (8, 32) for bs in (16, 31, 33, 64)]
)


@pytest.mark.parametrize("base", EXAMPLE_SPACE, ids=lambda b: "-".join(f"{k}={v}" for k, v in b.items()))
def test_every_architecture_of_the_examples_trains_as_alone(base, splits):
    assert_as_alone(group(base, 3, seed=len(str(base))), *splits, epochs=3)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop", "adagrad"])
def test_every_optimizer_with_weight_decay_per_point_trains_as_alone(optimizer, splits):
    hps = group({"optimizer": optimizer, "hidden_layers": 2, "hidden_neurons": 12, "activation": "tanh"}, 5)
    for hp, wd in zip(hps, [0.0, 1e-3, 0.0, 0.05, 1e-6], strict=True):
        hp["weight_decay"] = wd
    assert_as_alone(hps, *splits, epochs=3)


def test_a_point_is_the_same_whichever_points_share_its_batch(splits):
    """The same point alone in a group of two, and third of seven with other neighbours."""
    point = {**DEFAULTS, "hidden_layers": 2, "hidden_neurons": 8, "learning_rate": 0.003, "seed": 5}
    small = batched.fit_group([point, *group({"hidden_layers": 2, "hidden_neurons": 8}, 1, seed=1)], *splits, 4)
    large = batched.fit_group([*group({"hidden_layers": 2, "hidden_neurons": 8}, 2, seed=2), point,
                               *group({"hidden_layers": 2, "hidden_neurons": 8}, 4, seed=3)], *splits, 4)
    assert state_bytes(small[0]) == state_bytes(large[2])


def test_the_per_point_products_are_exact_too(splits, monkeypatch):
    """Where a batched product rounds otherwise on some machine, each point runs its own call: force
    that path everywhere and the points are still bit-identical to alone."""
    monkeypatch.setattr(batched.Products, "batched_ok", {})  # the process's verdicts: none yet
    monkeypatch.setattr(batched.Products, "_check", lambda self, op, shapes: False)
    for layers, width in ((0, 2), (1, 4), (2, 32)):
        assert_as_alone(group({"hidden_layers": layers, "hidden_neurons": width, "activation": "tanh"}, 3),
                        *splits, epochs=2)
    assert batched.Products.batched_ok and not any(batched.Products.batched_ok.values())


def test_a_batched_product_that_rounds_otherwise_is_found(monkeypatch):
    """The per-shape check compares every block with the lone point's own call, bit for bit."""
    real = batched.Products._forward

    def one_ulp_off_at_one_position(out, a, w, b, batched_call):
        real(out, a, w, b, batched_call)
        if batched_call:
            out.v[5, 0, 0] = torch.nextafter(out.v[5, 0, 0], torch.tensor(float("inf")))

    monkeypatch.setattr(batched.Products, "_forward", staticmethod(one_ulp_off_at_one_position))
    assert batched.Products()._check("forward", (32, 30, 16)) is False


def test_a_diverging_point_stops_alone_and_its_neighbours_go_on(splits):
    hps = group({"optimizer": "sgd", "hidden_layers": 2, "hidden_neurons": 32}, 3)
    hps[1].update(learning_rate=1e4, seed=3)
    results = batched.fit_group(hps, *splits)
    assert [r.status for r in results] == ["ok", "failed", "ok"]
    assert len(results[1].history) == 1 and "diverged" in results[1].reason
    assert [len(r.history) for r in (results[0], results[2])] == [10, 10]
    assert_as_alone(hps, *splits)


@pytest.mark.parametrize(("change", "reason"), [
    ({"engine": "lightning"}, "engine lightning"),
    ({"precision": "bf16-mixed"}, "precision bf16-mixed"),
    ({"dropout": 0.2}, "dropout"),
])
def test_what_trains_one_point_at_a_time(change, reason):
    assert reason in batched.why_not({**DEFAULTS, **change}, CPU)
    assert batched.why_not({**DEFAULTS, "dropout": 0.2, "hidden_layers": 0}, CPU) == ""
    assert "CPU" in batched.why_not(DEFAULTS, torch.device("meta"))


def test_groups_are_what_points_share_but_learning_rate_seed_and_weight_decay():
    a = {**DEFAULTS, "learning_rate": 0.1, "seed": 1, "weight_decay": 0.1}
    assert batched.group_key(a) == batched.group_key({**DEFAULTS, "weight_decay": 0.0})
    for other in ({"hidden_neurons": 11}, {"batch_size": 16}, {"max_epochs": 3}, {"optimizer": "sgd"}):
        assert batched.group_key({**a, **other}) != batched.group_key(a)
    # Width means nothing without hidden layers: one group.
    assert batched.group_key({**DEFAULTS, "hidden_layers": 0, "hidden_neurons": 2}) == \
        batched.group_key({**DEFAULTS, "hidden_layers": 0, "hidden_neurons": 32})


def test_the_probe_says_exact_here_and_keeps_its_verdict_for_the_machine(splits, tmp_path, monkeypatch):
    machine = tmp_path / "machine"
    monkeypatch.setenv(batched.CACHE_ENV, str(machine))
    hps = group({"hidden_layers": 1, "hidden_neurons": 8}, 2)
    verdict = batched.probe(hps, *splits, tmp_path / "run1")
    assert verdict["exact"] and verdict["differs"] == []
    assert verdict["machine"]["torch"] == torch.__version__
    kept = list(machine.glob("*.json"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["exact"] is True
    # Another run on this machine trains nothing to know, and records the verdict it relied on.
    monkeypatch.setattr(batched, "fit_group", lambda *a, **k: pytest.fail("probed again"))
    again = batched.probe(hps, *splits, tmp_path / "run2")
    assert again["exact"] and (tmp_path / "run2" / kept[0].name).read_bytes() == kept[0].read_bytes()
    # Another torch build, or a setting that steers MKL's kernels, is another machine.
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    with pytest.raises(pytest.fail.Exception, match="probed again"):
        batched.probe(hps, *splits, tmp_path / "run3")


def test_a_machine_cache_that_cannot_be_written_is_skipped(splits, tmp_path, monkeypatch, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv(batched.CACHE_ENV, str(blocked / "probes"))
    assert batched.probe(group({"hidden_layers": 0}, 2), *splits, tmp_path / "run")["exact"]
    assert "not kept for other runs" in capsys.readouterr().out
    assert list((tmp_path / "run").glob("*.json"))


def test_a_group_with_weight_decay_per_point_is_probed_on_its_own(splits, tmp_path, monkeypatch):
    monkeypatch.setenv(batched.CACHE_ENV, str(tmp_path / "machine"))
    hps = group({"hidden_layers": 1, "hidden_neurons": 8}, 3)
    shared = batched.probe(hps, *splits, tmp_path)
    hps[2]["weight_decay"] = 0.01
    per_point = batched.probe(hps, *splits, tmp_path)
    assert shared["exact"] and per_point["exact"] and shared["file"] != per_point["file"]


def test_the_probe_finds_a_difference(splits, tmp_path, monkeypatch):
    """A torch whose batched products round otherwise, in one point's weights by one unit in the last place."""
    monkeypatch.setenv(batched.CACHE_ENV, str(tmp_path / "machine"))
    real = batched.fit_group

    def off_by_one_ulp(hps, train, val, epochs=None):
        results = real(hps, train, val, epochs)
        w = results[1].model.layers[0].weight
        with torch.no_grad():
            w[0, 0] = torch.nextafter(w[0, 0], torch.tensor(1.0))
        return results

    monkeypatch.setattr(batched, "fit_group", off_by_one_ulp)
    verdict = batched.probe(group({"hidden_layers": 1, "hidden_neurons": 8}, 2), *splits, tmp_path)
    assert not verdict["exact"] and len(verdict["differs"]) == 1


def _pack(prepared, folder, members, batched_on):
    from snakesweep.runner import run_pack

    files = [str(folder / "points" / m["point"] / "metrics.json") for m in members]
    lines = run_pack(pack="p" * 12, members=members, train=prepared["train"], val=prepared["val"],
                     labels=prepared["labels"], threads=1, logs_dir=str(folder / "logs" / "train"),
                     metrics_files=files, batched=batched_on)
    return lines, [json.loads(open(f).read()) for f in files]


def _members():
    """Two groups of three and two, a lone point, and a point with dropout (one at a time)."""
    hps = (group({"hidden_layers": 2, "hidden_neurons": 8, "max_epochs": 3}, 3)
           + group({"hidden_layers": 0, "max_epochs": 3}, 2, seed=1)
           + group({"hidden_layers": 1, "hidden_neurons": 4, "max_epochs": 3}, 1, seed=2)
           + group({"hidden_layers": 1, "hidden_neurons": 4, "max_epochs": 3, "dropout": 0.3}, 2, seed=3))
    return [{"point": f"{i:012x}", "hparams": hp, "params": {"learning_rate": hp["learning_rate"]}}
            for i, hp in enumerate(hps)]


def test_a_pack_writes_the_same_files_batched_or_not(prepared, tmp_path, capsys):
    from snakesweep.records import RUN_FIELDS

    members = _members()
    on_lines, on = _pack(prepared, tmp_path / "on", members, True)
    log = capsys.readouterr().out
    off_lines, off = _pack(prepared, tmp_path / "off", members, False)
    assert [x["status"] for x in on_lines] == [x["status"] for x in off_lines] == ["ok"] * len(members)
    for m in members:
        for name in ("model.pt", "history.csv", "val_scores.tsv", "learning_curve.svg"):
            a = (tmp_path / "on" / "points" / m["point"] / name).read_bytes()
            assert a == (tmp_path / "off" / "points" / m["point"] / name).read_bytes(), (m["point"], name)
    assert "batched" in RUN_FIELDS
    assert [{k: v for k, v in r.items() if k not in RUN_FIELDS} for r in on] == \
        [{k: v for k, v in r.items() if k not in RUN_FIELDS} for r in off]
    # Only the groups of two or more trained batched, and the records say so.
    assert [r["batched"]["points"] if r["batched"] else None for r in on] == [3, 3, 3, 2, 2, None, None, None]
    assert all(r["batched"] is None for r in off)
    assert log.count("trained batched in") == 2
    assert "trained batched with the 3 points" in (tmp_path / "on/logs/train/000000000000.log").read_text()
    assert list((tmp_path / "on" / "logs" / "probes").glob("*.json"))


def test_a_pack_trains_one_at_a_time_where_the_probe_finds_a_difference(prepared, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(batched, "probe", lambda hps, train, val, folder: {
        "exact": False, "differs": ["learning_rate 0.001, seed 42"], "file": "probe.json"})
    members = _members()
    lines, records = _pack(prepared, tmp_path, members, True)
    assert [x["status"] for x in lines] == ["ok"] * len(members)
    assert all(r["batched"] is None for r in records)
    log = capsys.readouterr().out
    assert log.count("trains one point at a time: on this machine the batched path differs") == 2
