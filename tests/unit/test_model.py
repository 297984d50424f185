"""Tests for snakesweep.model: the generalised BreastCancerClassifier."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snakesweep.hparams import ACTIVATIONS, HPARAMS
from snakesweep.model import ACTIVATION_LAYERS, BreastCancerClassifier, build

DEFAULTS = {k: v.default for k, v in HPARAMS.items()}


def linears(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("hidden_layers", [0, 1, 3])
@pytest.mark.parametrize("batch", [1, 7])
def test_output_is_one_logit_per_row(hidden_layers, batch):
    model = BreastCancerClassifier(30, hidden_layers, 8, "relu")
    out = model(torch.randn(batch, 30))
    assert out.shape == (batch,)
    assert out.dtype == torch.float32


def test_zero_hidden_layers_is_a_single_linear_layer():
    model = BreastCancerClassifier(30, 0, 64, "tanh")
    layers = linears(model)
    assert len(layers) == 1
    assert (layers[0].in_features, layers[0].out_features) == (30, 1)
    assert n_params(model) == 31
    assert not any(isinstance(m, tuple(ACTIVATION_LAYERS.values())) for m in model.modules())
    x = torch.randn(5, 30)
    torch.testing.assert_close(model(x), x @ layers[0].weight[0] + layers[0].bias[0])


@pytest.mark.parametrize(("hidden_layers", "width", "expected"), [
    (1, 10, 30 * 10 + 10 + 10 + 1),
    (3, 8, 30 * 8 + 8 + 2 * (8 * 8 + 8) + 8 + 1),
])
def test_depth_and_width(hidden_layers, width, expected):
    model = BreastCancerClassifier(30, hidden_layers, width, "relu")
    layers = linears(model)
    assert len(layers) == hidden_layers + 1
    assert [lin.out_features for lin in layers] == [width] * hidden_layers + [1]
    assert n_params(model) == expected


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_gives_its_layer_type(activation):
    expected = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[activation]
    model = BreastCancerClassifier(30, 2, 5, activation)
    acts = [m for m in model.modules() if isinstance(m, tuple(ACTIVATION_LAYERS.values()))]
    assert len(acts) == 2
    assert all(type(m) is expected for m in acts)
    # Activations sit between layers, never after the output logit.
    assert isinstance(model.layers[-1], nn.Linear)


def test_every_activation_is_buildable():
    assert set(ACTIVATION_LAYERS) == set(ACTIVATIONS)


def test_build_uses_hparams():
    model = build(12, {**DEFAULTS, "hidden_layers": 2, "hidden_neurons": 4, "activation": "sigmoid"})
    layers = linears(model)
    assert [(lin.in_features, lin.out_features) for lin in layers] == [(12, 4), (4, 4), (4, 1)]
    assert sum(isinstance(m, nn.Sigmoid) for m in model.modules()) == 2
    assert model(torch.randn(3, 12)).shape == (3,)


def test_same_seed_same_weights():
    torch.manual_seed(0)
    a = build(30, DEFAULTS)
    torch.manual_seed(0)
    b = build(30, DEFAULTS)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
