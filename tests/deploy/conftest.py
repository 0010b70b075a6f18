from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# What an operator applies: the cluster-scoped prerequisites, the shared platform, each environment.
RENDERS = {
    "cluster": "kubernetes/cluster",
    "platform": "kubernetes/platform",
    "staging": "kubernetes/overlays/staging",
    "production": "kubernetes/overlays/production",
    "production-gpu": "kubernetes/overlays/production-gpu",
    "production-canary": "kubernetes/overlays/production-canary",
}
ENVIRONMENT_OVERLAYS = ("staging", "production", "production-gpu")
# CI clones the repository with shared/ beside it; some checkouts carry it inside.
CRD_SCHEMAS = next(
    (p for p in (ROOT.parent / "shared" / "schemas" / "crds", ROOT / "shared" / "schemas" / "crds") if p.is_dir()),
    ROOT.parent / "shared" / "schemas" / "crds",
)


def render(overlay: str) -> list[dict]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / RENDERS[overlay])],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="session", params=list(RENDERS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict]]:
    return request.param, render(request.param)
