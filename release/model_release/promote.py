"""Production's version of a model set to the one staging serves (or any version, to roll back), with
evidence or refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from model_release.evidence import Evidence, gather_evidence
from model_release.overlays import Served, set_uri


@dataclass(frozen=True)
class PromotionRequest:
    model: str
    overlays: Path
    version: str | None = None  # default: the version staging serves
    prometheus: str | None = None  # Prometheus's base URL: shadow agreement of every gateway pod
    metrics: str | None = None  # one gateway's /metrics URL or a saved copy: the fallback for `make run`
    baselines_url: str = "s3://textserve-models/baselines"
    min_shadow_rows: int = 100
    min_agreement: float = 0.9
    max_shadow_failures: float = 0.01  # share of mirrored calls staging may fail (time out, error, refuse)
    min_labels: int = 100  # users' labelled rows each version needs before their accuracies are compared
    max_accuracy_drop: float = 0.01
    force: bool = False


def promote(request: PromotionRequest) -> int:
    """0 when production serves the version afterwards, 2 when refused (nothing changed)."""
    staging, production = Served.read(request.overlays, "staging"), Served.read(request.overlays, "production")
    model = request.model
    current = production.version(model)
    version = request.version or staging.version(model)
    store = production.store(model)
    if version == current:
        print(f"{model}: production already serves {version}; nothing to do")
        return 0
    if production.served_before(model, version):
        print(f"{model}: {version} was served in production before: rolling back needs no new evidence")
        evidence = Evidence(found=[f"history: production served {version} before"])
    else:
        evidence = gather_evidence(
            model,
            version,
            current,
            store,
            prometheus=request.prometheus,
            metrics=request.metrics,
            baselines_url=request.baselines_url,
            min_rows=request.min_shadow_rows,
            min_agreement=request.min_agreement,
            max_shadow_failures=request.max_shadow_failures,
            min_labels=request.min_labels,
            max_accuracy_drop=request.max_accuracy_drop,
        )
    for line in evidence.found:
        print(f"  ok       {line}")
    for line in evidence.missing:
        print(f"  MISSING  {line}")
    if evidence.missing and not request.force:
        print(f"refused: {model} {current} -> {version} lacks evidence (--force overrides); nothing changed")
        return 2
    uri = f"{store}/{model}/{version}"
    entry = {
        "model": model,
        "from": current,
        "to": version,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "forced": bool(evidence.missing),
    }
    set_uri(production.path, model, uri, entry)
    print(f"{production.path}: {model} {current} -> {version} ({uri}). Review, commit and apply:")
    print(f"  git commit -am 'Promote {model} {version}' && kubectl apply -k {production.path.parent}")
    return 0
