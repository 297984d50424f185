"""A point's learning curve, drawn from its history in memory by the process that trained it.

Uses matplotlib's object API with the SVG backend only (no pyplot, no GUI backend): a pack draws its
points' curves for the cost of one small import instead of one process per curve.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

# Drawing, not computing: not part of a point's id (identity.py).
RESULT_CODE = False


def draw_learning_curve(history: list[dict], out: str | Path, *, title: str, note: str = "") -> None:
    """Loss and validation ROC-AUC per epoch; `note` (why training stopped) is printed under the plot."""
    from .io import savefig, svg_figure

    fig = svg_figure(figsize=(8, 3.4 if not note else 3.9))
    a1, a2 = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in history]
    a1.plot(epochs, [r["train_loss"] for r in history], marker="o", label="train")
    a1.plot(epochs, [r["val_loss"] for r in history], marker="o", label="validation")
    a1.set(xlabel="epoch", ylabel="BCE loss", title="Loss")
    a1.legend()
    a2.plot(epochs, [r["val_roc_auc"] for r in history], marker="o", c="C2")
    a2.set(xlabel="epoch", ylabel="ROC-AUC", title="Validation ROC-AUC")
    fig.suptitle(title, fontsize=9)
    # A fixed layout: tight_layout and a tight bounding box measure every label, twice the drawing time.
    fig.subplots_adjust(left=0.08, right=0.98, top=0.8, bottom=0.16 if not note else 0.3, wspace=0.3)
    if note:
        fig.text(0.01, 0.02, textwrap.fill(note, 130), fontsize=7, color="firebrick", va="bottom")
    savefig(fig, out, tight=False)


def collect_curves(*, points: list[str], metric_files: list[str], out: str) -> None:
    """The report's folder of learning curves, `<point>.svg` each: links to the curves the packs drew
    beside each point's metrics.json, so a sweep of any size is one declared output, not one per point."""
    from . import layout
    from .io import link_or_copy

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for point, metrics in zip(points, metric_files, strict=True):
        link_or_copy(layout.files(Path(metrics).parent)["curve"], folder / f"{point}.svg")
    print(f"{len(points)} learning curves in {folder}")
