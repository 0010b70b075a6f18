"""A third task, added by this module alone: no module of the platform is edited for it.

``ToyRankingTask`` reads a model with one softmax over its labels and answers the best label, the
runner-up and the margin between them; its log rows add ``runner_up`` and ``margin``; shadow traffic
compares the label and the runner-up. It reaches every service through ``TEXTSERVE_TASK_PLUGINS``
(this module's ``ToyRankingTask``), and the gateway serves it through ``GATEWAY_UPSTREAMS``, at the
generic ``/api/v1/tasks/{task}`` routes. The test serves it with a real model server, feature
transformer and gateway on loopback, mirrors its production traffic, reads its inference-log rows and
builds its drift baseline.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel

from serving_common.model_dir import METADATA_FILE, ModelMetadata
from serving_common.postprocess import softmax
from serving_common.schemas import TaskResponse
from serving_common.tasks import Comparison, LogType, ModelTask, Prediction, load_plugins

TASK, MODEL = "toy-ranking", "toy-ranker"
LABELS = ["calm", "urgent"]
PLUGIN = f"{__name__}:ToyRankingTask"
ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["URGENT: claim your prize now, call 09061701461", "see you at lunch tomorrow", "ok, thanks"]


@dataclass(frozen=True)
class Ranking:
    label: str
    probability: float
    runner_up: str
    margin: float


class RankingOutput(BaseModel):
    label: str
    probability: float
    runner_up: str
    margin: float
    truncated: bool
    features: dict[str, float]


class RankingResponse(TaskResponse):
    predictions: list[RankingOutput]


class ToyRankingTask(ModelTask[Ranking, RankingOutput, RankingResponse]):
    name = TASK
    response_model = RankingResponse
    log_columns: ClassVar[dict[str, LogType]] = {"runner_up": "string", "margin": "float64"}

    def check(self, metadata: ModelMetadata) -> None:
        if metadata.heads:
            raise ValueError("a ranking model has one softmax over its labels, no heads")

    def verdicts(self, logits: np.ndarray, metadata: ModelMetadata) -> list[Ranking]:
        if logits.ndim != 2 or logits.shape[1] != len(metadata.labels):
            raise ValueError(f"expected logits of shape [batch, {len(metadata.labels)}], got {list(logits.shape)}")
        verdicts = []
        for row in softmax(logits):
            best, second = np.argsort(row)[::-1][:2]
            verdicts.append(
                Ranking(
                    metadata.labels[best], float(row[best]), metadata.labels[second], float(row[best] - row[second])
                )
            )
        return verdicts

    def log_row(self, verdict: Ranking) -> Prediction:
        return Prediction(
            verdict.label, verdict.probability, {"runner_up": verdict.runner_up, "margin": verdict.margin}
        )

    def output(self, verdict: Ranking, *, truncated: bool, features: dict[str, float]) -> RankingOutput:
        return RankingOutput(**vars(verdict), truncated=truncated, features=features)

    @staticmethod
    def answer_label(output: RankingOutput) -> str:
        return output.label

    def compare(self, production: RankingOutput, staging: RankingOutput) -> Comparison:
        return Comparison(
            {"label": production.label == staging.label, "runner_up": production.runner_up == staging.runner_up},
            abs(production.probability - staging.probability),
        )


def _toy_model(spam_model: Path, out: Path) -> Path:
    """The small spam model's weights and tokenizer, described as a model of the toy task."""
    shutil.copytree(spam_model, out)
    metadata = json.loads((out / METADATA_FILE).read_text())
    metadata.update(name=MODEL, task=TASK, labels=LABELS, positive_label=None, decision_threshold=None)
    (out / METADATA_FILE).write_text(json.dumps(metadata))
    return out


def _comparisons(gateway: str) -> dict[tuple[str, str], float]:
    text = httpx.get(f"{gateway}/metrics", timeout=10).text
    return {
        (s.labels["field"], s.labels["outcome"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "gateway_shadow_comparisons_total" and s.labels["model_name"] == MODEL
    }


def test_a_third_task_is_served_logged_mirrored_and_baselined_from_its_own_module(model_dir, tmp_path, monkeypatch):
    from baseline_generator.__main__ import main as generate_baseline
    from devstack.process import free_port
    from devstack.stack import gateway_process
    from ml_common.runtime import load_classifier
    from serving_common.baseline import BaselineStore
    from serving_common.inference_log.reader import InferenceLogReader
    from serving_common.pipeline import TextPipeline
    from tests.e2e.conftest import extra_pair, wait_until

    toy = _toy_model(model_dir, tmp_path / MODEL)
    plugin_env = {"TEXTSERVE_TASK_PLUGINS": json.dumps([PLUGIN]), "PYTHONPATH": str(ROOT)}
    # The model server's CPU runtime by name (what ``--runtime auto`` picks on a CPU), so that the verdict it serves
    # can be recomputed in process by the same runtime below: int8's rounding differs from float32's by more on
    # some CPUs than others (1.7e-4 in this probability on an AVX2-only EPYC, under 1e-4 on an AVX-512 Xeon).
    runtime = ("--runtime", "onnx-int8")
    with extra_pair("toy", tmp_path, toy, predictor_args=runtime, env=plugin_env) as (_, transformer):
        port = free_port()
        gateway = gateway_process(
            "toy-gateway",
            port,
            transformer.url,
            transformer.url,
            log_dir=tmp_path,
            env={
                **plugin_env,
                "GATEWAY_UPSTREAMS": json.dumps({TASK: {"staging": transformer.url, "production": transformer.url}}),
                "GATEWAY_MODEL_NAMES": json.dumps({TASK: MODEL}),
                "GATEWAY_SHADOW_SHARES": json.dumps({MODEL: 1.0}),
            },
        )
        gateway.start()
        try:
            gateway.wait_ready(60)
            base = f"http://127.0.0.1:{port}"
            one = httpx.post(f"{base}/api/v1/tasks/{TASK}/predict", json={"text": TEXTS[0]}, timeout=30)
            assert one.status_code == 200, one.text
            body = one.json()
            assert body["task"] == TASK and body["model_name"] == MODEL and body["environment"] == "staging"
            verdict = body["prediction"]
            assert set(verdict) == {"label", "probability", "runner_up", "margin", "truncated"}
            assert {verdict["label"], verdict["runner_up"]} == set(LABELS)
            assert abs(verdict["margin"] - (2 * verdict["probability"] - 1)) < 1e-6  # two labels

            # The served verdict is the one the shared pipeline gives in process, with the model in process as the
            # server runs it.
            load_plugins([PLUGIN])
            served_runtime = load_classifier(toy, runtime[1], tmp_path / "onnx", threads=1)
            local = TextPipeline.from_model_dir(toy).run(served_runtime.infer, TEXTS[:1]).verdicts[0]
            assert local.label == verdict["label"] and abs(local.probability - verdict["probability"]) < 1e-4

            batch = httpx.post(
                f"{base}/api/v1/tasks/{TASK}/batch-predict",
                json={"texts": TEXTS},
                headers={"X-Environment": "production"},
                timeout=30,
            )
            assert batch.status_code == 200 and batch.json()["count"] == len(TEXTS)
            wait_until(
                lambda: _comparisons(base).get(("runner_up", "agree"), 0) >= len(TEXTS),
                30,
                "the toy task's shadow comparison by runner-up",
            )
            assert _comparisons(base).get(("label", "disagree"), 0) == 0  # one model on both sides

            unknown = httpx.post(f"{base}/api/v1/tasks/sentiment/predict", json={"text": "hi"}, timeout=30)
            assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_task"
        finally:
            gateway.stop()

    # The transformer wrote its rows on shutdown, with the task's own columns, the mirrored ones apart.
    reader = InferenceLogReader(str(tmp_path / "inference-log"))
    now = datetime.now(UTC)
    window = reader.window("staging", MODEL, now - timedelta(hours=1), now + timedelta(minutes=1))
    assert window.rows == 1 + len(TEXTS)
    assert window.table.column_names[-2:] == ["runner_up", "margin"]
    assert set(window.table["runner_up"].to_pylist()) <= set(LABELS)
    shadow = reader.window("staging-shadow", MODEL, now - timedelta(hours=1), now + timedelta(minutes=1))
    assert shadow.rows == len(TEXTS)

    # Its drift baseline: the generator, in this process, with the plug-in from the same setting.
    monkeypatch.setenv("TEXTSERVE_TASK_PLUGINS", json.dumps([PLUGIN]))
    reference = tmp_path / "reference.jsonl"
    reference.write_text("\n".join(json.dumps({"text": t}) for t in TEXTS * 4))
    baselines = str(tmp_path / "baselines")
    assert (
        generate_baseline(["--model-dir", str(toy), "--baselines-url", baselines, "--reference", str(reference)]) == 0
    )
    meta, samples = BaselineStore(baselines).read(MODEL, json.loads((toy / METADATA_FILE).read_text())["version"])
    assert meta.task == TASK and samples.column_names[-2:] == ["runner_up", "margin"]
    assert samples.num_rows == len(TEXTS) * 4
