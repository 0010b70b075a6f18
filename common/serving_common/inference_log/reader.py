"""Reading a window of the inference log (or of the feedback log beside it, laid out alike): rows with
start <= timestamp < end, per environment and model.

A file that cannot be read (truncated, not Parquet, wrong columns) is skipped with a warning and
counted, so one bad file never hides the rest of the hour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from serving_common.inference_log.layout import PART_SUFFIX, Partition, hours_between, list_values, open_root
from serving_common.inference_log.records import SCHEMA, conform

log = logging.getLogger(__name__)


@dataclass
class Window:
    environment: str
    model: str
    start: datetime
    end: datetime
    table: pa.Table
    files_read: int = 0
    unreadable: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return int(self.table.num_rows)


class InferenceLogReader:
    """``conform`` casts each file's table to the log's schema (``schema``): the inference log's by default,
    :func:`~serving_common.inference_log.feedback.conform_feedback` for the feedback log."""

    def __init__(self, url: str, conform: Callable[[pa.Table], pa.Table] = conform, schema: pa.Schema = SCHEMA) -> None:
        self.url = url
        self._conform = conform
        self._schema = schema
        self._fs, self._root = open_root(url)

    def pairs(self) -> list[tuple[str, str]]:
        """Every (environment, model) the log holds."""
        return [
            (env, model)
            for env in list_values(self._fs, self._root, "environment")
            for model in list_values(self._fs, f"{self._root}/environment={env}", "model")
        ]

    def window(self, environment: str, model: str, start: datetime, end: datetime) -> Window:
        # Object stores' filesystems cache listings: a window is read from what is there now.
        self._fs.invalidate_cache()
        tables, read, unreadable = [], 0, []
        for hour in hours_between(start, end):
            directory = f"{self._root}/{Partition(environment, model, hour).path}"
            if not self._fs.exists(directory):
                continue
            for path in sorted(self._fs.ls(directory, detail=False)):
                name = path.rsplit("/", 1)[-1]
                if name.startswith(".") or not name.endswith(PART_SUFFIX):
                    continue
                try:
                    with self._fs.open(path, "rb") as fh:
                        table = self._conform(pq.read_table(fh))
                except Exception as exc:
                    log.warning("inference log: skipping unreadable file %s (%s)", path, exc)
                    unreadable.append(path)
                    continue
                read += 1
                tables.append(table)
        # Files written before a task gained a column lack it: nulls there.
        table = pa.concat_tables(tables, promote_options="default") if tables else self._schema.empty_table()
        if table.num_rows:
            in_window = pc.and_(
                pc.greater_equal(table["timestamp"], pa.scalar(start, self._schema.field("timestamp").type)),
                pc.less(table["timestamp"], pa.scalar(end, self._schema.field("timestamp").type)),
            )
            table = table.filter(in_window)
        return Window(environment, model, start, end, table.sort_by("timestamp"), read, unreadable)
