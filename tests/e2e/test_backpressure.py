"""A model server with a tiny queue under a burst: excess requests get 503 + Retry-After at once,
in the platform's error shape, and the transformer passes that 503 on instead of turning it into a 500."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from serving_common.model_dir import read_metadata
from tests.e2e.conftest import extra_pair

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tight_pair(model_dir, tmp_path_factory):
    tight = ["--max_batch_size", "1", "--max_batch_wait_ms", "0", "--max_queue_rows", "2"]
    with extra_pair("tight", tmp_path_factory.mktemp("backpressure"), model_dir, predictor_args=tight) as pair:
        yield pair[0].url, pair[1].url


async def _burst(url: str, body: dict, n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60) as client:
        return await asyncio.gather(*(client.post(url, json=body) for _ in range(n)))


def test_overloaded_predictor_answers_503_with_retry_after(tight_pair, model_dir):
    predictor, _ = tight_pair
    longest = read_metadata(model_dir).max_length  # the costliest row the model accepts
    ids = [1] + [7] * (longest - 2) + [2]
    body = {
        "inputs": [
            {"name": "input_ids", "shape": [1, longest], "datatype": "INT64", "data": ids},
            {"name": "attention_mask", "shape": [1, longest], "datatype": "INT64", "data": [1] * longest},
        ]
    }
    responses = asyncio.run(_burst(f"{predictor}/v2/models/spam-detector/infer", body, 40))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 503} and 200 in statuses and 503 in statuses
    refused = next(r for r in responses if r.status_code == 503)
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["code"] == "overloaded"


def test_transformer_passes_the_503_on(tight_pair):
    _, transformer = tight_pair
    body = {"instances": [{"text": "word " * 600}]}
    responses = asyncio.run(_burst(f"{transformer}/v1/models/spam-detector:predict", body, 40))
    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 503} and 503 in statuses, statuses
    refused = next(r for r in responses if r.status_code == 503)
    assert refused.json()["error"]["code"] == "predictor_unavailable" and refused.headers["retry-after"] == "1"
