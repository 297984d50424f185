"""Choosing the best point on validation data, from the per-point results alone.

Pure Python (no pandas, no torch), as the choice is made again whenever a point is added. The test
evaluation (evaluate.evaluate_best) depends only on the choice it writes, so it runs again only when
the chosen point changes: the test split is touched once per chosen model.
"""

from __future__ import annotations

from . import SnakesweepError
from .io import read_json, write_json
from .ranking import ranked, usable


def read_records(points: list[str], metric_files: list[str]) -> list[dict]:
    """Each point's metrics.json, in the DAG's order of points, checked to belong to its point."""
    records = []
    for point, path in zip(points, metric_files, strict=True):
        rec = read_json(path)
        if rec.get("point") != point:
            raise SnakesweepError(f"{path} holds the results of point {rec.get('point')!r}, not {point!r}; "
                                  "delete that folder so the point is trained again")
        records.append(rec)
    return records


def check_no_errors(records: list[dict]) -> None:
    """No best point while a point raised a real error: its result might have been the best. The run
    fails here, after the summary has named the points; the next run trains them again."""
    errors = [r for r in records if r.get("status") == "error"]
    if errors:
        listed = "; ".join(f"{r['point']}: {r['reason']}" for r in errors[:5]) + (" ..." if len(errors) > 5 else "")
        raise SnakesweepError(f"{len(errors)} point(s) raised an error, so no best point is chosen and the test "
                              f"split is not touched: {listed}. Fix the cause and run the same command again: "
                              "those points train again, the others are kept")


def choose_best(records: list[dict], metric: str, goal: str) -> dict:
    """The best usable point's record by `metric` (lowest or highest per `goal`), ties going to the
    smaller id, so no order of the points can change it. Failed points and missing metrics never win."""
    ok = [r for r in records if usable(r, metric)]
    if not ok:
        raise SnakesweepError("no point finished with status ok, so there is no best point; see the reasons "
                              "in results/summary.tsv")
    return ranked(ok, metric, goal)[0]


def choose_job(*, points: list[str], metric_files: list[str], metric: str, goal: str, out: str) -> dict:
    """The `choose_best` checkpoint: the chosen point and how, nothing that changes when another point
    is added (so the test evaluation after it does not run again)."""
    records = read_records(points, metric_files)
    check_no_errors(records)
    best = choose_best(records, metric, goal)
    chosen = {"point": best["point"], "chosen_by": {"metric": metric, "goal": goal, "split": metric.split("_")[0]},
              metric: best[metric]}
    write_json(out, chosen)
    print(f"best of {len(records)} points by {metric} ({goal}): {best['point']} ({metric} = {best[metric]})")
    return chosen
