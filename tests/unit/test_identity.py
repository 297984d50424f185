"""A point's id depends on what the training path computes, and on nothing else (identity.py)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import snakesweep
from snakesweep.identity import ROOTS, code_digest, imported, result_modules

SRC = Path(snakesweep.__file__).parent


@pytest.fixture
def tree(tmp_path):
    """A copy of the package's modules to edit."""
    dst = tmp_path / "snakesweep"
    shutil.copytree(SRC, dst, ignore=shutil.ignore_patterns("__pycache__"))
    assert code_digest(dst) == code_digest()
    return dst


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}: the test no longer plants its change"
    path.write_text(text.replace(old, new, 1))


def test_the_training_path_is_found_from_the_roots_imports():
    found = set(result_modules())
    # What computes numbers: the data jobs, the split, the folds, the model, the engines, the kernel.
    assert {"prepare", "data", "split", "folds", "model", "kernel", "engine_torch", "engine_lightning",
            "train", "unitdata", "metrics", "hparams", "selection"} <= found
    # What only draws, logs, names files, decides where or whether a point runs, or summarises.
    assert not found & {"curves", "io", "layout", "tracking", "gpu", "runner", "runners", "records", "jobs",
                        "evaluate", "plan", "own", "choose", "ranking", "identity", ""}
    assert set(ROOTS) <= found


def test_imports_inside_functions_count_and_type_checking_ones_do_not():
    import ast

    tree = ast.parse("from .a import x\ndef f():\n    from .b import y\n"
                     "if TYPE_CHECKING:\n    from .c import z\nimport snakesweep.d\n")
    assert imported(tree, "m", False) >= {"a", "b", "d"} and "c" not in imported(tree, "m", False)


def reword(path: Path) -> None:
    """Comments, a reworded module docstring, a function's docstring, blank lines: nothing computed."""
    text = path.read_text()
    m = re.match(r'(\s*(?:#[^\n]*\n)*\s*""")(.*?)(""")', text, re.S)
    if m:
        text = text[:m.end(2)] + " Reworded." + text[m.end(2):]
    text = re.sub(r'(\ndef \w+\(.*?\).*?:\n    """)', r"\1Reworded. ", text, count=1, flags=re.S)
    path.write_text("# A comment.\n" + text.replace("\n\ndef ", "\n\n\n# why\ndef ") + "\n")


def test_comments_docstrings_and_layout_do_not_change_the_digest(tree):
    for f in tree.glob("*.py"):
        reword(f)
    assert code_digest(tree) == code_digest()


def test_moving_a_definition_to_another_module_does_not_change_the_digest(tree):
    # make_optimizer moves from the kernel into the model module; the kernel imports it from there.
    kernel, model = tree / "kernel.py", tree / "model.py"
    text = kernel.read_text()
    start = text.index("def make_optimizer(")
    end = text.index("\ndef ", start + 1)
    moved = text[start:end]
    kernel.write_text(text[:start] + text[end:].lstrip("\n"))
    edit(kernel, "from .model import ", "from .model import make_optimizer\nfrom .model import ")
    model.write_text(model.read_text() + "\n\nfrom .kernel import OPTIMIZERS  # noqa: E402\n\n\n" + moved)
    assert code_digest(tree) == code_digest()


def test_a_module_off_the_training_path_does_not_change_the_digest(tree):
    for name in ("curves.py", "evaluate.py", "layout.py", "runner.py", "plan.py"):
        with open(tree / name, "a") as fh:
            fh.write("\nX_CHANGED = 1\n")
    assert code_digest(tree) == code_digest()


@pytest.mark.parametrize(("module", "old", "new"), [
    ("engine_torch.py", "nn.BCEWithLogitsLoss()", "nn.BCEWithLogitsLoss(reduction='sum')"),  # the loss
    ("kernel.py", "lr=hp[\"learning_rate\"]", "lr=2 * hp[\"learning_rate\"]"),  # the optimiser
    ("kernel.py", "return list(torch.split(perm, batch_size))",
     "return list(torch.split(perm.flip(0), batch_size))"),  # the batch order
    ("split.py", "def ", "EPS = 1e-9\n\n\ndef "),  # a new constant on the path
])
def test_a_change_to_what_is_computed_changes_the_digest(tree, module, old, new):
    edit(tree / module, old, new)
    assert code_digest(tree) != code_digest()


def test_a_module_newly_imported_by_the_training_path_counts(tree):
    (tree / "extra.py").write_text("def scale(x):\n    return x * 2\n")
    assert code_digest(tree) == code_digest()
    edit(tree / "train.py", "from . import ", "from .extra import scale  # noqa: F401\nfrom . import ")
    assert code_digest(tree) != code_digest()


def test_marking_a_module_out_removes_it_from_the_path(tree):
    before = result_modules(tree)
    assert "selection" in before
    edit(tree / "selection.py", "\nimport ", "\nRESULT_CODE = False\nimport ")
    assert "selection" not in result_modules(tree)


def test_the_version_is_not_part_of_the_digest(tree):
    edit(tree / "__init__.py", f'__version__ = "{snakesweep.__version__}"', '__version__ = "99.0.0"')
    assert code_digest(tree) == code_digest()
