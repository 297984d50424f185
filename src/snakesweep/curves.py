"""A point's learning curve, drawn from its history in memory by the process that trained it.

The SVG is written directly, not through matplotlib: two small line charts are simple, and matplotlib's
text layout made a curve cost 57 ms, more than training the point (a 1,000-point sweep spent a minute of
CPU drawing curves). The same input gives the same bytes.
"""

from __future__ import annotations

import html
import math
import textwrap
from pathlib import Path

# Drawing, not computing: not part of a point's id (identity.py).
RESULT_CODE = False

WIDTH, HEIGHT, NOTE_HEIGHT = 800, 340, 50
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c")  # matplotlib's C0, C1, C2, as the other plots use
FONT = "font-family:DejaVu Sans,Arial,sans-serif"


def nice_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [lo, hi]."""
    if not hi > lo:
        pad = abs(lo) * 0.05 or 0.05
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, most - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step + 1e-9) * step
    ticks, k = [], 0
    while True:
        v = first + k * step
        ticks.append(round(v, 12))
        if v >= hi - 1e-9 * step:
            return ticks
        k += 1


def _label(v: float, ticks: list[float]) -> str:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9) + (1 if round(step / 10 ** math.floor(
        math.log10(step) + 1e-9), 6) == 2.5 else 0))
    return f"{v:.{decimals}f}"


def _panel(x0: float, y0: float, w: float, h: float, epochs: list, series: list, *, title: str, ylabel: str,
           legend: list[str] | None = None) -> list[str]:
    """One chart: axes, ticks, labels and a polyline with markers per series (non-finite values left out)."""
    values = [v for _, ys in series for v in ys if isinstance(v, int | float) and math.isfinite(v)]
    xt = nice_ticks(min(epochs, default=0), max(epochs, default=1), 6)
    xt = [t for t in xt if float(t).is_integer()] or [0.0, 1.0]
    yt = nice_ticks(min(values, default=0.0), max(values, default=1.0))
    xlo, xhi, ylo, yhi = xt[0], xt[-1], yt[0], yt[-1]

    def px(x):
        return x0 + (x - xlo) / ((xhi - xlo) or 1) * w

    def py(y):
        return y0 + h - (y - ylo) / ((yhi - ylo) or 1) * h

    out = [f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{w:.1f}" height="{h:.1f}" fill="none" stroke="#000" '
           f'stroke-width="0.8"/>',
           f'<text x="{x0 + w / 2:.1f}" y="{y0 - 8:.1f}" text-anchor="middle" font-size="12">'
           f'{html.escape(title)}</text>',
           f'<text x="{x0 + w / 2:.1f}" y="{y0 + h + 36:.1f}" text-anchor="middle" font-size="11">epoch</text>',
           f'<text transform="translate({x0 - 48:.1f} {y0 + h / 2:.1f}) rotate(-90)" text-anchor="middle" '
           f'font-size="11">{html.escape(ylabel)}</text>']
    for t in xt:
        out.append(f'<line x1="{px(t):.1f}" y1="{y0 + h:.1f}" x2="{px(t):.1f}" y2="{y0 + h + 4:.1f}" stroke="#000"/>'
                   f'<text x="{px(t):.1f}" y="{y0 + h + 16:.1f}" text-anchor="middle" font-size="10">{int(t)}</text>')
    for t in yt:
        out.append(f'<line x1="{x0 - 4:.1f}" y1="{py(t):.1f}" x2="{x0:.1f}" y2="{py(t):.1f}" stroke="#000"/>'
                   f'<text x="{x0 - 6:.1f}" y="{py(t) + 3.5:.1f}" text-anchor="end" font-size="10">'
                   f'{_label(t, yt)}</text>')
    for (colour, ys) in series:
        runs, run = [], []
        for x, y in zip(epochs, ys, strict=True):
            if isinstance(y, int | float) and math.isfinite(y):
                run.append(f"{px(x):.1f},{py(y):.1f}")
            elif run:
                runs.append(run)
                run = []
        runs += [run] if run else []
        for r in runs:
            out.append(f'<polyline points="{" ".join(r)}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
            out += [f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3" fill="{colour}"/>' for p in r]
    for i, name in enumerate(legend or []):
        ly = y0 + 14 + 16 * i
        out.append(f'<line x1="{x0 + w - 96:.1f}" y1="{ly:.1f}" x2="{x0 + w - 76:.1f}" y2="{ly:.1f}" '
                   f'stroke="{series[i][0]}" stroke-width="1.5"/><text x="{x0 + w - 70:.1f}" y="{ly + 3.5:.1f}" '
                   f'font-size="10">{html.escape(name)}</text>')
    return out


def draw_learning_curve(history: list[dict], out: str | Path, *, title: str, note: str = "") -> None:
    """Loss and validation ROC-AUC per epoch; `note` (why training stopped) is printed under the plot."""
    from .io import write_text

    height = HEIGHT + (NOTE_HEIGHT if note else 0)
    epochs = [r["epoch"] for r in history]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" style="{FONT}">',
             f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>',
             f'<text x="{WIDTH / 2:.1f}" y="20" text-anchor="middle" font-size="12">{html.escape(title)}</text>']
    parts += _panel(70, 60, 300, 220, epochs,
                    [(COLOURS[0], [r["train_loss"] for r in history]), (COLOURS[1], [r["val_loss"] for r in history])],
                    title="Loss", ylabel="BCE loss", legend=["train", "validation"])
    parts += _panel(480, 60, 300, 220, epochs, [(COLOURS[2], [r["val_roc_auc"] for r in history])],
                    title="Validation ROC-AUC", ylabel="ROC-AUC")
    for i, line in enumerate(textwrap.wrap(note, 130)):
        parts.append(f'<text x="8" y="{HEIGHT + 8 + 12 * i}" font-size="9" fill="firebrick">{html.escape(line)}</text>')
    write_text(out, "\n".join(parts) + "\n</svg>\n")


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
