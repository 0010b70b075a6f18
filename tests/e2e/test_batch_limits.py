"""The largest batch the gateway accepts, of real e-mails, through a 2-core stack of the default model's
shape with production mirrored to staging: it answers within the upstream deadline, every time, even beside a
mirrored copy on the same two cores (as on one machine, ``make run``), and staging's copies are compared within
theirs.

The model has the spam default's exact shape and serving settings (four MiniLM layers, its max length,
int8 ONNX Runtime as ``--runtime auto`` serves on CPU, a character n-gram model blended in) with untrained
weights: speed depends on the shape, not the values. The n-gram model's vocabulary holds every n-gram of the
e-mails sent, so the transformer looks up and weighs all of them (the default's holds about 225,000). The
e-mails are the longest of the SpamAssassin corpus, as raw messages."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx
import numpy as np
import pytest

from api_gateway.core.config import GatewaySettings
from ml_common.mail_corpus import raw_messages, tarball
from model_training.backbones import SPAM_BACKBONE, load_backbone
from model_training.export import export_model_dir
from model_training.spam import FINE_TUNING_CONFIG, LABELS, SERVING_MAX_LENGTH
from serving_common.char_ngrams import CharNgramModel, analyze
from serving_common.email_message import parse_email
from serving_common.model_dir import NGRAMS_FILE, ModelMetadata
from tests.e2e.conftest import extra_gateway, extra_pair

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def default_shaped_model(tmp_path_factory, longest_emails):
    texts = [parse_email(raw).model_text() for raw in longest_emails]
    vocabulary = tuple(sorted({gram for text in texts for gram in analyze(text)}))
    ngrams = CharNgramModel(vocabulary, np.ones(len(vocabulary)), np.zeros(len(vocabulary)), 0.0)
    backbone = load_backbone(SPAM_BACKBONE, train_texts=[], labels=LABELS, max_length=SERVING_MAX_LENGTH, vocab_size=0)
    metadata = ModelMetadata(
        name="spam-detector",
        version="auto",
        task="spam",
        architecture="DebertaV2ForSequenceClassification",
        labels=LABELS,
        max_length=SERVING_MAX_LENGTH,
        tail_tokens=FINE_TUNING_CONFIG.tail_tokens,
        decision_threshold=0.5,
        positive_label="spam",
        ngram_weight=FINE_TUNING_CONFIG.ngram_blend_weight,
        created_at=datetime.now(UTC).isoformat(),
    )
    out = tmp_path_factory.mktemp("default-shaped") / "spam-detector"
    card = "untrained, default shape {version}"
    files = {NGRAMS_FILE: ngrams.to_bytes()}
    export_model_dir(out, backbone.model.eval(), backbone.tokenizer, metadata, {}, card, files=files)
    return out


@pytest.fixture(scope="module")
def mirrored_gateway(default_shaped_model, tmp_path_factory):
    logs = tmp_path_factory.mktemp("batch-limits")
    with (
        extra_pair("limits-staging", logs / "staging", default_shaped_model) as (_, staging),
        extra_pair("limits-production", logs / "production", default_shaped_model) as (_, production),
        extra_gateway(
            "limits-gateway",
            logs,
            staging.url,
            production.url,
            shadow_shares=json.dumps({"spam-detector": 1.0}),
            readiness_refresh_seconds="0.5",
        ) as (_, url),
    ):
        yield url


@pytest.fixture(scope="module")
def longest_emails():
    messages = sorted((raw for _, _, raw in raw_messages(tarball())), key=len, reverse=True)
    # The longest that fit the gateway's body limit as one JSON batch: real mail, attachments and all.
    return [raw.decode("utf-8", "replace") for raw in messages[: GatewaySettings().max_batch_size]]


def test_the_largest_accepted_batch_of_real_emails_answers_in_time(mirrored_gateway, longest_emails):
    settings = GatewaySettings()
    rows = min(settings.max_batch_size, settings.max_batch_tokens // SERVING_MAX_LENGTH)
    assert rows == len(longest_emails)  # the token limit admits a full batch of the longest e-mails
    body = {"emails": [{"raw_email": raw} for raw in longest_emails[:rows]]}
    with httpx.Client(base_url=mirrored_gateway, timeout=60) as client:
        # The spam model ready in both environments (no intent model is served here, so /ready stays 503): the
        # readiness round that saw it ready has read its max length from its metadata.
        started = time.monotonic()
        while not _spam_ready(client) and time.monotonic() - started < 30:
            time.sleep(0.2)
        assert _spam_ready(client)
        # Twice in a row: the second meets the first's mirrored copy still running on the same two cores.
        for _ in range(2):
            response = client.post("/api/v1/batch-predict", json=body, headers={"X-Environment": "production"})
            assert response.status_code == 200, response.text[:500]
            assert response.json()["count"] == rows
            assert response.json()["latency_ms"] < settings.upstream_timeout_seconds * 1000
        # Both mirrored copies compared: a full batch's copy has twice production's deadline, not a single
        # request's (the first copy ran beside the second request: on CI it once took longer than production's).
        deadline = time.monotonic() + settings.shadow_timeout_factor * settings.upstream_timeout_seconds + 5
        while time.monotonic() < deadline and sum(_shadow_outcomes(client).values()) < 2:
            time.sleep(0.5)
        assert _shadow_outcomes(client) == {"shadowed/": 2.0}


def _spam_ready(client: httpx.Client) -> bool:
    environments = client.get("/ready").json()["environments"]
    return all(env["models"]["spam-detector"]["ready"] for env in environments.values())


def _shadow_outcomes(client: httpx.Client) -> dict[str, float]:
    """Mirrored calls by outcome and reason (``shadowed/``, ``dropped/upstream_timeout``, ...)."""
    outcomes: dict[str, float] = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("gateway_shadow_requests_total{"):
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            reason = line.split('reason="', 1)[1].split('"', 1)[0]
            key = f"{outcome}/{reason}"
            outcomes[key] = outcomes.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
    return outcomes
