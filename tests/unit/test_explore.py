"""Exploration stays bounded on tall and wide tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from snakesweep.explore import sample_rows, top_variance

# --- bounded exploration ------------------------------------------------------------------------------


def test_top_variance_keeps_table_order():
    df = pd.DataFrame({"a": [0, 0, 1.0], "b": [0, 10, 20.0], "c": [0, 5, 1.0], "d": [1, 1, 1.0]})
    assert top_variance(df, list(df.columns), 2) == ["b", "c"]
    assert top_variance(df, list(df.columns), 10) == ["a", "b", "c", "d"]


def test_sample_rows_is_seeded_stratified_and_bounded():
    labels = np.r_[np.zeros(9000), np.ones(1000)]
    rows = sample_rows(labels, 1000)
    assert len(rows) == 1000 and (np.diff(rows) > 0).all()
    assert labels[rows].sum() == 100
    assert (rows == sample_rows(labels, 1000)).all()
    assert len(sample_rows(labels[:50], 1000)) == 50
