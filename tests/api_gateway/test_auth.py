"""API keys, per-key environments and rate limits, and the in-flight bound: gateway behaviour that
needs no model. Upstreams are loopback ports where nothing (or something slow) listens."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api_gateway.auth import hash_key
from api_gateway.core.config import GatewaySettings
from api_gateway.main import create_app
from devstack.process import free_port

STAGING_KEY = "ts_staging_3f9a8c1d7e"
BOTH_KEY = "ts_both_77b2e0a4c9"
SLOW_KEY = "ts_slow_1a2b3c4d5e"


@pytest.fixture
def keys_file(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps(
            {
                "keys": [
                    {"name": "staging-team", "sha256": hash_key(STAGING_KEY), "environments": ["staging"]},
                    {"name": "platform", "sha256": hash_key(BOTH_KEY), "environments": ["staging", "production"]},
                    {
                        "name": "tiny-quota",
                        "sha256": hash_key(SLOW_KEY),
                        "environments": ["staging"],
                        "requests_per_minute": 6,
                    },
                ]
            }
        )
    )
    return path


@pytest.fixture
def client(keys_file):
    settings = GatewaySettings(
        staging_url=f"http://127.0.0.1:{free_port()}",
        production_url=f"http://127.0.0.1:{free_port()}",
        auth_enabled=True,
        api_keys_file=str(keys_file),
        upstream_connect_timeout_seconds=0.5,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def _post(client, key=None, env=None, scheme="bearer"):
    headers = {}
    if key and scheme == "bearer":
        headers["Authorization"] = f"Bearer {key}"
    elif key:
        headers["X-API-Key"] = key
    if env:
        headers["X-Environment"] = env
    return client.post("/api/v1/predict", json={"email_content": "hello"}, headers=headers)


def test_no_key_is_401(client):
    response = _post(client)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_key_is_401(client):
    assert _post(client, "ts_not_a_real_key").status_code == 401


@pytest.mark.parametrize("scheme", ["bearer", "x-api-key"])
def test_a_valid_key_passes_to_the_upstream(client, scheme):
    # Past authentication the request reaches the (absent) upstream: 503, not 401/403.
    assert _post(client, STAGING_KEY, "staging", scheme).json()["error"]["code"] == "upstream_unavailable"


def test_a_staging_key_cannot_reach_production(client):
    response = _post(client, STAGING_KEY, "production")
    assert response.status_code == 403 and response.json()["error"]["code"] == "environment_forbidden"
    assert _post(client, BOTH_KEY, "production").status_code == 503


def test_each_key_has_its_own_rate_limit(client):
    statuses = [_post(client, SLOW_KEY).status_code for _ in range(3)]
    assert statuses[0] == 503 and 429 in statuses
    limited = next(r for r in (_post(client, SLOW_KEY),) if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1 and limited.json()["error"]["code"] == "rate_limited"
    assert _post(client, BOTH_KEY).status_code == 503  # another key is not affected


def test_health_ready_and_metrics_stay_open_and_models_needs_a_key(client):
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 503  # open, and honest: no upstream is up
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/v1/models").status_code == 401
    assert client.get("/api/v1/models", headers={"X-API-Key": STAGING_KEY}).status_code == 200


def test_keys_never_reach_the_logs(client, caplog):
    with caplog.at_level(logging.DEBUG):
        _post(client, STAGING_KEY, "production")
        _post(client, "ts_wrong_secret_value")
    assert STAGING_KEY not in caplog.text and "ts_wrong_secret_value" not in caplog.text


def test_auth_on_requires_a_keys_file():
    with pytest.raises(ValidationError, match="GATEWAY_API_KEYS_FILE"):
        GatewaySettings(auth_enabled=True)


def test_auth_off_is_announced_loudly(caplog):
    with caplog.at_level(logging.WARNING), TestClient(create_app(GatewaySettings())):
        pass
    assert "API KEYS ARE OFF" in caplog.text


@pytest.fixture
def silent_upstream():
    """Accepts connections and never answers: an InferenceService that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


async def test_past_max_in_flight_requests_are_refused_at_once(silent_upstream):
    app = create_app(GatewaySettings(staging_url=silent_upstream, max_in_flight=2, upstream_timeout_seconds=2))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client,
    ):
        hanging = [asyncio.create_task(client.post("/api/v1/predict", json={"email_content": "hi"})) for _ in range(2)]
        await asyncio.sleep(0.3)
        refused = await client.post("/api/v1/predict", json={"email_content": "hi"})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "gateway_overloaded"
        assert (await client.get("/health")).status_code == 200  # not counted against the bound
        timed_out = await asyncio.gather(*hanging)
        assert all(r.status_code == 504 for r in timed_out)  # the slow upstream times out within its bound
