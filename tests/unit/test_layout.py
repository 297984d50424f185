"""One owner of the results layout: every path under results/ comes from layout.py."""

from __future__ import annotations

import ast
from pathlib import Path

import snakesweep
from snakesweep import layout

SRC = Path(snakesweep.__file__).parent
REPO = SRC.parent.parent


def code_strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef) and n.body
            and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def test_a_points_files_are_named_once():
    assert layout.point("abc", "metrics") == "results/points/abc/metrics.json"
    assert layout.point("{point}", "model") == "results/points/{point}/model.pt"
    assert layout.files("results/points/abc")["curve"] == Path("results/points/abc/learning_curve.svg")
    assert layout.stage_dir("abc", 3) == Path("results/points/abc/e3")
    assert layout.final("abc", "metrics") == "results/final/abc/metrics.json"
    assert layout.metrics_files(["a", "b"]) == ["results/points/a/metrics.json", "results/points/b/metrics.json"]


def test_units_sit_beside_the_points_of_the_same_results_folder(tmp_path):
    folder = tmp_path / "res" / "points" / "abc"
    assert layout.unit_dir("base", "r0-f1-s0", layout.results_of(folder)) == tmp_path / "res/units/base/r0-f1-s0"


def test_no_other_library_module_spells_the_points_folder():
    spelled = [p.name for p in SRC.glob("*.py") if any("results/points" in s for s in code_strings(p))]
    assert spelled == []  # layout.py builds it from its parts; nobody else writes it


def test_the_rule_files_take_point_paths_from_the_layout():
    for f in [REPO / "Snakefile", *(REPO / "workflow/rules").glob("*.smk")]:
        assert "results/points" not in f.read_text(), f.name
