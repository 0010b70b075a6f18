"""Each image installs what its code imports.

Every Dockerfile installs the project with only its own extras (`pip install ".[gateway]"`). A module
that imports a package those extras do not bring in works in the development environment, which has
everything, and fails when the container starts. This test follows each service's imports through the
project's own modules and checks every third-party import against the distributions the image's
extras install, closed over their installed requirements.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {
    "serving_common": ROOT / "common" / "serving_common",
    "api_gateway": ROOT / "api-gateway" / "api_gateway",
    "feature_transformer": ROOT / "feature-transformer" / "feature_transformer",
    "model_server": ROOT / "model-server" / "model_server",
    "model_training": ROOT / "training" / "model_training",
    "baseline_generator": ROOT / "baseline-generator" / "baseline_generator",
}
# Service package -> its Dockerfile (the drift detector has its own environment, checked there).
IMAGES = {
    "api_gateway": ROOT / "api-gateway" / "Dockerfile",
    "feature_transformer": ROOT / "feature-transformer" / "Dockerfile",
    "model_server": ROOT / "model-server" / "Dockerfile",
    "baseline_generator": ROOT / "baseline-generator" / "Dockerfile",
}
# Installed by the Dockerfile on its own line (the CPU wheel), not through an extra.
INSTALLED_APART = {"torch"}


def _module_file(name: str) -> Path | None:
    top, *rest = name.split(".")
    base = PROJECT.get(top)
    if base is None:
        return None
    path = base.joinpath(*rest)
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def third_party_imports(package: str) -> set[str]:
    """Top-level third-party modules imported by a package's modules and the project modules they import."""
    todo = list(PROJECT[package].rglob("*.py"))
    seen: set[Path] = set()
    found: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top in PROJECT:
                if (module := _module_file(name)) is not None:
                    todo.append(module)
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.add(top)
    return found


def _requirements(dist: str, extras: set[str]) -> list[tuple[str, set[str]]]:
    out = []
    for spec in metadata.requires(dist) or []:
        req = Requirement(spec)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras | {""}):
            out.append((req.name, set(req.extras)))
    return out


def installed_by(extras: set[str]) -> set[str]:
    """Canonical names of the distributions `pip install ".[extras]"` brings in: the project's own
    requirements from pyproject.toml, then theirs from what is installed here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = [*project["dependencies"], *(s for e in extras for s in project["optional-dependencies"][e])]
    todo, seen = [(r.name, set(r.extras)) for r in map(Requirement, specs)], set()
    while todo:
        name, wanted = todo.pop()
        key = (re.sub(r"[-_.]+", "-", name).lower(), frozenset(wanted))
        if key in seen:
            continue
        seen.add(key)
        try:
            todo.extend(_requirements(name, wanted))
        except metadata.PackageNotFoundError:
            continue  # a platform-specific requirement not installed here
    return {name for name, _ in seen}


def image_extras(dockerfile: Path) -> set[str]:
    found = re.findall(r'pip install [^\n]*"\.\[([^\]]+)\]"', dockerfile.read_text())
    assert found, f'{dockerfile}: no `pip install ".[extras]"` line'
    return {e.strip() for group in found for e in group.split(",")}


@pytest.mark.parametrize("package", sorted(IMAGES))
def test_every_import_is_installed_by_the_image(package):
    distributions = installed_by(image_extras(IMAGES[package])) | INSTALLED_APART
    modules = metadata.packages_distributions()
    missing = {}
    for module in sorted(third_party_imports(package)):
        providers = {re.sub(r"[-_.]+", "-", d).lower() for d in modules.get(module, [module])}
        if not providers & distributions:
            missing[module] = sorted(providers)
    assert not missing, f"{IMAGES[package].relative_to(ROOT)} does not install what {package} imports: {missing}"
