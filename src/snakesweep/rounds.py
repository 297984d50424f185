"""Sweeps decided by their own results, as workflow rounds and rungs: `method: bayes`,
`early_terminate: hyperband` and `metric.target`.

W&B runs these only against its server. Here they are ordinary Snakemake checkpoints over files:

- a round (`propose`) is a batch of points: the next slice of the seeded grid or random draws, or for
  bayes the proposals of Optuna's TPE sampler, rebuilt each round from the finished points' files
  (no server, no database). No round starts once a finished point reaches `metric.target`;
- a rung (`select_rung`) is a stage of successive halving within a round: every point of the round
  trains to the first band (in epochs); at each band, points worse than W&B's hyperband threshold
  stop, the others resume from their checkpoints and train to the next band, or to their end;
- `finish_round` writes each point's final files (status ok, failed, error or stopped) where a point
  of a static sweep has them, so the summary, the report and the choice read both alike.

Every decision is a pure function of the files before it and the seed: a rerun, or a run killed and
started again, makes the same rounds.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import warnings
from pathlib import Path

from . import SnakesweepError, layout
from .io import link_or_copy, read_json, write_json
from .plan import make_packs
from .points import Point
from .sweep import PointMaker, Spec, expand, load_spec, parse_spec, uniform01, value_at


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


def history_values(folder: Path, metric: str) -> list[float]:
    """The metric per epoch, finite values only (as W&B's engine filters them)."""
    path = folder / "history.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        out = []
        for row in csv.DictReader(fh):
            try:
                v = float(row[metric])
            except (KeyError, ValueError):
                continue
            if math.isfinite(v):
                out.append(v)
    return out


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
    elif spec.method == "bayes":
        record["points"] = propose_bayes(spec, settings, round, done, size) if size > 0 else []
        if len(record["points"]) < size:
            record["note"] = "the search space holds no further point not trained yet"
    else:
        record["points"] = static_points(spec, settings, start + size)[start:start + size]
    record["points"] = [dataclasses.replace(p, round=round).plain() for p in record["points"]]
    write_json(out, record)
    note = f"; {record['note']}" if record["note"] else ""
    print(f"round {round}: {len(record['points'])} point(s) of {size}{note}")
    return record


def _point_args(settings: dict) -> dict:
    """What turns parameter sets into points, as the plan made them (same defaults, context, 'auto')."""
    from .plan import resolve_accelerator

    auto = settings.get("auto")
    return {"defaults": settings["defaults"], "context": settings["context"], "dedupe": settings["dedupe"],
            "resolve": lambda hp: resolve_accelerator(hp, auto)}


def _maker(spec: Spec, settings: dict) -> PointMaker:
    return PointMaker(spec, **_point_args(settings))


def static_points(spec: Spec, settings: dict, count: int) -> list[Point]:
    return expand(spec, count=max(count, 1), seed=settings["seed"], **_point_args(settings))


def observed_value(spec: Spec, p: dict, worst: float | None) -> float:
    """What bayes learns from a finished point, as W&B's engine (sweeps/bayes_search.py) computes it:
    the best value in its history; for a failed point, per metric.impute, the worst value any point
    reached (worst), its own best (best) or last (latest) value, and 0.0 where there is none."""
    history = p["history"]
    best = (min if spec.goal == "minimize" else max)(history) if history else None
    if p["status"] in ("ok", "stopped"):
        if best is not None:
            return best
        return worst if worst is not None else 0.0
    if spec.impute == "worst":
        return worst if worst is not None else 0.0
    if spec.impute == "best":
        return best if best is not None else 0.0
    return history[-1] if history else 0.0


def propose_bayes(spec: Spec, settings: dict, round: int, done: list[dict], size: int) -> list[Point]:
    """`size` new points from Optuna's TPE sampler (or its Gaussian process, sweep.sampler: gp), told every
    finished point.

    The search runs in the parameters' CDF space (each value is the inverse CDF of a number in [0, 1),
    as for the random draws, and as W&B's bayes normalises its parameters): one space for every W&B
    distribution, with the distribution's own law as the prior. Round 0 samples at random (the
    sampler's start-up); later rounds are model-based. The sampler's seed is derived from sweep.seed and
    the round, and the finished points are told in round order, so a round is the same on every rerun.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    searched = [p for p in spec.params if p.distribution != "constant"]
    space = {p.name: optuna.distributions.FloatDistribution(0.0, 1.0) for p in searched}
    # W&B's "worst": the worst value over every terminal run's history.
    extremes = [(max if spec.goal == "minimize" else min)(p["history"]) for p in done if p["history"]]
    worst = (max if spec.goal == "minimize" else min)(extremes) if extremes else None
    seed = int(uniform01(settings["seed"], round, "bayes") * 2**31)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna flags multivariate TPE, constant liar and GP as experimental
        if settings.get("sampler", "tpe") == "gp":
            # A Gaussian process, as W&B's own bayes uses (its start-up trials are random).
            sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=settings["round_size"])
        else:
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=settings["round_size"],
                                                 multivariate=True, constant_liar=True)
        study = optuna.create_study(direction=spec.goal, sampler=sampler)
        for p in done:
            study.add_trial(optuna.trial.create_trial(params={n: p["u"][n] for n in space}, distributions=space,
                                                      value=observed_value(spec, p, worst)))
        maker = _maker(spec, settings)
        # Earlier points stay theirs: a proposal of the same model is asked again.
        maker.taken.update(p["point"] for p in done)
        proposals = []
        for attempt in range(50 * size):
            if len(proposals) >= size:
                break
            trial = study.ask(space)  # left running: the constant liar steers the next ask away from it
            u = {p.name: (trial.params[p.name] if p.name in space else 0.0) for p in spec.params}
            params = {p.name: value_at(p, min(u[p.name], 1 - 2**-53)) for p in spec.params}
            point, new = maker.make(params, attempt, u=u)
            if new:
                proposals.append(point)
    return proposals


# --- rungs: successive halving within a round ------------------------------------------------------------


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
        for name in (layout.POINT_FILES[k] for k in ("model", "history", "curve")):
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


def plot_rungs(*, points_table: str, metric: str, bands: list[int], out: str) -> None:
    """Every point's metric per epoch: stopped points grey, the others coloured, bands dashed."""
    from .io import read_tsv, savefig, svg_figure

    fig = svg_figure(figsize=(8, 4.5))
    ax = fig.subplots()
    counts = {"stopped": 0, "other": 0}
    for pid in read_tsv(points_table)["point"]:
        folder = layout.point_dir(pid)
        values = history_values(folder, metric)
        status = read_json(folder / "metrics.json")["status"]
        stopped = status == "stopped"
        counts["stopped" if stopped else "other"] += 1
        ax.plot(range(1, len(values) + 1), values, color="0.7" if stopped else None, lw=1 if stopped else 1.5,
                zorder=1 if stopped else 2)
    for band in bands:
        ax.axvline(band, ls="--", color="0.4", lw=0.8)
    ax.set(xlabel="epoch", ylabel=metric, title=f"{metric} per epoch: {counts['other']} point(s) trained to their end, "
           f"{counts['stopped']} stopped at a band")
    savefig(fig, out)
