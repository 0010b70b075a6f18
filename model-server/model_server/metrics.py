"""Every Prometheus metric the model server exports beyond KServe's own ``request_*_seconds``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "model_server_requests_total",
    "Inference requests handled by the model server, by outcome.",
    ["model_name", "model_version", "status"],
)
FORWARD_SECONDS = Histogram(
    "model_server_forward_seconds",
    "Time of one forward pass of the model (pipelined: from its launch or the previous pass's end, so the sum "
    "is the time the device was busy).",
    ["model_name", "model_version"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
BATCH_SIZE = Histogram(
    "model_server_batch_size",
    "Rows (texts) per forward pass.",
    ["model_name", "model_version"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
SEQUENCE_LENGTH = Histogram(
    "model_server_sequence_length_tokens",
    "Padded sequence length of each forward pass, in tokens.",
    ["model_name", "model_version"],
    buckets=(16, 32, 64, 128, 256, 512),
)
QUEUE_ROWS = Gauge(
    "model_server_queue_rows", "Rows (texts) waiting for a forward pass.", ["model_name", "model_version"]
)
QUEUE_WAIT_SECONDS = Histogram(
    "model_server_queue_wait_seconds",
    "Time a request waited in the batching queue before its forward pass started.",
    ["model_name", "model_version"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
REJECTED = Counter(
    "model_server_rejected_total",
    "Requests refused with 503 because the batching queue was full.",
    ["model_name", "model_version"],
)
