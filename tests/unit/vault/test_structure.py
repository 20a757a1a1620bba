"""The vault package's shape: no import cycles, no module over 500 lines, the upload writer free of the domain."""

from __future__ import annotations

import ast
from pathlib import Path

import services.vault

PACKAGE = Path(services.vault.__file__).parent
MAX_LINES = 500


def import_graph(package_dir: Path, package: str) -> dict[str, set[str]]:
    """module -> modules of the same package it imports (TYPE_CHECKING imports included)."""
    modules = {f"{package}.{p.stem}": p for p in package_dir.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            deps |= {t for t in targets if t in modules and t != name}
        graph[name] = deps
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep):], dep])
            elif dep not in state:
                visit(dep, path)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return cycles


def test_the_cycle_finder_finds_a_cycle():
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}}
    assert find_cycles(graph) == [["p.a", "p.b", "p.c", "p.a"]]


def test_vault_modules_import_without_cycles():
    graph = import_graph(PACKAGE, "services.vault")
    assert "services.vault.domain" in graph and graph["services.vault.domain"]
    assert find_cycles(graph) == []


def test_the_upload_writer_knows_only_its_progress_protocol():
    deps = import_graph(PACKAGE, "services.vault")["services.vault.uploads"]
    assert deps.isdisjoint({"services.vault.domain", "services.vault.catalog", "services.vault.upload_store"})


def test_no_vault_module_is_over_500_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in PACKAGE.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
