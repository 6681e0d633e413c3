"""One place for each thing: the environment defaults are set in one function, and no first-party modules
import each other in a cycle (a cycle means a type or helper lives on the wrong side)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from assistant.settings import PROJECT_ROOT

PACKAGES = ("assistant", "evals")
SETS_ENVIRONMENT = re.compile(r"os\.environ\[|environ\.setdefault")


def _sources() -> list[Path]:
    return [PROJECT_ROOT / "app.py", *(f for p in PACKAGES for f in sorted((PROJECT_ROOT / p).rglob("*.py")))]


def test_only_the_settings_module_sets_environment_variables() -> None:
    setters = [
        f.relative_to(PROJECT_ROOT).as_posix() for f in _sources() if SETS_ENVIRONMENT.search(f.read_text())
    ]
    assert setters == ["assistant/settings.py"]


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """First-party modules ``path`` imports, at any level (TYPE_CHECKING blocks included)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            submodules = {f"{base}.{alias.name}" for alias in node.names} & known
            found |= submodules or ({base} & known)
    return found - {module}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            component.append(node)
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return cycles


def test_no_import_cycles() -> None:
    files = {_module(f): f for f in _sources() if f.name != "app.py"}
    graph = {m: _imports(f, m, set(files)) for m, f in files.items()}
    assert sum(map(len, graph.values())) > 20  # the scan does find imports
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
