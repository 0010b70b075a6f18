"""Feature-transformer settings: environment (``FEATURE_TRANSFORMER_*``) overridden by flags
(:func:`serving_common.settings.load_settings`)."""

from __future__ import annotations

from typing import Literal

from kserve.predictor_config import PredictorConfig
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from serving_common.kserve_server import KServeComponentSettings


class TransformerSettings(KServeComponentSettings):
    """Model directories hold tokenizer.json and metadata.json only (no weights)."""

    model_config = SettingsConfigDict(env_prefix="FEATURE_TRANSFORMER_", extra="ignore", frozen=True)

    # KServe's predictor flags (the controller passes --predictor_host to a transformer).
    predictor_host: str | None = Field(default=None, description="host:port of the predictor.")
    predictor_protocol: Literal["v1", "v2", "grpc-v2"] = Field(
        default="v2", description="Data-plane protocol of the predictor (the model server speaks v2 binary)."
    )
    predictor_use_ssl: bool = Field(default=False)
    predictor_request_timeout_seconds: int = Field(default=600, ge=1)
    predictor_request_retries: int = Field(default=0, ge=0)
    enable_predictor_health_check: bool = Field(
        default=False, description="Ready only while the predictor is (KServe's readiness check)."
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

    def predictor_config(self) -> PredictorConfig:
        return PredictorConfig(
            predictor_host=self.predictor_host,
            predictor_protocol=self.predictor_protocol,
            predictor_use_ssl=self.predictor_use_ssl,
            predictor_request_timeout_seconds=self.predictor_request_timeout_seconds,
            predictor_request_retries=self.predictor_request_retries,
            predictor_health_check=self.enable_predictor_health_check,
        )
