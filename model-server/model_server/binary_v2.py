"""The model-server's lean path for binary v2 inference calls (what the feature transformer sends).

``POST /v2/models/{name}/infer`` with the v2 binary data extension (an ``Inference-Header-Content-Length``
header, a small JSON header, then the raw tensors) is answered here, below FastAPI. KServe's own
handler validates the JSON header with pydantic per request and turns the binary tensors into Python
lists and back (``InferRequest.from_bytes``): per call that costs more than a forward pass of a small
model. This path reads the tensors with ``np.frombuffer``, runs the same :meth:`infer_arrays` (checks,
batcher, metrics) and answers in the same binary format, which KServe's ``InferResponse.from_bytes``
reads. Everything else (JSON v2, v1, metadata, health, unknown models) goes on to KServe unchanged.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import numpy as np
import orjson
from kserve.logging import trace_logger
from kserve.metrics import PREDICT_HIST_TIME, get_labels
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_server.inputs import ATTENTION_MASK, INPUT_IDS, INTEGER_DATATYPES
from model_server.predictor import EMBEDDING, LOGITS, ClassifierPredictor
from serving_common.errors import InvalidInput
from serving_common.http_errors import send_error
from serving_common.kserve_server import KSERVE_ERRORS

HEADER_LENGTH = b"inference-header-content-length"
_PATH = re.compile(r"^/v2/models/([^/]+)/infer$")


def read_request(body: bytes, header_length: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """(the JSON header, input_ids, attention_mask) of a binary v2 request; InvalidInput when malformed."""
    if not 0 < header_length <= len(body):
        raise InvalidInput(f"inference-header-content-length {header_length} does not fit a {len(body)}-byte body")
    try:
        header = orjson.loads(body[:header_length])
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the JSON header is not valid JSON: {exc}") from None
    tensors: dict[str, np.ndarray] = {}
    offset = header_length
    for spec in header.get("inputs") or []:
        name, datatype, shape = spec.get("name"), spec.get("datatype"), spec.get("shape")
        size = (spec.get("parameters") or {}).get("binary_data_size")
        if datatype not in INTEGER_DATATYPES:
            raise InvalidInput(f"input tensor '{name}' must be INT64, got {datatype}")
        if not isinstance(size, int) or not isinstance(shape, list) or offset + size > len(body):
            raise InvalidInput(f"input tensor '{name}' needs binary_data_size and a shape within the body")
        dtype = np.dtype(INTEGER_DATATYPES[datatype])
        raw = np.frombuffer(body, dtype=dtype, count=size // dtype.itemsize, offset=offset)
        offset += size
        try:
            tensors[name] = raw.reshape(shape).astype(np.int64, copy=False)
        except ValueError as exc:
            raise InvalidInput(f"input tensor '{name}' could not be read: {exc}") from None
    for name in (INPUT_IDS, ATTENTION_MASK):
        if name not in tensors:
            raise InvalidInput(f"input tensor '{name}' is missing; expected '{INPUT_IDS}' and '{ATTENTION_MASK}'")
    return header, tensors[INPUT_IDS], tensors[ATTENTION_MASK]


def write_response(
    predictor: ClassifierPredictor, request_id: str, logits: np.ndarray, embedding: np.ndarray
) -> tuple[bytes, int]:
    """(body, JSON header length) of the binary v2 answer: logits, then the embedding."""
    parts = [np.ascontiguousarray(logits, dtype=np.float32), np.ascontiguousarray(embedding, dtype=np.float32)]
    outputs = [
        {
            "name": LOGITS,
            "shape": list(parts[0].shape),
            "datatype": "FP32",
            "parameters": {"binary_data_size": parts[0].nbytes},
        },
        {
            "name": EMBEDDING,
            "shape": list(parts[1].shape),
            "datatype": "FP32",
            "parameters": {"projection": predictor.projection_id, "binary_data_size": parts[1].nbytes},
        },
    ]
    header = orjson.dumps(
        {"model_name": predictor.name, "model_version": predictor.version, "id": request_id, "outputs": outputs}
    )
    return header + b"".join(p.tobytes() for p in parts), len(header)


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
            header, input_ids, attention_mask = read_request(body, int(headers[HEADER_LENGTH]))
            logits, embedding = await predictor.infer_arrays(input_ids, attention_mask)
            content, header_length = write_response(predictor, header.get("id") or request_id, logits, embedding)
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
                (b"content-type", b"application/octet-stream"),
                (HEADER_LENGTH, str(header_length).encode()),
                (b"x-model-version", predictor.version.encode()),
                (b"x-request-id", request_id.encode()),
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
