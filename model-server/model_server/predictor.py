"""The KServe predictor: the v2/v1 data-plane face of a :class:`~ml_common.classifier.Classifier`."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np
from kserve import Model
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from ml_common.classifier import Classifier
from model_server import inputs, metrics
from model_server.batching import AdaptiveBatcher
from model_server.settings import ModelServerSettings
from serving_common.errors import InvalidInput
from serving_common.v2_binary import Tensor

log = logging.getLogger(__name__)
LOGITS = "logits"
EMBEDDING = "embedding"


class ClassifierPredictor(Model):
    """Ready only once the model is loaded and one warm-up pass has run."""

    def __init__(self, name: str, load_classifier: Callable[[], Classifier], settings: ModelServerSettings):
        super().__init__(name, return_response_headers=True)
        self._load_classifier = load_classifier
        self.settings = settings
        self.classifier: Classifier | None = None
        self.batcher: AdaptiveBatcher | None = None
        # One thread runs forward passes: torch already uses every core inside one pass, and the
        # event loop stays free to accept requests while a pass runs.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forward")

    def load(self) -> bool:
        classifier = self._load_classifier()
        # A compiled model is warmed up at the largest batch too, so no request waits for a compilation.
        compiled = getattr(classifier, "compiled", False)
        classifier.warm_up(self.settings.max_batch_size if compiled else self.settings.warmup_batch_size)
        self.classifier = classifier
        if self.settings.batching:
            self.batcher = AdaptiveBatcher(
                self._timed_forward,
                self._executor,
                max_batch_size=self.settings.max_batch_size,
                max_wait_ms=self.settings.max_batch_wait_ms,
                start_when_idle=self.settings.batch_when_idle,
                max_batch_tokens=self.settings.max_batch_tokens,
                max_queue_rows=self.settings.max_queue_rows,
                model_name=self.name,
                model_version=classifier.metadata.version,
            )
        self.ready = True
        return self.ready

    @property
    def version(self) -> str:
        return self.classifier.metadata.version if self.classifier else "unknown"

    def get_input_types(self) -> list[dict[str, Any]]:
        return [
            {"name": inputs.INPUT_IDS, "datatype": "INT64", "shape": [-1, -1]},
            {"name": inputs.ATTENTION_MASK, "datatype": "INT64", "shape": [-1, -1]},
        ]

    def get_output_types(self) -> list[dict[str, Any]]:
        outputs = self.classifier.num_outputs if self.classifier else -1
        dim = self.classifier.projection.dim if self.classifier else -1
        return [
            {"name": LOGITS, "datatype": "FP32", "shape": [-1, outputs]},
            {"name": EMBEDDING, "datatype": "FP32", "shape": [-1, dim]},
        ]

    async def infer_arrays(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits, embedding) for checked token tensors: through the batcher, or one pass of their own.
        Both the KServe data plane (:meth:`predict`) and the binary fast path (:mod:`binary_v2`) call it."""
        assert self.classifier is not None, "predict called before load"
        with self.counting_invalid():
            inputs.check(input_ids, attention_mask, self.classifier.vocab_size, self.classifier.metadata.max_length)
        if self.batcher is not None:
            logits, embedding = await self.batcher.submit(input_ids, attention_mask)
        else:  # batching off: one forward pass per request, as a plain KServe custom predictor runs
            logits, embedding = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._timed_forward, input_ids, attention_mask
            )
        metrics.REQUESTS.labels(self.name, self.version, "ok").inc()
        return logits, embedding

    @contextmanager
    def counting_invalid(self) -> Iterator[None]:
        """Counts a request refused as invalid input (model_server_requests_total{status="invalid_input"})."""
        try:
            yield
        except InvalidInput:
            metrics.REQUESTS.labels(self.name, self.version, "invalid_input").inc()
            raise

    @property
    def projection_id(self) -> str:
        assert self.classifier is not None
        return self.classifier.projection.id

    def output_tensors(self, logits: np.ndarray, embedding: np.ndarray) -> list[Tensor]:
        """The v2 outputs of one call: the logits, then the embedding that feeds the inference log (drift),
        with its projection's id. The lean binary path and KServe's path both answer with these."""
        return [
            Tensor(LOGITS, logits.astype(np.float32, copy=False)),
            Tensor(EMBEDDING, embedding.astype(np.float32, copy=False), {"projection": self.projection_id}),
        ]

    def response_headers(self, request_id: str | None) -> dict[str, str]:
        headers = {"x-model-version": self.version}
        if request_id:
            headers["x-request-id"] = request_id
        return headers

    async def predict(
        self,
        payload: InferRequest | dict[str, Any],
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> InferResponse | dict[str, Any]:
        with self.counting_invalid():
            if isinstance(payload, InferRequest):
                input_ids, attention_mask = inputs.token_tensors(inputs.from_kserve(payload))
            else:
                input_ids, attention_mask = inputs.from_v1(payload)
        logits, embedding = await self.infer_arrays(input_ids, attention_mask)
        request_id = (headers or {}).get("x-request-id")
        if response_headers is not None:
            response_headers.update(self.response_headers(request_id))
        if not isinstance(payload, InferRequest):
            return {"predictions": logits.tolist(), "model_name": self.name, "model_version": self.version}
        binary = payload.use_binary_outputs  # binary callers get binary outputs; plain JSON callers get JSON
        outputs = []
        for tensor in self.output_tensors(logits, embedding):
            output = InferOutput(
                name=tensor.name,
                shape=list(tensor.data.shape),
                datatype=tensor.datatype,
                parameters=dict(tensor.parameters) or None,
            )
            output.set_data_from_numpy(tensor.data, binary_data=binary)
            outputs.append(output)
        return InferResponse(
            response_id=payload.id or request_id or uuid.uuid4().hex,
            model_name=self.name,
            model_version=self.version,
            infer_outputs=outputs,
        )

    def _timed_forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        labels = (self.name, self.version)
        metrics.BATCH_SIZE.labels(*labels).observe(input_ids.shape[0])
        metrics.SEQUENCE_LENGTH.labels(*labels).observe(input_ids.shape[1])
        assert self.classifier is not None, "forward before load"
        with metrics.FORWARD_SECONDS.labels(*labels).time():
            return self.classifier.infer(input_ids, attention_mask)

    def stop(self) -> None:
        self._executor.shutdown(wait=True)
        super().stop()
