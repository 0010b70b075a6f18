"""Shadow traffic with the real stack: production requests mirrored to staging after production has
answered. Staging and production serve different model versions here (trained with other seeds), so
their verdicts can differ; the expected agreement is computed by asking both transformers directly."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import anyio.to_thread
import httpx
import pytest
import torch

from api_gateway.core.config import GatewaySettings
from api_gateway.main import create_app
from devstack.process import free_port
from ml_common.datasets import Example
from model_training.backbones import SCRATCH_BACKBONE
from model_training.spam import train_spam_model
from model_training.trainer import TrainingConfig
from serving_common.inference_log.reader import InferenceLogReader
from tests.conftest import TINY_CONFIG, _balanced_subset
from tests.e2e.conftest import extra_gateway, extra_pair

pytestmark = pytest.mark.e2e

TEXTS = [
    "WINNER!! You have been selected for a FREE prize, call 09061701461 now",
    "Are we still on for lunch tomorrow at noon?",
    "URGENT: your account is suspended, reply STOP or text CLAIM to 80082",
    "Thanks for the notes from the meeting, I'll send the slides tonight",
    "Congratulations ur awarded 500 of CD vouchers or 125gift guaranteed & Free entry",
    "Can you pick up some milk on the way home?",
    "Free ringtone! Text MOBILE to 87077 to get yours, 150p/msg",
    "I'll be late, the train is stuck outside the station",
]
SHARES = json.dumps({"spam-detector": 1.0, "intent-classifier": 1.0})


@pytest.fixture(scope="module")
def disagreeing_staging(tmp_path_factory):
    """A staging pair known to disagree with production: a tiny spam model trained on flipped labels."""
    root = tmp_path_factory.mktemp("flipped")
    torch.set_num_threads(2)
    flipped = [Example(e.text, "ham" if e.label == "spam" else "spam") for e in _balanced_subset(200)]
    config = TrainingConfig(**{**TINY_CONFIG.__dict__, "seed": 3})
    train_spam_model(flipped, root / "spam-detector", backbone=SCRATCH_BACKBONE, config=config)
    with extra_pair("flipped", root, root / "spam-detector", transformer_args=["--inference_log", "off"]) as (
        _,
        transformer,
    ):
        yield transformer.url


@pytest.fixture(scope="module")
def disagreeing_gateway(stack, disagreeing_staging, tmp_path_factory):
    with extra_gateway(
        "shadow-disagreeing",
        tmp_path_factory.mktemp("shadow-disagreeing"),
        disagreeing_staging,
        stack.transformer_url("production"),
        shadow_shares=SHARES,
    ) as (_, url):
        yield url


@pytest.fixture(scope="module")
def shadow_gateway(stack, tmp_path_factory):
    with extra_gateway(
        "shadow-gateway",
        tmp_path_factory.mktemp("shadow"),
        stack.transformer_url("staging"),
        stack.transformer_url("production"),
        shadow_shares=SHARES,
    ) as (_, url):
        yield url


def _series(url: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + "{"):
            labels, value = line[len(name) + 1 :].rsplit("} ", 1)
            pairs = tuple(sorted(tuple(p.split("=", 1)) for p in labels.split(",") if p))
            out[tuple((k, v.strip('"')) for k, v in pairs)] = float(value)
    return out


def _wait_for(predicate, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    return predicate()


def test_shadowing_changes_neither_production_answers_nor_statuses(stack, shadow_gateway):
    headers = {"X-Environment": "production"}
    for text in TEXTS:
        with_shadow = httpx.post(f"{shadow_gateway}/api/v1/predict", json={"email_content": text}, headers=headers)
        without = httpx.post(f"{stack.gateway_url}/api/v1/predict", json={"email_content": text}, headers=headers)
        assert with_shadow.status_code == without.status_code == 200
        ours, theirs = with_shadow.json(), without.json()
        assert ours["environment"] == "production" and ours["model_version"] == theirs["model_version"]
        assert ours["prediction"] == theirs["prediction"]
        assert ours["spam_probability"] == pytest.approx(theirs["spam_probability"], abs=1e-6)
    for body in ({"email_content": "   "}, {"nope": 1}):  # client errors stay client errors
        a = httpx.post(f"{shadow_gateway}/api/v1/predict", json=body, headers=headers)
        b = httpx.post(f"{stack.gateway_url}/api/v1/predict", json=body, headers=headers)
        assert a.status_code == b.status_code == 422


@pytest.mark.parametrize("shares", [{}, json.loads(SHARES)], ids=["shadow off", "shadow on"])
async def test_answered_requests_never_wait_for_a_worker_thread(stack, shares):
    """A request's work ends with its answer: with every worker thread of the gateway's pool taken,
    staging and production requests (shadowed or not) are still answered and leave the in-flight
    bound. Offering a production request to the shadow used to take a worker thread after the answer
    was sent; on a GPU at 256 connections that queue kept answered requests counted against
    ``max_in_flight`` (512), and 21,553 of about 24,000 requests were refused with 503 in 8 s."""
    settings = GatewaySettings(
        staging_url=stack.transformer_url("staging"),
        production_url=stack.transformer_url("production"),
        shadow_shares=shares,
        max_in_flight=1,
    )
    app = create_app(settings)
    limiter = anyio.to_thread.current_default_thread_limiter()
    tokens, limiter.total_tokens = limiter.total_tokens, 1
    release = threading.Event()
    holder = asyncio.create_task(anyio.to_thread.run_sync(release.wait))  # the pool's only thread
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client,
        ):
            await asyncio.sleep(0.1)
            assert limiter.borrowed_tokens == 1
            for env in ("staging", "production", "production"):
                answer = await asyncio.wait_for(
                    client.post("/api/v1/predict", json={"email_content": TEXTS[0]}, headers={"X-Environment": env}),
                    timeout=10,
                )
                assert answer.status_code == 200, answer.text  # 503 or a timeout: the last one was still in flight
                assert answer.json()["environment"] == env
    finally:
        release.set()
        await holder
        limiter.total_tokens = tokens


def _direct(stack, env: str, text: str) -> dict:
    answer = httpx.post(
        f"{stack.transformer_url(env)}/v1/models/spam-detector:predict", json={"instances": [{"text": text}]}
    )
    return answer.json()


def test_agreement_metrics_count_what_staging_would_have_answered(stack, shadow_gateway):
    expected = {"agree": 0, "disagree": 0}
    for text in TEXTS:
        staging, production = _direct(stack, "staging", text), _direct(stack, "production", text)
        same = staging["predictions"][0]["label"] == production["predictions"][0]["label"]
        expected["agree" if same else "disagree"] += 1
    versions = (production["model_version"], staging["model_version"])
    assert versions[0] != versions[1]  # two models, so agreement is a measurement, not a given

    def counts() -> dict[str, float]:
        series = _series(shadow_gateway, "gateway_shadow_comparisons_total")
        return {
            dict(k)["outcome"]: v
            for k, v in series.items()
            if dict(k)["field"] == "label"
            and (dict(k)["production_version"], dict(k)["staging_version"]) == versions
            and dict(k)["model_name"] == "spam-detector"
        }

    before = counts()
    for text in TEXTS:
        assert (
            httpx.post(
                f"{shadow_gateway}/api/v1/predict",
                json={"email_content": text},
                headers={"X-Environment": "production"},
            ).status_code
            == 200
        )

    def grown():
        now = counts()
        total = sum(now.values()) - sum(before.values())
        return now if total >= len(TEXTS) else None

    after = _wait_for(grown)
    assert after, "the shadow comparisons did not arrive"
    for outcome in ("agree", "disagree"):
        assert after.get(outcome, 0) - before.get(outcome, 0) == expected[outcome], (outcome, expected)
    deltas = _series(shadow_gateway, "gateway_shadow_probability_delta_count")
    assert sum(v for k, v in deltas.items() if dict(k)["model_name"] == "spam-detector") >= len(TEXTS)
    shadowed = _series(shadow_gateway, "gateway_shadow_requests_total")
    assert sum(v for k, v in shadowed.items() if dict(k)["outcome"] == "shadowed") >= len(TEXTS)


def test_intent_shadow_compares_intent_and_complexity(shadow_gateway):
    prompt = "Write a Python function that merges two sorted lists, with unit tests"
    answer = httpx.post(
        f"{shadow_gateway}/api/v1/intent/predict", json={"text": prompt}, headers={"X-Environment": "production"}
    )
    assert answer.status_code == 200

    def fields():
        series = _series(shadow_gateway, "gateway_shadow_comparisons_total")
        return {dict(k)["field"] for k in series if dict(k)["model_name"] == "intent-classifier"} or None

    assert _wait_for(fields) == {"intent", "complexity_level"}


def test_staging_traffic_is_never_shadowed(shadow_gateway):
    time.sleep(1.0)  # what earlier tests mirrored has settled
    before = sum(_series(shadow_gateway, "gateway_shadow_requests_total").values())
    for text in TEXTS[:3]:
        httpx.post(
            f"{shadow_gateway}/api/v1/predict", json={"email_content": text}, headers={"X-Environment": "staging"}
        )
    time.sleep(1.0)
    assert sum(_series(shadow_gateway, "gateway_shadow_requests_total").values()) == before


def test_shadow_rows_are_logged_apart_as_shadow(shadow_gateway, inference_log_dir):
    request_id = f"shadow-{uuid.uuid4().hex[:12]}"
    response = httpx.post(
        f"{shadow_gateway}/api/v1/predict",
        json={"email_content": TEXTS[0]},
        headers={"X-Environment": "production", "X-Request-ID": request_id},
    )
    assert response.status_code == 200
    reader = InferenceLogReader(str(inference_log_dir))
    now = datetime.now(UTC)

    def rows(environment: str):
        table = reader.window(environment, "spam-detector", now - timedelta(hours=1), now + timedelta(hours=1)).table
        return [r for r in table.to_pylist() if r["request_id"] == request_id]

    shadow_rows = _wait_for(lambda: rows("staging-shadow"), 30)
    assert len(shadow_rows) == 1
    assert len(_wait_for(lambda: rows("production"), 30)) == 1  # production logged its own answer, as always
    assert not rows("staging")  # staging's own traffic is not mixed with the mirrored one


def test_drops_are_counted_when_staging_is_down_and_production_answers(stack, tmp_path_factory):
    with extra_gateway(
        "shadow-staging-down",
        tmp_path_factory.mktemp("shadow-down"),
        f"http://127.0.0.1:{free_port()}",  # nothing listens: staging is down
        stack.transformer_url("production"),
        shadow_shares=SHARES,
    ) as (_, url):
        for text in TEXTS:
            response = httpx.post(
                f"{url}/api/v1/predict", json={"email_content": text}, headers={"X-Environment": "production"}
            )
            assert response.status_code == 200 and response.json()["environment"] == "production"

        def dropped():
            series = _series(url, "gateway_shadow_requests_total")
            total = sum(v for k, v in series.items() if dict(k)["outcome"] == "dropped")
            return series if total >= len(TEXTS) else None

        series = _wait_for(dropped)
        assert series, "drops were not counted"
        assert {dict(k)["reason"] for k in series if dict(k)["outcome"] == "dropped"} == {"upstream_unavailable"}
        assert not [k for k in series if dict(k)["outcome"] == "shadowed"]


def test_a_batch_is_mirrored_within_its_share_of_the_upstream_deadline(stack, tmp_path_factory):
    """A batch's copy gets (twice) the share of production's deadline its tokens are of the largest batch accepted,
    not the short deadline of a single request: with that at 1 ms, a fixed deadline would drop every copy."""
    rows = [f"{text} ({i})".ljust(60, ".")[:60] for i, text in enumerate(TEXTS)]  # 62 tokens at most each
    with extra_gateway(
        "shadow-batch-deadline",
        tmp_path_factory.mktemp("shadow-batch"),
        stack.transformer_url("staging"),
        stack.transformer_url("production"),
        shadow_shares=json.dumps({"spam-detector": 1.0}),
        shadow_timeout_seconds="0.001",
        max_batch_tokens=str(62 * len(rows) + 16),  # this batch is 97 % of the limit: 19.4 s of the 20-s deadline
    ) as (_, url):
        response = httpx.post(
            f"{url}/api/v1/batch-predict",
            json={"emails": rows},
            headers={"X-Environment": "production"},
            timeout=30,
        )
        assert response.status_code == 200, response.text[:300]

        def settled():
            series = _series(url, "gateway_shadow_requests_total")
            return series if sum(series.values()) >= 1 else None

        series = _wait_for(settled)
        assert series, "the mirrored batch was neither shadowed nor counted as dropped"
        assert {dict(k)["outcome"]: v for k, v in series.items()} == {"shadowed": 1.0}, series
