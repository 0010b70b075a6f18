from __future__ import annotations

from enum import StrEnum


class Environment(StrEnum):
    """The serving environments; each maps to its own InferenceService and is never served by another."""

    STAGING = "staging"
    PRODUCTION = "production"
