"""The house's rules, read from the code's own imports (ARCHITECTURE.md draws them):
data flows one way, from the entry points down to the ground floor, and no two modules
import each other, not even through an import hidden inside a function."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: each room and the rooms it may import (its own modules always); everything else is upward
MAY_IMPORT: dict[str, set[str]] = {
    "domain": set(),
    "settings": set(),
    "knowledge": {"domain"},
    "store": {"domain"},
    "prompts": {"domain"},
    "tools": {"domain", "knowledge", "store"},
    "demo": {"domain", "knowledge", "store", "tools"},
    "agents": {"domain", "knowledge", "store", "prompts", "tools", "settings"},
    "evals": {
        "domain",
        "knowledge",
        "store",
        "prompts",
        "tools",
        "demo",
        "agents",
        "settings",
        "ingest",
    },
    "api": {"domain", "knowledge", "store", "prompts", "tools", "agents", "settings"},
    "ingest": {"domain", "knowledge", "store", "prompts", "tools", "agents", "settings"},
    "web": {"settings"},
    "server": {"settings", "agents", "api", "web"},
    "cli": {
        "domain",
        "knowledge",
        "store",
        "prompts",
        "tools",
        "demo",
        "agents",
        "evals",
        "settings",
        "server",
        "ingest",
    },
}


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        top_file = len(rel.parts) == 1 and rel.stem in MAY_IMPORT
        if not top_file and (len(rel.parts) == 1 or rel.parts[0] not in MAY_IMPORT):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(root: Path) -> dict[str, set[str]]:
    """Module → the project modules it imports anywhere in its body (function-level and
    TYPE_CHECKING imports included: they are dependencies all the same)."""
    mods = modules(root)

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # ``from pkg import sub`` imports the submodule, not the package's __init__
                subs = [f"{node.module}.{a.name}" for a in node.names]
                targets = [s for s in subs if s in mods] or [node.module]
            for target in targets:
                found = resolve(target)
                if found and found != name:
                    graph[name].add(found)
    return graph


def room(module: str) -> str:
    return module.split(".")[0]


def upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{a} imports {b}"
        for a, targets in graph.items()
        for b in targets
        if room(b) != room(a) and room(b) not in MAY_IMPORT[room(a)]
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_every_room_of_the_project_is_ruled() -> None:
    tops = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"tests"}
    tops |= {p.stem for p in ROOT.glob("*.py")}
    assert tops <= set(MAY_IMPORT), f"add the new room to MAY_IMPORT: {tops - set(MAY_IMPORT)}"


def test_no_room_imports_a_room_above_it() -> None:
    assert upward(imports(ROOT)) == []


def test_no_import_cycle_between_modules() -> None:
    assert cycles(imports(ROOT)) == []


def test_the_checks_catch_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    """The rules above would pass on an empty graph: show they fail on a bad one."""
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "__init__.py").write_text("")
    (tmp_path / "store" / "a.py").write_text("def f():\n    from store.b import g\n")
    (tmp_path / "store" / "b.py").write_text("from store import a\nimport agents.x\n")
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "__init__.py").write_text("")
    (tmp_path / "agents" / "x.py").write_text("VALUE = 1\n")
    graph = imports(tmp_path)
    assert upward(graph) == ["store.b imports agents.x"]
    assert cycles(graph) == [["store.a", "store.b"]]


@pytest.mark.parametrize("entry", ["cli", "server"])
def test_entry_points_import_nothing_heavy_at_module_level(entry: str) -> None:
    """``cli`` and ``server`` import the rooms below only inside the functions that run a
    command or build the app, so ``sanji --help`` and ``import server`` stay instant."""
    heavy = {
        "agents",
        "api",
        "knowledge",
        "store",
        "tools",
        "evals",
        "demo",
        "server",
        "web",
        "ingest",
    }
    paths = [ROOT / "server.py"] if entry == "server" else sorted((ROOT / "cli").glob("*.py"))
    found = []
    for path in paths:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in heavy]
    assert found == []
