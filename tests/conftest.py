"""Shared pytest hooks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

CLUSTER = Path(__file__).parent / "slurm" / "cluster.sh"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed cluster test shows the SLURM daemons' logs beside its own output."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and item.get_closest_marker("slurm") is not None:
        logs = subprocess.run(["bash", str(CLUSTER), "logs"], capture_output=True, text=True, timeout=60)
        report.sections.append(("SLURM daemons' logs (tests/slurm/cluster.sh logs)", logs.stdout + logs.stderr))
