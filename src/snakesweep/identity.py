"""Which code a point's numbers depend on, as a digest that is part of every point's id.

A point's id names everything that decides its results: its hyperparameters, the data, the split, and
the code that computes them. That code is found, not listed: the modules the data and training jobs
run (ROOTS), and every module of this package they import, at any depth (imports inside functions
too), except modules that declare `RESULT_CODE = False` at their top: plotting, logging, the file
layout, the summary, the runners' bookkeeping. Their imports are not followed either.

The digest is of what the code does, not how it is written down: each module is parsed, docstrings,
imports, `if TYPE_CHECKING:` blocks and the marker are dropped, and each remaining top-level statement
is dumped without line numbers. The dumps of all modules are sorted together, so comments, docstrings,
formatting, the order of definitions and the module a definition lives in do not count; a change to
any statement of the training path does. The project's version is not part of it (see CHANGELOG.md).
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

RESULT_CODE = False

PACKAGE = "snakesweep"
# The modules whose functions the data and training jobs call: preparing and splitting the data, and
# training a point (alone, as units, or as the final model) on the data a pack holds.
ROOTS = ("prepare", "unitdata", "train")
MARKER = "RESULT_CODE"


def _module_file(root: Path, name: str) -> Path | None:
    """The file of module `name` (dotted, inside the package; '' is the package itself)."""
    base = root.joinpath(*name.split(".")) if name else root
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _is_marker(node: ast.AST) -> bool:
    return (isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name) and node.targets[0].id == MARKER)


def marked_out(tree: ast.Module) -> bool:
    """Whether a module declares `RESULT_CODE = False`: its code does not change any point's numbers."""
    for node in tree.body:
        if _is_marker(node) and isinstance(node.value, ast.Constant):
            return node.value.value is False
    return False


def imported(tree: ast.Module, name: str, is_package: bool) -> set[str]:
    """The package's own modules that a module imports, anywhere in it but `if TYPE_CHECKING:` blocks."""
    package = name if is_package else name.rpartition(".")[0]
    skip = {id(n) for block in ast.walk(tree) if _is_type_checking(block) for s in block.body for n in ast.walk(s)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                module = ".".join(filter(None, [".".join(parts), node.module or ""]))
            elif node.module == PACKAGE or (node.module or "").startswith(PACKAGE + "."):
                module = node.module[len(PACKAGE):].lstrip(".")
            else:
                continue
            out.add(module)
            # `from . import data` imports a module; `from .io import x` a name (not a module: ignored).
            out.update(".".join(filter(None, [module, a.name])) for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name[len(PACKAGE) + 1:] for a in node.names if a.name.startswith(PACKAGE + "."))
    return out


def result_modules(root: str | Path | None = None, roots=ROOTS) -> list[str]:
    """The modules on the training path, found from the roots' imports (dotted names, sorted)."""
    root = Path(root) if root is not None else Path(__file__).parent
    seen, todo, found = set(), list(roots), []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(root, name)
        if path is None:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        if marked_out(tree):
            continue
        found.append(name)
        todo.extend(imported(tree, name, path.name == "__init__.py"))
    return sorted(found)


class _Normalise(ast.NodeTransformer):
    """Drop what does not change what code computes: docstrings and imports (whose module names change
    when a definition moves between modules; the names imported stay, as the code uses them)."""

    def _strip_docstring(self, node):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
        return node

    def visit_FunctionDef(self, node):
        return self.generic_visit(self._strip_docstring(node))

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_ClassDef = visit_FunctionDef

    def visit_ImportFrom(self, node):
        if node.level or (node.module or "").startswith(PACKAGE):
            return ast.Import(names=[ast.alias(name=a.asname or a.name) for a in node.names])
        return node


def statements(path: Path) -> list[str]:
    """A module's top-level statements as normalised dumps."""
    tree = ast.parse(path.read_text(), filename=str(path))
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    out = []
    for node in body:
        if _is_type_checking(node) or _is_marker(node):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        # A top-level import of the package's own names moves with the definition it serves.
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(PACKAGE)):
            continue
        out.append(ast.dump(_Normalise().visit(node), annotate_fields=False, include_attributes=False))
    return out


def code_digest(root: str | Path | None = None) -> str:
    """A digest of what the training path computes (this package's unless `root` is given)."""
    root = Path(root) if root is not None else Path(__file__).parent
    dumps = sorted(s for name in result_modules(root) for s in statements(_module_file(root, name)))
    h = hashlib.sha256()
    for s in dumps:
        h.update(s.encode() + b"\0")
    return h.hexdigest()[:16]
