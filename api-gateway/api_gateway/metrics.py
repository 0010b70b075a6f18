"""Every Prometheus metric the gateway exports, declared once."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)

# model_version: the version that answered ("" when no version answered: a failed call), so a canary
# rollout can be watched per version.
REQUESTS = Counter(
    "gateway_requests_total",
    "Prediction requests answered, by outcome and the model version that answered.",
    ["environment", "model_name", "model_version", "endpoint", "status"],
)
# Every answer, refusals included (a 422 for a malformed message, a 413, a 415, a 401 never reach a model and are
# in no other series). route: the matched route's path template; "unrouted" for an answer given before routing
# (the body limits, the in-flight bound) or when no route matched (404).
RESPONSES = Counter(
    "gateway_http_responses_total",
    "HTTP answers the gateway sent, by route template and status code.",
    ["route", "status"],
)
UNROUTED = "unrouted"
REQUEST_DURATION = Histogram(
    "gateway_request_duration_seconds",
    "Time from request received to response sent, for prediction endpoints.",
    ["environment", "model_name", "model_version", "endpoint"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_DURATION = Histogram(
    "gateway_upstream_duration_seconds",
    "Time spent waiting on the environment's InferenceService.",
    ["environment", "model_name"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "gateway_upstream_errors_total",
    "Failed calls to an InferenceService, by error code.",
    ["environment", "model_name", "code"],
)
# With several worker processes (GATEWAY_WORKERS) gauges combine as multiprocess_mode says.
IN_FLIGHT = Gauge(
    "gateway_in_flight_requests",
    "Prediction requests being processed.",
    ["environment"],
    multiprocess_mode="livesum",
)
PREDICTIONS = Counter(
    "gateway_predictions_total",
    "Texts classified, by predicted label (spam/ham, or the intent).",
    ["environment", "model_name", "label"],
)
ENVIRONMENT_READY = Gauge(
    "gateway_environment_ready",
    "1 when the environment's InferenceService was ready at the last check (of every worker process).",
    ["environment"],
    multiprocess_mode="livemin",
)
UPSTREAM_RETRIES = Counter(
    "gateway_upstream_retries_total",
    "Calls sent again after a refused connection or a 503 before processing.",
    ["environment", "model_name"],
)
COALESCED_ROWS = Histogram(
    "gateway_coalesced_rows",
    "Rows per upstream call once concurrent requests are merged (1 = a request sent alone).",
    ["environment", "model_name"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
COALESCED_REQUESTS = Histogram(
    "gateway_coalesced_requests",
    "Caller requests merged into one upstream call.",
    ["environment", "model_name"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
COALESCE_WAIT = Histogram(
    "gateway_coalesce_wait_seconds",
    "Time a request waited at the gateway before its upstream call was sent.",
    ["environment", "model_name"],
    buckets=(0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
SHADOW_REQUESTS = Counter(
    "gateway_shadow_requests_total",
    "Production requests mirrored to staging (outcome shadowed), or not (outcome dropped: queue_full, or "
    "the staging call's error code).",
    ["model_name", "outcome", "reason"],
)
SHADOW_COMPARISONS = Counter(
    "gateway_shadow_comparisons_total",
    "Rows whose staging verdict was compared with production's, by field (label, intent, complexity_level) "
    "and outcome (agree, disagree).",
    ["model_name", "production_version", "staging_version", "field", "outcome"],
)
SHADOW_PROBABILITY_DELTA = Histogram(
    "gateway_shadow_probability_delta",
    "|probability staging gives production's label - production's own|, per compared row.",
    ["model_name", "production_version", "staging_version"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0),
)
FEEDBACK = Counter(
    "gateway_feedback_total",
    "True labels sent back for predictions this gateway remembers, counted once per row: the verdict "
    "(predicted) against the label (actual), per model version.",
    ["environment", "model_name", "model_version", "predicted", "actual"],
)
FEEDBACK_UNMATCHED = Counter(
    "gateway_feedback_unmatched_total",
    "True labels for predictions this gateway does not remember (older, or answered by another replica): "
    "written to the feedback log and joined offline.",
    ["environment", "model_name"],
)
FEEDBACK_LOG_DROPPED = Counter(
    "gateway_feedback_log_rows_dropped_total",
    "Feedback rows the feedback log could not take (buffer_full) or write before shutdown (write_error).",
    ["reason"],
)
for _reason in ("buffer_full", "write_error"):  # exported from the start, so the dashboards' queries resolve
    FEEDBACK_LOG_DROPPED.labels(_reason)
FEEDBACK_LOG_WRITE_FAILURES = Counter(
    "gateway_feedback_log_write_failures_total",
    "Writes of a feedback-log file that failed; their rows are kept in memory and written again later.",
)
