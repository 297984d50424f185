"""The tutorial's BreastCancerClassifier, generalised to any depth, width and activation."""

from __future__ import annotations

from torch import nn

ACTIVATION_LAYERS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


class BreastCancerClassifier(nn.Module):
    """An MLP that returns one logit per row.

    `hidden_layers=0` is the linear classifier of the tutorial's section 1.3; the tutorial's sweep
    version built a hidden layer even for 0, which this fixes.
    """

    def __init__(self, n_features: int = 30, hidden_layers: int = 1, hidden_neurons: int = 10,
                 activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for _ in range(hidden_layers):
            layers += [nn.Linear(width, hidden_neurons), ACTIVATION_LAYERS[activation]()]
            # No layer at p = 0: the module and its state_dict stay those of models trained before dropout.
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden_neurons
        layers.append(nn.Linear(width, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x).squeeze(-1)


def build(n_features: int, hp: dict) -> BreastCancerClassifier:
    # .get: checkpoints saved before dropout existed have no such key.
    return BreastCancerClassifier(n_features, hp["hidden_layers"], hp["hidden_neurons"], hp["activation"],
                                  hp.get("dropout", 0.0))
