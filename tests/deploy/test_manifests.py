"""Every overlay renders, every object validates, and the platform's hardening rules hold."""

from __future__ import annotations

import json

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import CRD_SCHEMAS, ROOT, render

pytestmark = pytest.mark.deploy

KUBERNETES_VERSION = "1.34.0"
CUSTOM_GROUPS = ("serving.kserve.io", "monitoring.coreos.com", "keda.sh")
REQUIRED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/version",
)


def _is_custom(obj: dict) -> bool:
    return obj["apiVersion"].split("/")[0] in CUSTOM_GROUPS


def _pod_specs(obj: dict):
    """(where, pod spec) of every workload in an object, KServe components included."""
    kind = obj["kind"]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        yield kind, obj["spec"]["template"]["spec"]
    elif kind == "CronJob":
        yield kind, obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    elif kind == "InferenceService":
        for component in ("predictor", "transformer"):
            if component in obj["spec"]:
                yield f"InferenceService/{component}", obj["spec"][component]


def test_core_objects_pass_strict_kubernetes_validation(rendered):
    overlay, objects = rendered
    core = [o for o in objects if not _is_custom(o)]
    for obj in core:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    if overlay == "platform":
        assert {o["kind"] for o in core} >= {
            "Namespace",
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "ConfigMap",
            "ServiceAccount",
            "NetworkPolicy",
        }


def _validate_custom(obj: dict, schema: dict) -> None:
    # The CRD schemas carry Go regular expressions (e.g. a mid-pattern "(?i)") that Python's
    # metaschema check rejects; the schemas themselves are the upstream ones, so validate the
    # instance without re-checking the schema.
    jsonschema.validators.validator_for(schema)(schema).validate(obj)


def test_custom_resources_pass_their_crd_schemas(rendered):
    if not CRD_SCHEMAS.is_dir():
        pytest.fail(f"CRD schemas not found at {CRD_SCHEMAS} (shared/ must sit beside the checkout)")
    _, objects = rendered
    custom = [o for o in objects if _is_custom(o)]
    assert custom
    for obj in custom:
        group, version = obj["apiVersion"].split("/")
        schema = json.loads((CRD_SCHEMAS / group / f"{obj['kind'].lower()}_{version}.json").read_text())
        _validate_custom(obj, schema)


def test_schema_validation_would_catch_a_mistake():
    isvc = next(o for o in render("staging") if o["kind"] == "InferenceService")
    isvc["spec"]["predictor"]["minReplica"] = 1  # a typo the CRD schema does not allow
    schema = json.loads((CRD_SCHEMAS / "serving.kserve.io" / "inferenceservice_v1beta1.json").read_text())
    with pytest.raises(jsonschema.ValidationError, match="minReplica"):
        _validate_custom(isvc, schema)


def test_every_object_carries_the_standard_labels(rendered):
    _, objects = rendered
    for obj in objects:
        labels = obj["metadata"].get("labels", {})
        missing = [label for label in REQUIRED_LABELS if label not in labels]
        assert not missing, f"{obj['kind']}/{obj['metadata']['name']} lacks {missing}"


def test_every_container_is_locked_down_with_resources_and_probes(rendered):
    overlay, objects = rendered
    if overlay == "cluster":
        pytest.skip("no workloads: the storage initializer's container is checked in test_hardened_cluster")
    seen = 0
    for obj in objects:
        for where, pod in _pod_specs(obj):
            name = f"{obj['metadata']['name']} ({where})"
            assert pod["securityContext"]["runAsNonRoot"] is True, name
            assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
            assert pod.get("automountServiceAccountToken") is False, name
            for container in pod.get("initContainers", []) + pod["containers"]:
                seen += 1
                sc = container["securityContext"]
                assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, name
                assert sc["capabilities"]["drop"] == ["ALL"], name
                assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
                assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
                if where in ("Job", "CronJob") or container in pod.get("initContainers", []):
                    continue  # run to completion: nothing to probe
                assert container["livenessProbe"]["httpGet"]["path"], name
                assert container["readinessProbe"]["httpGet"]["path"], name
    assert seen


def test_no_secret_is_written_in_the_manifests(rendered):
    _, objects = rendered
    assert not [o for o in objects if o["kind"] == "Secret"]
    text = json.dumps(objects).lower()
    for word in ("aws_secret_access_key", "password:", "api_key:"):
        assert word not in text


def _isvcs(overlay: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in render(overlay) if o["kind"] == "InferenceService"}


def _uris(overlay: str) -> dict[str, str]:
    """The versioned model URIs an overlay's model-versions.yaml names."""
    path = ROOT / "kubernetes" / "overlays" / overlay / "model-versions.yaml"
    return yaml.safe_load(path.read_text())["spec"]["uris"]


def test_environments_have_their_own_inference_services_and_scaling():
    staging, production = _isvcs("staging"), _isvcs("production")
    staging_uris, production_uris = _uris("staging"), _uris("production")
    assert set(staging) == {"spam-detector-staging", "intent-classifier-staging"}
    assert set(production) == {"spam-detector", "intent-classifier"}
    for isvc in staging.values():
        assert (isvc["spec"]["predictor"]["minReplicas"], isvc["spec"]["predictor"]["maxReplicas"]) == (1, 3)
        assert isvc["spec"]["predictor"]["labels"]["textserve.io/environment"] == "staging"
        assert (
            isvc["spec"]["predictor"]["storageUris"][0]["uri"]
            == staging_uris[isvc["metadata"]["name"].removesuffix("-staging")]
        )
    for isvc in production.values():
        assert (isvc["spec"]["predictor"]["minReplicas"], isvc["spec"]["predictor"]["maxReplicas"]) == (2, 10)
        assert isvc["spec"]["predictor"]["storageUris"][0]["uri"] == production_uris[isvc["metadata"]["name"]]
    for isvc in [*staging.values(), *production.values()]:
        spec = isvc["spec"]
        assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
        assert (spec["transformer"]["minReplicas"], spec["transformer"]["maxReplicas"]) == (2, 10)
        assert spec["predictor"]["scaleMetric"] == "cpu" and spec["predictor"]["scaleTarget"] == 70
        assert "--predictor_protocol=v2" in spec["transformer"]["containers"][0]["args"]
        assert spec["transformer"]["storageUris"] == spec["predictor"]["storageUris"]


def test_gateway_points_at_each_environments_transformers():
    objects = render("platform")
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "api-gateway")["data"]
    assert "spam-detector-staging-transformer" in config["GATEWAY_STAGING_URL"]
    assert "spam-detector-transformer" in config["GATEWAY_PRODUCTION_URL"]
    assert "intent-classifier-staging-transformer" in config["GATEWAY_STAGING_INTENT_URL"]
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


def test_gpu_option_requests_a_gpu_for_predictors_only():
    for isvc in _isvcs("production-gpu").values():
        predictor = isvc["spec"]["predictor"]["containers"][0]
        assert str(predictor["resources"]["limits"]["nvidia.com/gpu"]) == "1"
        assert predictor["image"].startswith("ghcr.io/textserve/model-server-cuda:")
        # PyTorch and CUDA in the serving process; on a CPU, ONNX Runtime alone (docs/benchmarks.md).
        assert predictor["resources"]["requests"]["memory"] == "2Gi"
    for isvc in _isvcs("production").values():
        assert isvc["spec"]["predictor"]["containers"][0]["resources"]["requests"]["memory"] == "1Gi"
        assert "nvidia.com/gpu" not in isvc["spec"]["transformer"]["containers"][0]["resources"]["limits"]


def _transformer_settings(isvc: dict):
    from feature_transformer.settings import TransformerSettings

    env = {e["name"]: e["value"] for e in isvc["spec"]["transformer"]["containers"][0]["env"] if "value" in e}
    fields = {k.removeprefix("FEATURE_TRANSFORMER_").lower(): v for k, v in env.items() if k.startswith("FEATURE_")}
    return TransformerSettings(**fields)


def test_transformer_processes_match_their_cpus_and_the_gpu_option_raises_both():
    for overlay, workers in (("staging", 1), ("production", 1), ("production-gpu", 4)):
        for isvc in _isvcs(overlay).values():
            settings = _transformer_settings(isvc)
            limits = isvc["spec"]["transformer"]["containers"][0]["resources"]["limits"]
            assert settings.workers == workers
            assert float(limits["cpu"]) == workers  # one core per process (they size their thread pools so)
            assert not settings.enable_grpc  # several workers serve REST only; the component refuses gRPC


def test_network_policies_admit_only_the_gateway_to_transformers():
    policies = {o["metadata"]["name"]: o for o in render("platform") if o["kind"] == "NetworkPolicy"}
    assert policies["default-deny-ingress"]["spec"]["podSelector"] == {}
    sources = policies["transformers-ingress"]["spec"]["ingress"][0]["from"]
    assert {"app.kubernetes.io/name": "api-gateway"} in [s.get("podSelector", {}).get("matchLabels") for s in sources]
    predictor_sources = policies["predictors-ingress"]["spec"]["ingress"][0]["from"]
    assert {"component": "transformer"} in [s.get("podSelector", {}).get("matchLabels") for s in predictor_sources]


def test_api_keys_are_on_in_the_cluster_from_a_referenced_secret():
    objects = render("platform")
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "api-gateway")["data"]
    assert config["GATEWAY_AUTH_ENABLED"] == "true"
    pod = next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"]
    keys = next(v for v in pod["volumes"] if v["name"] == "api-keys")
    assert keys["secret"]["secretName"] == "api-gateway-keys"
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "api-keys")
    assert mount["readOnly"] is True and config["GATEWAY_API_KEYS_FILE"].startswith(mount["mountPath"])


def test_drift_runs_hourly_once_at_a_time_against_the_shared_log():
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render("platform")}
    cron = objects[("CronJob", "drift-detector")]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    # Started on time, each run reads the clock hour before the one it starts in: the windows tile the log, and
    # each ends the schedule's minutes before its run, so the writers' late rows are in before it is read.
    minute, hour, *_ = cron["spec"]["schedule"].split()
    args = dict(a.removeprefix("--").split("=", 1) for a in container["args"])
    assert hour == "*" and args["window-minutes"] == "60" and args["window-lag-minutes"] == minute
    assert int(minute) > 0, "a window read as it ends misses the rows still in the writers' buffers"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DRIFT_PUSHGATEWAY_URL"].startswith("http://textserve-pushgateway:")
    assert ("Service", "textserve-pushgateway") in objects and ("CronJob", "baseline-generator") in objects
    baseline_job = objects[("CronJob", "baseline-generator")]["spec"]["jobTemplate"]["spec"]
    baselines = baseline_job["template"]["spec"]["containers"][0]
    baseline_env = {e["name"]: e.get("value") for e in baselines["env"]}
    assert baseline_env["BASELINE_BASELINES_URL"] == env["DRIFT_BASELINES_URL"]
    for overlay in ("staging", "production"):
        for isvc in _isvcs(overlay).values():
            transformer_env = {e["name"]: e.get("value") for e in isvc["spec"]["transformer"]["containers"][0]["env"]}
            assert transformer_env["FEATURE_TRANSFORMER_ENVIRONMENT"] == overlay
            assert transformer_env["FEATURE_TRANSFORMER_INFERENCE_LOG_URL"] == env["DRIFT_INFERENCE_LOG_URL"]


def test_every_model_family_is_generated_from_the_one_inferenceservice_definition():
    """One InferenceService file in the repository; each family's rendering is it with the family's name."""
    definitions = [
        p
        for p in (ROOT / "kubernetes").rglob("*.yaml")
        if any(d and d.get("kind") == "InferenceService" for d in yaml.safe_load_all(p.read_text()))
    ]
    assert definitions == [ROOT / "kubernetes" / "inference" / "text-classifier" / "inferenceservice.yaml"]
    docs = {
        (d["kind"], d["metadata"]["name"]): d
        for d in render("production")
        if d["kind"] in ("InferenceService", "PodDisruptionBudget")
    }
    spam, intent = (
        {k[0] + k[1].removeprefix(family): v for k, v in docs.items() if k[1].startswith(family)}
        for family in ("spam-detector", "intent-classifier")
    )
    assert (
        set(spam)
        == set(intent)
        == {"InferenceService", "PodDisruptionBudget-predictor", "PodDisruptionBudget-transformer"}
    )
    # The model versions differ per family (model-versions.yaml); everything else is the one definition.
    uris = yaml.safe_load((ROOT / "kubernetes/overlays/production/model-versions.yaml").read_text())["spec"]["uris"]
    for key in spam:
        as_intent = yaml.safe_dump(spam[key]).replace(uris["spam-detector"], uris["intent-classifier"])
        assert as_intent.replace("spam-detector", "intent-classifier") == yaml.safe_dump(intent[key]), key
