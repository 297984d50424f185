"""The baseline every point is compared with: a logistic regression on the same rows and scaling."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import metrics
from .io import write_json, write_tsv

BASELINE = "scikit-learn LogisticRegression (L2, C=1)"


def fit_baseline(*, train: str | None, test: str | None, out: str, cv: str | None = None,
                 cv_out: str | None = None, seeds: int = 1) -> None:
    """The reference every point is compared with: a logistic regression on the same training rows and
    scaling, scored once on the test split. A job of its own, so it runs while the packs train.

    With units (`cv`: folds or seed repeats, see folds.py) it is validated as the points are, on every
    fold with the fold's own scaler (`cv_out`: its mean, SD and interval, and its value per unit for
    the paired comparison), and, like the final model, fitted on all rows outside the test split
    before its test scores are taken. The fit is deterministic, so every seed of a fold shares its value.
    """
    from sklearn.linear_model import LogisticRegression

    from .split import Scaler

    def fit(x, y):
        return LogisticRegression(max_iter=5000).fit(x, y)  # lbfgs: deterministic

    if cv is None:
        with np.load(train) as z:
            baseline = fit(z["x"], z["y"])
        with np.load(test) as z:
            scores = baseline.decision_function(z["x"])
    else:
        from .folds import fold_sizes, unit_name, unit_rows
        from .selection import summary

        with np.load(cv) as z:
            x, y, fold_of, standardize = z["x"], z["y"], z["fold"], bool(z["standardize"])
            x_test = z["x_test"]

        def scaled(rows_fit):
            scaler = Scaler.fitted(x[rows_fit], standardize)
            return lambda rows: scaler.transform(x[rows]).astype(np.float32)

        folds = int(fold_of.max()) + 1
        units = []
        for r in range(fold_of.shape[0]):
            for f in range(folds):
                unit = {"repeat": r, "fold": f}
                tr, va = unit_rows(fold_of, unit)
                transform = scaled(tr)
                auc = metrics.roc_auc(y[va], fit(transform(tr), y[tr]).decision_function(transform(va)))
                units += [{"unit": unit_name(r, f, j, folds), "repeat": r, "fold": f, "val_roc_auc": auc}
                          for j in range(seeds)]
        n_train, n_val = fold_sizes(fold_of)
        ratio = n_val / n_train if folds > 1 else 0.0
        stats = summary([u["val_roc_auc"] for u in units], ratio, bounds=(0.0, 1.0))
        scaler = Scaler.fitted(x, standardize)
        baseline = fit(scaler.transform(x).astype(np.float32), y)
        scores = baseline.decision_function(scaler.transform(x_test).astype(np.float32))
        write_json(cv_out, {"model": BASELINE, "val_roc_auc": stats["mean"], "val_roc_auc_mean": stats["mean"],
                            "val_roc_auc_sd": stats["sd"], "val_roc_auc_ci95": stats["ci95"], "n_units": stats["n"],
                            "cv": {"folds": folds, "repeats": int(fold_of.shape[0]), "seeds": seeds,
                                   "train_rows": n_train, "val_rows": n_val},
                            "units": units, "final_fit_rows": int(len(y))})
        print(f"logistic regression, cross-validated: val ROC-AUC {stats['mean']:.4f} (SD {stats['sd']}) over "
              f"{stats['n']} units")
    write_tsv(out, pd.DataFrame({"score": scores}))
    print(f"logistic regression: {baseline.n_iter_[0]} iterations; scored {len(scores)} test rows")
