"""A sweep point: one typed, frozen record, made by one factory that also gives it its id and its title.

The plan makes points (sweep.PointMaker), packs train them, a hyperband stage is a point trained to
fewer epochs, a point trained as units carries them, and the final model is the chosen point trained
on every row outside the test split: all of them are a `Point`. Where a point crosses into Snakemake
(rule params, whose rerun check compares only builtin types) or into a JSON file (a round's record), it
travels as `plain()`, a dict of builtin values, and comes back with `Point.from_plain`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from .hparams import effective

# Naming and carrying points; their numbers come from the training path: not part of an id itself.
RESULT_CODE = False


def point_id(hparams: dict, context: dict, own: bool = False) -> str:
    """A content-derived id: the same effective values and context always give the same id. An own
    program's parameters are all effective: only the program knows what they mean."""
    blob = json.dumps({"params": hparams if own else effective(hparams), "context": context}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def units_id(unit_base: str, repeats: int, seeds: int) -> str:
    """The id of a point trained as units: its unit base (the id of its configuration) with its count of
    repeats and seeds. More of them make another point, which keeps the units its base already trained."""
    return hashlib.sha256(f"{unit_base} repeats {repeats} seeds {seeds}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Point:
    """One point of a sweep, as the plan made it and as a pack trains it.

    id: content-derived (point_id); params: the swept values as the points table shows them (None where
    a setting has no effect); hparams: every value the built-in trainer uses (an own program's: its
    parameters); draws: which draws of the sweep it stands for; accelerator: where it trains.
    Adaptive sweeps add the round and, for bayes, the proposal `u` in CDF space. A point trained as
    units carries them (folds x seeds) and its unit base; a stage trains to `epochs`, resuming from
    `resume`; `final` marks the final model.
    """

    id: str
    params: dict
    hparams: dict
    draws: tuple[int, ...] = ()
    accelerator: str = "cpu"
    round: int | None = None
    u: dict | None = None
    units: tuple[dict, ...] = ()
    folds: int = 1
    repeats: int = 1
    seeds: int = 1
    unit_base: str | None = None
    epochs: int | None = None
    resume: str | None = None
    final: bool = False

    @property
    def base(self) -> str:
        """Where its units' files are kept: the unit base, or its own id."""
        return self.unit_base or self.id

    @property
    def title(self) -> str:
        """How plots and logs name it: its id and swept values ('-' where a value has no effect)."""
        shown = {"point": self.id, **{k: "-" if v is None else v for k, v in self.params.items()}}
        text = ", ".join(f"{k}={v}" for k, v in shown.items())
        return f"final model: {text}" if self.final else text

    def with_draw(self, draw: int) -> Point:
        return dataclasses.replace(self, draws=(*self.draws, draw))

    def with_units(self, units: list[dict], *, folds: int, repeats: int, seeds: int) -> Point:
        """The point trained once per unit; a new id (units_id), its configuration's id as unit base."""
        repeats = repeats if folds > 1 else 1
        return dataclasses.replace(self, id=units_id(self.id, repeats, seeds), unit_base=self.id,
                                   units=tuple(units), folds=folds, repeats=repeats, seeds=seeds)

    def as_final(self) -> Point:
        """The final model: the point's configuration once, on every row outside the test split."""
        return dataclasses.replace(self, units=(), folds=1, repeats=1, seeds=1, unit_base=None, final=True)

    def at_stage(self, epochs: int, resume: str | None) -> Point:
        """A hyperband stage: trained to `epochs` in total, resuming from a checkpoint of an earlier one."""
        return dataclasses.replace(self, epochs=epochs, resume=resume)

    def plain(self) -> dict:
        """Builtin values only, for Snakemake params and JSON files; `from_plain` reads it back."""
        out = {"point": self.id, "params": dict(self.params), "hparams": dict(self.hparams),
               "draws": list(self.draws), "accelerator": self.accelerator, "title": self.title}
        optional = {"round": self.round, "u": self.u, "unit_base": self.unit_base, "epochs": self.epochs,
                    "resume": self.resume}
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.units:
            out.update(units=[dict(u) for u in self.units], folds=self.folds, repeats=self.repeats,
                       seeds=self.seeds)
        if self.final:
            out["final"] = True
        return out

    @classmethod
    def from_plain(cls, record: dict) -> Point:
        known = {f.name for f in dataclasses.fields(cls)} - {"id"}
        values = {k: v for k, v in record.items() if k in known}
        hparams = values.get("hparams") or {}
        values.update(draws=tuple(values.get("draws") or ()), units=tuple(values.get("units") or ()),
                      accelerator=values.get("accelerator") or hparams.get("accelerator") or "cpu",
                      params=values.get("params") or {}, hparams=hparams)
        return cls(id=record["point"], **values)


def as_point(member: Point | dict) -> Point:
    return member if isinstance(member, Point) else Point.from_plain(member)
