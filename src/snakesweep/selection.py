"""Statistics over a point's units (folds x seeds): mean, SD, interval, and which points are tied.

Cross-validation estimates are not independent draws: the training sets of k folds overlap, so the
spread of the fold scores understates the uncertainty of their mean (Bengio & Grandvalet, 2004).
Intervals and comparisons here use the correction of Nadeau & Bengio (2003, "Inference for the
generalization error", Machine Learning 52:239-281): the variance of a mean over J units is taken as
(1/J + n_val/n_train) s^2 instead of s^2/J, with a t distribution of J-1 degrees of freedom. Bouckaert
& Frank (2004) found it the best-calibrated of the common tests for comparing learners on repeated
k-fold cross-validation. With seed repeats on one split (no folds) the training sets are the same
rows, the correction term is 0, and the test is a plain paired t-test over seeds: it then speaks to
seed-to-seed variation only, not to other splits of the data.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .points import Point

LEVEL = 0.95


def _t_quantile(p: float, df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(p, df))


def _t_sf(x: float, df: int) -> float:
    from scipy.stats import t

    return float(t.sf(x, df))


def summary(values, ratio: float, bounds: tuple[float, float] | None = None) -> dict:
    """Mean, SD (ddof 1), the corrected 95% interval of the mean (cut to `bounds`, e.g. [0, 1] for a
    ROC-AUC, which no t interval knows of), and the number of units."""
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if n == 0 or not np.isfinite(v).all():
        return {"mean": None, "sd": None, "ci95": None, "n": n}
    mean = float(v.mean())
    if n == 1:
        return {"mean": mean, "sd": None, "ci95": None, "n": 1}
    sd = float(v.std(ddof=1))
    half = _t_quantile(0.5 + LEVEL / 2, n - 1) * math.sqrt((1 / n + ratio) * sd**2)
    lo, hi = mean - half, mean + half
    if bounds is not None:
        lo, hi = max(bounds[0], lo), min(bounds[1], hi)
    return {"mean": mean, "sd": sd, "ci95": [lo, hi], "n": n}


def corrected_t(diffs, ratio: float) -> dict:
    """The corrected resampled t-test of paired differences (Nadeau & Bengio): t, its two-sided p-value
    and the 95% interval of the mean difference. None where fewer than two units pair up."""
    d = np.asarray(diffs, dtype=np.float64)
    n = len(d)
    if n < 2 or not np.isfinite(d).all():
        return {"t": None, "p": None, "diff": float(d.mean()) if n else None, "diff_ci95": None, "n": n}
    mean, var = float(d.mean()), float(d.var(ddof=1))
    se = math.sqrt((1 / n + ratio) * var)
    if se == 0:
        # Every unit gave the same difference: none at all is a tie, any other is not.
        return {"t": None, "p": 1.0 if mean == 0 else 0.0, "diff": mean, "diff_ci95": [mean, mean], "n": n}
    t = mean / se
    half = _t_quantile(0.5 + LEVEL / 2, n - 1) * se
    return {"t": t, "p": min(1.0, 2 * _t_sf(abs(t), n - 1)), "diff": mean, "diff_ci95": [mean - half, mean + half],
            "n": n}


def ratio_of(record: dict) -> float:
    """n_val / n_train of a point's units: 0 for seed repeats on one split (the same training rows)."""
    cv = record.get("cv") or {}
    if cv.get("folds", 1) <= 1 or not cv.get("train_rows"):
        return 0.0
    return cv["val_rows"] / cv["train_rows"]


def unit_values(record: dict, metric: str) -> dict:
    return {u["unit"]: u.get(metric) for u in record.get("units") or []}


def compare(best: dict, other: dict, metric: str) -> dict:
    """best minus other over the units both trained (the same folds and seed indices)."""
    a, b = unit_values(best, metric), unit_values(other, metric)
    common = sorted(set(a) & set(b))
    diffs = [a[u] - b[u] for u in common if a[u] is not None and b[u] is not None]
    return corrected_t(diffs, ratio_of(best))


def unit_p_values(others: list[dict], best: dict, metric: str) -> dict[str, float | None]:
    """The raw p-value of each other usable point's corrected paired test against the best over their
    common units (summary.ties_of adjusts them for the number of comparisons)."""
    return {rec["point"]: compare(best, rec, metric)["p"] for rec in others}


SUMMARISED = ("val_roc_auc", "val_loss", "train_loss")


CURVE = ("train_loss", "val_loss", "val_roc_auc")


def aggregate(point: Point, records: list[dict], cv: dict, histories) -> tuple[dict, list[dict]]:
    """A point's record from its units' records: for each metric its mean (under the metric's own name,
    so selection uses the mean), SD and corrected interval, every unit's values, and the mean learning
    curve. A point is usable only if every unit is: one diverging fold or seed fails it."""
    ratio = cv["val_rows"] / cv["train_rows"] if cv["folds"] > 1 and cv["train_rows"] else 0.0
    bad = [r for r in records if r["status"] != "ok"]
    status = "ok" if not bad else "failed"
    first = records[0]
    record = {"point": point.id, "params": point.params, "status": status,
              "reason": "" if not bad else f"unit {bad[0]['unit']['unit']}: {bad[0]['reason']}"}
    for name in SUMMARISED:
        bounds = (0.0, 1.0) if name.endswith("roc_auc") else None
        stats = summary([r[name] for r in records], ratio, bounds) if not bad else {
            "mean": None, "sd": None, "ci95": None, "n": len(records)}
        record[name] = stats["mean"]
        record[f"{name}_mean"], record[f"{name}_sd"] = stats["mean"], stats["sd"]
        record[f"{name}_ci95"] = stats["ci95"]
    record.update({
        "n_units": len(records),
        "unit_base": point.base,  # where its units' files are (layout.unit_dir)
        "cv": cv,
        "interval": "t interval of the mean over units with the Nadeau-Bengio correction for overlapping "
                    "training sets" if ratio else "t interval of the mean over seeds",
        "units": [{**{k: r["unit"][k] for k in ("unit", "repeat", "fold", "seed")}, "status": r["status"],
                   **{name: r[name] for name in SUMMARISED}, "epochs": r["epochs"], "val_rows": r.get("val_rows")}
                  for r in records],
        "epochs": first["epochs"],
        "hparams": point.hparams,
        "seed": point.hparams["seed"],
        "engine": first["engine"],
        **{k: first.get(k) for k in ("threads", "deterministic", "cublas_workspace_config", "device",
                                     "torch_version", "python_version", "snakesweep_version")},
        "train_seconds": round(sum(r.get("train_seconds") or 0 for r in records), 4),
        "startup_seconds": first.get("startup_seconds"),
    })
    return record, mean_history(histories)


def mean_history(histories) -> list[dict]:
    """The per-epoch mean of the units' histories (their history.csv files); a value that is missing
    or not finite (a diverged unit) leaves that unit out of that epoch's mean."""
    import csv

    by_epoch: dict[int, dict[str, list[float]]] = {}
    for path in histories:
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                cells = by_epoch.setdefault(int(row["epoch"]), {k: [] for k in CURVE})
                for k in CURVE:
                    try:
                        value = float(row.get(k) or "nan")
                    except ValueError:
                        continue
                    if math.isfinite(value):
                        cells[k].append(value)
    return [{"epoch": e, **{k: float(np.mean(v)) if v else float("nan") for k, v in by_epoch[e].items()}}
            for e in sorted(by_epoch)]
