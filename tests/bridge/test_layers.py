"""The import graph of ``bridge/``: no cycle anywhere, and every import points down the layers.

Counted with every import, including those inside functions (a lazy import is a dependency
all the same). The layers, bottom to top (docs/architecture.md):

1. ``bridge.config`` and ``bridge.errors``: settings and the shared errors;
2. the foundation: ``bridge.runtime``, ``bridge.storage``, ``bridge.infra`` (the runtime is
   built from storage's engine and infra's Redis connection, so it sits with them);
3. ``bridge.services`` with ``bridge.notify`` and ``bridge.alerts``: the use cases;
4. ``bridge.web`` and ``bridge.jobs``: the pages and routes, the rq jobs;
5. ``bridge.startup``: the checks and wiring every process runs before it works;
6. ``bridge.entrypoints``: the command line, the servers and the workers.

A module imports its own layer or one below it, never one above.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.config import REPO

LAYERS = (
    ("bridge.config", "bridge.errors"),
    ("bridge.runtime", "bridge.storage", "bridge.infra", "bridge.migrations"),
    ("bridge.services", "bridge.notify", "bridge.alerts"),
    ("bridge.web", "bridge.jobs"),
    ("bridge.startup",),
    ("bridge.entrypoints",),
)
ROOT_MODULES = {"config", "errors", "runtime", "startup"}


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in (REPO / "bridge").rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    return modules


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                # "from package import module" depends on the module; any other name on the
                # package itself (a package's __init__ runs before each of its modules anyway)
                targets = [f"{node.module}.{a.name}" for a in node.names]
                if not all(t in modules for t in targets):
                    targets.append(node.module)
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _layer(module: str) -> int:
    for rank, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return rank
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_bridge_imports_without_a_cycle() -> None:
    assert _cycles(_graph()) == []


def test_every_import_points_down_the_layers() -> None:
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in targets
        if _layer(target) > _layer(module)
    )
    assert upward == []


def test_the_root_of_bridge_holds_only_configuration_runtime_startup_and_errors() -> None:
    root = {p.stem for p in (REPO / "bridge").glob("*.py")} - {"__init__"}
    assert root == ROOT_MODULES


def test_the_modules_that_receive_events_do_not_know_the_services() -> None:
    graph = _graph()
    receivers = ("bridge.services.wiring", "bridge.services.controllers", "bridge.services.events",
                 "bridge.runtime")  # fmt: skip
    for receiver in receivers:
        known = {m for m in graph[receiver] if m.startswith(("bridge.services.doors",
                                                             "bridge.services.access"))}  # fmt: skip
        assert not known, receiver
