"""What a platform engineer running KServe on a hardened cluster checks before approving the manifests:
one test per point, each reading the rendered objects (or the files) so it fails if the point regresses."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.deploy.conftest import CRD_SCHEMAS, ENVIRONMENT_OVERLAYS, ROOT, render
from tests.deploy.dashboards import dashboard_exprs

pytestmark = pytest.mark.deploy

COMPONENTS = ("predictor", "transformer")
KSERVE_ISVC_LABEL = "serving.kserve.io/inferenceservice"


def _isvcs(overlay: str) -> list[dict]:
    return [o for o in render(overlay) if o["kind"] == "InferenceService"]


def test_storage_initializer_meets_the_restricted_pod_security_level():
    """KServe injects its storage initializer into every InferenceService pod; without this
    securityContext a `restricted` namespace refuses the pods (kserve#5373)."""
    objects = render("cluster")
    (storage,) = [o for o in objects if o["kind"] == "ClusterStorageContainer"]
    assert storage["metadata"]["name"] == "default"  # replaces the one a Kustomize install of KServe ships
    assert "namespace" not in storage["metadata"]
    sc = storage["spec"]["container"]["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert {"prefix": "s3://"} in storage["spec"]["supportedUriFormats"]
    schema = json.loads((CRD_SCHEMAS / "serving.kserve.io" / "clusterstoragecontainer_v1alpha1.json").read_text())
    import jsonschema

    jsonschema.validators.validator_for(schema)(schema).validate(storage)
    namespace = next(o for o in render("platform") if o["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    guide = (ROOT / "docs" / "deployment.md").read_text()
    assert "kubectl apply -k kubernetes/cluster" in guide and "5373" in guide


@pytest.mark.parametrize("overlay", ENVIRONMENT_OVERLAYS)
def test_inference_services_are_cluster_local_in_standard_mode(overlay):
    isvcs = _isvcs(overlay)
    assert isvcs
    for isvc in isvcs:
        assert isvc["metadata"]["labels"]["networking.kserve.io/visibility"] == "cluster-local"
        assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert "RawDeployment" not in json.dumps(render(overlay))


def test_prometheus_may_discover_the_pods_and_selects_the_monitors():
    objects = render("platform")
    role = next(o for o in objects if o["kind"] == "Role" and o["metadata"]["name"] == "prometheus-discovery")
    core = next(r for r in role["rules"] if r["apiGroups"] == [""])
    assert {"pods", "services", "endpoints"} <= set(core["resources"])
    assert {"get", "list", "watch"} <= set(core["verbs"])
    binding = next(o for o in objects if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "prometheus-discovery")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "prometheus-discovery",
    }
    assert binding["metadata"]["namespace"] == "textserve"
    assert {(s["name"], s["namespace"]) for s in binding["subjects"]} >= {
        ("prometheus-k8s", "monitoring"),  # kube-prometheus
        ("kube-prometheus-stack-prometheus", "monitoring"),  # kube-prometheus-stack
    }
    monitors = [o for o in objects if o["kind"] in ("ServiceMonitor", "PodMonitor", "PrometheusRule")]
    assert len(monitors) >= 4
    for obj in monitors:
        assert obj["metadata"]["labels"].get("release"), f"{obj['kind']}/{obj['metadata']['name']} has no release label"


@pytest.mark.parametrize("overlay", ENVIRONMENT_OVERLAYS)
def test_every_component_has_a_disruption_budget_and_spreads(overlay):
    objects = render(overlay)
    budgets = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    selectors = [o["spec"]["selector"]["matchLabels"] for o in budgets]
    for isvc in (o for o in objects if o["kind"] == "InferenceService"):
        name = isvc["metadata"]["name"]
        for component in COMPONENTS:
            # KServe labels the pods of component C of InferenceService N with these two labels.
            assert {KSERVE_ISVC_LABEL: name, "component": component} in selectors, (overlay, name, component)
            spec = isvc["spec"][component]
            assert spec["minReplicas"] >= 1
            spreads = spec["topologySpreadConstraints"]
            assert {s["topologyKey"] for s in spreads} >= {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
            for spread in spreads:
                assert spread["labelSelector"]["matchLabels"]["component"] == component
                assert KSERVE_ISVC_LABEL in spread["matchLabelKeys"]  # this InferenceService's pods only
    for budget in budgets:
        assert budget["spec"].get("maxUnavailable") == 1 or budget["spec"].get("minAvailable")


def _promql_parses(expr: str) -> bool:
    rules = {"groups": [{"name": "check", "rules": [{"record": "check:expr", "expr": expr}]}]}
    result = subprocess.run(
        ["promtool", "check", "rules", "/dev/stdin"], input=yaml.safe_dump(rules), capture_output=True, text=True
    )
    return result.returncode == 0


def test_gpu_predictors_start_up_slowly_and_scale_on_gpu_work():
    for isvc in _isvcs("production-gpu"):
        name = isvc["metadata"]["name"]
        predictor = isvc["spec"]["predictor"]
        container = next(c for c in predictor["containers"] if c["name"] == "kserve-container")
        probe = container["startupProbe"]
        assert probe["httpGet"]["path"] and probe["periodSeconds"] * probe["failureThreshold"] >= 300
        assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "keda"
        assert "scaleMetric" not in predictor  # CPU utilisation hardly moves when the work is on the GPU
        (metric,) = predictor["autoScaling"]["metrics"]
        assert metric["type"] == "External" and metric["external"]["metric"]["backend"] == "prometheus"
        query = metric["external"]["metric"]["query"]
        assert "model_server_" in query and f'model_name="{name}"' in query and 'environment="production"' in query
        assert _promql_parses(query), query
    for isvc in _isvcs("production"):  # the CPU overlay keeps scaling on CPU
        assert isvc["spec"]["predictor"]["scaleMetric"] == "cpu"
        assert "startupProbe" not in isvc["spec"]["predictor"]["containers"][0]


_ENV_SCOPED = re.compile(r"\b(model_server_\w+|request_\w+_seconds\w*)\b")


def test_every_model_server_and_kserve_panel_splits_or_filters_by_environment():
    checked = 0
    for dashboard, exprs in dashboard_exprs().items():
        for expr in exprs:
            if not _ENV_SCOPED.search(expr):
                continue
            checked += 1
            groupings = re.findall(r"\bby\s*\(([^)]*)\)", expr)
            filtered = "environment=" in expr.replace(" ", "")
            assert filtered or (all("environment" in g for g in groupings) and groupings), (dashboard, expr)
            if "request_predict_seconds" in expr:
                # The transformer's predict includes the hop to the predictor: never summed with the predictor's.
                assert re.search(r'component="(transformer|predictor)"', expr), expr
    assert checked >= 6


def test_process_panels_read_only_this_platforms_jobs():
    for exprs in dashboard_exprs().values():
        for expr in exprs:
            if re.search(r"\bprocess_", expr):
                assert "job=~" in expr, expr


def test_platform_and_environments_apply_and_delete_apart():
    platform = {o["kind"] for o in render("platform")}
    assert {"Namespace", "Deployment", "NetworkPolicy", "ServiceMonitor", "CronJob"} <= platform
    assert "InferenceService" not in platform
    for overlay in ENVIRONMENT_OVERLAYS:
        kinds = {o["kind"] for o in render(overlay)}
        # Deleting an environment's overlay deletes its InferenceServices and their budgets, nothing shared.
        assert kinds == {"InferenceService", "PodDisruptionBudget"}, (overlay, kinds)


def _patch_paths(node: object) -> list[str]:
    """Every JSON-patch `path` in a kustomization's inline patches."""
    paths = []
    if isinstance(node, dict):
        for patch in node.get("patches", []):
            if isinstance(patch, dict) and "patch" in patch:
                ops = yaml.safe_load(patch["patch"])
                if isinstance(ops, list):
                    paths += [op["path"] for op in ops]
    return paths


def test_patches_target_fields_by_name_never_by_list_index():
    files = sorted((ROOT / "kubernetes").rglob("kustomization.yaml"))
    assert len(files) >= 8
    paths = [p for f in files for p in _patch_paths(yaml.safe_load(f.read_text()))]
    assert paths  # the overlays do patch
    indexed = [p for p in paths if re.search(r"/\d+(/|$)", p)]
    assert not indexed, indexed
    fields = [
        fp
        for f in files
        for r in (yaml.safe_load(f.read_text()) or {}).get("replacements", [])
        for t in r["targets"]
        for fp in t["fieldPaths"]
    ]
    assert fields and not [fp for fp in fields if re.search(r"\.\d+(\.|$)", fp)], fields


def test_baselines_run_as_a_rerunnable_template_not_a_one_shot_job():
    for overlay in ("platform", *ENVIRONMENT_OVERLAYS):
        assert not [o for o in render(overlay) if o["kind"] == "Job"], overlay
    cron = next(
        o for o in render("platform") if o["kind"] == "CronJob" and o["metadata"]["name"] == "baseline-generator"
    )
    assert cron["spec"]["suspend"] is True
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("ghcr.io/textserve/baseline-generator")
    assert (
        "create job" in (ROOT / "docs" / "deployment.md").read_text()
        and "--from=cronjob/baseline-generator" in (ROOT / "docs" / "deployment.md").read_text()
    )


def test_the_canary_patch_validates_and_routes_a_share_to_the_new_version():
    """Rendered (and CRD-validated with every render) as production with canaryTrafficPercent."""
    canary, production = _isvcs("production-canary"), {i["metadata"]["name"]: i for i in _isvcs("production")}
    assert {i["metadata"]["name"] for i in canary} == set(production)
    for isvc in canary:
        for component in COMPONENTS:
            assert 0 < isvc["spec"][component]["canaryTrafficPercent"] < 100
        # KServe honours canaryTrafficPercent in Serverless mode only.
        assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"
        base = production[isvc["metadata"]["name"]]
        assert isvc["spec"]["predictor"]["storageUris"] == base["spec"]["predictor"]["storageUris"]
