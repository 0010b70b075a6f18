"""A model server started with static shapes and pipelined passes (a GPU's defaults, here on the CPU without
graphs): its flags reach it, and the feature transformer in front of it answers every text with the numbers
the shared pipeline gives with the model in process. The model blends a character n-gram model into its
verdicts, as the spam default does, so the transformer's blend is checked against the pipeline's too."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import torch

from ml_common.classifier import SequenceClassifier
from serving_common.pipeline import TextPipeline
from tests.e2e.conftest import extra_pair

pytestmark = pytest.mark.e2e

TEXTS = [
    "WINNER!! You have been selected for a cash prize, call now to claim",
    "Are we still on for lunch tomorrow? I can book the usual place.",
    "Your parcel is waiting: confirm your address and pay the customs fee at the link " * 4,
    "ok",
    "Minutes of Tuesday's meeting attached; please send corrections by Friday. " * 9,
]


async def _concurrently(url: str) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=60) as client:
        return await asyncio.gather(
            *(client.post(url, json={"instances": [{"text": t}]}) for t in TEXTS * 4)  # calls that share passes
        )


def test_static_shapes_and_pipelined_passes_serve_what_the_model_gives_in_process(blended_model_dir, tmp_path_factory):
    model_dir = blended_model_dir
    flags = ["--runtime", "torch", "--dtype", "float32", "--static_shapes", "on", "--pipeline_depth", "2"]
    flags += ["--max_batch_size", "8"]  # float32: compared to the digit with the model in process below
    # Batches wait up to 200 ms to fill, so the concurrent calls share passes however fast the tiny model
    # runs (starting at once when idle, each call could take a pass of its own).
    flags += ["--batch_when_idle", "off", "--max_batch_wait_ms", "200"]
    with extra_pair("static", tmp_path_factory.mktemp("static"), model_dir, predictor_args=flags) as pair:
        predictor, transformer = pair
        responses = asyncio.run(_concurrently(f"{transformer.url}/v1/models/spam-detector:predict"))
        metrics = httpx.get(f"{predictor.url}/metrics", timeout=10).text
        assert "static shapes ready (CUDA graphs off)" in predictor.log_text()  # the flags reached it
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    served = [r.json()["predictions"][0]["spam_probability"] for r in responses]
    classifier = SequenceClassifier.load(model_dir, torch.device("cpu"), torch.float32)
    local = TextPipeline.from_model_dir(model_dir).run(classifier.infer, TEXTS * 4).verdicts
    for served_probability, verdict in zip(served, local, strict=True):
        assert abs(served_probability - verdict.spam_probability) < 1e-5
    passes = next(
        float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("model_server_batch_size_count")
    )
    assert 1 <= passes < len(responses)  # calls shared passes
