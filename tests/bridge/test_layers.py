"""The import graph of the runtime, drivers, controllers, access and services has no cycle.

Counted with every import, including those inside functions (a lazy import is a dependency
all the same): the runtime and the drivers' builder are at the bottom, ``bridge.assembly`` at
the top wires controller events to the services.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

LAYERED = ("bridge.wiring", "bridge.controllers", "bridge.access", "bridge.services",
           "bridge.events", "bridge.runtime", "bridge.controller_auth", "bridge.assembly")  # fmt: skip


def _graph() -> dict[str, set[str]]:
    modules: dict[str, Path] = {}
    for path in (REPO / "bridge").rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start within the layered modules, if there is one."""
    inside = {m for m in graph if m.startswith(LAYERED)}
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph[node] & inside:
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_runtime_drivers_controllers_access_and_services_import_without_a_cycle() -> None:
    graph = _graph()
    cycles = [
        " -> ".join(found)
        for module in sorted(graph)
        if module.startswith(LAYERED) and (found := _cycle_through(graph, module)) is not None
    ]
    assert cycles == []


def test_the_modules_that_receive_events_do_not_know_the_services() -> None:
    graph = _graph()
    for receiver in ("bridge.wiring", "bridge.controllers", "bridge.events", "bridge.runtime"):
        assert not {m for m in graph[receiver] if m.startswith(("bridge.services.doors",
                                                                "bridge.access"))}, receiver  # fmt: skip
