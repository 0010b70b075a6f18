"""Each image holds its own service and the shared code, and installs what that code imports.

The one Dockerfile copies ``common/`` and one service directory and installs only that image's extras
(pyproject.toml, ``[tool.textserve.images]``). A module that imports another service, or a package
those extras do not bring in, works in the development environment, which has everything, and fails
when the container starts. These tests follow each service's imports through the project's own
modules: every project import stays in the service or the shared packages, and every third-party
import is among the distributions the image's extras install, closed over their requirements.
"""

from __future__ import annotations

import ast
import itertools
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from devstack.images import images

ROOT = Path(__file__).resolve().parents[2]
SHARED = {"serving_common": ROOT / "common" / "serving_common", "ml_common": ROOT / "common" / "ml_common"}
SERVICES = {
    "api_gateway": ROOT / "api-gateway" / "api_gateway",
    "feature_transformer": ROOT / "feature-transformer" / "feature_transformer",
    "model_server": ROOT / "model-server" / "model_server",
    "model_training": ROOT / "training" / "model_training",
    "baseline_generator": ROOT / "baseline-generator" / "baseline_generator",
    "drift_detector": ROOT / "drift-detector" / "drift_detector",
}
PROJECT = {**SHARED, **SERVICES, "devstack": ROOT / "devstack" / "devstack"}
# Runnable service package -> its image (the training package is a command, not an image).
IMAGES = {image.module: image for image in images() if image.torch != "cuda"}
# Installed by the Dockerfile on its own line (the CPU or CUDA wheel), not through an extra.
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
    """The modules a file imports, and those it runs as a child process (``[..., "-m", "module", ...]``: the model
    server exports its ONNX graphs so), which its image must hold and install for as well."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.List):
            words = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            names.update(m for flag, m in itertools.pairwise(words) if flag == "-m" and isinstance(m, str))
    return names


def imports_of(package: str) -> tuple[set[str], set[str]]:
    """(project packages, top-level third-party modules) that a package's modules import, followed through
    the project modules they import."""
    todo = list(PROJECT[package].rglob("*.py"))
    seen: set[Path] = set()
    found: set[str] = set()
    project: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top in PROJECT:
                project.add(top)
                if (module := _module_file(name)) is not None:
                    todo.append(module)
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.add(top)
    return project, found


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


def test_every_service_has_an_image_from_the_one_dockerfile():
    assert sorted(ROOT.glob("**/Dockerfile*")) == [ROOT / "Dockerfile"]
    assert set(IMAGES) == set(SERVICES) - {"model_training"}
    for image in IMAGES.values():
        assert (ROOT / image.source / image.module / "__main__.py").is_file(), image


@pytest.mark.parametrize("package", sorted(SERVICES))
def test_no_service_imports_another(package):
    project, _ = imports_of(package)
    others = project - {package} - set(SHARED)
    assert not others, f"{package} imports {sorted(others)}: shared code belongs in {sorted(SHARED)}"


@pytest.mark.parametrize("package", sorted(IMAGES))
def test_every_import_is_installed_by_the_image(package):
    image = IMAGES[package]
    distributions = installed_by({e.strip() for e in image.extras.split(",")})
    if image.torch != "none":
        distributions |= INSTALLED_APART
    modules = metadata.packages_distributions()
    missing = {}
    for module in sorted(imports_of(package)[1]):
        providers = {re.sub(r"[-_.]+", "-", d).lower() for d in modules.get(module, [module])}
        if not providers & distributions:
            missing[module] = sorted(providers)
    assert not missing, f"the {image.name} image does not install what {package} imports: {missing}"
