"""Feature-transformer settings: environment (``FEATURE_TRANSFORMER_*``) overridden by flags."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from serving_common.settings import ServiceSettings


class TransformerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FEATURE_TRANSFORMER_", extra="ignore", frozen=True)

    model_dirs: list[str] = Field(
        default=["/mnt/models"],
        description="Model directories holding tokenizer.json and metadata.json (KServe's STORAGE_URI target).",
    )
    model_name: str | None = Field(
        default=None, description="Name on the inference URL (and the predictor's) for a single model."
    )
