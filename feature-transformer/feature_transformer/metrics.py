"""Every Prometheus metric the feature transformer exports beyond KServe's own ``request_*_seconds``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

TEXTS = Counter("transformer_texts_total", "Texts tokenised and sent to the predictor.", ["model_name"])
TRUNCATED = Counter(
    "transformer_truncated_texts_total", "Texts longer than the model's max tokens, cut to fit.", ["model_name"]
)

# The inference log (see serving_common.inference_log.writer).
LOG_ROWS_WRITTEN = Counter("inference_log_rows_written_total", "Prediction rows written to the inference log.")
LOG_ROWS_DROPPED = Counter(
    "inference_log_rows_dropped_total",
    "Prediction rows not logged: buffer_full (storage too slow, or down for long) or write_error (unwritten at exit).",
    ["reason"],
)
for _reason in ("buffer_full", "write_error"):  # exported at 0 from the start, so alerts see a series
    LOG_ROWS_DROPPED.labels(_reason)
LOG_WRITE_FAILURES = Counter(
    "inference_log_write_failures_total",
    "Writes of an inference-log file that failed; their rows are kept in memory and written again later.",
)
# Summed over the live worker processes when the transformer runs several (--workers).
LOG_BUFFERED_ROWS = Gauge(
    "inference_log_buffered_rows", "Rows waiting in memory to be written.", multiprocess_mode="livesum"
)
LOG_WRITE_SECONDS = Histogram(
    "inference_log_write_seconds",
    "Time to write one Parquet file of the inference log.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
