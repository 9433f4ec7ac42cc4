"""The package's layout keeps its shape: modules a reader takes in at once, functions that fit on
a screen, and subpackages (data, gcn, models, report, config) that reach into each other only
through public names."""

import ast

import pytest

from helpers import REPO

PACKAGE = REPO / "src" / "gpgcn"
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60
MODULES = sorted(PACKAGE.rglob("*.py"))


def subpackage_of(path):
    """The subpackage a module lies in (None at the package's top level)."""
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def imported(path, node):
    """The package-relative parts of what a relative import names (its module, then its names)."""
    here = list(path.relative_to(PACKAGE).parts[:-1])
    base = here[: len(here) - (node.level - 1)] if node.level > 1 else here
    return base + (node.module.split(".") if node.module else [])


def private_reaches(path, tree):
    """Imports from another subpackage of a private module or name (one starting with _)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            target = imported(path, node)
            if target and target[0] != subpackage_of(path) and (target[0] + ".py") != path.name:
                names = [*target[1:], *(alias.name for alias in node.names)]
                found += [f"{'.'.join(target)}: {name}" for name in names if name.startswith("_")]
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_keeps_the_layouts_limits(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name}: over {MAX_MODULE_LINES} lines"
    tree = ast.parse(text)
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
    assert not private_reaches(path, tree), "private names of another subpackage imported"


def test_a_private_name_of_another_subpackage_is_caught(tmp_path):
    """The check itself: `from ..data.kinship import _helper` in models/ is caught, a public name
    and a private name of the module's own subpackage are not."""
    path = PACKAGE / "models" / "example.py"
    tree = ast.parse("from ..data.kinship import _helper, read_kinship\nfrom .gblup import _Eigen\n")
    assert private_reaches(path, tree) == ["data.kinship: _helper"]
