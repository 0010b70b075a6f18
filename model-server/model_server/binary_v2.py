"""The model-server's lean path for binary v2 inference calls (what the feature transformer sends).

``POST /v2/models/{name}/infer`` with the v2 binary data extension (an ``Inference-Header-Content-Length``
header, a small JSON header, then the raw tensors) is answered here, below FastAPI. KServe's own
handler validates the JSON header with pydantic per request and turns the binary tensors into Python
lists and back (``InferRequest.from_bytes``): per call that costs more than a forward pass of a small
model. This path decodes the request with :mod:`serving_common.v2_binary` (``np.frombuffer``, no lists),
meets the same checks as KServe's path (:func:`inputs.token_tensors`, then :meth:`infer_arrays`: checks,
batcher, metrics) and answers with the same output tensors, encoded by the same codec.
Everything else (JSON v2, v1, metadata, health, unknown models) goes on to KServe unchanged.
"""

from __future__ import annotations

import re
import time
import uuid

from kserve.logging import trace_logger
from kserve.metrics import PREDICT_HIST_TIME, get_labels
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_server import inputs
from model_server.predictor import ClassifierPredictor
from serving_common import v2_binary
from serving_common.http_errors import send_error
from serving_common.kserve_server import KSERVE_ERRORS

HEADER_LENGTH = v2_binary.HEADER_LENGTH.encode()
_PATH = re.compile(r"^/v2/models/([^/]+)/infer$")


class BinaryInferMiddleware:
    def __init__(self, app: ASGIApp, predictors: dict[str, ClassifierPredictor]) -> None:
        self.app = app
        self.predictors = predictors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        match = _PATH.match(scope["path"])
        headers = dict(scope["headers"])
        predictor = self.predictors.get(match.group(1)) if match else None
        if predictor is None or HEADER_LENGTH not in headers or not predictor.ready:
            await self.app(scope, receive, send)  # KServe answers: JSON v2, unknown model, not ready
            return
        request_id = headers.get(b"x-request-id", b"").decode("latin-1") or uuid.uuid4().hex
        started = time.perf_counter()
        try:
            body = await _read_body(receive)
            with predictor.counting_invalid():
                length = v2_binary.header_length(headers[HEADER_LENGTH], len(body))
                message = v2_binary.decode(body, length, "inputs")
                input_ids, attention_mask = inputs.token_tensors(message)
            logits, embedding = await predictor.infer_arrays(input_ids, attention_mask)
            content, header_length = v2_binary.encode(
                predictor.output_tensors(logits, embedding),
                "outputs",
                id=message.id or request_id,
                model_name=predictor.name,
                model_version=predictor.version,
            )
        except Exception as exc:  # the same answer the FastAPI handlers give
            await send_error(scope, send, exc, KSERVE_ERRORS)
            return
        elapsed = time.perf_counter() - started
        PREDICT_HIST_TIME.labels(**get_labels(predictor.name)).observe(elapsed)
        if predictor.enable_latency_logging:  # KServe's own per-request line, as its handlers write it
            trace_logger.info(f"requestId: {request_id}, predict_ms: {round(elapsed * 1000, 3)}")
        await _respond(
            send,
            200,
            content,
            [
                (b"content-type", v2_binary.CONTENT_TYPE.encode()),
                (HEADER_LENGTH, str(header_length).encode()),
                *((k.encode(), v.encode()) for k, v in predictor.response_headers(request_id).items()),
            ],
        )


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message: Message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
