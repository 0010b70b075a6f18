"""API keys: stored as SHA-256 hashes, each allowed a set of environments and its own rate limit.

The keys file (a Kubernetes Secret mounted read-only in the cluster) is JSON::

    {"keys": [{"name": "ml-team", "sha256": "<hex>", "environments": ["staging"], "requests_per_minute": 600,
               "permissions": ["predict", "feedback"]}]}

``permissions`` defaults to ``["predict"]``: a key sends true labels (``POST /api/v1/feedback``) only when
it is given ``feedback``.

``python -m api_gateway.auth hash`` prints the hash of a key read from stdin. Keys are compared in
constant time and never logged; only a key's name appears in logs.
"""

from __future__ import annotations

import hashlib
import hmac
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from api_gateway.core.environments import Environment
from api_gateway.core.errors import EnvironmentForbidden, PermissionDenied, RateLimited, Unauthenticated

Permission = Literal["predict", "feedback"]


def _predict_only() -> list[Permission]:
    return ["predict"]


class ApiKey(BaseModel):
    name: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    environments: list[Environment] = Field(min_length=1)
    requests_per_minute: int = Field(default=600, ge=1)
    permissions: list[Permission] = Field(default_factory=_predict_only, min_length=1)


class KeysFile(BaseModel):
    keys: list[ApiKey]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass
class _Bucket:
    """Token bucket: ``rate`` tokens a second, up to ``capacity``."""

    rate: float
    capacity: float
    tokens: float
    updated: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class Authenticator:
    def __init__(self, keys: list[ApiKey]):
        self._keys = keys
        self._buckets = {
            k.name: _Bucket(
                k.requests_per_minute / 60, k.requests_per_minute / 60 * 10, k.requests_per_minute / 60 * 10
            )
            for k in keys
        }

    @classmethod
    def from_file(cls, path: str | Path) -> Authenticator:
        return cls(KeysFile.model_validate_json(Path(path).read_text(encoding="utf-8")).keys)

    def authenticate(self, presented: str | None) -> ApiKey:
        if not presented:
            raise Unauthenticated("an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        digest = hash_key(presented)
        match = None
        for key in self._keys:  # compare against every key, in constant time, whatever matches
            if hmac.compare_digest(digest, key.sha256):
                match = key
        if match is None:
            raise Unauthenticated("the API key is not valid")
        return match

    def authorize(self, presented: str | None, environment: Environment, permission: Permission = "predict") -> ApiKey:
        match = self.authenticate(presented)
        if permission not in match.permissions:
            raise PermissionDenied(
                f"this API key may not send {permission} requests (its permissions: {', '.join(match.permissions)})"
            )
        if environment not in match.environments:
            allowed = ", ".join(e.value for e in match.environments)
            raise EnvironmentForbidden(f"this API key may not use the {environment} environment (allowed: {allowed})")
        wait = self._buckets[match.name].take()
        if wait > 0:
            raise RateLimited(
                f"rate limit of {match.requests_per_minute} requests/minute exceeded for this key",
                retry_after=max(1, int(wait + 0.999)),
            )
        return match


def main() -> int:
    if sys.argv[1:] != ["hash"]:
        print("usage: python -m api_gateway.auth hash < key.txt", file=sys.stderr)
        return 2
    print(hash_key(sys.stdin.read().strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
