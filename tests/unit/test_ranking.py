"""One ranking for every runner and every reader (ranking.py)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from snakesweep.ranking import is_number, ranked, ranked_frame, usable


@pytest.mark.parametrize(("value", "ok"), [(1, True), (0.5, True), (-2.0, True), (True, False), (None, False),
                                           (math.nan, False), (math.inf, False), (-math.inf, False), ("1", False)])
def test_a_number_is_finite_and_not_a_bool(value, ok):
    assert is_number(value) is ok


RECORDS = [
    {"point": "d", "status": "ok", "loss": 0.2},
    {"point": "c", "status": "failed", "loss": 0.01},
    {"point": "b", "status": "ok", "loss": 0.2},
    {"point": "a", "status": "ok", "loss": math.inf},
    {"point": "e", "status": "ok", "loss": 0.1},
    {"point": "f", "status": "ok"},
]


def test_usable_points_first_by_goal_ties_and_the_rest_by_id():
    assert [r["point"] for r in ranked(RECORDS, "loss", "minimize")] == ["e", "b", "d", "a", "c", "f"]
    assert [r["point"] for r in ranked(RECORDS, "loss", "maximize")] == ["b", "d", "e", "a", "c", "f"]
    assert not usable(RECORDS[1], "loss") and not usable(RECORDS[3], "loss")


def test_a_table_ranks_as_its_records_do_whatever_its_order():
    df = pd.DataFrame(RECORDS).sample(frac=1, random_state=3)
    assert list(ranked_frame(df, "loss", "minimize")["point"]) == ["e", "b", "d", "a", "c", "f"]
    df["loss"] = df["loss"].astype(object).where(df["point"] != "e", "0.1")  # text is not a number
    assert list(ranked_frame(df, "loss", "minimize")["point"])[:2] == ["b", "d"]
