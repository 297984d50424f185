"""Everything decided when the DAG is built: the validated sweep, its points and their ids.

Called by workflow/rules/common.smk on every Snakemake invocation, so it stays cheap: no torch import,
no full data read. Every check that can fail on bad input runs here, before any job starts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from . import SnakesweepError, data
from .hparams import defaults_from_config
from .split import check_fractions
from .sweep import Spec, expand, load_spec, parse_spec

# The modules whose code determines a trained point's result: editing them gives new point ids, so a
# result is never mixed up with one that older code produced.
RESULT_MODULES = ("hparams.py", "data.py", "split.py", "model.py", "train.py", "engine_lightning.py",
                  "metrics.py")


@dataclass
class Plan:
    spec: Spec
    points: list[dict]
    context: dict

    @property
    def ids(self) -> list[str]:
        return [p["point"] for p in self.points]

    def hparams(self, point: str) -> dict:
        return self.by_id[point]["hparams"]

    @property
    def by_id(self) -> dict:
        return {p["point"]: p for p in self.points}

    def rows(self) -> list[dict]:
        """The points table: one row per point, a column per swept parameter."""
        return [{"point": p["point"], **p["params"]} for p in self.points]


def code_digest() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256()
    for name in RESULT_MODULES:
        h.update(name.encode() + b"\0" + (here / name).read_bytes())
    return h.hexdigest()[:16]


def _version(pkg: str) -> str | None:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def resolve_accelerator(hparams: dict, gpus_visible: int) -> dict:
    """'auto' becomes 'gpu' or 'cpu' here, once, so a job's resources and its id agree."""
    if hparams["accelerator"] == "auto":
        return {**hparams, "accelerator": "gpu" if gpus_visible > 0 else "cpu"}
    return hparams


def check_local_data(cfg: dict, base: Path) -> None:
    """Catch a missing file or label column now rather than in a job (the full check runs in a job)."""
    source = cfg["source"]
    if data.source_kind(source) != "file":
        return
    path = base / source
    header = data.read_header(path)
    if cfg["target"] not in header:
        raise SnakesweepError(f"data.target: column '{cfg['target']}' is not in '{source}'; its columns are "
                              f"{header[:12]}" + (" ..." if len(header) > 12 else ""))


def make_plan(config: dict, base: str | Path = ".", gpus_visible: int | None = None) -> Plan:
    base = Path(base)
    dcfg, scfg = config["data"], config["split"]
    kind = data.source_kind(dcfg["source"])
    if kind == "url" and not dcfg.get("sha256"):
        raise SnakesweepError(f"data.sha256: required for the URL source {dcfg['source']!r}, so the download "
                              "can be checked; set it to the file's sha256")
    check_local_data(dcfg, base)
    fractions = check_fractions(scfg["fractions"])
    defaults = defaults_from_config(config["train"])
    if gpus_visible is None and defaults["accelerator"] == "auto":
        from .gpu import count_gpus

        gpus_visible = count_gpus()
    spec_path = base / config["sweep"]["file"]
    spec = parse_spec(load_spec(spec_path), source=f"sweep.file '{config['sweep']['file']}'")
    source = dcfg["source"] if kind != "file" else str(base / dcfg["source"])
    context = {
        "data": data.fingerprint(source, dcfg.get("sha256")),
        "target": dcfg["target"],
        "positive_class": None if dcfg.get("positive_class") is None else str(dcfg["positive_class"]),
        "exclude": sorted(dcfg.get("exclude", [])),
        "drop_missing": bool(dcfg.get("drop_missing")),
        "split": {"fractions": fractions, "seed": scfg["seed"], "standardize": scfg["standardize"]},
        "code": code_digest(),
        "torch": _version("torch"),
        "lightning": _version("lightning"),
    }
    if gpus_visible is None and any(p.name == "accelerator" and "auto" in p.values for p in spec.params):
        from .gpu import count_gpus

        gpus_visible = count_gpus()
    points = expand(spec, count=config["sweep"]["count"], seed=config["sweep"]["seed"], defaults=defaults,
                    context=context, resolve=lambda hp: resolve_accelerator(hp, gpus_visible or 0))
    return Plan(spec, points, context)
