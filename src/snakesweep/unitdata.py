"""A pack's data on its device, loaded once: the single split, or each unit's training and validation
rows (folds.py) scaled by a scaler fitted on that unit's training rows only, or every row outside the
test split for a final model."""

from __future__ import annotations


class PackData:
    """The pack's data on its device, loaded once, when first asked for: the single split, or each
    unit's training and validation rows scaled by a scaler fitted on its training rows only."""

    def __init__(self, train, val, cv):
        self.paths = {"train": train, "val": val, "cv": cv}
        self.device = None
        self._single = None
        self._cv = None
        self._units = {}

    def single(self):
        from .kernel import load_split

        if self._single is None:
            self._single = load_split(self.paths["train"], self.device), load_split(self.paths["val"], self.device)
        return self._single

    def cv(self) -> dict:
        if self._cv is None:
            import numpy as np

            with np.load(self.paths["cv"]) as z:
                self._cv = {k: z[k] for k in ("x", "y", "fold", "standardize")}
        return self._cv

    def unit(self, unit: dict):
        """(train, val) of a unit: the same arithmetic as the split job's, so fold 0 of one-fold seed
        repeats is bit-identical to the single split."""
        key = (unit["repeat"], unit["fold"])
        if key not in self._units:
            import numpy as np
            import torch

            from .folds import unit_rows
            from .kernel import Split
            from .split import Scaler

            cv = self.cv()
            train, val = unit_rows(cv["fold"], unit)
            x = cv["x"]
            scaler = Scaler.fitted(x[train], bool(cv["standardize"]))

            def split(rows):
                xs = scaler.transform(x[rows]).astype(np.float32)
                return Split(torch.from_numpy(np.ascontiguousarray(xs)).to(self.device),
                             torch.from_numpy(np.ascontiguousarray(cv["y"][rows], dtype=np.float32)).to(self.device))

            self._units[key] = split(train), split(val)
        return self._units[key]

    def final(self):
        """All rows outside the test split, for the final model, and the scaler fitted on them. The
        kernel scores every epoch on a validation split; with no rows held out, that is these rows."""
        import numpy as np
        import torch

        from .kernel import Split
        from .split import Scaler

        cv = self.cv()
        x = cv["x"]
        scaler = Scaler.fitted(x, bool(cv["standardize"]))
        split = Split(torch.from_numpy(np.ascontiguousarray(scaler.transform(x).astype(np.float32))).to(self.device),
                      torch.from_numpy(np.ascontiguousarray(cv["y"], dtype=np.float32)).to(self.device))
        return split, scaler

    def cv_info(self, point) -> dict:
        from .folds import fold_sizes

        n_train, n_val = fold_sizes(self.cv()["fold"])
        return {"folds": point.folds, "repeats": point.repeats, "seeds": point.seeds,
                "train_rows": n_train, "val_rows": n_val}
