"""Buffered, bounded, off-the-request-path writing of inference-log rows.

``record()`` only appends to an in-memory buffer under a lock: a request never waits for storage.
A background thread writes the buffer as one Parquet file per partition every ``flush_seconds``
or as soon as ``flush_rows`` are waiting. When ``max_buffered_rows`` are waiting (storage slow or
down) new rows are dropped and counted, never queued without bound; a failed write drops its rows
and counts them too. ``close()`` writes what is left (the services call it on shutdown).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq

from serving_common.inference_log.layout import SHADOW_SUFFIX, Partition, hour_of, open_root, part_name
from serving_common.inference_log.records import to_table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriterHooks:
    """How the owning service counts what happens to rows (its own metrics module holds the metrics)."""

    dropped: Callable[[str, int], None] = lambda reason, rows: None  # reason: buffer_full | write_error
    written: Callable[[int, float], None] = lambda rows, seconds: None
    buffered: Callable[[int], None] = lambda rows: None


class InferenceLogWriter:
    def __init__(
        self,
        url: str,
        *,
        environment: str,
        flush_rows: int = 1000,
        flush_seconds: float = 5.0,
        max_buffered_rows: int = 50_000,
        hooks: WriterHooks | None = None,
    ) -> None:
        self.url = url
        self.environment = environment
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.max_buffered_rows = max_buffered_rows
        self.hooks = hooks or WriterHooks()
        self._fs, self._root = open_root(url)
        self._buffer: list[tuple[str, dict[str, Any]]] = []  # (partition environment, row)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="inference-log-writer", daemon=True)
        self._thread.start()

    def record(self, rows: Sequence[dict[str, Any]], *, shadow: bool = False) -> bool:
        """Buffer rows; False (and counted as dropped) when the buffer has no room for them.

        Shadow rows (production traffic mirrored to this environment, answered to nobody) go to the
        partition ``environment=<environment>-shadow``, apart from the environment's own traffic."""
        environment = f"{self.environment}{SHADOW_SUFFIX}" if shadow else self.environment
        with self._lock:
            if self._closing or len(self._buffer) + len(rows) > self.max_buffered_rows:
                self.hooks.dropped("buffer_full", len(rows))
                return False
            self._buffer.extend((environment, row) for row in rows)
            size = len(self._buffer)
            if size >= self.flush_rows:
                self._wake.notify()
        self.hooks.buffered(size)
        return True

    def flush(self) -> int:
        """Write everything buffered now; returns the rows written."""
        with self._lock:
            rows, self._buffer = self._buffer, []
        self.hooks.buffered(0)
        return self._write(rows)

    def close(self, timeout: float = 30.0) -> None:
        with self._lock:
            self._closing = True
            self._wake.notify()
        self._thread.join(timeout)
        self.flush()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._closing and len(self._buffer) < self.flush_rows:
                    self._wake.wait(self.flush_seconds)
                closing = self._closing
            self.flush()
            if closing:
                return

    def _write(self, rows: list[tuple[str, dict[str, Any]]]) -> int:
        if not rows:
            return 0
        groups: dict[Partition, list[dict[str, Any]]] = defaultdict(list)
        for environment, row in rows:
            groups[Partition(environment, row["model_name"], hour_of(row["timestamp"]))].append(row)
        written = 0
        for partition, part_rows in groups.items():
            started = time.perf_counter()
            directory = f"{self._root}/{partition.path}"
            name = part_name(datetime.now(UTC))
            try:
                self._fs.makedirs(directory, exist_ok=True)
                # Written under a name readers skip, then renamed: a reader never sees half a file.
                tmp = f"{directory}/.{name}.partial"
                with self._fs.open(tmp, "wb") as fh:
                    pq.write_table(to_table(part_rows), fh, compression="zstd")
                self._fs.mv(tmp, f"{directory}/{name}")
            except Exception as exc:  # storage down or full: lose these rows, count them, keep serving
                log.warning("inference log: could not write %d rows to %s (%s)", len(part_rows), directory, exc)
                self.hooks.dropped("write_error", len(part_rows))
                continue
            written += len(part_rows)
            self.hooks.written(len(part_rows), time.perf_counter() - started)
        return written
