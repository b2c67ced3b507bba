"""The library's import layering, read from the source with `ast` (nothing is imported).

Layers, lowest first (stargan_lib/README.md explains each module):

  0 helpers      utils, errors, presets, paths, schedules, threads, nbtools, configs_v2, the package itself
  1 data         data.*
  2 models       models.*
  3 losses       losses.*
  4 train        train.*
  5 metrics      metrics.*
  6 experiments  experiments.*, ablation.*
  7 notebook     widgets, widgets_v2, viz, checks.*   (what notebooks call to show and check things)
  8 cli          cli.*, __main__

A module imports only from its own layer or a lower one; imports inside functions count too (they
still tie the two modules together). Also checked: no import cycle between files, no private name
(`_name`) imported from another module, and no module over `MAX_LINES` lines.

There are no exceptions: an import that breaks a rule is moved, not listed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "stargan_lib"
MAX_LINES = 650

LAYERS = {
    0: ("stargan_lib", "utils", "errors", "presets", "paths", "schedules", "threads", "nbtools", "configs_v2", "locks",
        "grids", "figures"),
    1: ("data",),
    2: ("models",),
    3: ("losses",),
    4: ("train",),
    5: ("metrics",),
    6: ("experiments", "ablation"),
    7: ("widgets", "widgets_v2", "viz", "checks"),
    8: ("cli", "__main__"),
}
NAMES = {0: "helpers", 1: "data", 2: "models", 3: "losses", 4: "train", 5: "metrics", 6: "experiments",
         7: "notebook tools", 8: "cli"}



def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts) or "stargan_lib"


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    top = module.split(".")[0]
    for level, names in LAYERS.items():
        if top in names:
            return level
    raise AssertionError(f"stargan_lib.{module} is in no layer: add it to LAYERS in {__file__} and a line for it "
                         "to stargan_lib/README.md")


def _resolve(importer: str, node: ast.ImportFrom) -> str | None:
    """The course module a `from ... import` reads from ("" for the package itself), or None."""
    if node.level:
        base = importer.split(".") if MODULES[importer].name == "__init__.py" else importer.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        return ".".join(base + ([node.module] if node.module else []))
    if node.module == "stargan_lib":
        return "stargan_lib"
    if node.module and node.module.startswith("stargan_lib."):
        return node.module[len("stargan_lib."):]
    return None


def _imports(module: str) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every course import in `module`."""
    tree = ast.parse(MODULES[module].read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("stargan_lib."):
                    out.append((alias.name[len("stargan_lib."):], None, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if target is None:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target != "stargan_lib" else alias.name
                if sub in MODULES:                                  # `from package import submodule`
                    out.append((sub, None, node.lineno))
                else:
                    out.append((target, alias.name, node.lineno))
    return out


def test_every_module_has_a_layer():
    for module in MODULES:
        _layer(module)


def test_imports_go_only_to_the_same_or_a_lower_layer():
    bad = []
    for module in MODULES:
        for target, _, line in _imports(module):
            if target not in MODULES:
                bad.append(f"stargan_lib/{MODULES[module].relative_to(PACKAGE)}:{line} imports a missing module "
                           f"stargan_lib.{target}")
                continue
            if _layer(target) <= _layer(module):
                continue
            bad.append(f"stargan_lib/{MODULES[module].relative_to(PACKAGE)}:{line}: {module} "
                       f"({NAMES[_layer(module)]}) imports {target} ({NAMES[_layer(target)]}), a higher layer")
    assert not bad, "\n".join(bad)


def test_no_private_name_is_imported_from_another_module():
    bad = []
    for module in MODULES:
        for target, name, line in _imports(module):
            if name is None or not name.startswith("_") or name.startswith("__") or target == module:
                continue
            bad.append(f"stargan_lib/{MODULES[module].relative_to(PACKAGE)}:{line} imports the private {name} of "
                       f"{target}: make it public (documented) in the module it belongs to")
    assert not bad, "\n".join(bad)


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One import cycle of `graph` (module -> imported modules) as [a, b, ..., a], or None."""
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for t in graph.get(m, []):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state:
                cycle = visit(t)
                if cycle:
                    return cycle
        path.pop()
        state[m] = 2
        return None

    for m in graph:
        if m not in state:
            cycle = visit(m)
            if cycle:
                return cycle
    return None


def test_no_import_cycle_between_files():
    graph = {m: sorted({t for t, _, _ in _imports(m) if t in MODULES and t != m}) for m in MODULES}
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_is_too_long(module):
    n = len(MODULES[module].read_text().splitlines())
    assert n <= MAX_LINES, (f"stargan_lib/{MODULES[module].relative_to(PACKAGE)} has {n} lines (> {MAX_LINES}): split "
                            "it by what it holds (see stargan_lib/README.md)")


def test_the_checker_sees_a_violation():
    """The checks above can fail: an import upwards, a relative import and a cycle are recognised."""
    tree = ast.parse("from stargan_lib.cli import main\n")
    node = tree.body[0]
    assert _resolve("data.datasets", node) == "cli" and _layer("cli") > _layer("data.datasets")
    rel = ast.parse("from .settings import x\n").body[0]
    assert _resolve("ablation.runner", rel) == "ablation.settings"
    assert _resolve("ablation", rel) == "ablation.settings"
    assert _find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": []}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None
