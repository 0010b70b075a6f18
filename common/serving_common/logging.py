"""Logging set-up shared by the services: one line per record, with the request id when there is one."""

from __future__ import annotations

import logging
import sys

from serving_common.request_context import request_id_var

_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


def configure_logging(level: str = "INFO") -> None:
    """Route the root logger to stderr in the platform's format, at ``level`` (idempotent)."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    for handler in root.handlers:
        if getattr(handler, "_textserve", False):
            return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(_RequestIdFilter())
    handler._textserve = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    # One line per upstream call at INFO would drown the service's own logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
