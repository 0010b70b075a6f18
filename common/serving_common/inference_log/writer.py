"""Buffered, bounded, off-the-request-path writing of inference-log rows.

``record()`` only appends a model's rows (:class:`records.LogRows`, plain values: no Arrow work on the
request path) to an in-memory buffer under a lock: a request never waits for storage. A background
thread makes each partition's rows one Arrow table and writes it as one Parquet file, every
``flush_seconds`` or as soon as ``flush_rows`` are waiting.

A write that fails (the store down, throttling, a network blip) loses nothing: its table stays in memory under
the file name it was given and is written again every ``flush_seconds`` until the store takes it (the same name,
so a write that half happened is replaced, never doubled). Rows held for a retry count toward
``max_buffered_rows``: past it (storage slow or down for long) new rows are dropped and counted, never queued
without bound. ``close()`` writes what is left (the services call it on shutdown); what the store still refuses
then is dropped and counted (``write_error``).
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
    buffered: Callable[[int], None] = lambda rows: None  # every row in memory: waiting, being written, to retry
    failed: Callable[[], None] = lambda: None  # a write failed; its rows are kept for the next try


@dataclass(frozen=True)
class _Part:
    """One Parquet file to write: a partition's rows, under the name its first try gave it."""

    partition: Partition
    name: str
    rows: pa.Table


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
        self._buffered_rows = 0  # rows in _buffer
        self._unwritten: list[_Part] = []  # failed writes, tried again (first) at the next flush
        self._held_rows = 0  # rows taken from _buffer and not yet written: being written, or in _unwritten
        self._drained = False  # close() has counted what stayed unwritten: later failures are dropped at once
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
            if self._closing or self._in_memory() + rows.num_rows > self.max_buffered_rows:
                self.hooks.dropped("buffer_full", rows.num_rows)
                return False
            self._buffer.append((partition, rows))
            self._buffered_rows += rows.num_rows
            size = self._in_memory()
            if self._buffered_rows >= self.flush_rows:
                self._wake.notify()
        self.hooks.buffered(size)
        return True

    def flush(self) -> int:
        """Write what failed before, then everything buffered now; returns the rows written. Stops at the first
        failure: the rest waits for the next flush, so a store that is down costs one failed write per flush."""
        with self._lock:
            fresh, self._buffer = self._buffer, []
            retry, self._unwritten = self._unwritten, []
            self._held_rows += self._buffered_rows
            self._buffered_rows = 0
        parts = retry + self._parts(fresh)
        written = 0
        for i, part in enumerate(parts):
            if not self._write(part):
                self._keep(parts[i:])
                break
            written += part.rows.num_rows
        with self._lock:
            self._held_rows -= written
            size = self._in_memory()
        self.hooks.buffered(size)
        return written

    def close(self, timeout: float = 30.0) -> None:
        with self._lock:
            self._closing = True
            self._wake.notify()
        self._thread.join(timeout)
        self.flush()
        with self._lock:
            lost, self._unwritten, self._drained = self._unwritten, [], True
        self._drop(lost)

    def _run(self) -> None:
        while True:
            with self._lock:
                # Until flush_rows are waiting or flush_seconds have passed; after a failed write, the whole
                # flush_seconds (new rows do not make the store come back sooner).
                deadline = time.monotonic() + self.flush_seconds
                while not self._closing and (self._unwritten or self._buffered_rows < self.flush_rows):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.wait(left)
                closing = self._closing
            self.flush()
            if closing:
                return

    def _in_memory(self) -> int:
        """Rows waiting, being written or held for a retry (call under the lock)."""
        return self._buffered_rows + self._held_rows

    def _keep(self, parts: list[_Part]) -> None:
        """Failed writes, for the next flush; once close() has drained the writer, dropped instead."""
        with self._lock:
            if not self._drained:
                self._unwritten = parts + self._unwritten
                return
        self._drop(parts)

    def _drop(self, parts: list[_Part]) -> None:
        """Parts that will never be written: counted (``write_error``) and logged."""
        with self._lock:
            self._held_rows -= sum(part.rows.num_rows for part in parts)
            size = self._in_memory()
        self.hooks.buffered(size)
        for part in parts:
            log.error("inference log: %d rows of %s were never written", part.rows.num_rows, part.partition.path)
            self.hooks.dropped("write_error", part.rows.num_rows)

    @staticmethod
    def _parts(buffered: list[tuple[Partition, LogRows | pa.Table]]) -> list[_Part]:
        groups: dict[Partition, list[LogRows | pa.Table]] = defaultdict(list)
        for partition, rows in buffered:
            groups[partition].append(rows)
        parts = []
        for partition, members in groups.items():
            plain = [p for p in members if isinstance(p, LogRows)]
            tables = [p for p in members if not isinstance(p, LogRows)] + ([to_table(plain)] if plain else [])
            rows = pa.concat_tables(tables, promote_options="default")
            parts.append(_Part(partition, part_name(datetime.now(UTC)), rows))
        return parts

    def _write(self, part: _Part) -> bool:
        started = time.perf_counter()
        directory = f"{self._root}/{part.partition.path}"
        try:
            self._fs.makedirs(directory, exist_ok=True)
            # Written under a name readers skip, then renamed: a reader never sees half a file.
            tmp = f"{directory}/.{part.name}.partial"
            with self._fs.open(tmp, "wb") as fh:
                pq.write_table(part.rows, fh, compression="zstd")
            self._fs.mv(tmp, f"{directory}/{part.name}")
        except Exception as exc:  # storage down, throttling, full: keep the rows for the next try, keep serving
            log.warning(
                "inference log: could not write %d rows to %s (%s); kept to try again",
                part.rows.num_rows,
                directory,
                exc,
            )
            self.hooks.failed()
            return False
        self.hooks.written(part.rows.num_rows, time.perf_counter() - started)
        return True
