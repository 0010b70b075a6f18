"""Feature-transformer settings: environment (``FEATURE_TRANSFORMER_*``) overridden by flags."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from serving_common.http_limits import HttpLimitSettings
from serving_common.settings import ServiceSettings


class TransformerSettings(ServiceSettings, HttpLimitSettings):
    model_config = SettingsConfigDict(env_prefix="FEATURE_TRANSFORMER_", extra="ignore", frozen=True)

    model_dirs: list[str] = Field(
        default=["/mnt/models"],
        description="Model directories holding tokenizer.json and metadata.json (KServe's STORAGE_URI target).",
    )
    model_name: str | None = Field(
        default=None, description="Name on the inference URL (and the predictor's) for a single model."
    )
    environment: str = Field(
        default="staging", description="Environment this transformer serves; the inference log's partition key."
    )
    predictor_connections: int = Field(
        default=256,
        ge=1,
        description="Most connections (kept alive) to the predictor at once; more concurrent calls wait for one.",
    )
    inference_log: bool = Field(default=True, description="Record every prediction to the inference log.")
    inference_log_url: str = Field(
        default="var/inference-log",
        description="Where the log's Parquet dataset lives: a local directory or an fsspec URL (s3://bucket/path).",
    )
    inference_log_flush_rows: int = Field(default=1000, ge=1, description="Write as soon as this many rows wait.")
    inference_log_flush_seconds: float = Field(default=5.0, gt=0, description="Write at least this often.")
    inference_log_max_buffered_rows: int = Field(
        default=50_000, ge=1, description="Rows held in memory at most; past this, rows are dropped and counted."
    )
    inference_log_hash_salt: SecretStr | None = Field(
        default=None,
        description="Store a salted SHA-256 of each text (HMAC) when set; texts themselves are never stored.",
    )

    @model_validator(mode="after")
    def _salt_long_enough(self) -> TransformerSettings:
        if self.inference_log_hash_salt is not None and len(self.inference_log_hash_salt.get_secret_value()) < 16:
            raise ValueError("inference_log_hash_salt must be at least 16 characters")
        return self
