"""The hyperparameters a point is made of, their types and their allowed values.

One table serves the config schema check, the sweep validation and the training code, so a
parameter name that is valid in one place is valid in all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import SnakesweepError


@dataclass(frozen=True)
class HParam:
    kind: str  # "int", "float" or "choice"
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    choices: tuple | None = None
    continuous: bool = False  # may be drawn from a distribution (int or float)
    help: str = ""


ACTIVATIONS = ("relu", "tanh", "sigmoid")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad")
ENGINES = ("lightning", "torch")
ACCELERATORS = ("cpu", "gpu", "auto")
PRECISIONS = ("32", "bf16-mixed", "16-mixed")

HPARAMS: dict[str, HParam] = {
    "hidden_layers": HParam("int", 1, minimum=0, continuous=True, help="hidden layers (0: linear model)"),
    "hidden_neurons": HParam("int", 10, minimum=1, continuous=True, help="neurons per hidden layer"),
    "activation": HParam("choice", "relu", choices=ACTIVATIONS),
    "learning_rate": HParam("float", 0.001, minimum=0, exclusive_minimum=True, continuous=True),
    "optimizer": HParam("choice", "adam", choices=OPTIMIZERS),
    "batch_size": HParam("int", 32, minimum=1, continuous=True),
    "max_epochs": HParam("int", 10, minimum=1, continuous=True),
    "weight_decay": HParam("float", 0.0, minimum=0, continuous=True),
    # p = 1 zeroes every hidden activation: the output no longer depends on the input.
    "dropout": HParam("float", 0.0, minimum=0, maximum=1, exclusive_maximum=True, continuous=True,
                      help="probability of zeroing a hidden activation while training (0: no dropout layers)"),
    # Lightning's seed_everything and numpy accept seeds up to 2**32 - 1.
    "seed": HParam("int", 42, minimum=0, maximum=2**32 - 1, continuous=True),
    "engine": HParam("choice", "torch", choices=ENGINES),
    "accelerator": HParam("choice", "cpu", choices=ACCELERATORS),
    "devices": HParam("int", 1, minimum=1, maximum=1),
    "precision": HParam("choice", "32", choices=PRECISIONS),
}


INT_HPARAMS = tuple(name for name, spec in HPARAMS.items() if spec.kind == "int")


def coerce(name: str, value: Any, where: str) -> Any:
    """Return `value` as the type of hyperparameter `name`, or raise naming `where` and what was found.

    YAML reads `1e-3` as a string and `1.0e-3` as a float, and integers written as `8.0` are common:
    normalising here keeps one value from giving two point ids.
    """
    if name not in HPARAMS:
        known = ", ".join(HPARAMS)
        raise SnakesweepError(f"{where}: unknown hyperparameter '{name}'; expected one of: {known}")
    spec = HPARAMS[name]
    if spec.kind == "choice":
        text = str(value) if not isinstance(value, bool) else None
        if name == "precision" and isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
        if text not in spec.choices:
            raise SnakesweepError(
                f"{where}: '{name}' must be one of {list(spec.choices)}, found {value!r}"
            )
        return text
    if isinstance(value, bool):
        raise SnakesweepError(f"{where}: '{name}' must be a number, found {value!r}")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise SnakesweepError(f"{where}: '{name}' must be a number, found {value!r}") from None
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise SnakesweepError(f"{where}: '{name}' must be a finite number, found {value!r}")
    if spec.kind == "int":
        if float(value) != int(value):
            raise SnakesweepError(f"{where}: '{name}' must be an integer, found {value!r}")
        value = int(value)
    else:
        value = float(value)
    if spec.minimum is not None:
        too_small = value <= spec.minimum if spec.exclusive_minimum else value < spec.minimum
        if too_small:
            op = ">" if spec.exclusive_minimum else ">="
            raise SnakesweepError(f"{where}: '{name}' must be {op} {spec.minimum}, found {value!r}")
    if spec.maximum is not None:
        too_large = value >= spec.maximum if spec.exclusive_maximum else value > spec.maximum
        if too_large:
            op = "<" if spec.exclusive_maximum else "<="
            raise SnakesweepError(f"{where}: '{name}' must be {op} {spec.maximum}, found {value!r}")
    return value


def check_point(hp: dict, where: str) -> None:
    """Combinations that cannot train as asked, refused before any job starts."""
    if hp["precision"] == "16-mixed" and hp["accelerator"] == "cpu":
        raise SnakesweepError(f"{where}: precision '16-mixed' needs a GPU (accelerator 'cpu' was given); "
                              "use '32' or 'bf16-mixed' on CPUs")


def defaults_from_config(train: dict) -> dict:
    """The default value of every hyperparameter, from the config's `train` section."""
    return {name: coerce(name, train.get(name, spec.default), f"config train.{name}")
            for name, spec in HPARAMS.items()}


def effective(params: dict) -> dict:
    """The parameters that determine a result: settings that have no effect are dropped.

    With no hidden layer the width and activation mean nothing, so `hidden_layers: 0` with any of
    them is one point.
    """
    out = dict(params)
    if out.get("hidden_layers") == 0:
        out.pop("hidden_neurons", None)
        out.pop("activation", None)
    if out.get("accelerator") == "cpu":
        out.pop("devices", None)
    # Dropout acts on hidden activations only, so a linear model trains the same with any p; and p = 0
    # adds no layer and draws no random numbers, so it keeps the ids points had before dropout existed.
    if out.get("hidden_layers") == 0 or out.get("dropout") == 0:
        out.pop("dropout", None)
    return out
