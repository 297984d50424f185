"""The environment locks (requirements/py3.X*.txt) agree with pyproject.toml and environment.yml, and the
crate's check of the installed packages against them names every difference."""

import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from snakesweep import lock

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
PYTHONS = ("3.11", "3.12")


def requirements(group: str) -> list[Requirement]:
    reqs = [*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["workflow"]]
    if group == "-test":
        reqs += [r for r in PROJECT["optional-dependencies"]["dev"] if not r.startswith("snakesweep")]
    return [Requirement(r) for r in reqs]


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("group", ["", "-test"])
def test_every_dependency_is_locked_within_its_range(python, group):
    path = REPO / lock.FOLDER / f"py{python}{group}.txt"
    pins = lock.read_lock(path)
    assert len(pins) > 50 and all(p["hashes"] for p in pins.values()), f"{path.name}: pins without hashes"
    for req in requirements(group):
        pin = pins.get(lock.canonical(req.name))
        assert pin, f"{path.name} does not lock {req.name}"
        assert req.specifier.contains(pin["version"], prereleases=True), (
            f"{path.name}: {req.name}=={pin['version']} is outside pyproject.toml's {req.specifier}")
    if group == "":
        # The test group holds the workflow's pins unchanged, and more.
        test_pins = lock.read_lock(REPO / lock.FOLDER / f"py{python}-test.txt")
        assert {k: v["version"] for k, v in pins.items()} == {k: test_pins[k]["version"] for k in pins}


def test_requires_python_is_what_is_locked():
    spec = SpecifierSet(PROJECT["requires-python"])
    assert [v for v in ("3.10", "3.11", "3.12", "3.13") if spec.contains(f"{v}.0")] == list(PYTHONS)
    locked = sorted(p.name for p in (REPO / lock.FOLDER).glob("py*.txt"))
    assert locked == sorted(f"py{v}{g}.txt" for v in PYTHONS for g in ("", "-test"))


def test_environment_yml_pins_the_locked_versions():
    env = yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]
    pins = lock.read_lock(REPO / lock.FOLDER / "py3.11.txt")
    conda = [d for d in env if isinstance(d, str) and d not in ("pip",)]
    pip = next(d["pip"] for d in env if isinstance(d, dict))
    assert "python=3.11" in conda
    named = set()
    for spec in [*[c for c in conda if not c.startswith("python=")], *pip]:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", spec)
        assert m, f"environment.yml: {spec!r} is not an exact pin"
        name, version = lock.canonical(m.group(1)), m.group(2)
        named.add(name)
        assert SpecifierSet(f"=={version}").contains(pins[name]["version"]), (spec, pins[name]["version"])
    top = {lock.canonical(r.name) for r in requirements("")}
    assert top <= named, f"environment.yml lacks {sorted(top - named)}"


def test_read_lock_and_compare_installed(tmp_path, monkeypatch):
    folder = tmp_path / lock.FOLDER
    folder.mkdir()
    from importlib.metadata import version

    (folder / lock.lock_name()).write_text(
        "# a comment\n"
        f"numpy=={version('numpy')} \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n    # via x\n"
        "pyyaml==0.0.1 \\\n    --hash=sha256:cc\n"
        "not-installed-anywhere==1.0 \\\n    --hash=sha256:dd\n"
        "pywin32==306 ; sys_platform == 'win32' \\\n    --hash=sha256:ee\n")
    pins = lock.read_lock(folder / lock.lock_name())
    assert pins["numpy"]["hashes"] == ["sha256:aa", "sha256:bb"] and pins["pywin32"]["marker"]
    result = lock.compare_installed(folder)
    assert result["matches"] is False
    assert result["differences"] == [
        "not-installed-anywhere: 1.0 locked, not installed", f"pyyaml: 0.0.1 locked, {version('pyyaml')} installed"]
    assert lock.compare_installed(tmp_path / "none")["matches"] is None


@pytest.mark.skipif(os.environ.get("SNAKESWEEP_FROM_LOCK") != "1",
                    reason="this environment was not installed from the lock (.ci/run's is)")
def test_this_environment_matches_its_lock_when_installed_from_it():
    result = lock.compare_installed(REPO / lock.FOLDER)
    assert result["matches"] is True, result
