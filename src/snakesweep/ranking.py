"""How points are ranked, for every runner: by the sweep's metric and goal, best first.

A point is usable when its status is ok and its metric is a finite number. Usable points come first,
by their metric; the others after them; ties and the rest go by point id, so no order in which jobs
finished can change the ranking. The summary table, the choice of the best point and the plots all
rank through here. Pure Python: the choice, made again whenever a point is added, imports no pandas.
"""

from __future__ import annotations

import math

# Reading results, not computing them: not part of a point's id (identity.py).
RESULT_CODE = False


def is_number(value) -> bool:
    """A finite int or float (a bool is not a number here, nor NaN, inf or None)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def usable(record: dict, metric: str) -> bool:
    return record.get("status") == "ok" and is_number(record.get(metric))


def rank_key(record: dict, metric: str, goal: str) -> tuple:
    """Sort key: usable points first, best by `goal` ('minimize' or 'maximize'), ties by point id."""
    if usable(record, metric):
        value = record[metric] if goal == "minimize" else -record[metric]
        return (0, value, str(record["point"]))
    return (1, 0.0, str(record["point"]))


def ranked(records: list[dict], metric: str, goal: str) -> list[dict]:
    return sorted(records, key=lambda r: rank_key(r, metric, goal))


def ranked_frame(df, metric: str, goal: str):
    """A table with columns `point`, `status` and `metric`, its rows in rank order (index reset)."""
    keys = [rank_key({"point": p, "status": s, metric: _plain(v)}, metric, goal)
            for p, s, v in zip(df["point"], df["status"], df[metric], strict=True)]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return df.iloc[order].reset_index(drop=True)


def _plain(value):
    """A table's cell as Python: numpy numbers to int/float, anything else unusable unless a number."""
    try:
        return float(value) if not isinstance(value, bool | str) and value is not None else value
    except (TypeError, ValueError):
        return None
