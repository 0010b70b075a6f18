"""Buffered, bounded, off-the-request-path writing of inference-log rows.

``record()`` only appends a model's rows (:class:`records.LogRows`, plain values: no Arrow work on the
request path) to an in-memory buffer under a lock: a request never waits for storage. A background
thread makes each partition's rows one Arrow table and writes it as one Parquet file, every
``flush_seconds`` or as soon as ``flush_rows`` are waiting. When ``max_buffered_rows`` are waiting
(storage slow or down) new rows are dropped and counted, never queued without bound; a failed write
drops its rows and counts them too. ``close()`` writes what is left (the services call it on shutdown).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from serving_common.inference_log.layout import SHADOW_SUFFIX, Partition, hour_of, open_root, part_name
from serving_common.inference_log.records import LogRows, to_table

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
        self._buffer: list[tuple[Partition, LogRows | pa.Table]] = []
        self._buffered_rows = 0
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="inference-log-writer", daemon=True)
        self._thread.start()

    def record(self, rows: LogRows | pa.Table, *, shadow: bool = False) -> bool:
        """Buffer the rows of one model at one time (``LogRows``, or a table in the log's schema as
        ``build_table`` makes one); False (and counted as dropped) when the buffer has no room for them.

        Shadow rows (production traffic mirrored to this environment, answered to nobody) go to the
        partition ``environment=<environment>-shadow``, apart from the environment's own traffic."""
        if not rows.num_rows:
            return True
        environment = f"{self.environment}{SHADOW_SUFFIX}" if shadow else self.environment
        if isinstance(rows, LogRows):
            partition = Partition(environment, rows.model_name, hour_of(rows.timestamp))
        else:
            partition = Partition(environment, rows["model_name"][0].as_py(), hour_of(rows["timestamp"][0].as_py()))
        with self._lock:
            if self._closing or self._buffered_rows + rows.num_rows > self.max_buffered_rows:
                self.hooks.dropped("buffer_full", rows.num_rows)
                return False
            self._buffer.append((partition, rows))
            self._buffered_rows += rows.num_rows
            size = self._buffered_rows
            if size >= self.flush_rows:
                self._wake.notify()
        self.hooks.buffered(size)
        return True

    def flush(self) -> int:
        """Write everything buffered now; returns the rows written."""
        with self._lock:
            tables, self._buffer, self._buffered_rows = self._buffer, [], 0
        self.hooks.buffered(0)
        return self._write(tables)

    def close(self, timeout: float = 30.0) -> None:
        with self._lock:
            self._closing = True
            self._wake.notify()
        self._thread.join(timeout)
        self.flush()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._closing and self._buffered_rows < self.flush_rows:
                    self._wake.wait(self.flush_seconds)
                closing = self._closing
            self.flush()
            if closing:
                return

    def _write(self, buffered: list[tuple[Partition, LogRows | pa.Table]]) -> int:
        groups: dict[Partition, list[LogRows | pa.Table]] = defaultdict(list)
        for partition, rows in buffered:
            groups[partition].append(rows)
        written = 0
        for partition, parts in groups.items():
            plain = [p for p in parts if isinstance(p, LogRows)]
            tables = [p for p in parts if not isinstance(p, LogRows)] + ([to_table(plain)] if plain else [])
            part_rows = pa.concat_tables(tables, promote_options="default")
            started = time.perf_counter()
            directory = f"{self._root}/{partition.path}"
            name = part_name(datetime.now(UTC))
            try:
                self._fs.makedirs(directory, exist_ok=True)
                # Written under a name readers skip, then renamed: a reader never sees half a file.
                tmp = f"{directory}/.{name}.partial"
                with self._fs.open(tmp, "wb") as fh:
                    pq.write_table(part_rows, fh, compression="zstd")
                self._fs.mv(tmp, f"{directory}/{name}")
            except Exception as exc:  # storage down or full: lose these rows, count them, keep serving
                log.warning("inference log: could not write %d rows to %s (%s)", part_rows.num_rows, directory, exc)
                self.hooks.dropped("write_error", part_rows.num_rows)
                continue
            written += part_rows.num_rows
            self.hooks.written(part_rows.num_rows, time.perf_counter() - started)
        return written
