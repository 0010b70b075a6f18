"""The gateway's layers run one way: routes (api/) → the use case (inference) → the coalescer → the client.
No module imports one that imports it back, and below the routes nothing imports FastAPI or the routes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "api-gateway" / "api_gateway"
# Below the HTTP layer: no FastAPI, Starlette or api/ here.
USE_CASE_AND_BELOW = [
    "inference",
    "feedback",
    "coalescing",
    "upstream",
    "shadow",
    "readiness",
    "resilience",
    "metrics",
]


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        graph[_module(path)] = names
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    edges = {m: {n for n in names if n in graph and n != m} for m, names in graph.items()}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for nxt in sorted(edges[module]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[module] = 2
        path.pop()
        return None

    for module in sorted(edges):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_gateway_has_no_import_cycle():
    graph = _imports()
    assert "api_gateway.inference" in graph and "api_gateway.coalescing" in graph
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_check_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


@pytest.mark.parametrize("module", USE_CASE_AND_BELOW)
def test_below_the_routes_nothing_imports_fastapi_or_the_routes(module):
    imported = _imports()[f"api_gateway.{module}"]
    bad = {n for n in imported if n.split(".")[0] in ("fastapi", "starlette") or n.startswith("api_gateway.api")}
    assert not bad, bad
