"""The suite itself: no test skips because a dependency is missing, and the tiers a run collects."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_no_test_skips_for_a_missing_dependency():
    # Every dependency is installed by `pip install -e .[dev]`: a missing one must fail the suite.
    tests = Path(__file__).parents[1]
    offenders = [p.name for p in tests.rglob("*.py") if "importorskip" + "(" in p.read_text()]
    assert len(list(tests.rglob("test_*.py"))) > 30  # it looks at every tier's files
    assert offenders == []


def collected(*args: str) -> list[str]:
    """The test ids a pytest run from the repository's root would collect with these arguments."""
    root = Path(__file__).parents[2]
    p = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                       cwd=root, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return [line for line in p.stdout.splitlines() if "::" in line]


def test_a_plain_pytest_collects_the_unit_tier_and_m_picks_another():
    plain = collected()
    assert len(plain) >= 300 and all(t.startswith("tests/unit/") for t in plain)
    cluster = collected("-m", "slurm")
    assert cluster and all(t.startswith("tests/slurm/") for t in cluster)
    everything = collected("--all-tiers")
    tiers = {t.split("/")[1] for t in everything}
    assert tiers == {"unit", "workflow", "slurm", "browser", "galaxy", "gpu"}
    assert set(plain) | set(cluster) <= set(everything)
