"""Who proposes a round's points: one interface, two proposers.

- `Planned`: grid and random sweeps, whose points are planned upfront from the seed: a round is the
  next slice of them (rounds exist for them when metric.target is checked between rounds, or for
  hyperband's rungs);
- `Optuna`: bayes, W&B's model-based search, offline: Optuna's TPE sampler (or its Gaussian process,
  sweep.sampler: gp), told every finished point and asked for the round's points.

Both make points with the plan's own factory (sweep.PointMaker: same defaults, context and 'auto'), so
a round's point has the id the plan would give it.
"""

from __future__ import annotations

import warnings
from typing import Protocol

from .points import Point
from .sweep import PointMaker, Spec, expand, uniform01, value_at

# Which points a round proposes, not what they compute (their ids carry that): not part of an id.
RESULT_CODE = False


class Proposer(Protocol):
    def propose(self, spec: Spec, settings: dict, *, round: int, start: int, size: int,
                done: list[dict]) -> list[Point]:
        """Up to `size` new points for round `round`; `done`: every finished point of earlier rounds
        (finished records with history and `u`); `start`: where the round begins in a planned list."""


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


class Planned:
    def propose(self, spec, settings, *, round, start, size, done):
        return static_points(spec, settings, start + size)[start:start + size]


class Optuna:
    def propose(self, spec, settings, *, round, start, size, done):
        return propose_bayes(spec, settings, round, done, size) if size > 0 else []


def proposer_for(spec: Spec) -> Proposer:
    return Optuna() if spec.method == "bayes" else Planned()


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
