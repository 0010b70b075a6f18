"""The front door's HTTP limits as deployed: set explicitly in the gateway's ConfigMap, accepted by
the gateway's settings, and matched by the documented ingress example."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from api_gateway.core.config import GatewaySettings
from tests.deploy.conftest import ROOT, render

pytestmark = pytest.mark.deploy

LIMITS = (
    "GATEWAY_MAX_BODY_BYTES",
    "GATEWAY_BODY_TIMEOUT_SECONDS",
    "GATEWAY_MAX_HEADER_BYTES",
    "GATEWAY_MAX_HEADERS",
    "GATEWAY_HEADER_TIMEOUT_SECONDS",
    "GATEWAY_KEEPALIVE_SECONDS",
    "GATEWAY_MAX_IN_FLIGHT",
    "GATEWAY_MAX_JSON_VALUES",
)
INGRESS = ROOT / "kubernetes" / "examples" / "api-gateway-ingress.yaml"


def _gateway_config() -> dict[str, str]:
    objects = render("platform")
    return next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "api-gateway")["data"]


def _settings(data: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> GatewaySettings:
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    return GatewaySettings()


def test_every_limit_is_set_explicitly_and_accepted(monkeypatch):
    data = _gateway_config()
    assert set(LIMITS) <= set(data), f"missing: {set(LIMITS) - set(data)}"
    settings = _settings(data, monkeypatch)
    assert settings.max_body_bytes == int(data["GATEWAY_MAX_BODY_BYTES"])
    # A full batch of ordinary emails fits; the limit is a refusal of abuse, not of legal batches.
    assert settings.max_body_bytes >= settings.max_batch_size * 8 * 1024
    assert settings.max_json_values == int(data["GATEWAY_MAX_JSON_VALUES"]) >= 6 * settings.max_batch_size + 2
    assert settings.body_timeout_seconds > 0 and settings.header_timeout_seconds > 0
    assert settings.keepalive_seconds > 60  # above common load balancers' idle timeout


def test_ingress_example_validates_and_matches_the_gateway(monkeypatch):
    ingress = yaml.safe_load(INGRESS.read_text())
    kubernetes_validate.validate(ingress, "1.34.0", strict=True)
    annotations = ingress["metadata"]["annotations"]
    settings = _settings(_gateway_config(), monkeypatch)
    size = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert size.endswith("m") and int(size[:-1]) * 1024 * 1024 == settings.max_body_bytes
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "on"
    assert float(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > settings.upstream_timeout_seconds
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "api-gateway"
