"""Structure checks: no import cycle among our modules, no hand-written module over 500 lines.

The import graph comes from the source (ast): every `import`/`from … import` anywhere in a module — also inside
functions, which still tie modules together — except under `if TYPE_CHECKING:`. A cycle is a strongly
connected component of more than one module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# (folder holding the top-level package, package) for every package we write by hand
PACKAGES = [(ROOT / "clients", "realm"), (ROOT / "ops", "realm_ops"), (ROOT, "services")]
MAX_LINES = 500


def generated(path: Path) -> bool:
    return "_pb2" in path.name


def modules() -> dict[str, Path]:
    found = {}
    for base, package in PACKAGES:
        for path in sorted((base / package).rglob("*.py")):
            if generated(path) or "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported_names(path: Path, module: str, is_package: bool) -> set[str]:
    """Dotted names a module imports (relative imports resolved; `from a import b` gives a.b and a)."""
    names: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking_only(child):
                continue
            if isinstance(child, ast.Import):
                names.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return names


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        edges = set()
        for name in imported_names(path, module, path.name == "__init__.py"):
            target = name
            while target and target not in known:  # the longest prefix that is one of our modules
                target = target.rpartition(".")[0]
            # A module always imports its parent packages first; that edge is Python's, not a design choice.
            if target and target != module and not module.startswith(target + "."):
                edges.add(target)
        graph[module] = edges
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def test_the_cycle_search_finds_a_cycle_it_is_shown():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert sorted(c for c in strongly_connected(graph) if len(c) > 1) == [["a", "b", "c"]]


def test_the_graph_sees_relative_and_function_level_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("from . import sibling\nfrom .other import thing\n"
                      "def f():\n    import services.kit.errors\n"
                      "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import services.vault\n")
    names = imported_names(module, "services.trainer.m", is_package=False)
    assert {"services.trainer.sibling", "services.trainer.other.thing", "services.kit.errors"} <= names
    assert "services.vault" not in names


def test_no_import_cycle_in_services_clients_or_ops():
    graph = import_graph()
    assert len(graph) > 100  # the search ran over the real tree
    cycles = [c for c in strongly_connected(graph) if len(c) > 1]
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("base,package", PACKAGES, ids=[p for _, p in PACKAGES])
def test_no_hand_written_module_over_500_lines(base, package):
    sizes = {str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
             for path in (base / package).rglob("*.py") if not generated(path) and "__pycache__" not in path.parts}
    assert sizes  # the package was found
    too_long = {path: lines for path, lines in sizes.items() if lines > MAX_LINES}
    assert too_long == {}, f"over {MAX_LINES} lines: {too_long}"
