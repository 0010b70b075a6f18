"""Drift-detector settings: environment (``DRIFT_*``) overridden by flags."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from serving_common.settings import ServiceSettings


class DriftSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DRIFT_", extra="ignore", frozen=True)

    inference_log_url: str = Field(default="var/inference-log", description="The inference log (dir or fsspec URL).")
    feedback_log_url: str | None = Field(
        default=None,
        description="The feedback log (users' true labels, dir or fsspec URL). When set, every run also joins the "
        "labels of the last labelled_window_hours with their predictions and exports the counts (every label, "
        "whichever gateway replica took it).",
    )
    labelled_window_hours: int = Field(default=24, ge=1, description="Labels given in this many hours are counted.")
    label_lookback_hours: int = Field(
        default=168, ge=1, description="How far before a label its prediction is looked for in the inference log."
    )
    inference_log_hash_salt: SecretStr | None = Field(
        default=None,
        description="The transformers' hash salt: the labelled-data export then checks each label's text against "
        "the hash of the text that was scored (text_verified).",
    )
    baselines_url: str = Field(default="models/baselines", description="Baselines root (dir or fsspec URL).")
    reports_dir: str = Field(default="var/drift-reports", description="Where JSON/HTML reports are written.")
    textfile_dir: str | None = Field(
        default=None,
        description="node-exporter textfile-collector directory for textserve_drift.prom; default: reports_dir.",
    )
    pushgateway_url: str | None = Field(default=None, description="Prometheus Pushgateway to push metrics to.")
    window_minutes: int = Field(default=60, ge=1, description="Length of the live window, ending at window_end.")
    window_end: datetime | None = Field(
        default=None,
        description="End of the window (UTC); default: now less window_lag_minutes. Fix it to re-run a window exactly.",
    )
    window_lag_minutes: int = Field(
        default=0,
        ge=0,
        description="When window_end is not given, the window ends this many minutes before now, so that rows still "
        "in a writer's buffer (written every 5 s) or held for a retry while the store was down are in the log when "
        "the run reads their hour: a row written after its window was read is never tested. The CronJob uses 15; "
        "0 reads up to now (make drift, right after make traffic).",
    )
    window_start: datetime | None = Field(
        default=None, description="Start of the window (UTC); when set, window_minutes is ignored."
    )
    environments: list[str] = Field(default_factory=list, description="Only these environments (default: all).")
    models: list[str] = Field(default_factory=list, description="Only these models (default: all).")
    min_samples: int = Field(default=50, ge=2, description="A smaller window reports insufficient_data.")
    p_value: float = Field(default=0.05, gt=0, lt=1, description="Significance level of every test.")
    max_reference_rows: int = Field(default=1000, ge=10, description="Baseline rows used per test at most.")
    max_window_rows: int = Field(default=2000, ge=10, description="Window rows used per test at most (sampled).")
    mmd_permutations: int = Field(default=100, ge=10, description="Permutations of the MMD test.")
    seed: int = Field(default=0, description="Seed of sampling and permutations: same window, same result.")
