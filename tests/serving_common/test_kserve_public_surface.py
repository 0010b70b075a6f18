"""KServe is used through its public surface only (issue 31): no underscore name is imported from it, read
from one of its objects, or overridden in a subclass of one of its classes. A KServe upgrade that renames
a private part then cannot silently change how the components serve."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    p
    for folder in ("common", "feature-transformer", "model-server", "devstack", "baseline-generator")
    for p in (ROOT / folder).rglob("*.py")
]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _kserve_names(tree: ast.Module) -> dict[str, str]:
    """Local name -> the kserve object it is bound to (``module`` or ``module.attribute``)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name).split(".")[0]: a.name for a in node.names if a.name.startswith("kserve")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kserve"):
            names |= {a.asname or a.name: f"{node.module}.{a.name}" for a in node.names}
    return names


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    kserve = _kserve_names(tree)
    found = [f"imports {target}" for target in kserve.values() if any(_private(p) for p in target.split("."))]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in kserve:
                found.append(f"line {node.lineno}: reads {ast.unparse(node)}")
        if isinstance(node, ast.ClassDef):
            found += _subclass_violations(node, kserve)
    return [f"{path.name}: {v}" for v in found]


def _subclass_violations(node: ast.ClassDef, kserve: dict[str, str]) -> list[str]:
    """A subclass of a KServe class overriding, or calling through ``self``, a private inherited method."""
    found = []
    for base in [_dotted(b, kserve) for b in node.bases]:
        if base is None:
            continue
        module, _, attribute = base.rpartition(".")
        inherited = {n for n in dir(getattr(importlib.import_module(module), attribute)) if _private(n)}
        for item in ast.walk(node):
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name in inherited:
                found.append(f"line {item.lineno}: {node.name} overrides {base}.{item.name}")
            if isinstance(item, ast.Attribute) and item.attr in inherited and ast.unparse(item.value) == "self":
                found.append(f"line {item.lineno}: {node.name} uses {base}.{item.attr}")
    return found


def _dotted(expression: ast.expr, kserve: dict[str, str]) -> str | None:
    """The kserve object a base-class expression names (``Model``, ``kserve.ModelServer``), else None."""
    if isinstance(expression, ast.Name):
        return kserve.get(expression.id)
    if isinstance(expression, ast.Attribute) and isinstance(expression.value, ast.Name):
        module = kserve.get(expression.value.id)
        return f"{module}.{expression.attr}" if module else None
    return None


def test_the_sources_are_scanned():
    assert any(p.name == "kserve_server.py" for p in SOURCES)
    assert (
        "kserve.protocol.dataplane.DataPlane"
        in _kserve_names(ast.parse((ROOT / "common" / "serving_common" / "kserve_server.py").read_text())).values()
    )


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_kserve_name_is_used(path):
    assert _violations(path) == []


def test_the_check_finds_what_the_old_server_did(tmp_path):
    """The shapes of the private uses this replaced, each caught."""
    old = tmp_path / "old.py"
    old.write_text(
        "from kserve.protocol.rest.server import RESTServer\n"
        "from kserve.protocol.rest.multiprocess.server import RESTServerMultiProcess\n"
        "from kserve.model_server import _private_helper\n"
        "import kserve\n"
        "class Server(RESTServer):\n"
        "    def _add_exception_handlers(self, app): ...\n"
        "class ModelServer(kserve.ModelServer):\n"
        "    def start(self, models):\n"
        "        self._register_and_check_atleast_one_model_is_ready(models)\n"
        "def start(multi: RESTServerMultiProcess, server: kserve.ModelServer):\n"
        "    kserve.ModelServer._register_and_check_atleast_one_model_is_ready(server, [])\n"
    )
    found = "\n".join(_violations(old))
    assert "_private_helper" in found
    assert "overrides kserve.protocol.rest.server.RESTServer._add_exception_handlers" in found
    assert "ModelServer uses kserve.ModelServer._register_and_check_atleast_one_model_is_ready" in found
    assert "reads kserve.ModelServer._register_and_check_atleast_one_model_is_ready" in found
