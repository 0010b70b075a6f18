"""Gateway settings (``GATEWAY_*``), built once in ``__main__`` and injected through ``api.deps``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from api_gateway.core.environments import Environment
from serving_common.errors import UnknownTask
from serving_common.http_limits import MIB, HttpLimitSettings
from serving_common.settings import ServiceSettings
from serving_common.tasks import INTENT, SPAM, task_named


@dataclass(frozen=True)
class TaskUpstream:
    """One task's InferenceService in each environment, and the model name it serves under."""

    task: str
    model_name: str
    urls: Mapping[Environment, str]


class GatewaySettings(ServiceSettings, HttpLimitSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    host: str = Field(default="0.0.0.0", description="Address the gateway binds.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port the gateway listens on.")
    workers: int = Field(
        default=1,
        ge=1,
        description="Gateway processes sharing the port (uvicorn's multi-process mode), each with its own clients, "
        "coalescers, verdict memory and feedback-log writer, as replicas have; /metrics sums every process's counts.",
    )
    staging_url: str = Field(
        default="http://127.0.0.1:8101",
        description="Base URL of the staging InferenceService (its transformer), e.g. "
        "http://spam-detector-staging.textserve.svc.cluster.local.",
    )
    production_url: str = Field(
        default="http://127.0.0.1:8201", description="Base URL of the production InferenceService (its transformer)."
    )
    default_environment: Environment = Field(
        default=Environment.STAGING, description="Environment used when X-Environment is absent."
    )
    staging_intent_url: str | None = Field(
        default=None, description="Base URL of the staging intent-classifier InferenceService; default: staging_url."
    )
    production_intent_url: str | None = Field(
        default=None,
        description="Base URL of the production intent-classifier InferenceService; default: production_url.",
    )
    spam_model_name: str = Field(default="spam-detector", description="Model name of the spam detector on the URL.")
    intent_model_name: str = Field(default="intent-classifier", description="Model name of the intent classifier.")
    upstreams: dict[str, dict[Environment, str]] = Field(
        default_factory=dict,
        description="InferenceService base URLs per task and environment (JSON, e.g. "
        '{"sentiment": {"staging": "http://...", "production": "http://..."}}), every environment named. '
        "The URL settings above are the spam and intent entries' shorthands; an entry here replaces them. "
        "Every task here must be registered (TEXTSERVE_TASK_PLUGINS) and is served at /api/v1/tasks/{task}.",
    )
    model_names: dict[str, str] = Field(
        default_factory=dict,
        description="Model name per task (JSON); default: spam_model_name and intent_model_name, else the task's name.",
    )
    upstream_timeout_seconds: float = Field(default=10.0, gt=0, description="Total time allowed per upstream call.")
    upstream_connect_timeout_seconds: float = Field(default=2.0, gt=0, description="Time allowed to connect.")
    upstream_max_connections: int = Field(
        default=256, ge=1, description="Most connections per environment and model at once, all kept alive."
    )
    upstream_keepalive_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How long an idle pooled connection is kept (shorter than the transformer's 65 s keep-alive).",
    )
    upstream_retries: int = Field(
        default=2, ge=0, description="Retries of a call that cannot have been processed (refused, or 503 first)."
    )
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive failures that open an InferenceService's circuit."
    )
    breaker_reset_seconds: float = Field(
        default=5.0, gt=0, description="How long an open circuit fails fast before one probe call."
    )
    readiness_refresh_seconds: float = Field(
        default=10.0, gt=0, description="How often the environment-ready metric is refreshed in the background."
    )
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, description="Time allowed per readiness probe.")
    max_batch_size: int = Field(default=256, ge=1, description="Most emails accepted in one batch-predict call.")
    max_text_chars: int = Field(default=100_000, ge=1, description="Longest email text accepted, in characters.")
    max_batch_tokens: int = Field(
        default=32_768,
        ge=1,
        description="Most tokens one request may cost the model. A text counts min(its characters + 2, the model's "
        "max length), a bound no tokenizer exceeds (a token covers at least one character), so a request under it "
        "answers within the upstream deadline on the smallest deployment (docs/api.md, 'Limits for real mail'); "
        "over it, 413 naming the limit. The model's max length is read from its metadata (512 until then).",
    )
    max_json_values: int = Field(
        default=10_000,
        ge=64,
        description="Most values (objects, arrays, strings, numbers, at any depth) one JSON body may hold; over it, "
        "413 before the body is validated, which reads every member and holds the event loop meanwhile (a full batch "
        "of e-mail objects holds 6 per e-mail and 2 more; it must fit).",
    )
    auth_enabled: bool = Field(
        default=False, description="Require API keys on /api/*. Off in `make run` (logged loudly); on in the cluster."
    )
    api_keys_file: str | None = Field(
        default=None, description="JSON file of hashed API keys (a mounted Kubernetes Secret); needed when auth is on."
    )
    max_in_flight: int = Field(
        default=512,
        ge=1,
        description="Requests processed at once on /api/* (counted once their body has arrived); past it: 503 "
        "with Retry-After at once.",
    )
    coalescing: bool = Field(
        default=True,
        description="Merge concurrent requests for one environment and model into shared upstream calls "
        "(a request that finds no call in flight is sent at once).",
    )
    coalesce_max_rows: int = Field(
        default=32, ge=1, description="Most rows in one merged upstream call (a larger batch request goes alone)."
    )
    coalesce_max_wait_ms: float = Field(
        default=2.0,
        ge=0,
        description="Longest a queued request waits for others to join while calls are in flight, in ms.",
    )
    coalesce_max_calls: int = Field(
        default=4,
        ge=1,
        description="Most upstream calls in flight at once per environment and model; further requests queue "
        "and leave together in the next call (one slot per transformer replica is a good start).",
    )
    feedback_log_url: str = Field(
        default="var/feedback-log",
        description="Where true labels sent to /api/v1/feedback are written (a directory or an fsspec URL such as "
        "s3://bucket/feedback-log), partitioned like the inference log.",
    )
    feedback_log_max_buffered_rows: int = Field(
        default=2_000,
        ge=1,
        description="Labels held for the feedback log's next write at most (further ones are dropped and counted). "
        "A label may carry its text (up to max_text_chars), so this bounds memory: 2,000 e-mails of 5 KB are 10 MB.",
    )
    feedback_memory_entries: int = Field(
        default=50_000,
        ge=1,
        description="Answered predictions remembered for live feedback counts (at most this many, at least the newest "
        "half; about 0.26 KB each with its request id: 13 MB at the default).",
    )
    feedback_memory_seconds: float = Field(
        default=3600.0, gt=0, description="How long an answered prediction is remembered for live feedback counts."
    )
    shadow_shares: dict[str, float] = Field(
        default_factory=dict,
        description="Share of production requests mirrored to staging, per model name (JSON, e.g. "
        '{"spam-detector": 0.05}); after production has answered, never in its way. Empty: no shadow traffic.',
    )
    shadow_queue_size: int = Field(
        default=1000, ge=1, description="Mirrored requests waiting at most; past it, dropped and counted."
    )
    shadow_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Time allowed per shadow call (no retries) at least; a batch gets shadow_timeout_factor times "
        "the share of the upstream timeout its token bound is of max_batch_tokens, when that is longer.",
    )
    shadow_timeout_factor: float = Field(
        default=2.0,
        ge=1.0,
        description="A mirrored batch's deadline against production's for its size: a copy runs on staging beside "
        "staging's own traffic (on one machine, as make run serves, beside production's next request), and one "
        "dropped late leaves large batches out of the agreement and counts against promotion.",
    )
    shadow_concurrency: int = Field(default=4, ge=1, description="Shadow calls in flight at once.")
    # The front door's HTTP limits (see serving_common.http_limits), tighter than the KServe components'.
    max_body_bytes: int = Field(
        default=10 * MIB,
        ge=1024,
        description="Largest request body accepted, in bytes: refused with 413 before reading when declared, cut "
        "off once passed when chunked. 10 MiB holds a full batch of 256 emails of 40 KB; the absolute worst "
        "case the batch limits allow (256 x 100,000 characters) is refused rather than buffered.",
    )
    body_timeout_seconds: float = Field(
        default=15.0, gt=0, description="Time allowed for a request's whole body to arrive; past it: 408."
    )

    @model_validator(mode="after")
    def _upstreams_are_complete(self) -> GatewaySettings:
        for task, urls in self.upstreams.items():
            try:
                task_named(task)
            except UnknownTask as exc:  # its message names the registered tasks
                raise ValueError(f"upstreams: {exc.message}") from None
            missing = [env.value for env in Environment if env not in urls]
            if missing:
                raise ValueError(f"upstreams: {task} has no URL for {', '.join(missing)}; every environment is needed")
        names = [upstream.model_name for upstream in self.task_upstreams().values()]
        if len(set(names)) != len(names):
            raise ValueError(f"two tasks serve one model name: {sorted(names)}")
        return self

    @model_validator(mode="after")
    def _shares_are_shares(self) -> GatewaySettings:
        known = {upstream.model_name for upstream in self.task_upstreams().values()}
        for model, share in self.shadow_shares.items():
            if model not in known or not 0.0 <= share <= 1.0:
                raise ValueError(f"shadow_shares: {model}={share}; models are {sorted(known)}, shares in [0, 1]")
        return self

    @model_validator(mode="after")
    def _a_full_batch_fits_the_json_bound(self) -> GatewaySettings:
        if self.max_json_values < 6 * self.max_batch_size + 2:
            raise ValueError(
                f"max_json_values {self.max_json_values} is less than a full batch of e-mail objects holds "
                f"(6 per e-mail and 2: {6 * self.max_batch_size + 2} for max_batch_size {self.max_batch_size})"
            )
        return self

    @model_validator(mode="after")
    def _keys_when_auth(self) -> GatewaySettings:
        if self.auth_enabled and not self.api_keys_file:
            raise ValueError("GATEWAY_AUTH_ENABLED requires GATEWAY_API_KEYS_FILE")
        return self

    def task_upstreams(self) -> dict[str, TaskUpstream]:
        """Every task the gateway serves: spam and intent from their shorthands, then ``upstreams``."""
        urls: dict[str, Mapping[Environment, str]] = {
            SPAM.name: {Environment.STAGING: self.staging_url, Environment.PRODUCTION: self.production_url},
            INTENT.name: {
                Environment.STAGING: self.staging_intent_url or self.staging_url,
                Environment.PRODUCTION: self.production_intent_url or self.production_url,
            },
            **self.upstreams,
        }
        names = {SPAM.name: self.spam_model_name, INTENT.name: self.intent_model_name, **self.model_names}
        return {task: TaskUpstream(task, names.get(task, task), by_env) for task, by_env in urls.items()}
