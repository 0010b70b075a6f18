"""The current request's id, visible to logging and outgoing calls without threading it through."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"
# Set by the gateway on production requests it mirrors to staging (shadow traffic): the transformer
# logs those rows apart from staging's own traffic.
SHADOW_HEADER = "x-textserve-shadow"
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Accept what proxies and clients commonly send; anything else is replaced rather than echoed.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def accept_or_generate_request_id(candidate: str | None) -> str:
    """Keep a caller's well-formed id so a trace spans systems; otherwise mint a new one."""
    if candidate and _VALID_REQUEST_ID.fullmatch(candidate):  # not match(): "$" lets a final newline through
        return candidate
    return uuid.uuid4().hex
