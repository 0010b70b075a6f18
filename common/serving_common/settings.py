"""The one way a service gets its settings: defaults, overridden by its environment variables,
overridden by its command-line flags; then logging at the settings' level.

Each service has one settings class (a :class:`ServiceSettings` with its own ``env_prefix``). Its flags
are named after the fields they set (``--max_batch_size`` sets ``max_batch_size``) and default to
``None``, so a flag not given leaves the environment's value alone. Components receive the settings
object; nothing below ``main`` reads the environment.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from serving_common.logging import configure_logging
from serving_common.tasks import load_plugins

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class ServiceSettings(BaseSettings):
    """Fields every service has. Subclasses set their own ``env_prefix``."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    log_level: LogLevel = Field(default="INFO", description="Python logging level for the service.")
    task_plugins: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("task_plugins", "TEXTSERVE_TASK_PLUGINS"),
        description="Modules (`module` or `module:TaskClass`) of tasks beyond spam and intent, imported when the "
        'settings are made (JSON, e.g. ["my_tasks:SentimentTask"]); one variable, TEXTSERVE_TASK_PLUGINS, for '
        "every service, so each knows the same tasks.",
    )

    @model_validator(mode="after")
    def _load_task_plugins(self) -> ServiceSettings:
        load_plugins(self.task_plugins)  # ValueError naming a plug-in that cannot be imported
        return self


SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def load_settings(cls: type[SettingsT], flags: argparse.Namespace | Mapping[str, Any] | None = None) -> SettingsT:
    """``cls`` from the environment, with every given flag that names one of its fields on top, and the
    process's logging configured at its ``log_level``."""
    given = vars(flags) if isinstance(flags, argparse.Namespace) else dict(flags or {})
    settings = cls(**{k: v for k, v in given.items() if k in cls.model_fields and v is not None})
    configure_logging(settings.log_level)
    return settings


def add_log_level_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log_level", "--log-level", dest="log_level", type=str.upper, default=None, help="logging level"
    )
