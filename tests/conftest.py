"""The suite's tiers, chosen by folder, and the hooks every tier shares.

- tests/unit: the library on its own, fast; what a plain `pytest` runs.
- tests/workflow: real Snakemake runs, end to end (`-m workflow`).
- tests/slurm: the same against a real one-node SLURM cluster (`-m slurm`; tests/slurm/cluster.sh).
- tests/browser: the HTML report in a real headless Chromium (`-m browser`; tests/browser.sh).
- tests/galaxy: the Galaxy tools' own tests in a real Galaxy, offline (`-m galaxy`; tests/galaxy/galaxy.sh).
- tests/gpu: on a CUDA GPU (`-m gpu`; skipped without one).

Each test gets its tier's marker from its folder. With no `-m`, only the unit tier runs; `-m` picks
tiers as usual; `--all-tiers` runs every tier (the README's test command and CI).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
CLUSTER = TESTS / "slurm" / "cluster.sh"
GALAXY = TESTS / "galaxy" / "galaxy.sh"
TIERS = ("unit", "workflow", "slurm", "browser", "galaxy", "gpu")
DEFAULT_TIER = "unit"

# The support modules (e2e.py, browser.py) sit here, beside the tiers' folders that import them.
sys.path.insert(0, str(TESTS))


def pytest_configure(config):
    """Batched training keeps its probe's verdicts for every run on a machine (batched.machine_cache):
    the suite's runs, its subprocesses included, keep theirs in a folder of their own, never the user's."""
    import os
    import tempfile

    os.environ.setdefault("SNAKESWEEP_CACHE_DIR", tempfile.mkdtemp(prefix="snakesweep-test-probes-"))


def pytest_addoption(parser):
    parser.addoption("--all-tiers", action="store_true", default=False,
                     help=f"run every tier ({', '.join(TIERS)}); without it and without -m, only '{DEFAULT_TIER}'")


def tier_of(path: Path) -> str | None:
    try:
        folder = Path(path).resolve().relative_to(TESTS.resolve()).parts[0]
    except (ValueError, IndexError):
        return None
    return folder if folder in TIERS else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        tier = tier_of(item.path)
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))
    if config.option.markexpr or config.getoption("--all-tiers"):
        return
    selected = [i for i in items if i.get_closest_marker(DEFAULT_TIER) is not None]
    deselected = [i for i in items if i.get_closest_marker(DEFAULT_TIER) is None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def pytest_report_header(config):
    if config.option.markexpr:
        return f"tiers: as -m {config.option.markexpr!r} selects"
    if config.getoption("--all-tiers"):
        return f"tiers: all ({', '.join(TIERS)})"
    return (f"tiers: {DEFAULT_TIER} only; -m workflow|slurm|browser|galaxy|gpu for another, --all-tiers for every one")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed cluster or Galaxy test shows the servers' logs beside its own output."""
    outcome = yield
    report = outcome.get_result()
    for marker, script, what in (("slurm", CLUSTER, "SLURM daemons' logs"), ("galaxy", GALAXY, "Galaxy's log")):
        if report.failed and item.get_closest_marker(marker) is not None:
            logs = subprocess.run(["bash", str(script), "logs"], capture_output=True, text=True, timeout=60)
            name = script.relative_to(TESTS.parent)
            report.sections.append((f"{what} ({name} logs)", logs.stdout + logs.stderr))
