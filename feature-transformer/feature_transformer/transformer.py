"""The KServe transformer. KServe's ``Model.__call__`` runs preprocess → predict (a v2 call to the
predictor at ``predictor_host``) → postprocess; the call itself goes through :mod:`predictor_client`, and
texts become token tensors, and logits verdicts and log rows, through :mod:`serving_common.pipeline`."""

from __future__ import annotations

import asyncio
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from kserve import Model
from kserve.protocol.infer_type import InferInput, InferRequest
from pydantic import ValidationError

from feature_transformer import metrics
from feature_transformer.predictor_client import PredictorClient
from feature_transformer.settings import TransformerSettings
from serving_common.errors import InferenceFailed, InvalidInput
from serving_common.http_errors import validation_failed
from serving_common.inference_log.writer import InferenceLogWriter
from serving_common.pipeline import Prepared, TextPipeline
from serving_common.request_context import SHADOW_HEADER
from serving_common.schemas import TaskResponse, TransformerRequest
from serving_common.v2_binary import Message

LOGITS, EMBEDDING = "logits", "embedding"  # the predictor's v2 outputs
# A call whose texts hold more characters than this is prepared (normalised, tokenised, its n-grams scored) on a
# worker thread, so that the event loop answers other calls meanwhile: the largest batch the gateway accepts
# takes about a second to prepare on one core, and every request of the environment waited behind it. Smaller
# calls, the busiest, are prepared inline (the hop to a thread costs about 0.1 ms; 64 Ki characters are some
# 20 to 100 e-mails, 20 ms of work or more).
INLINE_PREPARE_CHARS = 65_536


@dataclass(frozen=True)
class _Call:
    prepared: Prepared
    request_ids: list[str]  # per row: the row's own id, else the call's
    features: bool  # answer the features too
    shadow: bool  # mirrored production traffic (X-Textserve-Shadow): logged apart, answered to nobody


# preprocess and postprocess of one request run in the same asyncio task, so a context variable
# carries what postprocess needs (features, truncation) without sending it to the predictor.
_call: ContextVar[_Call] = ContextVar("call")


class TextTransformer(Model):
    """Texts in; features, token tensors to the predictor; verdicts of the model's task out."""

    def __init__(
        self,
        name: str,
        pipeline: TextPipeline,
        settings: TransformerSettings,
        inference_log: InferenceLogWriter | None = None,
    ):
        super().__init__(name)
        self.metadata = pipeline.metadata
        self.pipeline = pipeline
        self.settings = settings
        self._predictor: PredictorClient | None = None
        self.inference_log = inference_log
        salt = settings.inference_log_hash_salt
        self.hash_salt = salt.get_secret_value().encode() if salt else None
        self.ready = True

    async def preprocess(
        self, payload: dict[str, Any] | InferRequest, headers: dict[str, str] | None = None
    ) -> InferRequest:
        if isinstance(payload, InferRequest):
            raise InvalidInput('send texts as v1 JSON: {"instances": [{"text": "..."}]}')
        try:
            request = TransformerRequest.model_validate(payload)
        except ValidationError as exc:
            raise validation_failed(exc.errors(include_url=False)) from None
        bodies, subjects = [i.text for i in request.instances], [i.subject for i in request.instances]
        try:
            if sum(map(len, bodies)) > INLINE_PREPARE_CHARS:
                prepared = await asyncio.to_thread(self.pipeline.prepare, bodies, subjects)
            else:
                prepared = self.pipeline.prepare(bodies, subjects)
        except ValueError as exc:
            raise InvalidInput(f"every instance needs a non-empty 'text' ({exc})") from None
        batch = prepared.batch
        metrics.TEXTS.labels(self.name).inc(len(prepared.texts))
        metrics.TRUNCATED.labels(self.name).inc(sum(batch.truncated))
        request_id = (headers or {}).get("x-request-id") or uuid.uuid4().hex
        row_ids = [i.request_id or request_id for i in request.instances]
        shadow = (headers or {}).get(SHADOW_HEADER, "").lower() == "true"
        _call.set(_Call(prepared, row_ids, request.features, shadow))
        # Binary tensors (the v2 binary data extension) both ways: no per-token JSON numbers to write,
        # parse and validate at either end (they cost more than tokenising; docs/benchmarks.md).
        ids = InferInput(name="input_ids", shape=list(batch.input_ids.shape), datatype="INT64")
        ids.set_data_from_numpy(batch.input_ids, binary_data=True)
        mask = InferInput(name="attention_mask", shape=list(batch.attention_mask.shape), datatype="INT64")
        mask.set_data_from_numpy(batch.attention_mask, binary_data=True)
        return InferRequest(
            model_name=self.name,
            infer_inputs=[ids, mask],
            request_id=request_id,
            parameters={"binary_data_output": True},
        )

    def _predictor_client(self) -> PredictorClient:
        if self._predictor is None:
            # From the settings, not KServe's context variable: a spawned worker process has only what
            # was pickled into it.
            config = self.settings.predictor_config()
            if not config.predictor_host:
                raise InferenceFailed("the transformer has no predictor (--predictor_host)")
            self._predictor = PredictorClient(
                config.predictor_base_url, config.timeout, self.settings.predictor_connections
            )
        return self._predictor

    async def predict(
        self,
        payload: InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> Message:
        """The v2 call to the predictor; its failures arrive as typed errors (503 stays 503)."""
        return await self._predictor_client().infer(self.name, payload, headers)

    async def aclose(self) -> None:
        if self._predictor is not None:
            await self._predictor.close()

    def postprocess(
        self,
        result: Message | dict[str, Any],
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        logits_tensor = result.get(LOGITS) if isinstance(result, Message) else None
        if not isinstance(result, Message) or logits_tensor is None:
            raise InferenceFailed(f"predictor returned no v2 '{LOGITS}' output")
        call = _call.get()
        embedding = result.get(EMBEDDING)
        try:  # logits that do not fit the texts or the model's declared heads
            scored = self.pipeline.score(
                call.prepared, logits_tensor.data, embedding.data if embedding is not None else None
            )
        except ValueError as exc:
            raise InferenceFailed(f"predictor output does not fit: {exc}") from None
        model_version = result.model_version or self.metadata.version
        if self.inference_log is not None:  # into the writer's buffer: no I/O here, never fails the request
            projection = (embedding.parameters or {}).get("projection") if embedding is not None else None
            rows = self.pipeline.rows(
                scored,
                model_name=self.name,
                model_version=model_version,
                projection_id=projection,
                request_ids=call.request_ids,
                hash_salt=self.hash_salt,
            )
            self.inference_log.record(rows, shadow=call.shadow)
        response: TaskResponse = self.pipeline.task.response(
            scored.verdicts,
            truncated=scored.truncated,
            features=scored.features if call.features else [{}] * len(scored.features),
            model_name=result.model_name or self.name,
            model_version=model_version,
        )
        return response.model_dump()
