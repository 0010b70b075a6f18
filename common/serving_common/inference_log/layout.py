"""Where rows live: ``{url}/environment=E/model=M/date=YYYY-MM-DD/hour=HH/part-*.parquet``.

Hive-style keys, so Spark, DuckDB or ``pyarrow.dataset`` read the same tree; a window of hours maps
to a handful of directories, so the drift job lists only what it reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import fsspec
from fsspec import AbstractFileSystem

PART_SUFFIX = ".parquet"
# Production traffic mirrored to an environment (shadow traffic) is logged under environment=<env>-shadow.
SHADOW_SUFFIX = "-shadow"


@dataclass(frozen=True)
class Partition:
    environment: str
    model: str
    hour: datetime  # UTC, truncated to the hour

    @property
    def path(self) -> str:
        return f"environment={self.environment}/model={self.model}/date={self.hour:%Y-%m-%d}/hour={self.hour:%H}"


def open_root(url: str) -> tuple[AbstractFileSystem, str]:
    """The filesystem and root path of a log URL (a plain path means the local filesystem)."""
    fs, root = fsspec.core.url_to_fs(url)
    return fs, root.rstrip("/")


def hour_of(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def hours_between(start: datetime, end: datetime) -> Iterator[datetime]:
    """Every hour partition that can hold a row with start <= timestamp < end."""
    hour = hour_of(start)
    while hour < end:
        yield hour
        hour += timedelta(hours=1)


def part_name(now: datetime) -> str:
    return f"part-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}{PART_SUFFIX}"


def list_values(fs: AbstractFileSystem, path: str, key: str) -> list[str]:
    """Values of a partition key below ``path`` (e.g. every ``environment=...`` directory)."""
    if not fs.exists(path):
        return []
    prefix = f"{key}="
    names = (entry.rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(path, detail=False))
    return sorted(name[len(prefix) :] for name in names if name.startswith(prefix))
