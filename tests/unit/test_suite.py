"""The suite itself: no test skips because a dependency is missing."""

from __future__ import annotations

from pathlib import Path


def test_no_test_skips_for_a_missing_dependency():
    # Every dependency is installed by `pip install -e .[dev]`: a missing one must fail the suite.
    tests = Path(__file__).parents[1]
    offenders = [p.name for p in tests.rglob("*.py") if "importorskip" + "(" in p.read_text()]
    assert len(list(tests.rglob("test_*.py"))) > 30  # it looks at every tier's files
    assert offenders == []
