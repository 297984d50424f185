"""Hyperband's rungs within a round: successive halving as W&B's engine runs it, over files.

Every point of a round trains to the first band (in epochs); at each band, points worse than W&B's
hyperband threshold stop, the others resume from their checkpoints and train to the next band, or to
their end. `select_rung` decides one rung from the rung before it; rounds.py runs and finishes them.
"""

from __future__ import annotations

import dataclasses
import math

from . import SnakesweepError, layout
from .io import read_json, write_json
from .plan import make_packs
from .points import Point
from .records import history_values
from .rounds import finished, spec_from
from .sweep import Spec

# Which points train further, not what they compute: not part of a point's id (identity.py).
RESULT_CODE = False


def stages_of(spec: Spec, max_epochs: int) -> list[int]:
    """The epochs a point trains to, stage by stage: each band below its length, then its length."""
    bands = spec.hyperband.rungs(max_epochs) if spec.hyperband is not None else []
    return [*bands, max_epochs]


def hyperband_threshold(values: list[float], eta: float) -> float:
    """W&B's threshold at a band (sweeps/hyperband_stopping.py): of the values there (lower is better),
    the one at index int(n / eta) in ascending order; a point is stopped when worse than it."""
    return sorted(values)[int(len(values) / eta)]


def select_rung(*, settings: dict, round: int, rung: int, round_file: str, previous: str | None,
                done_files: list[str], out: str) -> dict:
    """Which points of the round train in this stage, to how many epochs, in which packs.

    Rung 0: every point of the round, to its first stage. Rung k: the points of rung k-1 that are not
    finished are compared at the band they reached, with every point (this round's and earlier
    rounds') that has a value there; those no worse than the threshold continue.
    """
    spec = spec_from(settings)
    by_id = {p["point"]: Point.from_plain(p) for p in read_json(round_file)["points"]}
    record = {"round": round, "rung": rung, "band": None, "threshold": None, "decisions": [], "train": []}
    if rung == 0:
        going = list(by_id)
        resume = {}
    else:
        prev = read_json(previous)
        open_points = [t for t in prev["train"] if t["epochs"] < _max_epochs(settings, by_id[t["point"]])]
        going, resume = [], {}
        if open_points:
            band = open_points[0]["epochs"]
            sign = 1 if spec.goal == "minimize" else -1
            history = {t["point"]: history_values(layout.stage_dir(t["point"], band), spec.metric)
                       for t in prev["train"]}
            earlier = [p["history"] for p in finished(done_files)]
            at_band = [sign * h[band - 1] for h in [*history.values(), *earlier] if len(h) >= band]
            threshold = hyperband_threshold(at_band, spec.hyperband.eta) if at_band else math.inf
            record.update(band=band, threshold=sign * threshold if at_band else None)
            for t in open_points:
                h = [sign * v for v in history[t["point"]]]
                status = read_json(layout.stage_dir(t["point"], band) / "metrics.json")["status"]
                if status == "ok" and len(h) < band:
                    # A decision on a missing history would silently drop the point from the comparison.
                    raise SnakesweepError(f"{layout.stage_dir(t['point'], band) / 'history.csv'} is missing or short "
                                          f"({len(h)} of {band} epochs); delete that folder and run again")
                if status != "ok":
                    decision, value = "finished", None  # diverged or failed: nothing to resume
                else:
                    value = h[band - 1] if spec.hyperband.strict else min(h[:band])
                    decision = "stop" if value > threshold else "continue"
                record["decisions"].append({"point": t["point"], "value": None if value is None else sign * value,
                                            "decision": decision})
                if decision == "continue":
                    going.append(t["point"])
                    resume[t["point"]] = band
    trains, stage_points = [], []
    for pid in going:
        point = by_id[pid]
        if settings.get("own"):  # an own program's runs go where program.gpu says
            point = dataclasses.replace(point, accelerator=settings["accelerator"])
        stages = stages_of(spec, _max_epochs(settings, point))
        stage_points.append(point)
        trains.append({"point": pid, "epochs": stages[rung], "resume": resume.get(pid),
                       "last": rung == len(stages) - 1})
    packs = make_packs(stage_points, settings["pack_size"])
    pack_of = {pid: pack.id for pack in packs for pid in pack.points}
    record["train"] = [t | {"pack": pack_of[t["point"]]} for t in trains]
    record["packs"] = [{"id": p.id, "points": list(p.points), "accelerator": p.accelerator} for p in packs]
    record["final"] = all(t["last"] for t in trains)
    write_json(out, record)
    stopped = sum(d["decision"] == "stop" for d in record["decisions"])
    print(f"round {round} rung {rung}: {len(trains)} point(s) train" + (
        f"; {stopped} stopped at epoch {record['band']} (threshold {record['threshold']})" if rung else ""))
    return record


def _max_epochs(settings: dict, point: Point) -> int:
    """A point's length in epochs; an own program's run is one stage (hyperband is refused for it)."""
    return 1 if settings.get("own") else point.hparams["max_epochs"]
