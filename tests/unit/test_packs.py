"""Packs: several points trained in one process, each with the files, cache identity and failure it
would have alone. The end-to-end tests run the real workflow; the others the pack runner's pieces."""

from __future__ import annotations

import json

from snakesweep.layout import POINT_FILES as FILES
from snakesweep.layout import files as output_paths
from snakesweep.plan import make_packs
from snakesweep.points import Point
from snakesweep.records import builtin_settings, cache_key, is_complete, keep, restore_kept


def points(n: int, kind: str = "cpu", start: int = 0) -> list[Point]:
    return [Point(f"{i:012x}", {}, {"accelerator": kind}, accelerator=kind) for i in range(start, start + n)]


def test_packs_are_stable_when_the_sweep_grows_and_keep_accelerators_apart():
    first = make_packs(points(7), 3)
    assert [len(p.points) for p in first] == [3, 3, 1]
    grown = make_packs(points(11), 3)
    assert grown[:2] == first[:2]  # full packs keep their members and ids
    assert grown[2].points[:1] == first[2].points and len(grown[2].points) == 3
    mixed = make_packs(points(2) + points(3, "gpu", start=2) + points(2, start=5), 2)
    assert [(p.accelerator, len(p.points)) for p in mixed] == [("cpu", 2), ("gpu", 2), ("cpu", 2), ("gpu", 1)]
    assert len({p.id for p in mixed}) == 4
    assert [len(p.points) for p in make_packs(points(3), 1)] == [1, 1, 1]


def test_a_point_is_complete_only_with_its_files_and_the_same_cache_key(tmp_path):
    member = Point("abcdef012345", {"seed": 1}, {"seed": 1})
    key = cache_key(member, builtin_settings(tracking={"enabled": False}))
    assert key == cache_key(member, builtin_settings(tracking={"enabled": False, "run_dir": "x"}))
    assert key != cache_key(member, builtin_settings(tracking={"enabled": True}))
    paths = output_paths(tmp_path / member.id)
    assert set(paths) == set(FILES)
    paths["metrics"].parent.mkdir()
    for name, path in paths.items():
        path.write_text(json.dumps({"cache_key": key, "status": "ok"}) if name == "metrics" else name)
    assert is_complete(paths, key) and not is_complete(paths, "another")
    keep(paths)
    paths["curve"].unlink()
    assert not is_complete(paths, key)
    paths["metrics"].unlink()
    assert restore_kept(paths, key) and is_complete(paths, key)
    paths["metrics"].write_text(json.dumps({"cache_key": key, "status": "error"}))
    assert not is_complete(paths, key)  # an error is never complete: the point trains again
