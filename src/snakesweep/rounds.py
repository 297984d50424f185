"""Sweeps decided by their own results, as workflow rounds and rungs: `method: bayes`,
`early_terminate: hyperband` and `metric.target`.

W&B runs these only against its server. Here they are ordinary Snakemake checkpoints over files:

- a round (`propose`) is a batch of points from the sweep's proposer (proposers.py): the next slice of
  the seeded grid or random draws, or for bayes Optuna's proposals, rebuilt each round from the
  finished points' files (no server, no database). No round starts once a finished point reaches
  `metric.target`;
- a rung (hyperband.py) is a stage of successive halving within a round; each of its packs runs with
  the sweep's runner (`run_stage`);
- `finish_round` writes each point's final files (status ok, failed, error or stopped) where a point
  of a static sweep has them, so the summary, the report and the choice read both alike.

Every decision is a pure function of the files before it and the seed: a rerun, or a run killed and
started again, makes the same rounds.
"""

from __future__ import annotations

import dataclasses

from . import SnakesweepError, layout
from .io import link_or_copy, read_json, write_json
from .points import Point
from .proposers import proposer_for
from .records import history_values
from .sweep import Spec, load_spec, parse_spec


def spec_from(settings: dict) -> Spec:
    return parse_spec(load_spec(settings["spec_file"]), source=f"sweep.file '{settings['spec_file']}'")


def per_round(spec: Spec, round_size: int, total: int) -> int:
    """Points per round: sweep.round_size for bayes and for a sweep with a target (which is checked
    between rounds), otherwise every point in one round (hyperband's rungs need no more)."""
    return round_size if spec.method == "bayes" or spec.target is not None else max(total, 1)


def round_size_of(r: int, total: int, size: int) -> int:
    """How many points round r proposes. It depends on sweep.count only for the round that reaches it,
    so raising the count leaves the rounds done untouched and adds rounds after them."""
    return max(0, min(size, total - r * size))


def is_last(r: int, proposed: int, total: int, size: int) -> bool:
    """A round is the last when it came out short (target reached, search space exhausted) or the
    count is reached."""
    return proposed < round_size_of(r, total, size) or round_size_of(r + 1, total, size) == 0


# --- results of finished points -----------------------------------------------------------------------


def finished(done_files: list[str]) -> list[dict]:
    """Every point of the rounds done so far, in round order: final record and metric history."""
    out = []
    for f in done_files:
        out += read_json(f)["points"]
    return out


def target_reached(spec: Spec, points: list[dict]) -> dict | None:
    """The first finished point whose metric reaches metric.target, if any."""
    for p in points:
        if p["status"] in ("ok", "stopped") and spec.reached(p["value"]):
            return p
    return None


# --- proposing a round ----------------------------------------------------------------------------------


def propose(*, settings: dict, round: int, size: int, start: int, done_files: list[str], out: str) -> dict:
    """The points of round `round`: up to `size` new points; for a grid or random sweep, the planned
    points from index `start` on."""
    spec = spec_from(settings)
    done = finished(done_files)
    reached = target_reached(spec, done)
    record = {"round": round, "size": size, "points": [], "note": ""}
    if reached is not None:
        record["note"] = (f"metric.target {spec.target} reached by point {reached['point']} ({spec.metric} = "
                          f"{reached['value']}): no further round")
    else:
        record["points"] = proposer_for(spec).propose(spec, settings, round=round, start=start, size=size,
                                                      done=done)
        if len(record["points"]) < size and spec.method == "bayes":
            record["note"] = "the search space holds no further point not trained yet"
    record["points"] = [dataclasses.replace(p, round=round).plain() for p in record["points"]]
    write_json(out, record)
    note = f"; {record['note']}" if record["note"] else ""
    print(f"round {round}: {len(record['points'])} point(s) of {size}{note}")
    return record


def stage_members(*, round_file: str, rung_file: str, pack: str) -> tuple[list[Point], list[str]]:
    """What a stage's pack trains: the plan's fields of each point plus its epochs and checkpoint."""
    by_id = {p["point"]: Point.from_plain(p) for p in read_json(round_file)["points"]}
    members, files = [], []
    for t in read_json(rung_file)["train"]:
        if t["pack"] != pack:
            continue
        p = by_id[t["point"]]
        resume = None if t["resume"] is None else layout.files(layout.stage_dir(p.id, t["resume"]))["model"]
        members.append(p.at_stage(t["epochs"], None if resume is None else str(resume)))
        files.append(str(layout.files(layout.stage_dir(p.id, t["epochs"]))["metrics"]))
    if not members:
        raise SnakesweepError(f"{rung_file} lists no point in pack {pack}")
    return members, files


# --- finishing a round ------------------------------------------------------------------------------------


def finish_round(*, settings: dict, round_file: str, rung_files: list[str], out: str) -> dict:
    """Each point's final files in results/points/<id>/, and the round's record for the next round."""
    spec = spec_from(settings)
    points = read_json(round_file)["points"]
    reached: dict[str, int] = {}  # the epochs of each point's last stage
    stop_reason: dict[str, str] = {}
    rung_of: dict[str, int] = {}
    for rung, f in enumerate(rung_files):
        record = read_json(f)
        for t in record["train"]:
            reached[t["point"]] = t["epochs"]
            rung_of[t["point"]] = rung
        for d in record["decisions"]:
            if d["decision"] == "stop":
                stop_reason[d["point"]] = (
                    f"stopped by hyperband at epoch {record['band']}: {spec.metric} "
                    f"{d['value']:.6g} is worse than the threshold {record['threshold']:.6g}")
    out_points = []
    for p in points:
        pid = p["point"]
        stage = layout.stage_dir(pid, reached[pid])
        rec = read_json(stage / "metrics.json")
        rec.update(params=p["params"], round=p["round"], rung=rung_of[pid], draws=p["draws"])
        if pid in stop_reason:
            rec.update(status="stopped", reason=stop_reason[pid])
        folder = layout.point_dir(pid)
        for name in (layout.POINT_FILES[k] for k in ("model", "history", "curve", "scores")):
            if (stage / name).is_file():
                link_or_copy(stage / name, folder / name)
        write_json(folder / "metrics.json", rec)  # last: marks the point complete
        value = rec.get(spec.metric)
        out_points.append({"point": pid, "status": rec["status"], "value": value, "epochs": rec.get("epochs"),
                           "round": p["round"], "rung": rung_of[pid], "u": p.get("u", {}),
                           "history": history_values(folder, spec.metric)})
    write_json(out, {"round": read_json(round_file)["round"], "points": out_points})
    counts: dict[str, int] = {}
    for p in out_points:
        counts[p["status"]] = counts.get(p["status"], 0) + 1
    print(f"round finished: {counts}")
    return {"points": out_points}


def collect_points(*, round_files: list[str], names: list[str], out: str) -> None:
    """The points table of an adaptive sweep: every round's points, in round order."""
    from .jobs import write_points

    rows = []
    for f in round_files:
        for p in read_json(f)["points"]:
            rows.append({"point": p["point"], **p["params"], "round": p["round"],
                         "draws": ",".join(map(str, p["draws"]))})
    write_points(rows=rows, names=[*names, "round", "draws"], out=out)


def round_settings(plan, config: dict) -> dict:
    """What a round's job needs to rebuild the plan's decisions, as plain data for Snakemake params; not
    sweep.count (see round_size_of)."""
    return {
        "spec_file": config["sweep"]["file"],
        "seed": config["sweep"]["seed"],
        "round_size": config["sweep"]["round_size"],
        "dedupe": config["sweep"]["dedupe"],
        "sampler": config["sweep"]["sampler"],
        "pack_size": int((config["program"] if plan.spec.own else config["train"]).get("pack_size", 20)),
        "defaults": plan.defaults,
        "context": plan.context,
        "auto": plan.auto_accelerator,
        # An own program's points (own.py): every run one stage, on the accelerator program.gpu asks for.
        **({"own": True, "accelerator": "gpu" if config["program"].get("gpu") else "cpu"} if plan.spec.own else {}),
    }



def run_stage(*, runner: str, round_file: str, rung_file: str, pack: str, out: str, logs_dir: str,
              settings: dict, data: dict | None = None) -> list[dict]:
    """Run one pack of a rung with the sweep's runner (runners.py: the same kernel or program, caching
    and error handling as a pack of a static sweep), then record what it did."""
    from .runners import run_pack

    members, files = stage_members(round_file=round_file, rung_file=rung_file, pack=pack)
    lines = run_pack(runner, pack=pack, members=members, metrics_files=files, logs_dir=logs_dir,
                     settings=settings, data=data)
    write_json(out, {"pack": pack, "points": lines})
    return lines
