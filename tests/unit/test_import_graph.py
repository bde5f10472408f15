"""The control plane's modules import each other at module level only, without a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("jobs", "accounts", "dtleweb")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found[_module_name(path)] = ast.parse(path.read_text(), str(path))
    return found


def _imported(node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
        f"{node.module}.{a.name}" for a in node.names] + [node.module or ""]
    return {n for n in names if n in known}


def test_no_project_module_is_imported_inside_a_function() -> None:
    modules = _modules()
    hidden = []
    for name, tree in modules.items():
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(func):
                    if isinstance(node, ast.Import | ast.ImportFrom) and _imported(node, set(modules)):
                        hidden.append(f"{name}:{node.lineno}")
    assert hidden == []


def test_the_module_graph_has_no_cycle() -> None:
    modules = _modules()
    graph = {name: set() for name in modules}
    for name, tree in modules.items():
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                graph[name] |= _imported(node, set(modules)) - {name}
    # a package's __init__ importing its own submodules is not a cycle through them
    for name in graph:
        graph[name] = {d for d in graph[name] if not name.startswith(d + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []
