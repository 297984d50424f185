"""The environment lock: requirements/py3.X.txt, exact versions and hashes of everything the workflow
installs, per Python version (Linux x86-64), written by requirements/lock.sh with uv.

This module reads a lock and compares it with what is installed, for the run's crate ("did the
environment match the lock?") and for the test that keeps the lock in step with pyproject.toml.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

# How a run is recorded, not what it computes: not part of a point's id (identity.py).
RESULT_CODE = False

FOLDER = "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)\s*(;\s*([^\\#]+?))?\s*(\\)?\s*$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_name(python: str | None = None) -> str:
    major, minor = (python or platform.python_version()).split(".")[:2]
    return f"py{major}.{minor}.txt"


def read_lock(path: str | Path) -> dict[str, dict]:
    """A lock's pins: name -> {version, marker, hashes}."""
    pins: dict[str, dict] = {}
    current = None
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            if current is not None:
                current["hashes"].append(line.split("=", 1)[1].rstrip("\\ ").strip())
            continue
        m = PIN.match(line)
        if m:
            current = {"version": m.group(3), "marker": (m.group(5) or "").strip() or None, "hashes": []}
            pins[canonical(m.group(1))] = current
    return pins


def applies(pin: dict) -> bool:
    """Whether a pin's environment marker holds here."""
    if not pin.get("marker"):
        return True
    from packaging.markers import Marker

    return Marker(pin["marker"]).evaluate()


def installed() -> dict[str, str]:
    """Every installed distribution's version by canonical name. Read from the names of the `.dist-info`
    folders ({name}-{version}.dist-info, as wheels install them), each folder of the path once: parsing
    every distribution's metadata would cost half a second."""
    import os
    import sys

    out: dict[str, str] = {}
    # A job started by Snakemake has its parent's path added again: each folder once.
    for folder in dict.fromkeys(sys.path):
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info") and "-" in name:
                dist, version = name[: -len(".dist-info")].split("-", 1)
                out.setdefault(canonical(dist), version)
    return out


def compare_installed(folder: str | Path, versions: dict[str, str] | None = None) -> dict:
    """Whether the installed packages are the ones the lock for this Python pins (a local build label
    such as torch's `+cpu` matches its version, as pip's `==` does)."""
    from packaging.specifiers import SpecifierSet

    path = Path(folder) / lock_name()
    if not path.is_file():
        return {"file": f"{FOLDER}/{path.name}", "matches": None, "note": "no lock for this Python"}
    versions = installed() if versions is None else versions
    differences = []
    for name, pin in sorted(read_lock(path).items()):
        if not applies(pin):
            continue
        have = versions.get(name)
        if have is None:
            differences.append(f"{name}: {pin['version']} locked, not installed")
            continue
        if not SpecifierSet(f"=={pin['version']}").contains(have, prereleases=True):
            differences.append(f"{name}: {pin['version']} locked, {have} installed")
    return {"file": f"{FOLDER}/{path.name}", "matches": not differences, "differences": differences}
